/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbt internals shared by the target, the metadata code and netlink.
 *
 * A tracker holds one device's tracking state: its epochs and their
 * bitmaps, the ledger, and the metadata device. It outlives table reloads:
 * a reload's constructor finds the tracker of its mapped device and takes
 * a reference, so a resize or a `dmsetup reload` never loses a bit.
 *
 * Write path. Memory-only: map() sets the bits of a write in the open
 * epoch (lock-free) before remapping it. Persistent: a write whose blocks
 * are all marked goes straight through; any other write is deferred to
 * the worker, which records its bits in the epoch's pending bitmap, writes
 * the changed pages (marked | pending) to the metadata device, flushes,
 * and only then publishes the pending bits and submits the write. A bit
 * map() can see is therefore always on the metadata device already: a
 * block's new data is never on the origin before its bit is durable, and
 * a crash can only leave extra bits.
 *
 * Layers (docs/design.md; tests/kmod-layers checks them on the objects):
 * bitmap and format, epoch, metadata, regions, load, history, tracker,
 * hold, snapshot-check, snapshot-cow, snapshot, snapshot-take, then
 * netlink and target, then main. A file calls only files below its own.
 * The tracker reaches the layers above through the listeners they
 * register (struct cbt_tracker_listener).
 *
 * Locks, outermost first; one is only taken with those above it held or
 * with none, never the reverse:
 *
 *   cbt_listeners_lock (mutex, dm-cbt-tracker.c) changes to the listener
 *                      list: module init and exit only, no other lock
 *                      held. Readers hold cbt_listeners_srcu (SRCU) instead
 *                      and never this mutex, so the synchronize_srcu()
 *                      under it waits only for callbacks in flight.
 *   claims             (per tracker, cbt_claim(), dm-cbt-hold.c) a
 *                      tracker's hold..release of writes (epoch closes,
 *                      takes), its ->snap changes, its snapshot's take
 *                      and releases: one claimer per tracker. A take
 *                      claims all its members at once (all or none), so
 *                      claimers never wait for each other in a cycle;
 *                      held across I/O (drains, metadata writes, freezes),
 *                      which only claimers of the same trackers wait for.
 *                      Lockdep sees them as one lock, cbt_claim.
 *   cbt_snapshot_lock  (mutex, dm-cbt-snapshot-check.c) every tracker's
 *                      ->snap changes (with its claim) and the attach
 *                      checks that look at every attached snapshot's COW
 *                      device. Global: held for no I/O and no wait
 *                      but for cbt_trackers_lock.
 *   cbt_trackers_lock  (mutex) the cbt_trackers list, each tracker's md
 *                      and nr_targets.
 *   t->lock            (mutex) a tracker's ledger, slots, ->open updates,
 *                      the clearing of dirty_leaves, the region maps'
 *                      changes, size, persistence state and all its
 *                      metadata I/O. Never taken in map() or end_io.
 *                      Not held across the fingerprint's reads of the
 *                      origin while live (cbt_fp_work()); only at
 *                      suspend and resume, when no write can wait for it.
 *   t->deferred_lock   (spinlock, irqsave) ->deferred.
 *   t->held_lock       (spinlock, irqsave) ->holding and ->held.
 *   s->lock            (spinlock, irqsave; dm-cbt-snapshot.h) a snapshot's
 *                      copies, reads, queued writes and state changes;
 *                      taken in map() and end_io, so under no mutex here.
 *   xa_lock(&s->map)   (irq-safe) only inside s->lock.
 *   cbt_claims_lock    (spinlock, dm-cbt-hold.c) every tracker's
 *                      ->claimer; only inside cbt_claim() and
 *                      cbt_unclaim().
 * The spinlocks are leaves: nothing is taken inside them but the xarray
 * lock.
 *
 * cbt_listeners_srcu read sections nest under a claim at most (a release
 * of held writes runs ->check_write) and hold no spinlock;
 * inside them ->check_write takes s->lock and ->event takes t->lock and
 * cbt_trackers_lock, so no listener callback is ever called under t->lock,
 * cbt_trackers_lock or a spinlock.
 *
 * The genetlink family is parallel_ops: genetlink holds no lock around a
 * command. Events (cbt_tracker_event()) are sent by the thread that made
 * the change, after it released every lock, before its operation returns;
 * netlink's listener takes t->lock, then cbt_trackers_lock, one after the
 * other, and multicasts with no lock held. So one caller's events come in
 * the order of its operations (a take: EPOCH_CLOSED, then SNAPSHOT_TAKEN,
 * per device); concurrent callers' events have no order between them.
 */
#ifndef DM_CBT_H
#define DM_CBT_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/percpu-refcount.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/dm-cbt.h>

#include "dm-cbt-bitmap.h"
#include "dm-cbt-format.h"

#define DM_MSG_PREFIX "cbt"

/* Metadata pages written per batch of a commit. */
#define CBT_COMMIT_BATCH 64

struct cbt_epoch {
	u64 number;
	u32 slot;
	struct cbt_bitmap bm;
	/*
	 * Persistent only: bits recorded but not yet on the metadata device
	 * (under the tracker's lock; map() never reads them), and one bit per
	 * leaf whose page must be written at the next commit (set with atomic
	 * bit ops, also by map() under a coarse mark; cleared under the lock
	 * with test_and_clear_bit() before the leaf is read).
	 */
	struct cbt_bitmap pending;
	unsigned long *dirty_leaves;
	u32 nr_dirty_bits;	/* dirty_leaves' length, never below bm.nr_leaves */
};

/*
 * What the write path reads of an attached snapshot without calling up to
 * it: the chunks a write may overwrite freely (copied, forfeited or
 * released; a bit once set is never cleared) and their size. Filled in by
 * the snapshot before it publishes t->snap_gate, fixed while published,
 * freed only after a grace period once unpublished (cbt_cow_drain()).
 */
struct cbt_snap_gate {
	const struct cbt_bitmap *copied;
	u32 chunk_shift;
};

struct cbt_tracker {
	struct kref ref;
	struct list_head list;		/* on cbt_trackers, under cbt_trackers_lock */
	/* Both under cbt_trackers_lock: md is NULL once no target uses it. */
	struct mapped_device *md;
	unsigned int nr_targets;
	dev_t devt;
	/* Table parameters, fixed for the tracker's life. */
	u32 block_sectors;
	u32 block_shift;		/* log2(block_sectors) */
	dev_t meta_devt;		/* 0 without a metadata device */

	/*
	 * Protects the ledger, slots[], the open pointer's updates, the
	 * epochs' dirty_leaves, dev_sectors/nr_blocks changes, the persistence
	 * state and every metadata I/O. Never taken in the I/O path's map().
	 */
	struct mutex lock;
	struct cbt_ledger ledger;
	struct cbt_epoch *slots[DM_CBT_MD_SLOTS];
	/* The epoch writes go to: read under RCU in map(), replaced under lock. */
	struct cbt_epoch __rcu *open;
	sector_t dev_sectors;
	u64 nr_blocks;
	enum cbt_persistence persistence;	/* written under lock, read lockless */
	atomic64_t metadata_errors;

	/*
	 * History (dm-cbt-history.c), all under lock. reason: why the current
	 * identity began. was_live: a table of this tracker was resumed.
	 * checked: the first resume weighed the evidence the metadata held.
	 * dead: the last table is gone (removed or replaced by another
	 * target); no metadata I/O happens after, every epoch op is -ENODEV.
	 */
	enum cbt_identity_reason reason;
	bool was_live;
	bool checked;
	bool dead;
	bool sb_wiped;		/* persistence FAILED and both superblocks zeroed */
	/*
	 * The constructor only reads the metadata; its writes (a format, or
	 * a load's cleanup and superblock) wait for the first preresume
	 * (cbt_md_first_resume()), so a table dm refuses after our ctr (a
	 * later line) writes nothing. Set until they are done, under lock;
	 * epoch ops are -ENXIO meanwhile. md_replayed: the load found
	 * coarse marks of an unclean stop, their maps are zeroed then too.
	 */
	bool md_unwritten;
	bool md_replayed;
	/*
	 * The fingerprint kept valid while attached (persistent only). Writes
	 * to fp_regions (set only while suspended, read lockless by map())
	 * while fp_state is CBT_FP_INVALID go down counted in fp_inflight;
	 * otherwise the worker first clears fp_valid on disk. fp_work
	 * validates it again once no such write is in flight: it reads the
	 * regions without lock and records the hash under it only if
	 * fp_state is still CBT_FP_VALIDATING (cbt_fp_work()).
	 */
	struct cbt_fp_regions fp_regions;
	atomic_t fp_state;		/* enum cbt_fp_state */
	atomic_t fp_inflight;
	struct delayed_work fp_work;

	/* Persistent mode. */
	struct block_device *meta_bdev;	/* the active table's metadata device */
	struct page *batch[CBT_COMMIT_BATCH];	/* commit buffers, under lock */
	void *scratch;			/* one leaf, under lock */
	struct workqueue_struct *wq;
	struct work_struct commit_work;
	spinlock_t deferred_lock;	/* protects deferred */
	struct bio_list deferred;	/* writes waiting for their bits' commit */
	struct work_struct lost_work;	/* announces CBT_EVENT_TRACKING_LOST */
	/*
	 * Coarse marks (format version 3, docs/design.md); all NULL in
	 * version 2 or when they could not be allocated (then every first
	 * write waits for its fine bit). rmap: regions on disk in the current
	 * generation, little-endian bit order, read by map() under RCU and
	 * changed under lock. Under lock: rstaged (regions set in the current
	 * generation, maybe not on disk yet), rtouch (region-map pages to
	 * write), rwritten[g] (pages of generation g that may hold bits on
	 * disk) and rgen (the current generation).
	 */
	unsigned long *rmap;
	unsigned long *rstaged;
	unsigned long *rtouch;
	unsigned long *rwritten[2];
	u64 rmap_pages;			/* what they were sized for */
	u32 rgen;
	/*
	 * Under lock: a fold retired generation !rgen and has not written
	 * it off yet (cbt_md_fold_finish()); fold_gp, the grace period
	 * that must end before it does.
	 */
	bool fold_pending;
	unsigned long fold_gp;
	unsigned long fold_queued;	/* bit 0: fold_work is queued */
	struct delayed_work fold_work;	/* cbt_fold() a second after fine bits */

	/* The active table's origin device, for snapshot copies. */
	struct block_device *origin_bdev;
	/*
	 * Writes between map() and their end_io(). Killed to hold new writes
	 * while a snapshot is taken or an epoch closed; writes_drained
	 * completes when the last one in flight ends. In atomic mode from
	 * before the hold to after the release (cbt_writes_atomic()), so the
	 * kill waits for no grace period; per-CPU otherwise.
	 */
	struct percpu_ref writes;
	struct completion writes_drained;
	spinlock_t held_lock;		/* protects holding and held */
	bool holding;
	struct bio_list held;		/* writes that arrived while holding */
	/*
	 * The task holding this tracker's claim (cbt_claim()), or NULL;
	 * under cbt_claims_lock.
	 */
	struct task_struct *claimer;
	/*
	 * The attached snapshot: read under RCU, changed with the tracker
	 * claimed and cbt_snapshot_lock held; either keeps it stable.
	 */
	struct cbt_snapshot __rcu *snap;
	/*
	 * The attached snapshot's gate (in it): set and cleared with ->snap,
	 * read by the write path under RCU (check_write()).
	 */
	const struct cbt_snap_gate __rcu *snap_gate;
};

enum cbt_fp_state {
	CBT_FP_INVALID,		/* fp_valid clear on disk */
	CBT_FP_VALIDATING,	/* fp_work is hashing the regions, without t->lock */
	CBT_FP_VALID,		/* fp_valid set on disk and true */
};

/* Per-bio data of the cbt target. */
struct cbt_io {
	bool counted;		/* holds a reference on tracker->writes */
	bool fp;		/* counted in tracker->fp_inflight */
	bool fp_defer;		/* must wait for fp_valid to be cleared on disk */
	atomic_t waiting;	/* chunk copies this write waits for, plus one */
};

/* dm-cbt-target.c */
int cbt_target_register(void);
void cbt_target_unregister(void);

/* dm-cbt-snapshot.c */
struct cbt_snapshot;
struct sk_buff;
int cbt_snap_register(void);
void cbt_snap_unregister(void);
/*
 * Take snapshots of @n devices at one instant; see CBT_CMD_SNAPSHOT.
 * @preserve_from: per device, the preserve set's first epoch or 0 (none).
 * Fills @epochs with the closed epochs.
 */
int cbt_take_snapshots(struct cbt_tracker **ts, unsigned int n, bool freeze,
		       const u64 *preserve_from, u64 *epochs, u64 *freeze_ns, u64 *hold_ns,
		       const char **why);
/* Release sectors @sector..+@len of @t's active snapshot; CBT_CMD_SNAP_RELEASE. */
int cbt_snap_release(struct cbt_tracker *t, u64 sector, u64 len, const char **why);
/*
 * The cbt table of @t was replaced by another target: writes no longer
 * pass the snapshot's copy-on-write, so it becomes invalid (-ENODEV).
 */
void cbt_snap_orphan(struct cbt_tracker *t);
/* The COW device of the snapshot attached to @t, or NULL; rcu_read_lock held. */
struct block_device *cbt_snap_cow_rcu(struct cbt_tracker *t);
/* Put the CBT_A_SNAPSHOT nest of @t, if it has a snapshot. */
int cbt_snap_fill(struct sk_buff *skb, struct cbt_tracker *t);

/* dm-cbt-tracker.c: the registry, under cbt_trackers_lock. */
extern struct mutex cbt_trackers_lock;
extern struct list_head cbt_trackers;

/*
 * Claim the @n trackers of @ts (no tracker twice), all at once: a claim
 * is what a hold..release of a tracker's writes (an epoch close, a take),
 * a change of its ->snap and a snapshot's take or release run under, one
 * claimer per tracker at a time. Waits, holding nothing, until none of
 * them is claimed; -EINTR on a fatal signal when @killable. Never called
 * with a claim, cbt_snapshot_lock, cbt_trackers_lock or t->lock held.
 */
int cbt_claim(struct cbt_tracker **ts, unsigned int n, bool killable);
void cbt_unclaim(struct cbt_tracker **ts, unsigned int n);
/* Does the current task hold @t's claim? */
bool cbt_claimed(struct cbt_tracker *t);

/*
 * The tracker calls nobody above it: what the layers above must hear of
 * (events) or decide (snapshot copy-on-write) reaches them through the
 * listeners they register at module init and unregister at exit. Either
 * op may be NULL. Listeners are called in registration order.
 *
 * ->event: @event (CBT_EVENT_*) happened on @t; @epoch is 0 when the event
 *   has none. Called in process context with no dm-cbt lock held, after
 *   the change is visible (t->lock released): it may sleep and take
 *   t->lock or cbt_trackers_lock. The epoch events (closed, committed,
 *   aborted, snapshot taken) come from the thread that made the change,
 *   before its operation returns, so one caller's come in the order of its
 *   operations. TRACKING_LOST comes from t->lost_work and COW_LOW and
 *   SNAPSHOT_INVALID from the snapshot's event_work: those are queued, and
 *   may reach userspace after later epoch events (which already carry the
 *   new identity); see the lock order at the top.
 * ->check_write: a remapped write to @t while a snapshot is attached
 *   (t->snap set) that its gate (struct cbt_snap_gate) did not let down
 *   (a chunk of it not copied yet): true if it may go down now, false if
 *   the listener took it (it submits the write itself). Called from map()
 *   (atomic) or the commit worker with no lock held, or from a release of
 *   held writes under the tracker's claim; it must not sleep.
 */
struct cbt_tracker_listener_ops {
	void (*event)(struct cbt_tracker *t, enum cbt_event event, u64 epoch);
	bool (*check_write)(struct cbt_tracker *t, struct bio *bio);
};

struct cbt_tracker_listener {
	const struct cbt_tracker_listener_ops *ops;
	struct list_head node;		/* on the tracker's listener list */
};

/* Register or unregister @l; unregistering waits for its callbacks to end. */
void cbt_tracker_listen(struct cbt_tracker_listener *l);
void cbt_tracker_unlisten(struct cbt_tracker_listener *l);
/* Tell every listener of @event; process context, no dm-cbt lock held. */
void cbt_tracker_event(struct cbt_tracker *t, enum cbt_event event, u64 epoch);
void cbt_tracker_get(struct cbt_tracker *t);
void cbt_tracker_put(struct cbt_tracker *t);
/* Find by dm name or dev_t, under cbt_trackers_lock; takes a reference. */
struct cbt_tracker *cbt_tracker_find(const char *name, dev_t devt);
/* dm name of the tracker's device, under cbt_trackers_lock. */
int cbt_tracker_name(struct cbt_tracker *t, char *name);

/*
 * Hold new writes and wait for those in flight; then release them. One
 * hold at a time per tracker: holders claim it (cbt_claim()). The wait
 * ends at @deadline (jiffies): -ETIMEDOUT, or -EINTR on a fatal signal.
 */
#define CBT_DRAIN_TIMEOUT_SECS 30
/*
 * Count the writes of @n claimed trackers in one atomic counter each,
 * not per CPU, and wait for the switch: one RCU grace period for all, so
 * that the holds after it wait for none, only for the writes in flight.
 * cbt_writes_percpu(), after the releases, switches back (no wait).
 */
void cbt_writes_atomic(struct cbt_tracker **ts, unsigned int n);
void cbt_writes_percpu(struct cbt_tracker **ts, unsigned int n);
void cbt_hold_writes(struct cbt_tracker *t);
int cbt_wait_writes(struct cbt_tracker *t, unsigned long deadline);
void cbt_release_writes(struct cbt_tracker *t);

/*
 * dm-cbt-epoch-ops.c (but cbt_close_epoch(), dm-cbt-hold.c).
 * Epoch operations, tracker lock NOT held by the caller. cbt_close_epoch()
 * holds and drains writes around the switch, so the closed epoch lists
 * every write that reached map() before it returns and all of them are
 * on the origin: -ETIMEDOUT when they do not end in CBT_DRAIN_TIMEOUT_SECS.
 */
int cbt_close_epoch(struct cbt_tracker *t, u64 *closed);
int cbt_commit_epoch(struct cbt_tracker *t, u64 epoch);
int cbt_abort_epoch(struct cbt_tracker *t, u64 epoch);
/*
 * For a take: close with writes already held and drained, into @prealloc
 * (a cbt_epoch_alloc() made before the hold; NULL once used). No event:
 * the caller sends it after releasing the writes. The abort that rolls
 * such a close back sends none either.
 */
int cbt_close_epoch_held(struct cbt_tracker *t, struct cbt_epoch **prealloc, u64 *closed);
int cbt_abort_epoch_quiet(struct cbt_tracker *t, u64 epoch);
struct cbt_tracker *cbt_tracker_of_md(struct mapped_device *md);
/* A tracker for a new cbt device; ti->error set on failure. */
struct cbt_tracker *cbt_tracker_create(struct dm_target *ti, u32 block_sectors,
				       struct dm_dev *origin, struct dm_dev *meta);

/* The open epoch; t->lock held. */
struct cbt_epoch *cbt_open_epoch(struct cbt_tracker *t);
/* Mark blocks in the open epoch outside map(); t->lock held. */
void cbt_mark_locked(struct cbt_tracker *t, u64 start, u64 len);
/*
 * The write path for a remapped write: count it in t->writes (false: it
 * was parked while writes are held), then track it (DM_MAPIO_REMAPPED if
 * it may go down now, DM_MAPIO_SUBMITTED if the worker or the snapshot
 * took it).
 */
bool cbt_count_write_slow(struct cbt_tracker *t, struct bio *bio);
static inline bool cbt_count_write(struct cbt_tracker *t, struct bio *bio)
{
	struct cbt_io *io = dm_per_bio_data(bio, sizeof(struct cbt_io));

	/* Inline: every write comes here, and only a hold takes the slow path. */
	if (unlikely(!percpu_ref_tryget_live(&t->writes)))
		return cbt_count_write_slow(t, bio);
	io->counted = true;
	return true;
}

int cbt_process_write(struct cbt_tracker *t, struct bio *bio);

/* Called with t->lock held: the epoch of that number, or NULL. */
struct cbt_epoch *cbt_find_epoch(struct cbt_tracker *t, u64 number);
size_t cbt_tracker_bytes(struct cbt_tracker *t);

/*
 * Commit what cbt_mark_locked() recorded (persistent: write and flush the
 * pages, then publish; otherwise nothing to do) and make it visible to
 * map(). Publishes even when the metadata failed: tracking goes on in
 * memory then. t->lock held.
 */
void cbt_commit_marks(struct cbt_tracker *t, const char *what);
/*
 * Make every fine bit of the current region generation durable and
 * retire the generation (cbt_md_fold()); on failure tracking goes on in
 * memory. t->lock held, and no map() running: writes held and drained,
 * or the device suspended. No write may be marked in a closed epoch after.
 */
void cbt_fold(struct cbt_tracker *t, const char *what);
/* Cancel a queued fold (suspend, removal): the caller folds itself. */
void cbt_fold_cancel(struct cbt_tracker *t);

/* dm-cbt-epoch.c: below the metadata code and the tracker. */
/* A new, empty epoch sized for t->nr_blocks. */
struct cbt_epoch *cbt_epoch_alloc(struct cbt_tracker *t, u64 number, u32 slot);
/* Grow an epoch's bitmaps to @nr_blocks; t->lock held, device suspended. */
int cbt_epoch_grow(struct cbt_epoch *e, u64 nr_blocks);
void cbt_epoch_free(struct cbt_epoch *e);
void cbt_epoch_discard(struct cbt_epoch *e);

/* dm-cbt-metadata.c: the module's bio pool for metadata I/O. */
int cbt_md_init(void);
void cbt_md_exit(void);

/* A metadata page's size in sectors. */
#define CBT_MD_PAGE_SECTORS (DM_CBT_MD_PAGE_SIZE >> SECTOR_SHIFT)

/* The page of the metadata device that holds bitmap leaf @leaf of @slot. */
static inline u64 cbt_md_slot_page(struct cbt_tracker *t, u32 slot, u32 leaf)
{
	return DM_CBT_MD_SB_COPIES + (u64)slot * t->ledger.slot_pages + leaf;
}

/*
 * Read or write n 4 KiB pages of @bdev at once and wait for all of them.
 * The one function here that needs no lock: the caller owns @pages
 * (t->batch under t->lock, or pages of its own) and keeps @bdev open.
 * @pages NULL: write the zero page to each.
 */
int cbt_md_rw(struct block_device *bdev, struct page **pages, const u64 *page_nos,
	      unsigned int n, blk_opf_t opf);
/*
 * Set the dirty bit of every leaf of blocks [start, start + len); atomic
 * bit ops, no lock (map() calls it too, under a coarse mark).
 */
void cbt_md_mark_dirty(struct cbt_epoch *e, u64 start, u64 len);

/* dm-cbt-metadata.c: every function below needs t->lock held and may sleep. */
/*
 * cbt_md_rw() on @t's metadata device, counting an error in
 * metadata_errors; -ENODEV once the tracker is dead.
 */
int cbt_md_io(struct cbt_tracker *t, struct page **pages, const u64 *page_nos,
	      unsigned int n, blk_opf_t opf);
/* Write the zero page to @count pages from @first, from the module's pool. */
int cbt_md_zero_pages(struct cbt_tracker *t, u64 first, u64 count);
int cbt_md_write_sb(struct cbt_tracker *t);
/* Write every dirty leaf (marked | pending) and flush. */
int cbt_md_commit_dirty(struct cbt_tracker *t);
int cbt_md_zero_slot(struct cbt_tracker *t, u32 slot, const struct cbt_bitmap *bm);
void cbt_md_failed(struct cbt_tracker *t, int err, const char *what);
/* After cbt_md_failed(): (re)try zeroing both superblocks. */
void cbt_md_wipe_sb(struct cbt_tracker *t);

/*
 * dm-cbt-regions.c: coarse marks; the first two without t->lock (map(),
 * under RCU), the others with it held, and they may sleep.
 */
bool cbt_md_regions_marked(struct cbt_tracker *t, u64 start, u64 len);
bool cbt_md_regions_on(struct cbt_tracker *t);
void cbt_md_stage_regions(struct cbt_tracker *t, u64 start, u64 len);
int cbt_md_commit_regions(struct cbt_tracker *t);
/*
 * A fold in one step, only where no map() of the tracker runs (writes
 * held and drained, or the device suspended): finish a pending one,
 * start and finish, with no grace period to wait for. Or in two, for the
 * fold worker, while map() runs:
 * cbt_md_fold_start() retires the current generation (false: nothing to
 * fold, or one pending), then, t->lock dropped, the caller waits for the
 * grace period @gp (cond_synchronize_rcu()), and cbt_md_fold_finish(),
 * t->lock held again, writes the fine bits and zeroes the old generation
 * (nothing if another caller finished it meanwhile).
 */
int cbt_md_fold(struct cbt_tracker *t);
bool cbt_md_fold_start(struct cbt_tracker *t, unsigned long *gp);
int cbt_md_fold_finish(struct cbt_tracker *t);
void cbt_md_regions_free(struct cbt_tracker *t);
/*
 * Empty region maps for the ledger's layout (a load or a format, with both
 * generations zero on disk); left NULL without memory for them or in
 * version 2.
 */
void cbt_md_regions_reset(struct cbt_tracker *t);
/*
 * A load's replay of both generations' marks into the open epoch @e
 * (dirty leaves the caller commits); *any says whether a region was set.
 */
int cbt_md_regions_replay(struct cbt_tracker *t, struct cbt_epoch *e, bool *any);

/* dm-cbt-load.c: t->lock held, may sleep. */
int cbt_md_open(struct cbt_tracker *t, char **error);
/*
 * The writes cbt_md_open() left for the first preresume; 0 (also when
 * none are left), or -errno and the device stays suspended: a retried
 * resume tries again. t->lock held.
 */
int cbt_md_first_resume(struct cbt_tracker *t);
/*
 * Start a new identity on the metadata device, for @why; see
 * cbt_history_resume(), which announces it. On failure (-errno) the old
 * bits stay, in memory, under the identity cbt_md_failed() gave them.
 */
int cbt_md_restart(struct cbt_tracker *t, enum cbt_identity_reason why);

/* dm-cbt-history.c: evidence of untracked stretches; t->lock held. */
extern u64 cbt_module_nonce;
const char *cbt_reason_name(enum cbt_identity_reason why);
/* Log the identity a load or a restart gave, and announce a lost history. */
void cbt_history_announce(struct cbt_tracker *t);
/* preresume, first: weigh the evidence, start a new identity if it says so. */
void cbt_history_resume(struct cbt_tracker *t, struct mapped_device *md);
/* preresume, last (after a grow): mark the device attached. */
void cbt_history_attached(struct cbt_tracker *t);
/*
 * The write path: true when the worker must clear fp_valid on disk before
 * @bio goes down. Only a persistent tracker's writes to the fingerprinted
 * regions ask the out-of-line part; every other write is answered inline.
 */
bool __cbt_fp_write_deferred(struct cbt_tracker *t, struct bio *bio);
static inline bool cbt_fp_write_deferred(struct cbt_tracker *t, struct bio *bio)
{
	return READ_ONCE(t->persistence) == CBT_PERSIST_METADATA &&
	       cbt_fp_overlaps(&t->fp_regions, bio->bi_iter.bi_sector, bio_sectors(bio)) &&
	       __cbt_fp_write_deferred(t, bio);
}

/* Worker, t->lock held: clear fp_valid for the deferred writes of @bios. */
void cbt_fp_invalidate(struct cbt_tracker *t, struct bio_list *bios);
/* end_io of a write counted in fp_inflight. */
void cbt_fp_write_done(struct cbt_tracker *t);
void cbt_fp_work(struct work_struct *ws);
/* postsuspend: every write is done; record the fingerprint and I/O counters. */
void cbt_history_suspend(struct cbt_tracker *t, struct mapped_device *md, bool noflush);
/* dtr of the last table: @replaced when another target took the live device. */
void cbt_history_detach(struct cbt_tracker *t, bool replaced);

/*
 * dm-cbt-range.c: a range of held epochs [first, last] read as one bitmap,
 * the union of theirs. With t->lock held: are they all held now; and the
 * union of leaf @leaf into @words (CBT_LEAF_BYTES, little-endian u64
 * words as cbt_bitmap_read_leaf() gives them; @tmp is as large), false when
 * it is all clear (the range must be held).
 */
bool cbt_range_held(struct cbt_tracker *t, u64 first, u64 last);
bool cbt_range_read_leaf(struct cbt_tracker *t, u64 first, u64 last, u32 leaf,
			 __le64 *words, __le64 *tmp);
/* A count of a range of epochs, and what it was of. */
struct cbt_range_count {
	struct cbt_bitmap_count c;
	u8 uuid[16];		/* the tracking identity */
	sector_t dev_sectors;
	u64 nr_blocks;
};

/*
 * Count the union's set blocks and runs into @rc (cbt_bitmap_count_leaf()),
 * taking t->lock for a bounded stretch of leaves at a time, as a dump
 * takes it per message. Returns 0; -ESTALE when, at one of the holds, an
 * epoch of the range is no longer held (committed or aborted meanwhile)
 * or the identity or the size differ from the first hold's; -EINTR on a
 * fatal signal; -EINVAL for a range of more than CBT_COUNT_MAX_BITMAPS
 * epochs. May sleep.
 */
int cbt_range_count(struct cbt_tracker *t, u64 first, u64 last, struct cbt_range_count *rc);

/* dm-cbt-netlink.c */
int cbt_netlink_init(void);
void cbt_netlink_exit(void);

#endif /* DM_CBT_H */
