/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A one-line progress report on stderr (bytes done, rate, ETA), redrawn at
 * most twice a second, and only when stderr is a terminal.
 */
#ifndef CBT_PROGRESS_H
#define CBT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct cbt_progress {
	bool on;
	const char *what;
	uint64_t total;		/* 0: unknown */
	uint64_t start_ns, last_ns;
	bool drawn;
};

/* @enable false (--quiet, --json) keeps it off whatever stderr is. */
void cbt_progress_init(struct cbt_progress *p, const char *what, uint64_t total, bool enable);
void cbt_progress_update(struct cbt_progress *p, uint64_t done);
/* Clear the line. */
void cbt_progress_end(struct cbt_progress *p);

#endif /* CBT_PROGRESS_H */
