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

/* One per table that maps a cbt target. */
struct cbt_target {
	struct dm_dev *origin;
	struct dm_dev *meta;		/* NULL without a metadata device */
	struct cbt_tracker *t;
};

/* ---- Target methods ---- */

/* The same device, or a whole disk and one of its partitions. */
static bool bdevs_overlap(struct block_device *a, struct block_device *b)
{
	if (a == b)
		return true;
	return bdev_whole(a) == bdev_whole(b) &&
	       (!bdev_is_partition(a) || !bdev_is_partition(b));
}

/*
 * One metadata device, one origin: refuse a metadata device another
 * tracker uses as its metadata or its origin, and an origin that is
 * another tracker's metadata (@self: this device's own tracker on a
 * reload). Checked before anything is read or written; the error, or NULL.
 * Devices stacked on one another (a dm-linear over the metadata) are not
 * seen here. cbt_trackers_lock held: the trackers' bdevs stay while listed.
 */
static char *claimed_elsewhere(struct cbt_tracker *self, struct block_device *origin,
			       struct block_device *meta)
{
	struct cbt_tracker *o;

	lockdep_assert_held(&cbt_trackers_lock);
	list_for_each_entry(o, &cbt_trackers, list) {
		/* Both pointers change only in a preresume of o's own device. */
		struct block_device *o_meta = READ_ONCE(o->meta_bdev);
		struct block_device *o_origin = READ_ONCE(o->origin_bdev);
		struct block_device *o_cow;
		bool cow_taken;

		/*
		 * A snapshot's COW store starts with a zeroed chunk, which a
		 * metadata load would take for a blank device and format
		 * under the running backup.
		 */
		rcu_read_lock();
		o_cow = cbt_snap_cow_rcu(o);
		cow_taken = o_cow && ((meta && bdevs_overlap(meta, o_cow)) ||
				      bdevs_overlap(origin, o_cow));
		rcu_read_unlock();
		if (cow_taken)
			return "The device is the COW store of an attached snapshot";
		if (o == self)
			continue;
		if (meta && o_meta && bdevs_overlap(meta, o_meta))
			return "The metadata device is another cbt device's metadata device";
		if (meta && o_origin && bdevs_overlap(meta, o_origin))
			return "The metadata device is another cbt device's origin";
		if (o_meta && bdevs_overlap(origin, o_meta))
			return "The origin is another cbt device's metadata device";
	}
	return NULL;
}

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
	int r;

	if (argc < 2) {
		ti->error = "Invalid argument count: <origin> <block sectors> [<#features> ...]";
		return -EINVAL;
	}
	/* Blocks are counted from the device's start: the bitmap would be offset. */
	if (ti->begin) {
		ti->error = "A cbt target must start at sector 0 of its table";
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
	if (bdev_is_zoned(ct->origin->bdev)) {
		/* Zone resets and finishes carry no size: they would go untracked. */
		ti->error = "Zoned origins are not supported";
		r = -EINVAL;
		goto bad;
	}
	/* kstrtouint, not sscanf: "%u" wraps 2^32 + 8 to a valid 8. */
	if (kstrtouint(dm_shift_arg(&as), 10, &block_sectors) ||
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
		if (bdevs_overlap(ct->meta->bdev, ct->origin->bdev)) {
			ti->error = "The metadata device cannot be the origin or overlap it";
			r = -EINVAL;
			goto bad;
		}
	}

	mutex_lock(&cbt_trackers_lock);
	t = cbt_tracker_of_md(dm_table_get_md(ti->table));
	ti->error = claimed_elsewhere(t, ct->origin->bdev, ct->meta ? ct->meta->bdev : NULL);
	if (ti->error) {
		mutex_unlock(&cbt_trackers_lock);
		r = -EBUSY;
		goto bad;
	}
	if (t) {
		/* A reload: keep the history, refuse what would change its meaning. */
		if (t->block_sectors != block_sectors) {
			ti->error = "Cannot change the block size of a live cbt device";
			r = -EINVAL;
		} else if (t->meta_devt != (ct->meta ? ct->meta->bdev->bd_dev : 0)) {
			ti->error = "Cannot change the metadata device of a live cbt device";
			r = -EINVAL;
		} else if (ct->origin->bdev != t->origin_bdev &&
			   rcu_access_pointer(t->snap)) {
			ti->error = "Cannot change the origin while a snapshot is attached";
			r = -EBUSY;
		} else if (ti->len < t->dev_sectors) {
			ti->error = "Shrinking a cbt device is not supported; recreate it";
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
		t = cbt_tracker_create(ti, block_sectors, ct->origin, ct->meta);
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

/*
 * Is @ti's device being removed? __dm_destroy() marks its disk dead
 * (blk_mark_disk_dead(), GD_DEAD) before it destroys the table, in 6.1 and
 * 6.12 alike; a table swap never does. (dm_get_live_table() would say it
 * directly but is not exported to modules.)
 */
static bool device_removed(struct dm_target *ti)
{
	return test_bit(GD_DEAD, &dm_disk(dm_table_get_md(ti->table))->state);
}

static void cbt_dtr(struct dm_target *ti)
{
	struct cbt_target *ct = ti->private;
	struct cbt_tracker *t = ct->t;
	bool last;

	mutex_lock(&cbt_trackers_lock);
	last = !--t->nr_targets;
	if (last) {
		list_del_init(&t->list);
		t->md = NULL;
	}
	mutex_unlock(&cbt_trackers_lock);
	flush_workqueue(t->wq);
	if (last) {
		cancel_delayed_work_sync(&t->fp_work);
		cbt_fold_cancel(t);
		/*
		 * Not a removal, so a swap: do_resume() binds the new table and
		 * destroys ours after, even when the new table's resume fails
		 * (the device then stays suspended, and a later resume lets
		 * writes through untracked): another target took it over.
		 */
		bool replaced = t->was_live && !device_removed(ti);

		if (replaced)
			cbt_snap_orphan(t);
		mutex_lock(&t->lock);
		cbt_history_detach(t, replaced);
		t->dead = true;
		t->meta_bdev = NULL;
		mutex_unlock(&t->lock);
		if (replaced)
			DMWARN("%u:%u: the cbt table was replaced by another target: %s",
			       MAJOR(t->devt), MINOR(t->devt), "writes go untracked");
	}
	cbt_tracker_put(t);
	if (ct->meta)
		dm_put_device(ti, ct->meta);
	dm_put_device(ti, ct->origin);
	kfree(ct);
}

static int cbt_map(struct dm_target *ti, struct bio *bio)
{
	struct cbt_target *ct = ti->private;
	struct cbt_tracker *t = ct->t;
	struct cbt_io *io = dm_per_bio_data(bio, sizeof(struct cbt_io));

	io->counted = false;
	io->fp = false;
	io->fp_defer = false;
	bio_set_dev(bio, ct->origin->bdev);
	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	/* Reads and empty flushes change nothing; every sized write-type op does. */
	if (!op_is_write(bio_op(bio)) || !bio_sectors(bio))
		return DM_MAPIO_REMAPPED;
	if (!cbt_count_write(t, bio))
		return DM_MAPIO_SUBMITTED;
	return cbt_process_write(t, bio);
}

static int cbt_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	struct cbt_target *ct = ti->private;
	struct cbt_io *io = dm_per_bio_data(bio, sizeof(struct cbt_io));

	if (io->fp)
		cbt_fp_write_done(ct->t);
	if (io->counted)
		percpu_ref_put(&ct->t->writes);
	return DM_ENDIO_DONE;
}

static int cbt_preresume(struct dm_target *ti)
{
	struct cbt_target *ct = ti->private;
	struct cbt_tracker *t = ct->t;
	u64 nr_blocks, first;
	u32 i;
	int r = 0;

	mutex_lock(&t->lock);
	/* This table is now the live one: its devices serve the worker. */
	if (ct->meta)
		t->meta_bdev = ct->meta->bdev;
	t->origin_bdev = ct->origin->bdev;
	/* The metadata our ctr only read: formatted or settled before any write. */
	if (t->md_unwritten) {
		r = cbt_md_first_resume(t);
		if (r)
			goto unlock;
		/* A continued history is announced once cbt_history_resume() weighed it. */
		if (t->reason != CBT_IDENTITY_CONTINUED)
			cbt_history_announce(t);
	}
	cbt_history_resume(t, dm_table_get_md(ti->table));
	if (ti->len <= t->dev_sectors)
		goto out;
	/* Grown: every bitmap follows, and the new area counts as changed. */
	nr_blocks = DIV_ROUND_UP_ULL((u64)ti->len, t->block_sectors);
	for (i = 0; i < DM_CBT_MD_SLOTS; i++) {
		if (!t->slots[i])
			continue;
		r = cbt_epoch_grow(t->slots[i], nr_blocks);
		if (r) {
			DMERR("Cannot grow the bitmaps to %llu blocks: %d", nr_blocks, r);
			goto out;
		}
	}
	/* A partial old last block grew too; a whole one did not change. */
	first = t->dev_sectors >> t->block_shift;
	t->nr_blocks = nr_blocks;
	t->dev_sectors = ti->len;
	t->ledger.nr_blocks = nr_blocks;
	t->ledger.origin_sectors = ti->len;
	cbt_mark_locked(t, first, nr_blocks - first);
	cbt_commit_marks(t, "growing");
out:
	/* Writes the superblock (the new size with it) for persistent devices. */
	if (!r)
		cbt_history_attached(t);
unlock:
	mutex_unlock(&t->lock);
	return r;
}

static void cbt_postsuspend(struct dm_target *ti)
{
	struct cbt_target *ct = ti->private;

	/* dm waited for our deferred writes; let the worker go idle too. */
	flush_workqueue(ct->t->wq);
	cancel_delayed_work_sync(&ct->t->fp_work);
	cbt_fold_cancel(ct->t);
	mutex_lock(&ct->t->lock);
	/* A clean stop leaves both region maps zero. */
	cbt_fold(ct->t, "writing the fine bits at suspend");
	cbt_history_suspend(ct->t, dm_table_get_md(ti->table), dm_noflush_suspending(ti));
	mutex_unlock(&ct->t->lock);
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
 *        <bitmap bytes> <metadata errors> <identity reason>
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
		DMEMIT("%pUb %s %llu %u %llu/%llu %zu %lld %s",
		       t->ledger.uuid, persistence_name(t->persistence),
		       t->ledger.open_epoch, t->ledger.nr_closed,
		       cbt_bitmap_weight(&cbt_open_epoch(t)->bm), t->nr_blocks,
		       cbt_tracker_bytes(t),
		       (long long)atomic64_read(&t->metadata_errors),
		       cbt_reason_name(t->reason));
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
	int r;

	if (argc == 1 && !strcasecmp(argv[0], "close_epoch")) {
		r = cbt_close_epoch(ct->t, &closed);
		if (!r)
			DMEMIT("%llu", closed);
		return r ? r : 1;
	}
	if (argc == 2 && !kstrtoull(argv[1], 10, &n)) {
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
	.version = {1, 1, 0},
	/* One tracker per device: a second cbt target would share its bitmap. */
	.features = DM_TARGET_SINGLETON,
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
