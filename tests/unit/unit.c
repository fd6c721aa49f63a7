// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdbool.h>

#include "unit.h"
#include "util/util.h"

static bool failed;
static char why[1024];

void ut_fail(const char *file, int line, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!failed)
		snprintf(why, sizeof(why), "%s:%d: %s", file, line, msg);
	failed = true;
}

const char *ut_detail(void)
{
	return cbt_err_detail() ? cbt_err_detail() : "";
}

int ut_run(const char *suite, const struct ut_case *cases, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		failed = false;
		cbt_err_clear();
		cases[i].fn();
		if (failed) {
			/* one line per case: no newline in the reason */
			for (char *p = why; *p; p++)
				if (*p == '\n')
					*p = ' ';
			printf("not ok - unit/%s/%s: %s\n", suite, cases[i].name, why);
			bad++;
		} else {
			printf("ok - unit/%s/%s\n", suite, cases[i].name);
		}
		fflush(stdout);
	}
	return bad ? 1 : 0;
}
