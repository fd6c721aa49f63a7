// SPDX-License-Identifier: GPL-2.0
/*
 * Epoch operations on a tracker: closing the open epoch with writes held
 * and drained (the hold itself is dm-cbt-hold.c), committing and aborting
 * closed ones, which frees their bitmap slots. Built on the tracker's
 * marks and commits (dm-cbt-tracker.c); see dm-cbt.h.
 */
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"

/* Gone, or not resumed yet (its metadata is not written: cbt_md_first_resume()). */
static int epoch_ops_refused(struct cbt_tracker *t)
{
	lockdep_assert_held(&t->lock);
	if (t->dead)
		return -ENODEV;
	return t->md_unwritten ? -ENXIO : 0;
}

int cbt_close_epoch_held(struct cbt_tracker *t, struct cbt_epoch **prealloc, u64 *closed)
{
	struct cbt_epoch *old, *new = *prealloc;
	struct cbt_ledger next;
	u32 closed_slot;
	int r;

	mutex_lock(&t->lock);
	r = epoch_ops_refused(t);
	if (r)
		goto out;
	/*
	 * The closing epoch's fine bits on disk, the region maps empty:
	 * before the ledger is copied, as a failure gives it a new identity.
	 */
	cbt_fold(t, "closing an epoch");
	next = t->ledger;
	r = cbt_ledger_close(&next, &closed_slot);
	if (r)
		goto out;
	/* Allocated before the hold; a resize since then needs it grown. */
	r = new->bm.nr_bits > t->nr_blocks ? -EAGAIN : cbt_epoch_grow(new, t->nr_blocks);
	if (r)
		goto out;
	new->number = next.open_epoch;
	new->slot = next.open_slot;
	/*
	 * Persistent: the superblock that closes N goes down before any bit
	 * of N+1 can be committed (only the worker commits, and it needs
	 * t->lock), so after a crash N is complete and N+1 starts empty.
	 */
	if (t->persistence == CBT_PERSIST_METADATA) {
		next.seq++;
		t->ledger = next;
		r = cbt_md_write_sb(t);
		/* It gives the ledger a new identity: keep that one. */
		if (r)
			cbt_md_failed(t, r, "closing an epoch");
	} else {
		t->ledger = next;
	}
	old = cbt_open_epoch(t);
	t->slots[new->slot] = new;
	rcu_assign_pointer(t->open, new);
	*prealloc = NULL;
	/*
	 * No synchronize_rcu() here: writes are held and drained, and map()
	 * reads t->open (cbt_mark_fast_rcu()) only for a write it counted in
	 * t->writes, which the drain waited for; a parked write reads it
	 * after the release. So no map() still sets bits in the closed epoch.
	 */
	*closed = old->number;
	r = 0;
out:
	mutex_unlock(&t->lock);
	return r;
}

/* Drop a closed epoch whose slot the ledger freed; t->lock held. */
static void release_slot(struct cbt_tracker *t, u32 slot)
{
	struct cbt_epoch *e = t->slots[slot];
	int r = 0;

	lockdep_assert_held(&t->lock);
	if (t->persistence == CBT_PERSIST_METADATA) {
		t->ledger.seq++;
		r = cbt_md_write_sb(t);
		if (!r)
			r = cbt_md_zero_slot(t, slot, &e->bm);
		if (r)
			cbt_md_failed(t, r, "freeing an epoch's slot");
	}
	/* A slot we could not zero stays dirty: no epoch opens on stale bits. */
	if (!r || t->persistence != CBT_PERSIST_METADATA)
		cbt_ledger_slot_clean(&t->ledger, slot);
	t->slots[slot] = NULL;
	cbt_epoch_free(e);
}

int cbt_commit_epoch(struct cbt_tracker *t, u64 epoch)
{
	u32 slot;
	int r;

	mutex_lock(&t->lock);
	r = epoch_ops_refused(t) ?: cbt_ledger_commit(&t->ledger, epoch, &slot);
	if (!r)
		release_slot(t, slot);
	mutex_unlock(&t->lock);
	if (!r)
		cbt_tracker_event(t, CBT_EVENT_EPOCH_COMMITTED, epoch);
	return r;
}

int cbt_abort_epoch(struct cbt_tracker *t, u64 epoch)
{
	int r = cbt_abort_epoch_quiet(t, epoch);

	if (!r)
		cbt_tracker_event(t, CBT_EVENT_EPOCH_ABORTED, epoch);
	return r;
}

int cbt_abort_epoch_quiet(struct cbt_tracker *t, u64 epoch)
{
	struct cbt_epoch *e, *open;
	u32 slot, leaf;
	int r;

	mutex_lock(&t->lock);
	r = epoch_ops_refused(t);
	if (r)
		goto out;
	e = cbt_find_epoch(t, epoch);
	open = cbt_open_epoch(t);
	if (!e || e == open) {
		r = -ENOENT;
		goto out;
	}
	/* Fold the closed epoch's changes into the open one before dropping it. */
	if (t->persistence == CBT_PERSIST_METADATA) {
		r = cbt_bitmap_or(&open->pending, &e->bm, GFP_NOIO);
		for (leaf = 0; !r && leaf < min(e->bm.nr_leaves, open->bm.nr_leaves); leaf++)
			if (cbt_bitmap_leaf_present(&e->bm, leaf))
				set_bit(leaf, open->dirty_leaves);
	} else {
		r = cbt_bitmap_or(&open->bm, &e->bm, GFP_NOIO);
	}
	if (r)
		goto out;
	cbt_commit_marks(t, "merging an aborted epoch");
	r = cbt_ledger_abort(&t->ledger, epoch, &slot);
	if (!r)
		release_slot(t, slot);
out:
	mutex_unlock(&t->lock);
	return r;
}
