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

/* What a count is of: unchanged from its first hold of t->lock to its last. */
static bool same_device(struct cbt_tracker *t, const struct cbt_range_count *rc)
{
	return !memcmp(rc->uuid, t->ledger.uuid, sizeof(rc->uuid)) &&
	       rc->dev_sectors == t->dev_sectors && rc->nr_blocks == t->nr_blocks;
}

int cbt_range_count(struct cbt_tracker *t, u64 first, u64 last, struct cbt_range_count *rc)
{
	const struct cbt_bitmap *bms[CBT_COUNT_MAX_BITMAPS];
	u32 leaf = 0, nr_leaves = 0, nr, budget;
	u64 n;

	if (last - first >= CBT_COUNT_MAX_BITMAPS)
		return -EINVAL;
	memset(rc, 0, sizeof(*rc));
	/*
	 * t->lock is held for CBT_COUNT_BUDGET of work at a time, as a dump
	 * holds it for one message, and the range is checked again at every
	 * hold: the epochs cannot go away while their leaves are read. The
	 * counts carry over between holds (cbt_bitmap_count_leaf() continues
	 * runs). The identity and the size are those of the first hold: a
	 * change by a later one is -ESTALE, so the reply says what it counted.
	 */
	do {
		mutex_lock(&t->lock);
		if (!cbt_range_held(t, first, last) || (leaf && !same_device(t, rc))) {
			mutex_unlock(&t->lock);
			return -ESTALE;
		}
		if (!leaf) {
			memcpy(rc->uuid, t->ledger.uuid, sizeof(rc->uuid));
			rc->dev_sectors = t->dev_sectors;
			rc->nr_blocks = t->nr_blocks;
			nr_leaves = DIV_ROUND_UP_ULL(t->nr_blocks, CBT_BITS_PER_LEAF);
		}
		for (nr = 0, n = first; n <= last; n++)
			bms[nr++] = &cbt_find_epoch(t, n)->bm;
		for (budget = CBT_COUNT_BUDGET; leaf < nr_leaves && budget; leaf++)
			budget -= cbt_bitmap_count_leaf(bms, nr, leaf, &rc->c) ?
				  min(budget, CBT_COUNT_LEAF_COST) : 1;
		mutex_unlock(&t->lock);
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	} while (leaf < nr_leaves);
	return 0;
}
