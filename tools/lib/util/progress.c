// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <unistd.h>

#include "util/progress.h"
#include "util/util.h"

void cbt_progress_init(struct cbt_progress *p, const char *what, uint64_t total, bool enable)
{
	p->on = enable && isatty(STDERR_FILENO);
	p->what = what;
	p->total = total;
	p->start_ns = p->last_ns = cbt_mono_ns();
	p->drawn = false;
}

void cbt_progress_update(struct cbt_progress *p, uint64_t done)
{
	char d[CBT_HUMAN_LEN], t[CBT_HUMAN_LEN], r[CBT_HUMAN_LEN];
	uint64_t now, el, rate;

	if (!p->on)
		return;
	now = cbt_mono_ns();
	if (now - p->last_ns < 500000000ULL)
		return;
	p->last_ns = now;
	el = now - p->start_ns;
	rate = el ? (uint64_t)((double)done * 1e9 / (double)el) : 0;
	fprintf(stderr, "\r%s %s", p->what, cbt_human_size(done, d));
	if (p->total)
		fprintf(stderr, " / %s", cbt_human_size(p->total, t));
	fprintf(stderr, ", %s/s", cbt_human_size(rate, r));
	if (p->total && rate && done <= p->total) {
		uint64_t eta = (p->total - done) / rate;

		fprintf(stderr, ", ETA %u:%02u:%02u", (unsigned)(eta / 3600),
			(unsigned)(eta / 60 % 60), (unsigned)(eta % 60));
	}
	fprintf(stderr, "\033[K");
	p->drawn = true;
}

void cbt_progress_end(struct cbt_progress *p)
{
	if (p->on && p->drawn)
		fprintf(stderr, "\r\033[K");
	p->drawn = false;
}
