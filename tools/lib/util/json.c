// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "util/util.h"

/* RFC 3629. */
size_t cbt_utf8_len(const unsigned char *s, size_t len)
{
	size_t n, i;
	uint32_t cp, min;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2; cp = s[0] & 0x1f; min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3; cp = s[0] & 0x0f; min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4; cp = s[0] & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void cbt_json_escape(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;

	fputc('"', f);
	while (i < len) {
		unsigned char c = s[i];

		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20) {
				fprintf(f, "\\u%04x", c);
			} else if (c < 0x80) {
				fputc(c, f);
			} else if ((n = cbt_utf8_len(s + i, len - i))) {
				fwrite(s + i, 1, n, f);
				i += n;
				continue;
			} else {
				fputs("\xef\xbf\xbd", f);	/* U+FFFD */
			}
		}
		i++;
	}
	fputc('"', f);
}

void cbt_json_init(struct cbt_json *j, FILE *f, bool compact)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->compact = compact;
	j->first[0] = true;
}

static void indent(struct cbt_json *j)
{
	if (j->compact || (j->depth && j->inline_arr[j->depth]))
		return;
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Separator, indentation and member name before a value. */
static void prefix(struct cbt_json *j, const char *key)
{
	if (!j->first[j->depth])
		fputs(j->depth && j->inline_arr[j->depth] && !j->compact ? ", " : ",", j->f);
	j->first[j->depth] = false;
	if (j->depth)
		indent(j);
	if (key) {
		cbt_json_escape(j->f, key, strlen(key));
		fputs(j->compact ? ":" : ": ", j->f);
	}
}

static void nest_open(struct cbt_json *j, const char *key, char c, bool inline_arr)
{
	prefix(j, key);
	fputc(c, j->f);
	if (j->depth + 1 >= CBT_JSON_MAX_DEPTH)
		abort();	/* a bug in the caller, not bad input */
	j->depth++;
	j->first[j->depth] = true;
	j->inline_arr[j->depth] = inline_arr || (j->depth > 1 && j->inline_arr[j->depth - 1]);
}

static void nest_close(struct cbt_json *j, char c)
{
	bool empty = j->first[j->depth];

	if (j->depth)
		j->depth--;
	if (!empty && !j->inline_arr[j->depth + 1]) {
		/* back at the parent's depth for the closing bracket */
		if (!j->compact) {
			fputc('\n', j->f);
			for (int i = 0; i < j->depth; i++)
				fputs("  ", j->f);
		}
	}
	fputc(c, j->f);
}

void cbt_json_object_begin(struct cbt_json *j, const char *key)
{
	nest_open(j, key, '{', false);
}

void cbt_json_object_end(struct cbt_json *j)
{
	nest_close(j, '}');
}

void cbt_json_array_begin(struct cbt_json *j, const char *key)
{
	nest_open(j, key, '[', false);
}

void cbt_json_tuple_begin(struct cbt_json *j, const char *key)
{
	nest_open(j, key, '[', true);
}

void cbt_json_array_end(struct cbt_json *j)
{
	nest_close(j, ']');
}

void cbt_json_string(struct cbt_json *j, const char *key, const char *val)
{
	prefix(j, key);
	cbt_json_escape(j->f, val, strlen(val));
}

void cbt_json_u64(struct cbt_json *j, const char *key, uint64_t val)
{
	prefix(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void cbt_json_bool(struct cbt_json *j, const char *key, bool val)
{
	prefix(j, key);
	fputs(val ? "true" : "false", j->f);
}

void cbt_json_null(struct cbt_json *j, const char *key)
{
	prefix(j, key);
	fputs("null", j->f);
}

void cbt_json_finish(struct cbt_json *j)
{
	fputc('\n', j->f);
}

void cbt_json_failure(struct cbt_json *j, int status, const char *fallback)
{
	cbt_json_string(j, "error", cbt_failure() ? cbt_failure() : fallback);
	cbt_json_u64(j, "code", (uint64_t)status);
	if (cbt_failure_reason())
		cbt_json_string(j, "reason", cbt_failure_reason());
}
