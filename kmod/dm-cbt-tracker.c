// SPDX-License-Identifier: GPL-2.0
/*
 * Trackers: the epochs of one device, the write path that marks them and
 * the worker that commits marks before writes go down. Holding writes and
 * the claims that serialise holds are dm-cbt-hold.c. See dm-cbt.h.
 */
#include <linux/blkdev.h>
#include <linux/log2.h>
#include <linux/moduleparam.h>
#include <linux/rculist.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/uuid.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"

DEFINE_MUTEX(cbt_trackers_lock);	/* protects cbt_trackers and each tracker's md */
LIST_HEAD(cbt_trackers);

/* ---- Listeners: the layers above, called back without being named ---- */

/*
 * Writers (register, unregister) take cbt_listeners_lock; readers walk the
 * list under SRCU, which both map() (atomic) and event senders (which
 * sleep) may hold. No reader takes cbt_listeners_lock, so the
 * synchronize_srcu() under it cannot wait on itself.
 */
static DEFINE_MUTEX(cbt_listeners_lock);	/* protects cbt_listeners' changes */
static LIST_HEAD(cbt_listeners);
DEFINE_STATIC_SRCU(cbt_listeners_srcu);

void cbt_tracker_listen(struct cbt_tracker_listener *l)
{
	mutex_lock(&cbt_listeners_lock);
	list_add_tail_rcu(&l->node, &cbt_listeners);
	mutex_unlock(&cbt_listeners_lock);
}

void cbt_tracker_unlisten(struct cbt_tracker_listener *l)
{
	mutex_lock(&cbt_listeners_lock);
	list_del_rcu(&l->node);
	/* No callback of @l runs after this: its module text may go. */
	synchronize_srcu(&cbt_listeners_srcu);
	mutex_unlock(&cbt_listeners_lock);
}

void cbt_tracker_event(struct cbt_tracker *t, enum cbt_event event, u64 epoch)
{
	struct cbt_tracker_listener *l;
	int idx;

	might_sleep();
	idx = srcu_read_lock(&cbt_listeners_srcu);
	list_for_each_entry_srcu(l, &cbt_listeners, node,
				 srcu_read_lock_held(&cbt_listeners_srcu))
		if (l->ops->event)
			l->ops->event(t, event, epoch);
	srcu_read_unlock(&cbt_listeners_srcu, idx);
}

/*
 * Does the attached snapshot's gate let @bio down without asking it: is
 * every chunk it writes copied, forfeited or released (or past the
 * snapshot's end)? The same bit test cbt_cow_check_write() starts with.
 */
static bool gate_passes(const struct cbt_snap_gate *g, struct bio *bio)
{
	u64 first = bio->bi_iter.bi_sector >> g->chunk_shift;
	u64 last = (bio_end_sector(bio) - 1) >> g->chunk_shift;

	/* Clipped to the snapshot's chunks: past them, nothing to copy. */
	return cbt_bitmap_range_all_set(g->copied, first, last - first + 1);
}

/*
 * Under rcu_read_lock(): true if no snapshot is attached, or its gate lets
 * @bio down (the argument above check_write()).
 */
static bool gate_open_rcu(struct cbt_tracker *t, struct bio *bio)
{
	const struct cbt_snap_gate *g = rcu_dereference(t->snap_gate);

	return !g || gate_passes(g, bio);
}

/* Ask the listeners about a write the gate did not let down. */
static bool ask_listeners(struct cbt_tracker *t, struct bio *bio)
{
	struct cbt_tracker_listener *l;
	bool go = true;
	int idx;

	idx = srcu_read_lock(&cbt_listeners_srcu);
	list_for_each_entry_srcu(l, &cbt_listeners, node,
				 srcu_read_lock_held(&cbt_listeners_srcu)) {
		if (l->ops->check_write && !l->ops->check_write(t, bio)) {
			go = false;
			break;
		}
	}
	srcu_read_unlock(&cbt_listeners_srcu, idx);
	return go;
}

/*
 * True if a remapped write may go down now; false if a listener (the
 * snapshot's copy-on-write) took it and submits it itself. Without an
 * attached snapshot there is nothing to ask: the common write pays one
 * pointer test, not an indirect call. map() reads the gate in the RCU
 * section it marks the open epoch in (cbt_process_write()), so a write
 * there pays one section, not two; the commit worker and a release of
 * held writes come here.
 *
 * With one, a write to chunks the snapshot needs nothing of any more
 * (the common case once a backup is under way) is let down by the gate
 * alone, under rcu_read_lock() (no barrier: free without PREEMPT_RCU, a
 * task counter with it, as on Debian's 6.1 and 6.12): no SRCU section
 * (two full barriers on 6.1), no indirect call. Only a write to a
 * chunk whose ->copied bit is clear calls the listeners, which decide as
 * before. Why letting it down on the gate alone never skips a copy the
 * snapshot needs, nor reads freed memory:
 *
 * - What a set bit means: a chunk's ->copied bit is set only once its
 *   old data is in the COW store (after the copy's kcopyd completion, so
 *   after the copy read the origin) or the snapshot gave it up (forfeited
 *   outside the preserve set, released), and is never cleared. The write
 *   is submitted after it saw the bit, so it cannot reach the origin
 *   before the copy's read of it ended. cbt_cow_check_write() let such a
 *   write down on the same test, in every state: PREPARED has no bit
 *   set, INVALID lets every write down.
 * - A take: every caller runs this with the write counted in t->writes
 *   (map(), the commit worker, a release of held writes). A take holds
 *   new writes, waits for the counted ones to end, and only then makes
 *   the snapshot ACTIVE; no bit is set before that. So a write that
 *   raced the take finds ->copied empty, asks the listener (PREPARED: it
 *   goes) and ends before the take's instant, as it did before; a write
 *   after the instant is counted after the release and sees the bits the
 *   active snapshot set, never those of an earlier one.
 * - A drop: snap_dtr() invalidates the snapshot, clears ->snap and
 *   ->snap_gate, and frees the snapshot (the gate, ->copied and its
 *   leaves are in it) only after cbt_cow_drain()'s synchronize_rcu(),
 *   which waits for this RCU section. A reader that still saw the gate
 *   of a snapshot being dropped lets down only writes that one needed
 *   nothing of; any other write goes to the listener, which finds
 *   ->snap NULL or the snapshot INVALID and lets it down, as before.
 * - A release of ranges (cbt_cow_release()), a forfeit: bits are only
 *   added, under s->lock, with their ->lost bit: a write that sees one
 *   overwrites a chunk the reader gave up.
 * - No gate: t->snap_gate is published after t->snap, while the new
 *   snapshot is still PREPARED (every write goes), and cleared after
 *   snap_dtr() made it INVALID (every write goes): a write that finds no
 *   gate has nothing to ask the listeners.
 * - A listener unregister: the gate calls no listener; the SRCU section
 *   of ask_listeners() still covers every callback.
 * - map() reads the gate in the RCU section it marks the open epoch in
 *   (cbt_process_write()): the same section as here for all of the above;
 *   the drop's synchronize_rcu() waits for it as for this one.
 * Ordering: the gate and its fields are written before rcu_assign_pointer()
 * publishes it, and ->copied's leaf pointers are read with READ_ONCE();
 * cbt_cow_check_write()'s acquire of the state orders only the take's
 * fields (origin_bdev, epoch), which the gate does not read.
 */
static bool check_write(struct cbt_tracker *t, struct bio *bio)
{
	bool go;

	if (!rcu_access_pointer(t->snap_gate))
		return true;
	rcu_read_lock();
	go = gate_open_rcu(t, bio);
	rcu_read_unlock();
	return go || ask_listeners(t, bio);
}

/* ---- Epochs ---- */

struct cbt_epoch *cbt_open_epoch(struct cbt_tracker *t)
{
	return rcu_dereference_protected(t->open, lockdep_is_held(&t->lock));
}

struct cbt_epoch *cbt_find_epoch(struct cbt_tracker *t, u64 number)
{
	int slot;

	lockdep_assert_held(&t->lock);
	slot = cbt_ledger_find(&t->ledger, number);
	return slot < 0 ? NULL : t->slots[slot];
}

size_t cbt_tracker_bytes(struct cbt_tracker *t)
{
	size_t bytes = 0;
	u32 i;

	lockdep_assert_held(&t->lock);
	for (i = 0; i < DM_CBT_MD_SLOTS; i++)
		if (t->slots[i])
			bytes += cbt_bitmap_bytes(&t->slots[i]->bm) +
				 BITS_TO_LONGS(t->slots[i]->bm.nr_leaves) * sizeof(long);
	return bytes;
}

/*
 * Record bits in the open epoch, outside map(); t->lock held. Persistent:
 * they stay pending, invisible to map(), until cbt_commit_marks().
 */
void cbt_mark_locked(struct cbt_tracker *t, u64 start, u64 len)
{
	struct cbt_epoch *e = cbt_open_epoch(t);

	lockdep_assert_held(&t->lock);
	if (t->persistence == CBT_PERSIST_METADATA) {
		cbt_bitmap_set_range(&e->pending, start, len, GFP_NOIO);
		cbt_md_mark_dirty(e, start, len);
	} else {
		cbt_bitmap_set_range(&e->bm, start, len, GFP_NOIO);
	}
}

/* Make every pending bit visible to map(). */
static void publish_pending(struct cbt_tracker *t)
{
	u32 slot, leaf;

	lockdep_assert_held(&t->lock);
	for (slot = 0; slot < DM_CBT_MD_SLOTS; slot++) {
		struct cbt_epoch *e = t->slots[slot];

		if (!e)
			continue;
		for (leaf = 0; leaf < e->pending.nr_leaves; leaf++) {
			if (!cbt_bitmap_read_leaf(&e->pending, leaf, t->scratch))
				continue;
			cbt_bitmap_or_leaf(&e->bm, leaf, t->scratch, GFP_NOIO);
			cbt_bitmap_clear_leaf(&e->pending, leaf);
		}
	}
}

/*
 * Make sure publish_pending() finds a page for every leaf it ORs into. A
 * leaf that cannot be had would turn FULL in memory while the disk holds
 * only its real bits (review L3): record such a leaf as all ones, so the
 * commit writes an all-ones page before map() can see the FULL leaf.
 */
static void prepare_publish(struct cbt_tracker *t)
{
	u32 slot, leaf;

	for (slot = 0; slot < DM_CBT_MD_SLOTS; slot++) {
		struct cbt_epoch *e = t->slots[slot];

		if (!e)
			continue;
		for_each_set_bit(leaf, e->dirty_leaves, e->bm.nr_leaves) {
			u64 first = (u64)leaf * CBT_BITS_PER_LEAF;

			if (cbt_bitmap_prepare(&e->bm, first, CBT_BITS_PER_LEAF, GFP_NOIO))
				cbt_bitmap_set_range(&e->pending, first, CBT_BITS_PER_LEAF,
						     GFP_NOIO);
		}
	}
}

/*
 * How long fine bits under coarse marks may wait in memory for a fold.
 * Longer: fewer bitmap writes, more extra bits after a crash.
 */
static unsigned int fold_ms = 1000;
module_param(fold_ms, uint, 0644);
MODULE_PARM_DESC(fold_ms, "Milliseconds before a fold writes the fine bits of coarse marks");

/*
 * Under a coarse mark on disk, a block's fine bit may be set in memory
 * alone: the fold writes it within about a second. True when done.
 * From map() (under RCU, GFP_NOWAIT) and from the worker (t->lock held).
 */
static bool mark_covered(struct cbt_tracker *t, struct cbt_epoch *e, u64 start, u64 len,
			 gfp_t gfp)
{
	/* prepare first: a FULL leaf would let writes of other regions through. */
	if (!cbt_md_regions_marked(t, start, len) ||
	    cbt_bitmap_prepare(&e->bm, start, len, gfp))
		return false;
	cbt_bitmap_set_range(&e->bm, start, len, gfp);
	cbt_md_mark_dirty(e, start, len);
	if (!test_and_set_bit(0, &t->fold_queued))
		queue_delayed_work(t->wq, &t->fold_work,
				   msecs_to_jiffies(READ_ONCE(fold_ms)));
	return true;
}

void cbt_fold(struct cbt_tracker *t, const char *what)
{
	int r;

	lockdep_assert_held(&t->lock);
	r = cbt_md_fold(t);
	if (r)
		cbt_md_failed(t, r, what);
}

static void cbt_fold_work(struct work_struct *ws)
{
	struct cbt_tracker *t = container_of(to_delayed_work(ws), struct cbt_tracker, fold_work);
	unsigned int noio;
	unsigned long gp;
	bool started;
	int r;

	/* Cleared first: fine bits set during this fold queue the next one. */
	clear_bit(0, &t->fold_queued);
	noio = memalloc_noio_save();
	mutex_lock(&t->lock);
	started = cbt_md_fold_start(t, &gp);
	mutex_unlock(&t->lock);
	if (!started)
		goto out;
	/*
	 * The grace period without t->lock: the commit worker, which first
	 * writes of unmarked regions wait for, needs it meanwhile, and a
	 * grace period on a busy machine takes long. Safe, because until
	 * cbt_md_fold_finish() the old generation's pages stay on disk (a
	 * crash loads both generations, as during any fold), and what may
	 * run in between touches only the new generation or commits fine
	 * bits early: the commit worker stages and writes the new
	 * generation's pages (cbt_md_fold_start() flipped rgen) and commits
	 * dirty leaves, which a map() still setting bits under an old mark
	 * dirties again for the finish's commit; no other fold starts
	 * (fold_pending), a one-step fold (an epoch close, a suspend) first
	 * finishes this one, with no map() running, so without waiting for
	 * the grace period (cbt_md_fold()); region maps are reset or freed only with this work
	 * cancelled (suspend, removal) or by a new identity, which drops the
	 * pending fold with the generations it zeroes.
	 */
	cond_synchronize_rcu(gp);
	mutex_lock(&t->lock);
	r = cbt_md_fold_finish(t);
	if (r)
		cbt_md_failed(t, r, "writing the fine bits");
	mutex_unlock(&t->lock);
out:
	memalloc_noio_restore(noio);
}

void cbt_fold_cancel(struct cbt_tracker *t)
{
	cancel_delayed_work_sync(&t->fold_work);
	clear_bit(0, &t->fold_queued);
}

void cbt_commit_marks(struct cbt_tracker *t, const char *what)
{
	int r;

	lockdep_assert_held(&t->lock);
	if (t->persistence == CBT_PERSIST_METADATA && !t->dead) {
		prepare_publish(t);
		r = cbt_md_commit_dirty(t);
		if (r)
			cbt_md_failed(t, r, what);
	}
	/* Only now may map() let writes to these blocks through unrecorded. */
	if (t->scratch)
		publish_pending(t);
}

/* ---- The worker: marks deferred writes, commits, then submits them. ---- */

static void bio_blocks(struct cbt_tracker *t, struct bio *bio, u64 *start, u64 *len)
{
	sector_t first = bio->bi_iter.bi_sector;
	sector_t last = first + bio_sectors(bio) - 1;

	*start = first >> t->block_shift;
	*len = (last >> t->block_shift) - *start + 1;
}

static void cbt_commit_work(struct work_struct *ws)
{
	struct cbt_tracker *t = container_of(ws, struct cbt_tracker, commit_work);
	struct bio_list bios;
	struct bio *bio;
	unsigned long flags;
	unsigned int noio;
	bool fine = false;
	u64 start, len;
	int r;

	/* Writes wait on this work: its allocations must not wait on writeback. */
	noio = memalloc_noio_save();
	mutex_lock(&t->lock);
	spin_lock_irqsave(&t->deferred_lock, flags);
	bios = t->deferred;
	bio_list_init(&t->deferred);
	spin_unlock_irqrestore(&t->deferred_lock, flags);

	cbt_fp_invalidate(t, &bios);
	if (cbt_md_regions_on(t) && !t->dead) {
		/* Coarse marks first: one region-map page and flush for them all. */
		bio_list_for_each(bio, &bios) {
			bio_blocks(t, bio, &start, &len);
			cbt_md_stage_regions(t, start, len);
		}
		r = cbt_md_commit_regions(t);
		if (r)
			cbt_md_failed(t, r, "committing the region marks");
	}
	bio_list_for_each(bio, &bios) {
		bio_blocks(t, bio, &start, &len);
		if (cbt_md_regions_on(t) &&
		    mark_covered(t, cbt_open_epoch(t), start, len, GFP_NOIO))
			continue;
		cbt_mark_locked(t, start, len);
		fine = true;
	}
	if (fine || bio_list_empty(&bios))
		cbt_commit_marks(t, "committing the bitmap");
	mutex_unlock(&t->lock);
	memalloc_noio_restore(noio);

	/* The origin never fails a write for metadata's sake: submit them all. */
	while ((bio = bio_list_pop(&bios)))
		if (check_write(t, bio))
			dm_submit_bio_remap(bio, NULL);
}

/*
 * Record a write without waiting, if possible. True when the write may go
 * to the origin now; false when it must wait for a commit. Under
 * rcu_read_lock() (t->open).
 */
static bool cbt_mark_fast_rcu(struct cbt_tracker *t, u64 start, u64 len)
{
	struct cbt_epoch *e = rcu_dereference(t->open);

	if (READ_ONCE(t->persistence) != CBT_PERSIST_METADATA)
		/*
		 * A block written again is set already (no call, most
		 * often); else one walk of the bitmap, and a leaf that cannot
		 * be had without sleeping is left to the worker, which may
		 * sleep for it: FULL is the last resort.
		 */
		return cbt_bitmap_range_all_set(&e->bm, start, len) ||
		       !cbt_bitmap_try_set_range(&e->bm, start, len, GFP_NOWAIT);
	/*
	 * Persistent: a bit map() sees is on the metadata device already,
	 * or covered there by its region's coarse mark.
	 */
	return cbt_bitmap_range_all_set(&e->bm, start, len) ||
	       mark_covered(t, e, start, len, GFP_NOWAIT);
}

/* ---- Tracker registry ---- */

void cbt_tracker_get(struct cbt_tracker *t)
{
	kref_get(&t->ref);
}

static void tracking_lost_work(struct work_struct *ws)
{
	struct cbt_tracker *t = container_of(ws, struct cbt_tracker, lost_work);

	cbt_tracker_event(t, CBT_EVENT_TRACKING_LOST, 0);
}

static void tracker_release(struct kref *ref)
{
	struct cbt_tracker *t = container_of(ref, struct cbt_tracker, ref);
	u32 i;

	cancel_work_sync(&t->lost_work);
	cancel_delayed_work_sync(&t->fp_work);
	cancel_delayed_work_sync(&t->fold_work);
	percpu_ref_exit(&t->writes);
	if (t->wq)
		destroy_workqueue(t->wq);
	for (i = 0; i < DM_CBT_MD_SLOTS; i++)
		cbt_epoch_free(t->slots[i]);
	for (i = 0; i < CBT_COMMIT_BATCH; i++)
		if (t->batch[i])
			__free_page(t->batch[i]);
	kfree(t->scratch);
	cbt_md_regions_free(t);
	mutex_destroy(&t->lock);
	kfree(t);
}

void cbt_tracker_put(struct cbt_tracker *t)
{
	kref_put(&t->ref, tracker_release);
}

int cbt_tracker_name(struct cbt_tracker *t, char *name)
{
	lockdep_assert_held(&cbt_trackers_lock);
	if (!t->md)
		return -ENODEV;
	return dm_copy_name_and_uuid(t->md, name, NULL);
}

struct cbt_tracker *cbt_tracker_find(const char *name, dev_t devt)
{
	char buf[DM_NAME_LEN];
	struct cbt_tracker *t;

	lockdep_assert_held(&cbt_trackers_lock);
	list_for_each_entry(t, &cbt_trackers, list) {
		if (!t->md)
			continue;
		if (name ? (!cbt_tracker_name(t, buf) && !strcmp(buf, name)) :
			   t->devt == devt) {
			cbt_tracker_get(t);
			return t;
		}
	}
	return NULL;
}

struct cbt_tracker *cbt_tracker_of_md(struct mapped_device *md)
{
	struct cbt_tracker *t;

	lockdep_assert_held(&cbt_trackers_lock);
	list_for_each_entry(t, &cbt_trackers, list)
		if (t->md == md)
			return t;
	return NULL;
}

static void writes_drained(struct percpu_ref *ref)
{
	struct cbt_tracker *t = container_of(ref, struct cbt_tracker, writes);

	complete(&t->writes_drained);
}

struct cbt_tracker *cbt_tracker_create(struct dm_target *ti, u32 block_sectors,
				       struct dm_dev *origin, struct dm_dev *meta)
{
	struct cbt_tracker *t;
	struct cbt_epoch *e;
	u8 uuid[16];
	u32 i;
	int r;

	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t) {
		ti->error = "Cannot allocate tracker";
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&t->ref);
	INIT_LIST_HEAD(&t->list);
	mutex_init(&t->lock);
	spin_lock_init(&t->deferred_lock);
	bio_list_init(&t->deferred);
	INIT_WORK(&t->commit_work, cbt_commit_work);
	INIT_WORK(&t->lost_work, tracking_lost_work);
	INIT_DELAYED_WORK(&t->fp_work, cbt_fp_work);
	INIT_DELAYED_WORK(&t->fold_work, cbt_fold_work);
	spin_lock_init(&t->held_lock);
	bio_list_init(&t->held);
	init_completion(&t->writes_drained);
	/* Killed and resurrected around every snapshot: keep the percpu counters. */
	r = percpu_ref_init(&t->writes, writes_drained, PERCPU_REF_ALLOW_REINIT, GFP_KERNEL);
	if (r) {
		kfree(t);
		ti->error = "Cannot allocate write counter";
		return ERR_PTR(r);
	}
	t->md = dm_table_get_md(ti->table);
	t->devt = disk_devt(dm_disk(t->md));
	t->origin_bdev = origin->bdev;
	t->block_sectors = block_sectors;
	t->block_shift = ilog2(block_sectors);
	t->dev_sectors = ti->len;
	t->nr_blocks = DIV_ROUND_UP_ULL((u64)ti->len, block_sectors);

	t->wq = alloc_workqueue("dm-cbt-%u:%u", WQ_MEM_RECLAIM | CBT_WQ_PERCPU, 0,
				MAJOR(t->devt), MINOR(t->devt));
	if (!t->wq) {
		ti->error = "Cannot allocate workqueue";
		r = -ENOMEM;
		goto bad;
	}

	mutex_lock(&t->lock);
	if (meta) {
		t->meta_devt = meta->bdev->bd_dev;
		t->meta_bdev = meta->bdev;
		t->scratch = kmalloc(CBT_LEAF_BYTES, GFP_KERNEL);
		if (!t->scratch) {
			mutex_unlock(&t->lock);
			ti->error = "Cannot allocate commit buffers";
			r = -ENOMEM;
			goto bad;
		}
		for (i = 0; i < CBT_COMMIT_BATCH; i++) {
			t->batch[i] = alloc_page(GFP_KERNEL);
			if (!t->batch[i]) {
				mutex_unlock(&t->lock);
				ti->error = "Cannot allocate commit buffers";
				r = -ENOMEM;
				goto bad;
			}
		}
		t->persistence = CBT_PERSIST_METADATA;
		r = cbt_md_open(t, &ti->error);
		if (r) {
			mutex_unlock(&t->lock);
			goto bad;
		}
		/* Read only: the first preresume writes and announces it. */
		e = t->slots[t->ledger.open_slot];
	} else {
		/* Memory only: a new identity at every load, history starts now. */
		t->persistence = CBT_PERSIST_NONE;
		t->reason = CBT_IDENTITY_MEMORY_ONLY;
		generate_random_uuid(uuid);
		cbt_ledger_init(&t->ledger, uuid, block_sectors << SECTOR_SHIFT,
				t->nr_blocks, 0);
		e = cbt_epoch_alloc(t, t->ledger.open_epoch, t->ledger.open_slot);
		if (!e) {
			mutex_unlock(&t->lock);
			ti->error = "Cannot allocate bitmap";
			r = -ENOMEM;
			goto bad;
		}
		t->slots[e->slot] = e;
	}
	rcu_assign_pointer(t->open, e);
	mutex_unlock(&t->lock);
	return t;
bad:
	t->md = NULL;
	cbt_tracker_put(t);
	return ERR_PTR(r);
}

/* Track a remapped write; DM_MAPIO_REMAPPED if it may go down now. */
int cbt_process_write(struct cbt_tracker *t, struct bio *bio)
{
	unsigned long flags;
	bool marked = false, go = false;
	u64 start, len;

	bio_blocks(t, bio, &start, &len);
	if (!cbt_fp_write_deferred(t, bio)) {
		/* One RCU section for the mark and the snapshot's gate. */
		rcu_read_lock();
		marked = cbt_mark_fast_rcu(t, start, len);
		go = marked && gate_open_rcu(t, bio);
		rcu_read_unlock();
	}
	if (!marked) {
		spin_lock_irqsave(&t->deferred_lock, flags);
		bio_list_add(&t->deferred, bio);
		spin_unlock_irqrestore(&t->deferred_lock, flags);
		queue_work(t->wq, &t->commit_work);
		return DM_MAPIO_SUBMITTED;
	}
	return go || ask_listeners(t, bio) ? DM_MAPIO_REMAPPED : DM_MAPIO_SUBMITTED;
}
