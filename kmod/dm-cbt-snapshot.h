/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The snapshot of a cbt device, shared by the copy-on-write engine
 * (dm-cbt-snapshot-cow.c), the target (dm-cbt-snapshot.c) and the taking
 * of snapshots and their status (dm-cbt-snapshot-take.c).
 */
#ifndef DM_CBT_SNAPSHOT_H
#define DM_CBT_SNAPSHOT_H

#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-kcopyd.h>
#include <linux/ktime.h>
#include <linux/mempool.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "dm-cbt.h"
#include "dm-cbt-bitmap.h"
#include "dm-cbt-compat.h"

/* Events the snapshot announces from a work item, one bit each. */
enum { CBT_SNAP_EV_COW_LOW, CBT_SNAP_EV_INVALID };

struct cbt_snapshot {
	struct cbt_tracker *t;
	dev_t cbt_devt;
	struct cbt_bdev_ref cbt_ref;	/* the cbt device, held open, not claimed */
	bool cbt_open;
	struct dm_dev *origin;		/* the cbt device's origin, for queue limits */
	struct dm_dev *cow;
	struct block_device *origin_bdev;	/* set when taken */
	u32 chunk_sectors;
	u32 chunk_shift;
	u64 nr_chunks;
	sector_t sectors;
	u64 cow_chunks;			/* usable: the first chunk is reserved */
	bool cow_zeroed;		/* the first chunk zeroed (snap_preresume) */
	atomic64_t cow_next;
	u64 epoch;
	ktime_t taken;
	/* PREPARED until taken; read lockless, changed under lock. */
	enum cbt_snap_state state;
	int error;
	bool warned_low;

	/*
	 * Protects map entries' state changes, every cbt_copy, ->reads,
	 * ->queued and the state. Taken from end_io (any context): irqsave.
	 */
	spinlock_t lock;
	struct xarray map;		/* chunk -> COW index value, or struct cbt_copy */
	struct cbt_bitmap copied;	/* chunks writes may overwrite freely */
	struct cbt_snap_gate gate;	/* ->copied for the write path; dm-cbt.h */
	struct list_head reads;		/* struct cbt_snap_read */
	struct bio_list queued;		/* writes map() handed over */
	struct bio_list ready;		/* writes end_io released, to submit */
	struct work_struct work;
	struct work_struct event_work;
	unsigned long pending_events;	/* under lock: BIT(CBT_SNAP_EV_*) for event_work */
	struct dm_kcopyd_client *kc;
	mempool_t *waiters;
	mempool_t *copy_pool;		/* struct cbt_copy */
	atomic_t copies;		/* kcopyd jobs in flight */
	wait_queue_head_t copies_wait;

	/*
	 * The preserve set: set at the take, under the write hold, and only
	 * read after. Tracking blocks (of block_shift sectors) of epochs
	 * preserve_from..epoch; without it (preserve_from 0) every chunk is
	 * preserved.
	 */
	u64 preserve_from;
	u32 block_shift;
	u64 nr_blocks;			/* the cbt device's at the attach, the set's size */
	dev_t origin_devt;		/* the cbt device's origin at the attach */
	struct cbt_bitmap preserve;
	/*
	 * Chunks the snapshot no longer holds (forfeited or released): set
	 * under ->lock together with their ->copied bit, never cleared.
	 */
	struct cbt_bitmap lost;
	/* COW slots released, for reuse; its own (irq) lock, inside ->lock. */
	struct xarray free_slots;
	atomic64_t nr_free;
	/* Under ->lock, read lockless for the status. */
	u64 nr_preserved;		/* chunks of the preserve set at the take */
	u64 nr_released, nr_released_preserved, nr_forfeited;
};

/* Per-bio data of cbt-snap: a read of the origin in flight. */
struct cbt_snap_read {
	struct list_head node;	/* on ->reads while registered */
	u64 first, last;	/* chunks */
	bool registered;
	bool origin;		/* reads the origin: copies of its chunks wait */
};

/* dm-cbt-snapshot-cow.c */
/* Set up (-ENOMEM) and tear down the engine's locks, map, pools and kcopyd. */
int cbt_cow_init(struct cbt_snapshot *s);
void cbt_cow_destroy(struct cbt_snapshot *s);
/* The tracker's ->check_write: hold an origin write until its chunks are copied. */
bool cbt_cow_check_write(struct cbt_tracker *t, struct bio *bio);
/*
 * A snapshot read of chunks @first..@last: returns how many chunks from
 * @first go to one place, *@cow their first COW slot or -1 for the origin
 * (then @rd is registered until cbt_cow_read_done(), so no copy of those
 * chunks is final while the read may still see the origin).
 */
u64 cbt_cow_read_start(struct cbt_snapshot *s, struct cbt_snap_read *rd, u64 first, u64 last,
		       s64 *cow);
/* A read's end: finish the copies it held back; fail it if the snapshot went invalid. */
void cbt_cow_read_done(struct cbt_snapshot *s, struct cbt_snap_read *rd, blk_status_t *error);
/* The first sector of COW slot @index. */
sector_t cbt_cow_sector(const struct cbt_snapshot *s, u64 index);
/* Invalidate (@error 0: a removal, no event); waiting writes go down at once. */
void cbt_cow_invalidate(struct cbt_snapshot *s, int error);
/* Wait until no write is queued, no copy runs and no event is pending. */
void cbt_cow_drain(struct cbt_snapshot *s);
/*
 * The take, writes held, epochs @from..@to closed: copy their blocks into
 * the preserve set. -ENOENT when one is not held; t->lock not held.
 */
int cbt_cow_preserve(struct cbt_snapshot *s, u64 from, u64 to, const char **why);
/* Count the preserve set's chunks, for the status; after the take. */
void cbt_cow_count_preserved(struct cbt_snapshot *s);
/* Release chunks @first..@last (see CBT_CMD_SNAP_RELEASE); process context. */
int cbt_cow_release(struct cbt_snapshot *s, u64 first, u64 last);
/* COW slots in use. */
u64 cbt_cow_used(struct cbt_snapshot *s);

/* Would I/O to @upper reach @x (the same, overlapping or directly on it)? */
bool cbt_bdev_on(struct block_device *upper, struct block_device *x);

/* dm-cbt-snapshot-check.c */
/* ->snap changes and the attach checks; see dm-cbt.h. */
extern struct mutex cbt_snapshot_lock;
/* "major:minor" or a block device path. */
int cbt_snap_parse_devt(const char *arg, dev_t *dev);
/*
 * Why @cow (claimed by this table) cannot be the COW store of a snapshot
 * of @t, or NULL; cbt_snapshot_lock and cbt_trackers_lock held.
 */
char *cbt_snap_cow_conflict(struct block_device *cow, struct cbt_tracker *t);

/*
 * The snapshot's state, for lockless readers: acquire pairs with the
 * take's release, so ACTIVE implies its origin_bdev, epoch and taken.
 */
static inline enum cbt_snap_state cbt_snap_state(struct cbt_snapshot *s)
{
	/* Pairs with smp_store_release() in cbt_take_snapshots(). */
	return smp_load_acquire(&s->state);
}

/* Chunks the reader has still to read (preserved, not released); lockless. */
static inline u64 cbt_snap_to_read(struct cbt_snapshot *s)
{
	u64 n = READ_ONCE(s->nr_preserved);

	if (!s->preserve_from)
		return s->nr_chunks - READ_ONCE(s->nr_released);
	/* Counted after the take: releases may come first. */
	return n - min(n, READ_ONCE(s->nr_released_preserved));
}

/* The snapshot attached to @t; @t claimed or cbt_snapshot_lock held. */
static inline struct cbt_snapshot *snap_of(struct cbt_tracker *t)
{
	return rcu_dereference_protected(t->snap, cbt_claimed(t) ||
					 lockdep_is_held(&cbt_snapshot_lock));
}

#endif /* DM_CBT_SNAPSHOT_H */
