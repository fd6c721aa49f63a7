/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Retention of a chain's restore points (cbt prune, a job's keep_*):
 * which points to keep by count and by date (grandfather-father-son), and
 * the plan that removes the others without breaking a kept one: images
 * no kept point needs are deleted; images a kept point still needs are
 * merged into it (merge.h); an image several kept points need stays.
 */
#ifndef CBT_RETAIN_H
#define CBT_RETAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "image/chain.h"
#include "image/merge.h"

struct cbt_retain_policy {
	unsigned last;		/* the newest N points */
	unsigned daily;		/* the newest point of each of the newest N days with one */
	unsigned weekly;	/* ... of each of the newest N ISO weeks with one */
	unsigned monthly;	/* ... of each of the newest N months with one */
};

/* Why a point is kept (bits). */
#define CBT_KEEP_LAST		(1U << 0)
#define CBT_KEEP_DAILY		(1U << 1)
#define CBT_KEEP_WEEKLY		(1U << 2)
#define CBT_KEEP_MONTHLY	(1U << 3)
#define CBT_KEEP_NEWEST		(1U << 4)	/* the chain's last image: the next backup builds on it */

/* No rule set: nothing would be kept but the newest point. */
bool cbt_retain_empty(const struct cbt_retain_policy *p);
/*
 * @times[i]: the creation time (seconds since the epoch) of point i,
 * oldest first; days, weeks and months in local time (TZ). @why[i] gets
 * the CBT_KEEP_* reasons, 0 for a point to remove. The newest point is
 * always kept.
 */
void cbt_retain_select(const time_t *times, size_t n, const struct cbt_retain_policy *p,
		       unsigned *why);

struct cbt_prune_plan {
	size_t nr;		/* the chain's entries */
	bool *keep;		/* [nr] kept points */
	bool *needed;		/* [nr] on a kept point's restore path */
	size_t *del;		/* entries to delete, no kept point needs them */
	size_t ndel;
	size_t (*runs)[2];	/* merges: {from, upto}, each a kept upto and the removed images below it */
	size_t nruns;
	size_t *held;		/* removed points kept anyway: several kept points need them */
	size_t nheld;
};

/* Plan the removal of the points @keep does not keep, in chain @c. */
int cbt_prune_plan(const struct cbt_chain *c, const bool *keep, struct cbt_prune_plan *pl);
void cbt_prune_plan_free(struct cbt_prune_plan *pl);
/*
 * Carry the plan out on @c (opened with the lock): one index rewrite for
 * the deletions, then the merges (each crash-safe, merge.h). @merged gets
 * one result per run (@pl->nruns of them).
 */
int cbt_prune_apply(struct cbt_chain *c, const struct cbt_prune_plan *pl,
		    const struct cbt_merge_opts *o, struct cbt_merge_result *merged);

#endif /* CBT_RETAIN_H */
