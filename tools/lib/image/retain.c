// SPDX-License-Identifier: GPL-2.0
/*
 * Retention: which points to keep (by count and by local date) and the
 * plan that removes the others (retain.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/retain.h"
#include "store/safefile.h"
#include "util/util.h"

bool cbt_retain_empty(const struct cbt_retain_policy *p)
{
	return !p->last && !p->daily && !p->weekly && !p->monthly;
}

enum bucket { DAY, WEEK, MONTH };

/* The calendar bucket of @t in local time: a day, an ISO week or a month, as one number. */
static long bucket_of(time_t t, enum bucket b)
{
	struct tm tm;
	char buf[16];

	localtime_r(&t, &tm);
	switch (b) {
	case DAY:
		return (tm.tm_year + 1900L) * 1000 + tm.tm_yday;
	case WEEK:
		strftime(buf, sizeof(buf), "%G%V", &tm);
		return atol(buf);
	case MONTH:
		return (tm.tm_year + 1900L) * 100 + tm.tm_mon;
	}
	return 0;
}

/* Keep the newest point of each of the newest @count buckets that hold one. */
static void keep_buckets(const time_t *times, size_t n, unsigned count, enum bucket b,
			 unsigned bit, unsigned *why)
{
	long last = 0;
	bool any = false;

	for (size_t i = n; i-- > 0 && count;) {
		long k = bucket_of(times[i], b);

		if (any && k == last)
			continue;
		why[i] |= bit;
		last = k;
		any = true;
		count--;
	}
}

void cbt_retain_select(const time_t *times, size_t n, const struct cbt_retain_policy *p,
		       unsigned *why)
{
	memset(why, 0, n * sizeof(*why));
	if (!n)
		return;
	for (size_t i = n; i-- > 0 && n - i <= p->last;)
		why[i] |= CBT_KEEP_LAST;
	keep_buckets(times, n, p->daily, DAY, CBT_KEEP_DAILY, why);
	keep_buckets(times, n, p->weekly, WEEK, CBT_KEEP_WEEKLY, why);
	keep_buckets(times, n, p->monthly, MONTH, CBT_KEEP_MONTHLY, why);
	why[n - 1] |= CBT_KEEP_NEWEST;
}

void cbt_prune_plan_free(struct cbt_prune_plan *pl)
{
	free(pl->keep);
	free(pl->needed);
	free(pl->del);
	free(pl->runs);
	free(pl->held);
	memset(pl, 0, sizeof(*pl));
}

/* The index of @i's parent in @c, or -1 for a full image. */
static long parent_of(const struct cbt_chain *c, size_t i)
{
	return c->v[i].type == CBT_IMG_FULL ? -1 : cbt_chain_find(c, c->v[i].parent);
}

int cbt_prune_plan(const struct cbt_chain *c, const bool *keep, struct cbt_prune_plan *pl)
{
	size_t *path = NULL, *children = NULL, n;
	int ret = 0;

	memset(pl, 0, sizeof(*pl));
	pl->nr = c->nr;
	pl->keep = calloc(c->nr + 1, sizeof(*pl->keep));
	pl->needed = calloc(c->nr + 1, sizeof(*pl->needed));
	pl->del = calloc(c->nr + 1, sizeof(*pl->del));
	pl->runs = calloc(c->nr + 1, sizeof(*pl->runs));
	pl->held = calloc(c->nr + 1, sizeof(*pl->held));
	path = calloc(c->nr + 1, sizeof(*path));
	children = calloc(c->nr + 1, sizeof(*children));
	if (!pl->keep || !pl->needed || !pl->del || !pl->runs || !pl->held || !path || !children) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(pl->keep, keep, c->nr * sizeof(*keep));
	/* Every image a kept point restores from is needed; a broken chain stops here. */
	for (size_t i = 0; i < c->nr; i++) {
		if (!keep[i])
			continue;
		ret = cbt_chain_resolve(c, i, path, &n);
		if (ret)
			goto out;
		for (size_t k = 0; k < n; k++)
			pl->needed[path[k]] = true;
	}
	for (size_t i = 0; i < c->nr; i++) {
		long p = parent_of(c, i);

		if (pl->needed[i] && p >= 0)
			children[p]++;
		if (!pl->needed[i])
			pl->del[pl->ndel++] = i;
	}
	/*
	 * Below each kept point, the removed images with no other needed child
	 * fold into it; one with several stays (it would have to become two).
	 */
	for (size_t i = 0; i < c->nr; i++) {
		size_t from = i;
		long p;

		if (!keep[i])
			continue;
		while ((p = parent_of(c, from)) >= 0 && !keep[p] && children[p] == 1)
			from = (size_t)p;
		if (from != i) {
			pl->runs[pl->nruns][0] = from;
			pl->runs[pl->nruns][1] = i;
			pl->nruns++;
		}
	}
	for (size_t i = 0; i < c->nr; i++)
		if (pl->needed[i] && !keep[i] && children[i] > 1)
			pl->held[pl->nheld++] = i;
out:
	free(path);
	free(children);
	if (ret)
		cbt_prune_plan_free(pl);
	return ret;
}

int cbt_prune_apply(struct cbt_chain *c, const struct cbt_prune_plan *pl,
		    const struct cbt_merge_opts *o, struct cbt_merge_result *merged)
{
	uint8_t (*from)[16] = calloc(pl->nruns + 1, 16), (*upto)[16] = calloc(pl->nruns + 1, 16);
	struct cbt_chain_entry *v = calloc(c->nr + 1, sizeof(*v));
	size_t nv = 0;
	int ret = 0;

	if (!from || !upto || !v) {
		ret = -ENOMEM;
		goto out;
	}
	/* What a merge or prune that died left. */
	cbt_chain_remove_partials(c);
	cbt_chain_remove_orphans(c);
	/* Merges change the indexes: the runs are found again by their images' UUIDs. */
	for (size_t r = 0; r < pl->nruns; r++) {
		memcpy(from[r], c->v[pl->runs[r][0]].uuid, 16);
		memcpy(upto[r], c->v[pl->runs[r][1]].uuid, 16);
	}
	if (pl->ndel) {
		for (size_t i = 0; i < c->nr; i++)
			if (pl->needed[i])
				v[nv++] = c->v[i];
		/* The index first: a crash then leaves files the next run removes, never a hole. */
		ret = cbt_chain_rewrite(c, v, nv);
		if (ret)
			goto out;
		cbt_chain_remove_orphans(c);
	}
	for (size_t r = 0; r < pl->nruns; r++) {
		long f = cbt_chain_find(c, from[r]), u = cbt_chain_find(c, upto[r]);

		if (f < 0 || u < 0) {
			ret = cbt_err(-ENOENT, "%s: an image of the plan is gone (another cbt"
				      " changed the chain?)", c->dir);
			break;
		}
		ret = cbt_chain_merge(c, (size_t)f, (size_t)u, o, &merged[r]);
		if (ret)
			break;
	}
out:
	free(from);
	free(upto);
	free(v);
	return ret;
}
