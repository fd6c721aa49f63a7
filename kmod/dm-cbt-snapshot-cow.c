// SPDX-License-Identifier: GPL-2.0
/*
 * The copy-on-write engine of a cbt snapshot: what an origin write waits
 * for, what a snapshot read is sent to, and when a chunk's copy is final.
 * The cbt-snap target (dm-cbt-snapshot.c) is its only user; taking
 * snapshots is dm-cbt-snapshot-take.c. See docs/snapshot.md.
 *
 * A chunk of the origin is in one of three states:
 *   uncopied  no map entry: the origin still holds the snapshot's data;
 *   copying   a struct cbt_copy in the map: its old data is being copied
 *             to the COW store (COPYING), or is there but snapshot reads
 *             that went to the origin before are still in flight
 *             (DRAINING); writes to the chunk wait either way;
 *   copied    a value entry (the COW index) and its bit in ->copied:
 *             writes go straight to the origin, reads to the COW store.
 * An origin write to uncopied chunks waits until each is copied. A
 * snapshot read of uncopied or COPYING chunks reads the origin and is
 * registered in ->reads until it completes; a chunk leaves DRAINING only
 * when no such read overlaps it, so no read can see a later write.
 */
#include <linux/blkdev.h>
#include <linux/dm-kcopyd.h>
#include <linux/mempool.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"
#include "dm-cbt-snapshot.h"

#define COW_LOW_PERCENT 80

enum copy_state { COPYING, DRAINING };

/* Map entries that are a struct cbt_copy (a chunk being copied). */
#define CBT_COPY_MARK XA_MARK_0

struct cbt_copy {
	u64 chunk;
	u64 cow_index;
	enum copy_state state;
	bool job_done;		/* kcopyd finished with it */
	struct list_head waiters;	/* struct cbt_waiter */
	struct cbt_snapshot *s;
};

/* One write waiting for one chunk. */
struct cbt_waiter {
	struct list_head node;
	struct bio *bio;
};

static struct cbt_io *io_of(struct bio *bio)
{
	return dm_per_bio_data(bio, sizeof(struct cbt_io));
}

static void chunk_range(struct cbt_snapshot *s, struct bio *bio, u64 *first, u64 *last)
{
	*first = bio->bi_iter.bi_sector >> s->chunk_shift;
	*last = (bio_end_sector(bio) - 1) >> s->chunk_shift;
}

/* Drop one wait of a write; when it was the last, hand it to @ready. */
static void waiter_done(struct cbt_snapshot *s, struct cbt_waiter *w, struct bio_list *ready)
{
	if (atomic_dec_and_test(&io_of(w->bio)->waiting))
		bio_list_add(ready, w->bio);
	list_del(&w->node);
	mempool_free(w, s->waiters);
}

static void submit_ready(struct bio_list *ready)
{
	struct bio *bio;

	while ((bio = bio_list_pop(ready)))
		dm_submit_bio_remap(bio, NULL);
}

static void event_work(struct work_struct *ws)
{
	struct cbt_snapshot *s = container_of(ws, struct cbt_snapshot, event_work);
	unsigned long flags, events;

	spin_lock_irqsave(&s->lock, flags);
	events = s->pending_events;
	s->pending_events = 0;
	spin_unlock_irqrestore(&s->lock, flags);
	/* COW_LOW before INVALID: the order they happened in. */
	if (events & BIT(CBT_SNAP_EV_COW_LOW))
		cbt_tracker_event(s->t, CBT_EVENT_COW_LOW, s->epoch);
	if (events & BIT(CBT_SNAP_EV_INVALID))
		cbt_tracker_event(s->t, CBT_EVENT_SNAPSHOT_INVALID, s->epoch);
}

/*
 * The snapshot can no longer be trusted: reads fail from now on, and every
 * waiting write goes down at once. The origin never pays for it.
 */
static void invalidate_locked(struct cbt_snapshot *s, int error, struct bio_list *ready)
{
	struct cbt_copy *cp;
	unsigned long idx;
	void *entry;

	lockdep_assert_held(&s->lock);
	if (s->state == CBT_SNAP_INVALID)
		return;
	WRITE_ONCE(s->state, CBT_SNAP_INVALID);
	s->error = error;
	if (error) {
		DMERR("%u:%u: snapshot of epoch %llu invalid (%d); the origin is fine",
		      MAJOR(s->t->devt), MINOR(s->t->devt), s->epoch, error);
		s->pending_events |= BIT(CBT_SNAP_EV_INVALID);
		schedule_work(&s->event_work);
	}
	/* Only the copies in flight (marked), not every copied chunk. */
	xa_for_each_marked(&s->map, idx, entry, CBT_COPY_MARK) {
		struct cbt_waiter *w, *tmp;

		cp = entry;
		list_for_each_entry_safe(w, tmp, &cp->waiters, node)
			waiter_done(s, w, ready);
		if (cp->job_done) {
			__xa_erase(&s->map, idx);
			mempool_free(cp, s->copy_pool);
		}
	}
}

static bool read_overlaps(struct cbt_snapshot *s, u64 chunk)
{
	struct cbt_snap_read *rd;

	list_for_each_entry(rd, &s->reads, node)
		if (rd->first <= chunk && chunk <= rd->last)
			return true;
	return false;
}

/* A DRAINING chunk no read overlaps any more becomes copied. */
static void finish_copy_locked(struct cbt_snapshot *s, struct cbt_copy *cp, struct bio_list *ready)
{
	struct cbt_waiter *w, *tmp;

	lockdep_assert_held(&s->lock);
	/* The slot exists and the leaf was prepared: neither allocates. */
	__xa_store(&s->map, cp->chunk, xa_mk_value(cp->cow_index), GFP_ATOMIC);
	__xa_clear_mark(&s->map, cp->chunk, CBT_COPY_MARK);
	cbt_bitmap_set_range(&s->copied, cp->chunk, 1, GFP_ATOMIC);
	list_for_each_entry_safe(w, tmp, &cp->waiters, node)
		waiter_done(s, w, ready);
	mempool_free(cp, s->copy_pool);
}

static void copy_done(int read_err, unsigned long write_err, void *context)
{
	struct cbt_copy *cp = context;
	struct cbt_snapshot *s = cp->s;
	struct bio_list ready = BIO_EMPTY_LIST;
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	xa_lock(&s->map);
	/*
	 * Invalidate first: invalidate_locked() frees the copies kcopyd is
	 * done with, and this one is freed below.
	 */
	if (read_err || write_err)
		invalidate_locked(s, -EIO, &ready);
	cp->job_done = true;
	if (s->state != CBT_SNAP_ACTIVE) {
		/* Its waiters went down when the snapshot was invalidated. */
		__xa_erase(&s->map, cp->chunk);
		mempool_free(cp, s->copy_pool);
	} else {
		cp->state = DRAINING;
		if (!read_overlaps(s, cp->chunk))
			finish_copy_locked(s, cp, &ready);
	}
	xa_unlock(&s->map);
	spin_unlock_irqrestore(&s->lock, flags);
	submit_ready(&ready);
	if (atomic_dec_and_test(&s->copies))
		wake_up(&s->copies_wait);
}

/*
 * COW slot @index lives in chunk @index + 1 of the COW device. Chunk 0 is
 * kept zeroed so the store never starts with a copy of the origin's first
 * chunk: blkid would find the origin's filesystem (its UUID, its label)
 * there, and root=UUID=, fstab or devices.conf could pick the COW device
 * on the next boot.
 */
sector_t cbt_cow_sector(const struct cbt_snapshot *s, u64 index)
{
	return (sector_t)(index + 1) << s->chunk_shift;
}

/* Start copying @cp's chunk from the origin to its COW slot. */
static void start_copy(struct cbt_snapshot *s, struct cbt_copy *cp)
{
	sector_t start = cp->chunk << s->chunk_shift;
	struct dm_io_region from = {
		.bdev = s->origin_bdev,
		.sector = start,
		.count = min_t(sector_t, s->chunk_sectors, s->sectors - start),
	};
	struct dm_io_region to = {
		.bdev = s->cow->bdev,
		.sector = cbt_cow_sector(s, cp->cow_index),
		.count = from.count,
	};

	atomic_inc(&s->copies);
	dm_kcopyd_copy(s->kc, &from, 1, &to, 0, copy_done, cp);
}

/*
 * Attach a waiter for chunk @c of a write, creating its copy if none runs.
 * Returns the copy to start (outside the lock), or NULL. *used says
 * whether @w and @fresh were consumed.
 */
static struct cbt_copy *wait_for_chunk(struct cbt_snapshot *s, u64 c, struct bio *bio,
				       struct cbt_waiter *w, struct cbt_copy **fresh,
				       bool *w_used, struct bio_list *ready)
{
	struct cbt_copy *cp = NULL, *start = NULL;
	void *entry;
	u64 idx;

	lockdep_assert_held(&s->lock);
	*w_used = false;
	entry = xa_load(&s->map, c);
	if (s->state != CBT_SNAP_ACTIVE || xa_is_value(entry))
		return NULL;
	if (entry) {
		cp = entry;
	} else {
		idx = atomic64_inc_return(&s->cow_next) - 1;
		if (idx >= s->cow_chunks) {
			invalidate_locked(s, -ENOSPC, ready);
			return NULL;
		}
		cp = *fresh;
		*fresh = NULL;
		cp->chunk = c;
		cp->cow_index = idx;
		cp->state = COPYING;
		cp->job_done = false;
		cp->s = s;
		INIT_LIST_HEAD(&cp->waiters);
		/* The slot was reserved: this does not allocate. */
		__xa_store(&s->map, c, cp, GFP_ATOMIC);
		__xa_set_mark(&s->map, c, CBT_COPY_MARK);
		if (!s->warned_low && idx * 100 >= s->cow_chunks * COW_LOW_PERCENT) {
			s->warned_low = true;
			s->pending_events |= BIT(CBT_SNAP_EV_COW_LOW);
			schedule_work(&s->event_work);
		}
		start = cp;
	}
	w->bio = bio;
	list_add_tail(&w->node, &cp->waiters);
	atomic_inc(&io_of(bio)->waiting);
	*w_used = true;
	return start;
}

/* Make a write wait for every chunk of it that is not copied yet. */
static void cow_write(struct cbt_snapshot *s, struct bio *bio)
{
	struct bio_list ready = BIO_EMPTY_LIST;
	struct cbt_io *io = io_of(bio);
	struct cbt_copy *fresh = NULL, *start;
	struct cbt_waiter *w;
	unsigned long flags;
	u64 first, last, c;
	bool w_used;

	chunk_range(s, bio, &first, &last);
	last = min(last, s->nr_chunks - 1);
	atomic_set(&io->waiting, 1);
	for (c = first; c <= last && cbt_snap_state(s) == CBT_SNAP_ACTIVE; c++) {
		if (cbt_bitmap_test(&s->copied, c))
			continue;
		w = mempool_alloc(s->waiters, GFP_NOIO);
		/* From a pool: a transient slab failure must not invalidate. */
		if (!fresh)
			fresh = mempool_alloc(s->copy_pool, GFP_NOIO);
		/* Make every insertion under the lock allocation-free. */
		if (!fresh || cbt_bitmap_prepare(&s->copied, c, 1, GFP_NOIO) ||
		    xa_reserve_irq(&s->map, c, GFP_NOIO)) {
			spin_lock_irqsave(&s->lock, flags);
			xa_lock(&s->map);
			invalidate_locked(s, -ENOMEM, &ready);
			xa_unlock(&s->map);
			spin_unlock_irqrestore(&s->lock, flags);
			mempool_free(w, s->waiters);
			break;
		}
		spin_lock_irqsave(&s->lock, flags);
		xa_lock(&s->map);
		start = wait_for_chunk(s, c, bio, w, &fresh, &w_used, &ready);
		/*
		 * Drop the reservation if nothing was stored in it, under the
		 * lock: xa_release() takes the xarray lock without disabling
		 * interrupts, and snap_end_io() takes it from the completion
		 * interrupt (a deadlock on this CPU).
		 */
		__xa_cmpxchg(&s->map, c, XA_ZERO_ENTRY, NULL, 0);
		xa_unlock(&s->map);
		spin_unlock_irqrestore(&s->lock, flags);
		if (!w_used)
			mempool_free(w, s->waiters);
		if (start)
			start_copy(s, start);
	}
	if (fresh)
		mempool_free(fresh, s->copy_pool);
	if (atomic_dec_and_test(&io->waiting))
		bio_list_add(&ready, bio);
	submit_ready(&ready);
}

static void cow_work(struct work_struct *ws)
{
	struct cbt_snapshot *s = container_of(ws, struct cbt_snapshot, work);
	struct bio_list bios, ready;
	unsigned long flags;
	struct bio *bio;

	spin_lock_irqsave(&s->lock, flags);
	bios = s->queued;
	bio_list_init(&s->queued);
	ready = s->ready;
	bio_list_init(&s->ready);
	spin_unlock_irqrestore(&s->lock, flags);
	/* Released by reads' end_io, which cannot submit from its context. */
	submit_ready(&ready);
	while ((bio = bio_list_pop(&bios)))
		cow_write(s, bio);
}

bool cbt_cow_check_write(struct cbt_tracker *t, struct bio *bio)
{
	struct cbt_snapshot *s;
	unsigned long flags;
	u64 first, last;
	bool go = true;

	rcu_read_lock();
	s = rcu_dereference(t->snap);
	if (s && cbt_snap_state(s) == CBT_SNAP_ACTIVE) {
		chunk_range(s, bio, &first, &last);
		if (first < s->nr_chunks &&
		    !cbt_bitmap_range_all_set(&s->copied, first,
					      min(last, s->nr_chunks - 1) - first + 1)) {
			spin_lock_irqsave(&s->lock, flags);
			bio_list_add(&s->queued, bio);
			spin_unlock_irqrestore(&s->lock, flags);
			queue_work(t->wq, &s->work);
			go = false;
		}
	}
	rcu_read_unlock();
	return go;
}

/* Longest run from @c of chunks the same kind as @c: COW-contiguous or not. */
static u64 classify(struct cbt_snapshot *s, u64 c, u64 last, s64 *cow)
{
	u64 n;

	lockdep_assert_held(&s->lock);
	*cow = -1;
	for (n = 0; c + n <= last; n++) {
		void *e = xa_load(&s->map, c + n);
		s64 here = -1;

		if (xa_is_value(e))
			here = xa_to_value(e);
		else if (e && ((struct cbt_copy *)e)->state == DRAINING)
			here = ((struct cbt_copy *)e)->cow_index;
		if (!n)
			*cow = here;
		else if (*cow < 0 ? here >= 0 : here != *cow + (s64)n)
			break;
	}
	return n;
}

u64 cbt_cow_read_start(struct cbt_snapshot *s, struct cbt_snap_read *rd, u64 first, u64 last,
		       s64 *cow)
{
	unsigned long flags;
	u64 n;

	spin_lock_irqsave(&s->lock, flags);
	xa_lock(&s->map);
	n = classify(s, first, last, cow);
	if (*cow < 0) {
		rd->first = first;
		rd->last = first + n - 1;
		rd->registered = true;
		list_add(&rd->node, &s->reads);
	}
	xa_unlock(&s->map);
	spin_unlock_irqrestore(&s->lock, flags);
	return n;
}

void cbt_cow_read_done(struct cbt_snapshot *s, struct cbt_snap_read *rd, blk_status_t *error)
{
	struct bio_list ready = BIO_EMPTY_LIST;
	unsigned long flags, idx;
	void *entry;

	spin_lock_irqsave(&s->lock, flags);
	xa_lock(&s->map);
	if (rd->registered) {
		list_del(&rd->node);
		rd->registered = false;
		xa_for_each_range(&s->map, idx, entry, rd->first, rd->last) {
			struct cbt_copy *cp = entry;

			if (!xa_is_value(entry) && cp->state == DRAINING &&
			    !read_overlaps(s, idx))
				finish_copy_locked(s, cp, &ready);
		}
	}
	/* Data read from the origin may postdate an invalidation: fail it. */
	if (s->state == CBT_SNAP_INVALID && !*error)
		*error = BLK_STS_IOERR;
	if (!bio_list_empty(&ready)) {
		bio_list_merge(&s->ready, &ready);
		queue_work(s->t->wq, &s->work);
	}
	xa_unlock(&s->map);
	spin_unlock_irqrestore(&s->lock, flags);
}

void cbt_cow_invalidate(struct cbt_snapshot *s, int error)
{
	struct bio_list ready = BIO_EMPTY_LIST;
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	xa_lock(&s->map);
	invalidate_locked(s, error, &ready);
	xa_unlock(&s->map);
	spin_unlock_irqrestore(&s->lock, flags);
	submit_ready(&ready);
}

void cbt_cow_drain(struct cbt_snapshot *s)
{
	/* No map() hands writes over any more; let the queued ones through. */
	synchronize_rcu();
	flush_work(&s->work);
	wait_event(s->copies_wait, !atomic_read(&s->copies));
	flush_work(&s->work);
	/* Deliver an INVALID or COW_LOW event still queued. */
	flush_work(&s->event_work);
}

int cbt_cow_init(struct cbt_snapshot *s)
{
	spin_lock_init(&s->lock);
	/* end_io, in interrupt context, changes entries too. */
	xa_init_flags(&s->map, XA_FLAGS_LOCK_IRQ);
	INIT_LIST_HEAD(&s->reads);
	bio_list_init(&s->queued);
	bio_list_init(&s->ready);
	INIT_WORK(&s->work, cow_work);
	INIT_WORK(&s->event_work, event_work);
	init_waitqueue_head(&s->copies_wait);
	s->waiters = mempool_create_kmalloc_pool(64, sizeof(struct cbt_waiter));
	s->copy_pool = mempool_create_kmalloc_pool(16, sizeof(struct cbt_copy));
	s->kc = dm_kcopyd_client_create(NULL);
	if (IS_ERR(s->kc))
		s->kc = NULL;
	return s->waiters && s->copy_pool && s->kc ? 0 : -ENOMEM;
}

void cbt_cow_destroy(struct cbt_snapshot *s)
{
	if (s->kc)
		dm_kcopyd_client_destroy(s->kc);
	mempool_destroy(s->waiters);
	mempool_destroy(s->copy_pool);
	xa_destroy(&s->map);
}
