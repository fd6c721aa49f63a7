// SPDX-License-Identifier: GPL-2.0
/*
 * The arithmetic of a `cbt migrate' plan (plan.h, mig_layout()): where
 * each partition goes on the target. No I/O, so the unit tests run it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "migrate/lvm.h"
#include "migrate/plan.h"
#include "util/util.h"

const char *mig_method_str(enum mig_method m)
{
	switch (m) {
	case MIG_TRACKED: return "tracked";
	case MIG_FROZEN: return "frozen";
	case MIG_RECHECK: return "recheck";
	case MIG_SWAP: return "swap";
	case MIG_LVM: return "lvm";
	default: return "copy";
	}
}

void mig_lvm_free(struct mig_part *p)
{
	if (!p->pv)
		return;
	mig_lvm_clear(p->pv);
	free(p->pv);
	p->pv = NULL;
}

void mig_plan_free(struct mig_plan *pl)
{
	for (size_t i = 0; pl->p && i < pl->n; i++)
		mig_lvm_free(&pl->p[i]);
	free(pl->p);
	pl->p = NULL;
	pl->n = 0;
	for (size_t i = 0; i < pl->nlocks; i++)
		if (pl->locks[i].fd >= 0)
			close(pl->locks[i].fd);
	free(pl->locks);
	pl->locks = NULL;
	pl->nlocks = 0;
}

int mig_layout(struct mig_plan *pl, unsigned int grow_partno)
{
	uint64_t align = MIG_ALIGN_BYTES / pl->sector;
	int64_t diff = (int64_t)pl->tgt_last - (int64_t)pl->src_last;
	struct mig_part *g;

	if (!pl->n)
		return cbt_err(-EINVAL, "%s has no partitions", pl->src);
	pl->grow = pl->n - 1;
	if (grow_partno) {
		size_t i;

		for (i = 0; i < pl->n && pl->p[i].partno + 1 != grow_partno; i++)
			;
		if (i == pl->n)
			return cbt_err(-EINVAL, "--grow %u: %s has no partition %u", grow_partno,
				       pl->src, grow_partno);
		pl->grow = i;
	}
	/* Whole MiBs, rounded down: the partitions that move stay aligned. */
	pl->shift = diff >= 0 ? diff / (int64_t)align * (int64_t)align :
		    -((-diff + (int64_t)align - 1) / (int64_t)align * (int64_t)align);
	g = &pl->p[pl->grow];
	if (pl->shift < 0 && (uint64_t)-pl->shift >= g->size)
		return cbt_err(-ENOSPC, "%s (%" PRIu64 " sectors) cannot hold %s: partition %zu"
			       " (%" PRIu64 " sectors) would have to lose %" PRIu64, pl->tgt,
			       pl->tgt_sectors, pl->src, g->partno + 1, g->size,
			       (uint64_t)-pl->shift);
	for (size_t i = 0; i < pl->n; i++) {
		struct mig_part *p = &pl->p[i];

		p->new_start = i > pl->grow ? (uint64_t)((int64_t)p->start + pl->shift) : p->start;
		p->new_size = i == pl->grow ? (uint64_t)((int64_t)p->size + pl->shift) : p->size;
	}
	return 0;
}
