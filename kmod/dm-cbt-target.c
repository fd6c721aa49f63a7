// SPDX-License-Identifier: GPL-2.0
/*
 * The cbt device-mapper target: passes I/O through to an origin device and
 * records every written block in the open epoch's bitmap. See dm-cbt.h for
 * the write path and docs/target.md for the table line and status.
 */
#include <linux/blkdev.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uuid.h>
#include <linux/vmalloc.h>

#include "dm-cbt.h"

DEFINE_MUTEX(cbt_trackers_lock);	/* protects cbt_trackers and each tracker's md */
LIST_HEAD(cbt_trackers);

/* One per table that maps a cbt target. */
struct cbt_target {
	struct dm_dev *origin;
	struct dm_dev *meta;		/* NULL without a metadata device */
	struct cbt_tracker *t;
};

/*----------------------------------------------------------------
 * Epochs
 *--------------------------------------------------------------*/

struct cbt_epoch *cbt_epoch_alloc(struct cbt_tracker *t, u64 number, u32 slot)
{
	struct cbt_epoch *e = kzalloc(sizeof(*e), GFP_KERNEL);

	if (!e)
		return NULL;
	e->number = number;
	e->slot = slot;
	if (cbt_bitmap_init(&e->bm, t->nr_blocks, GFP_KERNEL))
		goto bad;
	e->dirty_leaves = bitmap_zalloc(max(e->bm.nr_leaves, 1U), GFP_KERNEL);
	if (!e->dirty_leaves)
		goto bad;
	return e;
bad:
	cbt_bitmap_destroy(&e->bm);
	kfree(e);
	return NULL;
}

static void epoch_free(struct cbt_epoch *e)
{
	if (!e)
		return;
	cbt_bitmap_destroy(&e->bm);
	bitmap_free(e->dirty_leaves);
	kfree(e);
}

static struct cbt_epoch *open_epoch(struct cbt_tracker *t)
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

void cbt_begin_marking(struct cbt_tracker *t)
{
	atomic_inc(&t->committing);
	/* Pairs with smp_rmb() in cbt_mark_fast(): the flag before any bit. */
	smp_mb__after_atomic();
}

void cbt_end_marking(struct cbt_tracker *t)
{
	/* Bits and their commit happen before the flag drops; pairs as above. */
	smp_mb__before_atomic();
	atomic_dec(&t->committing);
}

/* Set the bits of the open epoch, outside map(); t->lock held. */
static void mark_locked(struct cbt_tracker *t, u64 start, u64 len)
{
	struct cbt_epoch *e = open_epoch(t);

	cbt_bitmap_set_range(&e->bm, start, len, GFP_NOIO);
	if (t->persistence == CBT_PERSIST_METADATA)
		cbt_md_mark_dirty(e, start, len);
}

/*----------------------------------------------------------------
 * Epoch operations
 *--------------------------------------------------------------*/

int cbt_close_epoch(struct cbt_tracker *t, u64 *closed)
{
	struct cbt_ledger next;
	struct cbt_epoch *old, *new;
	u32 closed_slot;
	int r;

	mutex_lock(&t->lock);
	next = t->ledger;
	r = cbt_ledger_close(&next, &closed_slot);
	if (r)
		goto out;
	new = cbt_epoch_alloc(t, next.open_epoch, next.open_slot);
	if (!new) {
		r = -ENOMEM;
		goto out;
	}
	/*
	 * Persistent: the superblock that closes N goes down before any bit
	 * of N+1 can be committed (only the worker commits, and it needs
	 * t->lock), so after a crash N is complete and N+1 starts empty.
	 */
	if (t->persistence == CBT_PERSIST_METADATA) {
		next.seq++;
		t->ledger = next;
		r = cbt_md_write_sb(t);
		if (r)
			cbt_md_failed(t, r, "closing an epoch");
	}
	t->ledger = next;
	old = open_epoch(t);
	t->slots[new->slot] = new;
	rcu_assign_pointer(t->open, new);
	/* After this no map() still sets bits in the closed epoch. */
	synchronize_rcu();
	*closed = old->number;
	r = 0;
out:
	mutex_unlock(&t->lock);
	if (!r)
		cbt_notify(t, CBT_EVENT_EPOCH_CLOSED, *closed);
	return r;
}

/* Drop a closed epoch whose slot the ledger freed; t->lock held. */
static void release_slot(struct cbt_tracker *t, u32 slot)
{
	struct cbt_epoch *e = t->slots[slot];
	int r = 0;

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
	epoch_free(e);
}

int cbt_commit_epoch(struct cbt_tracker *t, u64 epoch)
{
	u32 slot;
	int r;

	mutex_lock(&t->lock);
	r = cbt_ledger_commit(&t->ledger, epoch, &slot);
	if (!r)
		release_slot(t, slot);
	mutex_unlock(&t->lock);
	if (!r)
		cbt_notify(t, CBT_EVENT_EPOCH_COMMITTED, epoch);
	return r;
}

int cbt_abort_epoch(struct cbt_tracker *t, u64 epoch)
{
	struct cbt_epoch *e, *open;
	u32 slot, leaf;
	int r;

	mutex_lock(&t->lock);
	e = cbt_find_epoch(t, epoch);
	open = open_epoch(t);
	if (!e || e == open) {
		r = -ENOENT;
		goto out;
	}
	/* Fold the closed epoch's changes into the open one before dropping it. */
	cbt_begin_marking(t);
	r = cbt_bitmap_or(&open->bm, &e->bm, GFP_NOIO);
	if (!r && t->persistence == CBT_PERSIST_METADATA) {
		for (leaf = 0; leaf < min(e->bm.nr_leaves, open->bm.nr_leaves); leaf++)
			if (cbt_bitmap_leaf_present(&e->bm, leaf))
				__set_bit(leaf, open->dirty_leaves);
		r = cbt_md_commit_dirty(t);
		if (r) {
			cbt_md_failed(t, r, "merging an aborted epoch");
			r = 0;
		}
	}
	cbt_end_marking(t);
	if (r)
		goto out;
	r = cbt_ledger_abort(&t->ledger, epoch, &slot);
	if (!r)
		release_slot(t, slot);
out:
	mutex_unlock(&t->lock);
	if (!r)
		cbt_notify(t, CBT_EVENT_EPOCH_ABORTED, epoch);
	return r;
}

/*----------------------------------------------------------------
 * The worker: marks deferred writes, commits, then submits them.
 *--------------------------------------------------------------*/

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
	u64 start, len;
	int r;

	mutex_lock(&t->lock);
	cbt_begin_marking(t);
	spin_lock_irqsave(&t->deferred_lock, flags);
	bios = t->deferred;
	bio_list_init(&t->deferred);
	spin_unlock_irqrestore(&t->deferred_lock, flags);

	bio_list_for_each(bio, &bios) {
		bio_blocks(t, bio, &start, &len);
		mark_locked(t, start, len);
	}
	if (t->persistence == CBT_PERSIST_METADATA) {
		r = cbt_md_commit_dirty(t);
		if (r)
			cbt_md_failed(t, r, "committing the bitmap");
	}
	cbt_end_marking(t);
	mutex_unlock(&t->lock);

	/* The origin never fails a write for metadata's sake: submit them all. */
	while ((bio = bio_list_pop(&bios)))
		if (cbt_snap_check_write(t, bio))
			dm_submit_bio_remap(bio, NULL);
}

/*
 * Record a write without waiting, if possible. True when the write may go
 * to the origin now; false when it must wait for a commit.
 */
static bool cbt_mark_fast(struct cbt_tracker *t, u64 start, u64 len)
{
	struct cbt_epoch *e;
	bool ok = true;

	rcu_read_lock();
	e = rcu_dereference(t->open);
	if (READ_ONCE(t->persistence) != CBT_PERSIST_METADATA) {
		/*
		 * A leaf that cannot be had without sleeping is left to the
		 * worker, which may sleep for it: FULL is the last resort.
		 */
		ok = !cbt_bitmap_prepare(&e->bm, start, len, GFP_NOWAIT);
		if (ok)
			cbt_bitmap_set_range(&e->bm, start, len, GFP_NOWAIT);
	} else if (cbt_bitmap_range_all_set(&e->bm, start, len)) {
		/* A bit may be set but not yet committed: see ->committing. */
		smp_rmb();
		ok = !atomic_read(&t->committing);
	} else {
		ok = false;
	}
	rcu_read_unlock();
	return ok;
}

/*----------------------------------------------------------------
 * Tracker registry
 *--------------------------------------------------------------*/

void cbt_tracker_get(struct cbt_tracker *t)
{
	kref_get(&t->ref);
}

static void tracking_lost_work(struct work_struct *ws)
{
	struct cbt_tracker *t = container_of(ws, struct cbt_tracker, lost_work);

	cbt_notify(t, CBT_EVENT_TRACKING_LOST, 0);
}

static void tracker_release(struct kref *ref)
{
	struct cbt_tracker *t = container_of(ref, struct cbt_tracker, ref);
	u32 i;

	cancel_work_sync(&t->lost_work);
	percpu_ref_exit(&t->writes);
	if (t->wq)
		destroy_workqueue(t->wq);
	for (i = 0; i < DM_CBT_MD_SLOTS; i++)
		epoch_free(t->slots[i]);
	for (i = 0; i < CBT_COMMIT_BATCH; i++)
		if (t->batch[i])
			__free_page(t->batch[i]);
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

static struct cbt_tracker *tracker_of_md(struct mapped_device *md)
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

static struct cbt_tracker *tracker_create(struct dm_target *ti, u32 block_sectors,
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

	t->wq = alloc_workqueue("dm-cbt-%u:%u", WQ_MEM_RECLAIM, 0,
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
		e = t->slots[t->ledger.open_slot];
	} else {
		/* Memory only: a new identity at every load, history starts now. */
		t->persistence = CBT_PERSIST_NONE;
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

/*----------------------------------------------------------------
 * Target methods
 *--------------------------------------------------------------*/

static int parse_features(struct dm_arg_set *as, struct dm_target *ti,
			  const char **meta_path)
{
	static const struct dm_arg _args[] = {
		{0, 2, "Invalid number of feature arguments"},
	};
	unsigned int argc;
	const char *arg;
	int r;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(_args, as, &argc, &ti->error);
	if (r)
		return r;
	while (argc) {
		arg = dm_shift_arg(as);
		argc--;
		if (!strcasecmp(arg, "metadata") && argc >= 1 && !*meta_path) {
			*meta_path = dm_shift_arg(as);
			argc--;
		} else {
			ti->error = "Unrecognised feature argument (expected: metadata <dev>)";
			return -EINVAL;
		}
	}
	if (as->argc) {
		ti->error = "Trailing arguments after the feature arguments";
		return -EINVAL;
	}
	return 0;
}

/*
 * Construct a cbt mapping:
 *   cbt <origin dev> <block size in sectors> [<#feature args> [metadata <dev>]]
 *
 * block size: a power of two from 8 (4 KiB) to 2048 (1 MiB).
 * metadata <dev>: keep the bitmaps on <dev>, so they survive reboots and
 *   crashes. Without it tracking lives in memory and starts at the load.
 */
static int cbt_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	const char *meta_path = NULL;
	struct cbt_target *ct;
	struct cbt_tracker *t;
	unsigned int block_sectors;
	char dummy;
	int r;

	if (argc < 2) {
		ti->error = "Invalid argument count (expected: <origin dev> <block sectors> [<#features> [metadata <dev>]])";
		return -EINVAL;
	}
	ct = kzalloc(sizeof(*ct), GFP_KERNEL);
	if (!ct) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	r = dm_get_device(ti, dm_shift_arg(&as), dm_table_get_mode(ti->table), &ct->origin);
	if (r) {
		ti->error = "Error opening origin device";
		goto bad;
	}
	if (sscanf(dm_shift_arg(&as), "%u%c", &block_sectors, &dummy) != 1 ||
	    !is_power_of_2(block_sectors) ||
	    block_sectors < (DM_CBT_MIN_BLOCK_SIZE >> SECTOR_SHIFT) ||
	    block_sectors > (DM_CBT_MAX_BLOCK_SIZE >> SECTOR_SHIFT)) {
		ti->error = "Invalid block size (a power of two from 8 to 2048 sectors)";
		r = -EINVAL;
		goto bad;
	}
	r = parse_features(&as, ti, &meta_path);
	if (r)
		goto bad;
	if (meta_path) {
		r = dm_get_device(ti, meta_path, dm_table_get_mode(ti->table), &ct->meta);
		if (r) {
			ti->error = "Error opening metadata device";
			goto bad;
		}
		if (ct->meta->bdev == ct->origin->bdev) {
			ti->error = "The metadata device cannot be the origin";
			r = -EINVAL;
			goto bad;
		}
	}

	mutex_lock(&cbt_trackers_lock);
	t = tracker_of_md(dm_table_get_md(ti->table));
	if (t) {
		/* A reload: keep the history, refuse what would change its meaning. */
		if (t->block_sectors != block_sectors) {
			ti->error = "Cannot change the block size of a live cbt device; remove it first";
			r = -EINVAL;
		} else if (t->meta_devt != (ct->meta ? ct->meta->bdev->bd_dev : 0)) {
			ti->error = "Cannot change the metadata device of a live cbt device; remove it first";
			r = -EINVAL;
		} else if (ct->origin->bdev != t->origin_bdev &&
			   rcu_access_pointer(t->snap)) {
			ti->error = "Cannot change the origin while a snapshot is attached";
			r = -EBUSY;
		} else if (ti->len < t->dev_sectors) {
			ti->error = "Shrinking a cbt device is not supported; remove it and create it again";
			r = -EINVAL;
		} else if (t->persistence == CBT_PERSIST_METADATA &&
			   DIV_ROUND_UP_ULL((u64)ti->len, block_sectors) >
			   t->ledger.slot_pages * CBT_BITS_PER_LEAF) {
			ti->error = "Metadata device too small for the new size";
			r = -ENOSPC;
		} else {
			cbt_tracker_get(t);
			t->nr_targets++;
		}
		if (r) {
			mutex_unlock(&cbt_trackers_lock);
			goto bad;
		}
	} else {
		t = tracker_create(ti, block_sectors, ct->origin, ct->meta);
		if (IS_ERR(t)) {
			mutex_unlock(&cbt_trackers_lock);
			r = PTR_ERR(t);
			goto bad;
		}
		t->nr_targets = 1;
		list_add(&t->list, &cbt_trackers);
	}
	mutex_unlock(&cbt_trackers_lock);
	ct->t = t;

	ti->private = ct;
	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_secure_erase_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->flush_supported = true;
	ti->per_io_data_size = sizeof(struct cbt_io);
	return 0;
bad:
	if (ct->meta)
		dm_put_device(ti, ct->meta);
	if (ct->origin)
		dm_put_device(ti, ct->origin);
	kfree(ct);
	return r;
}

static void cbt_dtr(struct dm_target *ti)
{
	struct cbt_target *ct = ti->private;
	struct cbt_tracker *t = ct->t;

	mutex_lock(&cbt_trackers_lock);
	if (!--t->nr_targets) {
		list_del_init(&t->list);
		t->md = NULL;
	}
	mutex_unlock(&cbt_trackers_lock);
	flush_workqueue(t->wq);
	cbt_tracker_put(t);
	if (ct->meta)
		dm_put_device(ti, ct->meta);
	dm_put_device(ti, ct->origin);
	kfree(ct);
}

/* Track a remapped write; DM_MAPIO_REMAPPED if it may go down now. */
static int process_write(struct cbt_tracker *t, struct bio *bio)
{
	unsigned long flags;
	u64 start, len;

	bio_blocks(t, bio, &start, &len);
	if (!cbt_mark_fast(t, start, len)) {
		spin_lock_irqsave(&t->deferred_lock, flags);
		bio_list_add(&t->deferred, bio);
		spin_unlock_irqrestore(&t->deferred_lock, flags);
		queue_work(t->wq, &t->commit_work);
		return DM_MAPIO_SUBMITTED;
	}
	return cbt_snap_check_write(t, bio) ? DM_MAPIO_REMAPPED : DM_MAPIO_SUBMITTED;
}

/*
 * Count a write in t->writes, or park it while writes are held. False
 * when it was parked.
 */
static bool count_write(struct cbt_tracker *t, struct bio *bio)
{
	struct cbt_io *io = dm_per_bio_data(bio, sizeof(struct cbt_io));
	unsigned long flags;

	while (!percpu_ref_tryget_live(&t->writes)) {
		spin_lock_irqsave(&t->held_lock, flags);
		if (t->holding) {
			bio_list_add(&t->held, bio);
			spin_unlock_irqrestore(&t->held_lock, flags);
			return false;
		}
		spin_unlock_irqrestore(&t->held_lock, flags);
		/* Released between the two checks: the ref is live again. */
	}
	io->counted = true;
	return true;
}

static int cbt_map(struct dm_target *ti, struct bio *bio)
{
	struct cbt_target *ct = ti->private;
	struct cbt_tracker *t = ct->t;
	struct cbt_io *io = dm_per_bio_data(bio, sizeof(struct cbt_io));

	io->counted = false;
	bio_set_dev(bio, ct->origin->bdev);
	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	/* Reads and empty flushes change nothing; every sized write-type op does. */
	if (!op_is_write(bio_op(bio)) || !bio_sectors(bio))
		return DM_MAPIO_REMAPPED;
	if (!count_write(t, bio))
		return DM_MAPIO_SUBMITTED;
	return process_write(t, bio);
}

static int cbt_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct cbt_target *ct = ti->private;
	struct cbt_io *io = dm_per_bio_data(bio, sizeof(struct cbt_io));

	if (io->counted)
		percpu_ref_put(&ct->t->writes);
	return DM_ENDIO_DONE;
}

void cbt_hold_writes(struct cbt_tracker *t)
{
	unsigned long flags;

	spin_lock_irqsave(&t->held_lock, flags);
	t->holding = true;
	spin_unlock_irqrestore(&t->held_lock, flags);
	reinit_completion(&t->writes_drained);
	percpu_ref_kill(&t->writes);
}

void cbt_wait_writes(struct cbt_tracker *t)
{
	wait_for_completion(&t->writes_drained);
}

void cbt_release_writes(struct cbt_tracker *t)
{
	struct bio_list held;
	unsigned long flags;
	struct bio *bio;

	percpu_ref_resurrect(&t->writes);
	spin_lock_irqsave(&t->held_lock, flags);
	t->holding = false;
	held = t->held;
	bio_list_init(&t->held);
	spin_unlock_irqrestore(&t->held_lock, flags);
	while ((bio = bio_list_pop(&held)))
		if (count_write(t, bio) && process_write(t, bio) == DM_MAPIO_REMAPPED)
			dm_submit_bio_remap(bio, NULL);
}

static int cbt_preresume(struct dm_target *ti)
{
	struct cbt_target *ct = ti->private;
	struct cbt_tracker *t = ct->t;
	u64 nr_blocks, old_blocks;
	u32 i;
	int r = 0;

	mutex_lock(&t->lock);
	/* This table is now the live one: its devices serve the worker. */
	if (ct->meta)
		t->meta_bdev = ct->meta->bdev;
	t->origin_bdev = ct->origin->bdev;
	if (ti->len <= t->dev_sectors)
		goto out;
	/* Grown: every bitmap follows, and the new area counts as changed. */
	nr_blocks = DIV_ROUND_UP_ULL((u64)ti->len, t->block_sectors);
	for (i = 0; i < DM_CBT_MD_SLOTS; i++) {
		if (!t->slots[i])
			continue;
		r = cbt_bitmap_grow(&t->slots[i]->bm, nr_blocks, GFP_NOIO);
		if (!r && BITS_TO_LONGS(t->slots[i]->bm.nr_leaves) >
			  BITS_TO_LONGS(DIV_ROUND_UP_ULL(t->nr_blocks, CBT_BITS_PER_LEAF))) {
			unsigned long *dirty = bitmap_zalloc(t->slots[i]->bm.nr_leaves, GFP_NOIO);

			if (!dirty) {
				r = -ENOMEM;
			} else {
				bitmap_copy(dirty, t->slots[i]->dirty_leaves,
					    DIV_ROUND_UP_ULL(t->nr_blocks, CBT_BITS_PER_LEAF));
				bitmap_free(t->slots[i]->dirty_leaves);
				t->slots[i]->dirty_leaves = dirty;
			}
		}
		if (r) {
			DMERR("Cannot grow the bitmaps to %llu blocks: %d", nr_blocks, r);
			goto out;
		}
	}
	old_blocks = t->nr_blocks;
	t->nr_blocks = nr_blocks;
	t->dev_sectors = ti->len;
	t->ledger.nr_blocks = nr_blocks;
	cbt_begin_marking(t);
	/* The old last block may be partial: it grew too. */
	mark_locked(t, old_blocks ? old_blocks - 1 : 0, nr_blocks - old_blocks + 1);
	if (t->persistence == CBT_PERSIST_METADATA) {
		r = cbt_md_commit_dirty(t);
		if (!r) {
			t->ledger.seq++;
			r = cbt_md_write_sb(t);
		}
		if (r)
			cbt_md_failed(t, r, "growing");
		r = 0;
	}
	cbt_end_marking(t);
out:
	mutex_unlock(&t->lock);
	return r;
}

static void cbt_postsuspend(struct dm_target *ti)
{
	struct cbt_target *ct = ti->private;

	/* dm waited for our deferred writes; let the worker go idle too. */
	flush_workqueue(ct->t->wq);
}

static const char *persistence_name(enum cbt_persistence p)
{
	switch (p) {
	case CBT_PERSIST_METADATA:
		return "metadata";
	case CBT_PERSIST_FAILED:
		return "failed";
	default:
		return "none";
	}
}

/*
 * Status format:
 *
 * INFO:  <identity uuid> <persistence: none|metadata|failed> <open epoch>
 *        <#closed epochs> <blocks set in the open epoch>/<blocks>
 *        <bitmap bytes> <metadata errors>
 * TABLE: <origin dev> <block sectors> [2 metadata <metadata dev>]
 */
static void cbt_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct cbt_target *ct = ti->private;
	struct cbt_tracker *t = ct->t;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		mutex_lock(&t->lock);
		DMEMIT("%pUb %s %llu %u %llu/%llu %zu %lld",
		       t->ledger.uuid, persistence_name(t->persistence),
		       t->ledger.open_epoch, t->ledger.nr_closed,
		       cbt_bitmap_weight(&open_epoch(t)->bm), t->nr_blocks,
		       cbt_tracker_bytes(t),
		       (long long)atomic64_read(&t->metadata_errors));
		mutex_unlock(&t->lock);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %u", ct->origin->name, t->block_sectors);
		if (ct->meta)
			DMEMIT(" 2 metadata %s", ct->meta->name);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",origin_name=%s,block_sectors=%u,metadata_name=%s;",
		       ct->origin->name, t->block_sectors,
		       ct->meta ? ct->meta->name : "");
		break;
	}
}

/*
 * Messages (dmsetup message <dev> 0 ...), for scripts without the tool:
 *   close_epoch       prints the closed epoch's number
 *   commit_epoch <n>
 *   abort_epoch <n>
 */
static int cbt_message(struct dm_target *ti, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	struct cbt_target *ct = ti->private;
	unsigned int sz = 0;
	unsigned long long n;
	u64 closed;
	char dummy;
	int r;

	if (argc == 1 && !strcasecmp(argv[0], "close_epoch")) {
		r = cbt_close_epoch(ct->t, &closed);
		if (!r)
			DMEMIT("%llu", closed);
		return r ? r : 1;
	}
	if (argc == 2 && sscanf(argv[1], "%llu%c", &n, &dummy) == 1) {
		if (!strcasecmp(argv[0], "commit_epoch"))
			return cbt_commit_epoch(ct->t, n);
		if (!strcasecmp(argv[0], "abort_epoch"))
			return cbt_abort_epoch(ct->t, n);
	}
	DMERR("Unrecognised message (expected: close_epoch | commit_epoch <n> | abort_epoch <n>)");
	return -EINVAL;
}

static int cbt_iterate_devices(struct dm_target *ti, iterate_devices_callout_fn fn,
			       void *data)
{
	struct cbt_target *ct = ti->private;

	return fn(ti, ct->origin, 0, ti->len, data);
}

static struct target_type cbt_target = {
	.name = DM_CBT_TARGET_NAME,
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = cbt_ctr,
	.dtr = cbt_dtr,
	.map = cbt_map,
	.end_io = cbt_end_io,
	.preresume = cbt_preresume,
	.postsuspend = cbt_postsuspend,
	.status = cbt_status,
	.message = cbt_message,
	.iterate_devices = cbt_iterate_devices,
};

int cbt_target_register(void)
{
	return dm_register_target(&cbt_target);
}

void cbt_target_unregister(void)
{
	dm_unregister_target(&cbt_target);
}
