/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal table-driven test runner printing one TAP line per case:
 * "ok - unit/<suite>/<case>" or "not ok - unit/<suite>/<case>: <why>".
 * A failed CHECK ends its case; the next one runs.
 */
#ifndef CBT_UNIT_H
#define CBT_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct ut_case {
	const char *name;
	void (*fn)(void);
};

void ut_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ut_run(const char *suite, const struct ut_case *cases, size_t n);
/* The detail cbt_err() recorded, or "" */
const char *ut_detail(void);

#define UT_FAIL(...) do { ut_fail(__FILE__, __LINE__, __VA_ARGS__); return; } while (0)

#define CHECK(c) do { if (!(c)) UT_FAIL("CHECK(%s)", #c); } while (0)

#define CHECK_EQ(a, b) do {							\
	unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b);	\
	if (_a != _b)								\
		UT_FAIL("%s == %s: %llu != %llu (%lld != %lld)", #a, #b, _a, _b,	\
			(long long)_a, (long long)_b);				\
} while (0)

#define CHECK_STR(a, b) do {							\
	const char *_a = (a), *_b = (b);					\
	if (strcmp(_a, _b))							\
		UT_FAIL("%s: got \"%s\", want \"%s\"", #a, _a, _b);		\
} while (0)

/* @expr returns @err and the recorded detail holds @needle. */
#define CHECK_ERR(expr, err, needle) do {					\
	int _r = (expr);							\
	if (_r != (err))							\
		UT_FAIL("%s returned %d, want %d (%s)", #expr, _r, (err), ut_detail()); \
	if (!strstr(ut_detail(), (needle)))					\
		UT_FAIL("%s: detail \"%s\" lacks \"%s\"", #expr, ut_detail(), (needle)); \
} while (0)

#define UT_CASE(fn) { #fn, fn }
#define UT_MAIN(suite, ...)							\
int main(void)									\
{										\
	static const struct ut_case cases[] = { __VA_ARGS__ };			\
	return ut_run(suite, cases, sizeof(cases) / sizeof(cases[0]));		\
}

#endif /* CBT_UNIT_H */
