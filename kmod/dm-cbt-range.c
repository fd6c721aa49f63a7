// SPDX-License-Identifier: GPL-2.0
/*
 * Reads of a range of held epochs as one bitmap, their union: what the
 * netlink bitmap dump sends and the count counts. Above the tracker, whose
 * epochs it finds under t->lock; below the netlink family. See dm-cbt.h.
 */
#include <linux/sched/signal.h>
#include <linux/string.h>

#include "dm-cbt.h"

/*
 * A count's work per hold of t->lock: an allocated leaf costs 64, an
 * absent one 1, so a hold counts 16 leaves (64 KiB of words per epoch,
 * a few dump messages' worth) or skips 1024 absent ones.
 */
#define CBT_COUNT_BUDGET 1024U
#define CBT_COUNT_LEAF_COST 64U

bool cbt_range_held(struct cbt_tracker *t, u64 first, u64 last)
{
	u64 n;

	lockdep_assert_held(&t->lock);
	for (n = first; n <= last; n++)
		if (!cbt_find_epoch(t, n))
			return false;
	return true;
}

bool cbt_range_read_leaf(struct cbt_tracker *t, u64 first, u64 last, u32 leaf,
			 __le64 *words, __le64 *tmp)
{
	bool any = false;
	u64 n;
	u32 i;

	lockdep_assert_held(&t->lock);
	memset(words, 0, CBT_LEAF_BYTES);
	for (n = first; n <= last; n++) {
		struct cbt_epoch *e = cbt_find_epoch(t, n);

		if (!cbt_bitmap_read_leaf(&e->bm, leaf, tmp))
			continue;
		any = true;
		for (i = 0; i < CBT_LEAF_BYTES / sizeof(*words); i++)
			words[i] |= tmp[i];
	}
	return any;
}

int cbt_range_count(struct cbt_tracker *t, u64 first, u64 last, struct cbt_bitmap_count *c,
		    u64 *nr_blocks)
{
	const struct cbt_bitmap *bms[CBT_COUNT_MAX_BITMAPS];
	u32 leaf = 0, nr_leaves, nr, budget;
	u64 n;

	if (last - first >= CBT_COUNT_MAX_BITMAPS)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	/*
	 * t->lock is held for CBT_COUNT_BUDGET of work at a time, as a dump
	 * holds it for one message, and the range is checked again at every
	 * hold: the epochs cannot go away while their leaves are read. The
	 * counts carry over between holds (cbt_bitmap_count_leaf() continues
	 * runs); a grow in between only adds clear bits at the end.
	 */
	do {
		mutex_lock(&t->lock);
		if (!cbt_range_held(t, first, last)) {
			mutex_unlock(&t->lock);
			return -ESTALE;
		}
		for (nr = 0, n = first; n <= last; n++)
			bms[nr++] = &cbt_find_epoch(t, n)->bm;
		*nr_blocks = t->nr_blocks;
		nr_leaves = DIV_ROUND_UP_ULL(t->nr_blocks, CBT_BITS_PER_LEAF);
		for (budget = CBT_COUNT_BUDGET; leaf < nr_leaves && budget; leaf++)
			budget -= cbt_bitmap_count_leaf(bms, nr, leaf, c) ?
				  min(budget, CBT_COUNT_LEAF_COST) : 1;
		mutex_unlock(&t->lock);
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	} while (leaf < nr_leaves);
	return 0;
}
