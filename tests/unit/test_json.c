// SPDX-License-Identifier: GPL-2.0
/* json.c: string escaping (RFC 8259, always valid UTF-8) and the writer's layout. */
#include <stdlib.h>

#include "util/json.h"
#include "unit.h"

static char *escape(const char *s, size_t len)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	cbt_json_escape(f, s, len);
	fclose(f);
	return out;
}

#define CHECK_ESC(in, want) do {						\
	char *_o = escape(in, sizeof(in) - 1);					\
	int _bad = strcmp(_o, want);						\
	if (_bad) {								\
		ut_fail(__FILE__, __LINE__, "escape(%s): got %s, want %s", #in, _o, want); \
		free(_o);							\
		return;								\
	}									\
	free(_o);								\
} while (0)

static void escapes_specials(void)
{
	CHECK_ESC("plain", "\"plain\"");
	CHECK_ESC("", "\"\"");
	CHECK_ESC("a\"b", "\"a\\\"b\"");
	CHECK_ESC("a\\b", "\"a\\\\b\"");
	CHECK_ESC("/", "\"/\"");
	CHECK_ESC("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	CHECK_ESC("\x01\x1f", "\"\\u0001\\u001f\"");
	CHECK_ESC("\x7f", "\"\x7f\"");
}

static void keeps_nul_inside(void)
{
	CHECK_ESC("a\0b", "\"a\\u0000b\"");
}

static void keeps_valid_utf8(void)
{
	CHECK_ESC("caf\xc3\xa9", "\"caf\xc3\xa9\"");			/* é */
	CHECK_ESC("\xe2\x82\xac", "\"\xe2\x82\xac\"");			/* € */
	CHECK_ESC("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");		/* 😀 */
	CHECK_ESC("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");		/* U+10FFFF */
}

#define FFFD "\xef\xbf\xbd"

static void replaces_invalid_utf8(void)
{
	CHECK_ESC("\x80", "\"" FFFD "\"");				/* lone continuation */
	CHECK_ESC("a\xe2\x82", "\"a" FFFD FFFD "\"");			/* cut short */
	CHECK_ESC("\xc0\xaf", "\"" FFFD FFFD "\"");			/* overlong '/' */
	CHECK_ESC("\xe0\x80\x80", "\"" FFFD FFFD FFFD "\"");		/* overlong NUL */
	CHECK_ESC("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\"");		/* surrogate */
	CHECK_ESC("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");	/* past U+10FFFF */
	CHECK_ESC("\xff\"", "\"" FFFD "\\\"\"");
	CHECK_ESC("\xc3" "A", "\"" FFFD "A\"");			/* bad continuation */
}

static void writer_layout(void)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	struct cbt_json j;

	cbt_json_init(&j, f, false);
	cbt_json_object_begin(&j, NULL);
	cbt_json_string(&j, "name", "vg\n1");
	cbt_json_u64(&j, "size", UINT64_MAX);
	cbt_json_bool(&j, "ok", true);
	cbt_json_null(&j, "none");
	cbt_json_array_begin(&j, "empty");
	cbt_json_array_end(&j);
	cbt_json_array_begin(&j, "extents");
	cbt_json_tuple_begin(&j, NULL);
	cbt_json_u64(&j, NULL, 0);
	cbt_json_u64(&j, NULL, 4096);
	cbt_json_array_end(&j);
	cbt_json_tuple_begin(&j, NULL);
	cbt_json_u64(&j, NULL, 8192);
	cbt_json_u64(&j, NULL, 1);
	cbt_json_array_end(&j);
	cbt_json_array_end(&j);
	cbt_json_object_begin(&j, "o");
	cbt_json_object_end(&j);
	cbt_json_object_end(&j);
	cbt_json_finish(&j);
	fclose(f);
	CHECK_STR(out, "{\n"
		  "  \"name\": \"vg\\n1\",\n"
		  "  \"size\": 18446744073709551615,\n"
		  "  \"ok\": true,\n"
		  "  \"none\": null,\n"
		  "  \"empty\": [],\n"
		  "  \"extents\": [\n"
		  "    [0, 4096],\n"
		  "    [8192, 1]\n"
		  "  ],\n"
		  "  \"o\": {}\n"
		  "}\n");
	free(out);
}

static void writer_compact(void)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	struct cbt_json j;

	cbt_json_init(&j, f, true);
	cbt_json_array_begin(&j, NULL);
	cbt_json_object_begin(&j, NULL);
	cbt_json_u64(&j, "a", 1);
	cbt_json_tuple_begin(&j, "t");
	cbt_json_u64(&j, NULL, 2);
	cbt_json_u64(&j, NULL, 3);
	cbt_json_array_end(&j);
	cbt_json_object_end(&j);
	cbt_json_array_end(&j);
	cbt_json_finish(&j);
	fclose(f);
	CHECK_STR(out, "[{\"a\":1,\"t\":[2,3]}]\n");
	free(out);
}

UT_MAIN("json",
	UT_CASE(escapes_specials),
	UT_CASE(keeps_nul_inside),
	UT_CASE(keeps_valid_utf8),
	UT_CASE(replaces_invalid_utf8),
	UT_CASE(writer_layout),
	UT_CASE(writer_compact))
