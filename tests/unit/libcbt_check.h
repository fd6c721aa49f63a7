/* SPDX-License-Identifier: GPL-2.0 */
/* Checks shared by the libcbt tests (test_libcbt*.c), on <cbt/cbt.h> only. */
#ifndef CBT_LIBCBT_CHECK_H
#define CBT_LIBCBT_CHECK_H

#include <stdio.h>

#include <cbt/cbt.h>

#include "unit.h"

/* @expr fails with @want, and @e (a struct cbt_error) says so with @needle. */
#define CHECK_API_ERR_IN(e, expr, want, needle) do {				\
	memset(&(e), 0x5a, sizeof(e));						\
	int _r = (expr);							\
	if (_r != (want))							\
		UT_FAIL("%s returned %d, want %d (%s)", #expr, _r, (want), (e).message); \
	CHECK_EQ((e).code, (want));						\
	if (!strstr((e).message, (needle)))					\
		UT_FAIL("%s: message \"%s\" lacks \"%s\"", #expr, (e).message, (needle)); \
} while (0)

/* The extents @it has left, as "start+len " words. */
static inline const char *extents_str(struct cbt_extent_iter *it, char *buf, size_t len)
{
	uint64_t s, l;
	size_t at = 0;

	buf[0] = '\0';
	while (cbt_extents_next(it, &s, &l) == 1 && at < len)
		at += (size_t)snprintf(buf + at, len - at, "%llu+%llu ", (unsigned long long)s,
				       (unsigned long long)l);
	return buf;
}

#endif /* CBT_LIBCBT_CHECK_H */
