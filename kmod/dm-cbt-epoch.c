// SPDX-License-Identifier: GPL-2.0
/*
 * Epochs: the bitmap of one epoch's changed blocks and, persistent only,
 * the bits not yet on the metadata device and the leaves to write. Below
 * the metadata code, which builds epochs when it loads or formats a
 * device, and the tracker, which opens and drops them. See dm-cbt.h.
 */
#include <linux/bitmap.h>
#include <linux/slab.h>

#include "dm-cbt.h"

struct cbt_epoch *cbt_epoch_alloc(struct cbt_tracker *t, u64 number, u32 slot)
{
	struct cbt_epoch *e = kzalloc(sizeof(*e), GFP_KERNEL);

	if (!e)
		return NULL;
	e->number = number;
	e->slot = slot;
	if (cbt_bitmap_init(&e->bm, t->nr_blocks, GFP_KERNEL) ||
	    cbt_bitmap_init(&e->pending, t->nr_blocks, GFP_KERNEL))
		goto bad;
	e->nr_dirty_bits = max(e->bm.nr_leaves, 1U);
	e->dirty_leaves = bitmap_zalloc(e->nr_dirty_bits, GFP_KERNEL);
	if (!e->dirty_leaves)
		goto bad;
	return e;
bad:
	cbt_bitmap_destroy(&e->bm);
	cbt_bitmap_destroy(&e->pending);
	kfree(e);
	return NULL;
}

int cbt_epoch_grow(struct cbt_epoch *e, u64 nr_blocks)
{
	u32 leaves = DIV_ROUND_UP_ULL(nr_blocks, CBT_BITS_PER_LEAF);
	unsigned long *dirty;
	int r;

	/*
	 * dirty_leaves first, sized from its own length: a grow that fails
	 * half way (bm grown, pending not) and is retried never leaves a
	 * bitmap with more leaves than dirty_leaves has bits (review M1).
	 */
	if (leaves > e->nr_dirty_bits) {
		dirty = bitmap_zalloc(leaves, GFP_NOIO);
		if (!dirty)
			return -ENOMEM;
		bitmap_copy(dirty, e->dirty_leaves, e->nr_dirty_bits);
		bitmap_free(e->dirty_leaves);
		e->dirty_leaves = dirty;
		e->nr_dirty_bits = leaves;
	}
	r = cbt_bitmap_grow(&e->bm, nr_blocks, GFP_NOIO);
	if (!r)
		r = cbt_bitmap_grow(&e->pending, nr_blocks, GFP_NOIO);
	return r;
}

void cbt_epoch_free(struct cbt_epoch *e)
{
	if (!e)
		return;
	cbt_bitmap_destroy(&e->bm);
	cbt_bitmap_destroy(&e->pending);
	bitmap_free(e->dirty_leaves);
	kfree(e);
}

void cbt_epoch_discard(struct cbt_epoch *e)
{
	if (e)
		cbt_epoch_free(e);
}
