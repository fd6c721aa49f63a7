/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small streaming JSON writer: objects, arrays, strings, integers and
 * booleans, with commas and indentation handled here. Strings are escaped
 * per RFC 8259 and always come out as valid UTF-8: a byte sequence that is
 * not valid UTF-8 (device names are arbitrary bytes) becomes U+FFFD.
 *
 * Every value function takes the member name, or NULL inside an array and
 * at the top level.
 */
#ifndef CBT_JSON_H
#define CBT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CBT_JSON_MAX_DEPTH 16

struct cbt_json {
	FILE *f;
	bool compact;			/* one line, no spaces */
	int depth;
	bool first[CBT_JSON_MAX_DEPTH];	/* nothing written yet at this depth */
	bool inline_arr[CBT_JSON_MAX_DEPTH];	/* array kept on one line */
};

/*
 * Length of the valid UTF-8 sequence at @s (at most @len bytes), or 0:
 * overlong forms, surrogates and code points past U+10FFFF are not valid.
 */
size_t cbt_utf8_len(const unsigned char *s, size_t len);

void cbt_json_init(struct cbt_json *j, FILE *f, bool compact);
void cbt_json_object_begin(struct cbt_json *j, const char *key);
void cbt_json_object_end(struct cbt_json *j);
void cbt_json_array_begin(struct cbt_json *j, const char *key);
/* An array written on one line, for short tuples such as [offset, length]. */
void cbt_json_tuple_begin(struct cbt_json *j, const char *key);
void cbt_json_array_end(struct cbt_json *j);
void cbt_json_string(struct cbt_json *j, const char *key, const char *val);
void cbt_json_u64(struct cbt_json *j, const char *key, uint64_t val);
void cbt_json_bool(struct cbt_json *j, const char *key, bool val);
void cbt_json_null(struct cbt_json *j, const char *key);
/* Ends the top-level value with a newline. */
void cbt_json_finish(struct cbt_json *j);

/*
 * The members of a failure inside an open object: "error" (the kept
 * failure, cbt_failure(), or @fallback), "code" (@status, the exit status)
 * and "reason" when one was kept (cbt_fail_reason()).
 */
void cbt_json_failure(struct cbt_json *j, int status, const char *fallback);

/* Write @len bytes of @s as a quoted, escaped JSON string. */
void cbt_json_escape(FILE *f, const char *s, size_t len);

#endif /* CBT_JSON_H */
