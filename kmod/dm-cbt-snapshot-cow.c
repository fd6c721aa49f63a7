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
 *
 * With a preserve set (docs/snapshot.md), a chunk outside it is never
 * copied: the first write "forfeits" it instead, and a chunk the reader
 * released is dropped the same way (its COW slot is reused). Both are in
 * ->lost and ->copied, so later writes pass freely, and a snapshot read
 * of one fails: at map() if it is lost already, at end_io if it was lost
 * while the read ran (every read is registered in ->reads for that), as
 * the write that forfeited it was submitted after its bit was set.
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
		if (rd->origin && rd->first <= chunk && chunk <= rd->last)
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

/*
 * Does the snapshot still need chunk @c's data? Not once lost; with a
 * preserve set, only if one of its tracking blocks is in it.
 */
static bool chunk_preserved(struct cbt_snapshot *s, u64 c)
{
	u64 b, last;

	if (cbt_bitmap_test(&s->lost, c))
		return false;
	if (!s->preserve_from)
		return true;
	b = (c << s->chunk_shift) >> s->block_shift;
	last = (((c + 1) << s->chunk_shift) - 1) >> s->block_shift;
	for (; b <= last; b++)
		if (cbt_bitmap_test(&s->preserve, b))
			return true;
	return false;
}

/* Chunk @c is gone from the snapshot; both bitmaps prepared. */
static void lose_chunk_locked(struct cbt_snapshot *s, u64 c)
{
	lockdep_assert_held(&s->lock);
	cbt_bitmap_set_range(&s->lost, c, 1, GFP_ATOMIC);
	cbt_bitmap_set_range(&s->copied, c, 1, GFP_ATOMIC);
}

/* A free COW slot: a released one first, or -1 when the store is full. */
static s64 alloc_slot(struct cbt_snapshot *s)
{
	unsigned long idx = 0;
	u64 next;

	lockdep_assert_held(&s->lock);
	if (atomic64_read(&s->nr_free) && xa_find(&s->free_slots, &idx, ULONG_MAX, XA_PRESENT)) {
		xa_erase(&s->free_slots, idx);
		atomic64_dec(&s->nr_free);
		return idx;
	}
	next = atomic64_inc_return(&s->cow_next) - 1;
	return next < s->cow_chunks ? next : -1;
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
	s64 idx;

	lockdep_assert_held(&s->lock);
	*w_used = false;
	entry = xa_load(&s->map, c);
	if (s->state != CBT_SNAP_ACTIVE || xa_is_value(entry))
		return NULL;
	if (!entry && !chunk_preserved(s, c)) {
		/* Nobody will read it: no copy, the write goes on. */
		if (!cbt_bitmap_test(&s->lost, c))
			s->nr_forfeited++;
		lose_chunk_locked(s, c);
		return NULL;
	}
	if (entry) {
		cp = entry;
	} else {
		idx = alloc_slot(s);
		if (idx < 0) {
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
		    cbt_bitmap_prepare(&s->lost, c, 1, GFP_NOIO) ||
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

/*
 * Forfeit the write's uncopied chunks here, when none needs a copy, so a
 * write outside the preserve set skips the work queue. False when one is
 * preserved or being copied, or a bitmap leaf is still to be allocated
 * (cow_write() does that, and decides).
 */
static bool forfeit_inline(struct cbt_snapshot *s, u64 first, u64 last)
{
	unsigned long flags;
	bool ok = true;
	u64 c;

	if (!s->preserve_from)
		return false;
	spin_lock_irqsave(&s->lock, flags);
	xa_lock(&s->map);
	for (c = first; ok && c <= last; c++) {
		if (cbt_bitmap_test(&s->copied, c))
			continue;
		ok = s->state == CBT_SNAP_ACTIVE && !xa_load(&s->map, c) &&
		     !chunk_preserved(s, c) &&
		     cbt_bitmap_leaf_present(&s->lost, c / CBT_BITS_PER_LEAF) &&
		     cbt_bitmap_leaf_present(&s->copied, c / CBT_BITS_PER_LEAF);
	}
	for (c = first; ok && c <= last; c++) {
		if (cbt_bitmap_test(&s->copied, c))
			continue;
		s->nr_forfeited++;
		/* Both leaves are there: this does not allocate. */
		lose_chunk_locked(s, c);
	}
	xa_unlock(&s->map);
	spin_unlock_irqrestore(&s->lock, flags);
	return ok;
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
					      min(last, s->nr_chunks - 1) - first + 1) &&
		    !forfeit_inline(s, first, min(last, s->nr_chunks - 1))) {
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

/*
 * Longest run from @c of chunks the same kind as @c: COW-contiguous, on
 * the origin (*@cow -1), or lost (-2).
 */
static u64 classify(struct cbt_snapshot *s, u64 c, u64 last, s64 *cow)
{
	u64 n;

	lockdep_assert_held(&s->lock);
	*cow = -1;
	for (n = 0; c + n <= last; n++) {
		void *e = xa_load(&s->map, c + n);
		s64 here = -1;

		if (cbt_bitmap_test(&s->lost, c + n))
			here = -2;
		else if (xa_is_value(e))
			here = xa_to_value(e);
		else if (e && ((struct cbt_copy *)e)->state == DRAINING)
			here = ((struct cbt_copy *)e)->cow_index;
		if (!n)
			*cow = here;
		else if (*cow < 0 ? here != *cow : here != *cow + (s64)n)
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
	if (*cow != -2) {
		rd->first = first;
		rd->last = first + n - 1;
		rd->origin = *cow < 0;
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
	u64 c;

	spin_lock_irqsave(&s->lock, flags);
	xa_lock(&s->map);
	if (rd->registered) {
		list_del(&rd->node);
		rd->registered = false;
		xa_for_each_range(&s->map, idx, entry, rd->first, rd->last) {
			struct cbt_copy *cp = entry;

			if (rd->origin && !xa_is_value(entry) && cp->state == DRAINING &&
			    !read_overlaps(s, idx))
				finish_copy_locked(s, cp, &ready);
		}
		/* Forfeited or released while read: the data may be another's. */
		for (c = rd->first; c <= rd->last && !*error; c++)
			if (cbt_bitmap_test(&s->lost, c))
				*error = BLK_STS_IOERR;
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

int cbt_cow_preserve(struct cbt_snapshot *s, u64 from, u64 to, const char **why)
{
	struct cbt_tracker *t = s->t;
	struct cbt_epoch *e;
	int r = 0;
	u64 n;

	if (from > to) {
		*why = "The preserve epoch is newer than the epoch the take closes";
		return -EINVAL;
	}
	mutex_lock(&t->lock);
	for (n = from; n <= to && !r; n++) {
		e = cbt_find_epoch(t, n);
		if (!e) {
			*why = "An epoch of the preserve set is not held (committed, or never)";
			r = -ENOENT;
		} else if (cbt_bitmap_or(&s->preserve, &e->bm, GFP_NOIO)) {
			/* A leaf that cannot be had reads FULL: only a bounce buffer fails. */
			*why = "Cannot allocate the preserve set";
			r = -ENOMEM;
		}
	}
	mutex_unlock(&t->lock);
	if (!r)
		s->preserve_from = from;
	return r;
}

void cbt_cow_count_preserved(struct cbt_snapshot *s)
{
	u64 c, n = 0;

	/* Per chunk: a chunk may span several blocks, a block several chunks. */
	for (c = 0; c < s->nr_chunks; c++) {
		u64 b = (c << s->chunk_shift) >> s->block_shift;

		if (!cbt_bitmap_leaf_present(&s->preserve, b / CBT_BITS_PER_LEAF)) {
			/* Skip to the first chunk of the next leaf. */
			u64 next = ((b / CBT_BITS_PER_LEAF + 1) * CBT_BITS_PER_LEAF <<
				    s->block_shift) >> s->chunk_shift;

			c = max(c, next) - 1;
			continue;
		}
		n += chunk_preserved(s, c);
		cond_resched();
	}
	WRITE_ONCE(s->nr_preserved, n);
}

/* Slots of copied chunks released at once, handed to the free store in one go. */
#define RELEASE_BATCH 64

int cbt_cow_release(struct cbt_snapshot *s, u64 first, u64 last)
{
	unsigned long slots[RELEASE_BATCH], flags;
	unsigned int k, i;
	u64 c = first;
	void *entry;
	int r;

	r = cbt_bitmap_prepare(&s->lost, first, last - first + 1, GFP_KERNEL) ?:
	    cbt_bitmap_prepare(&s->copied, first, last - first + 1, GFP_KERNEL);
	if (r)
		return r;
	while (c <= last) {
		k = 0;
		spin_lock_irqsave(&s->lock, flags);
		xa_lock(&s->map);
		if (s->state != CBT_SNAP_ACTIVE)
			r = -EINVAL;
		for (; !r && c <= last && k < RELEASE_BATCH; c++) {
			if (cbt_bitmap_test(&s->lost, c))
				continue;
			s->nr_released++;
			if (chunk_preserved(s, c))
				s->nr_released_preserved++;
			lose_chunk_locked(s, c);
			entry = xa_load(&s->map, c);
			/* A copy in flight keeps its slot: it is not reused. */
			if (xa_is_value(entry)) {
				__xa_erase(&s->map, c);
				slots[k++] = xa_to_value(entry);
			}
		}
		xa_unlock(&s->map);
		spin_unlock_irqrestore(&s->lock, flags);
		for (i = 0; i < k; i++) {
			/* On ENOMEM the slot is only not reused. */
			if (!xa_err(xa_store_irq(&s->free_slots, slots[i], xa_mk_value(0),
						 GFP_KERNEL)))
				atomic64_inc(&s->nr_free);
		}
		if (r)
			return r;
		cond_resched();
	}
	return 0;
}

u64 cbt_cow_used(struct cbt_snapshot *s)
{
	u64 used = min_t(u64, atomic64_read(&s->cow_next), s->cow_chunks);

	return used - min_t(u64, used, atomic64_read(&s->nr_free));
}

/*
 * Both xarrays' locks are initialised in xa_init_flags(), so lockdep puts
 * them in one class and calls free_slots' lock, taken inside the map's
 * (cow_write, releases), a recursive lock (the debug kernel's
 * snapshot_preserve run): free_slots gets a class of its own.
 */
static struct lock_class_key cbt_free_slots_key;

int cbt_cow_init(struct cbt_snapshot *s)
{
	spin_lock_init(&s->lock);
	/* Taken under ->lock, which end_io takes: never with interrupts on. */
	xa_init_flags(&s->free_slots, XA_FLAGS_LOCK_IRQ);
	lockdep_set_class(&s->free_slots.xa_lock, &cbt_free_slots_key);
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
	xa_destroy(&s->free_slots);
}
