// SPDX-License-Identifier: GPL-2.0
/*
 * The cbt-snap target: a read-only device showing a cbt device as it was
 * when its snapshot was taken. Where a read goes and what an origin write
 * waits for is the copy-on-write engine's (dm-cbt-snapshot-cow.c); taking
 * snapshots is dm-cbt-snapshot-take.c. See docs/snapshot.md.
 */
#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"
#include "dm-cbt-snapshot.h"

static void snap_free(struct cbt_snapshot *s)
{
	cbt_cow_destroy(s);
	cbt_bitmap_destroy(&s->copied);
	cbt_bitmap_destroy(&s->lost);
	cbt_bitmap_destroy(&s->preserve);
	kfree(s);
}

/*
 * Why @s (of @len sectors) cannot be attached to @t, or NULL (then the
 * device's geometry is in @s); -EBUSY in @r for a snapshot attached
 * already. @t claimed, cbt_snapshot_lock held.
 */
static char *attach_check(struct cbt_snapshot *s, struct cbt_tracker *t, sector_t len, int *r)
{
	char *why = NULL;

	lockdep_assert_held(&cbt_snapshot_lock);
	mutex_lock(&cbt_trackers_lock);
	if (snap_of(t)) {
		why = "The cbt device has a snapshot attached already; remove it first";
		*r = -EBUSY;
	} else if (len != t->dev_sectors) {
		why = "The snapshot's length must be the cbt device's";
	} else if (!t->md || !t->origin_bdev) {
		why = "The cbt device has no table";
	} else if (bdev_is_zoned(t->origin_bdev)) {
		/* Zone resets and appends cannot be copied on write. */
		why = "Zoned origins are not supported";
	} else if (s->nr_blocks && (s->nr_blocks != t->nr_blocks ||
				    s->origin_devt != t->origin_bdev->bd_dev)) {
		/* Between the two checks: a table reload, to another origin. */
		why = "The cbt device changed while the snapshot was attached";
	} else {
		s->block_shift = t->block_shift;
		s->nr_blocks = t->nr_blocks;
		s->origin_devt = t->origin_bdev->bd_dev;
		why = cbt_snap_cow_conflict(s->cow->bdev, t);
	}
	mutex_unlock(&cbt_trackers_lock);
	return why;
}

/*
 * Construct a snapshot device:
 *   cbt-snap <cbt dev> <cow dev> <chunk sectors>
 *
 * <cbt dev>: the cbt device to snapshot; its length must be this table's.
 * <cow dev>: where old data goes; not on the origin's disk or the cbt
 *   device. When it fills up the snapshot becomes invalid.
 * <chunk sectors>: copy-on-write unit, a power of two from 8 to 2048.
 * The device reads as I/O errors until CBT_CMD_SNAPSHOT takes it.
 */
static int snap_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct cbt_snapshot *s;
	struct cbt_tracker *t;
	char *why;
	unsigned int chunk;
	char origin[24];
	int r;

	if (argc != 3) {
		ti->error = "Invalid argument count: <cbt dev> <cow dev> <chunk sectors>";
		return -EINVAL;
	}
	/* Chunks are the cbt device's sectors: the target must map all of it. */
	if (ti->begin) {
		ti->error = "A cbt-snap target must start at sector 0";
		return -EINVAL;
	}
	/* kstrtouint, not sscanf: "%u" wraps 2^32 + 8 to a valid 8. */
	if (kstrtouint(argv[2], 10, &chunk) || !is_power_of_2(chunk) ||
	    chunk < 8 || chunk > 2048) {
		ti->error = "Invalid chunk size (a power of two from 8 to 2048 sectors)";
		return -EINVAL;
	}
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s) {
		ti->error = "Cannot allocate snapshot";
		return -ENOMEM;
	}
	s->chunk_sectors = chunk;
	s->chunk_shift = ilog2(chunk);
	s->sectors = ti->len;
	s->nr_chunks = DIV_ROUND_UP_ULL((u64)ti->len, chunk);
	s->state = CBT_SNAP_PREPARED;
	/*
	 * First: every error below ends in snap_free(), whose cbt_cow_destroy()
	 * takes the xarrays' locks this initialises (an early error once
	 * destroyed them uninitialised: lockdep's "non-static key").
	 */
	r = cbt_cow_init(s);
	if (r) {
		ti->error = "Cannot allocate copy resources";
		goto bad;
	}

	/*
	 * Not dm_get_device(): it claims the device, which fails while a
	 * filesystem is mounted on it. An open is enough to keep it.
	 */
	r = cbt_snap_parse_devt(argv[0], &s->cbt_devt);
	if (r) {
		ti->error = "Invalid cbt device (a path or major:minor)";
		goto bad;
	}
	r = cbt_bdev_open(s->cbt_devt, &s->cbt_ref);
	if (r) {
		ti->error = "Error opening the cbt device";
		goto bad;
	}
	s->cbt_open = true;
	/* Read-write whatever the snapshot's own mode: copies land there. */
	r = dm_get_device(ti, argv[1], CBT_OPEN_RW, &s->cow);
	if (r) {
		ti->error = "Error opening the COW device";
		goto bad;
	}
	s->cow_chunks = bdev_nr_sectors(s->cow->bdev) >> s->chunk_shift;
	r = -EINVAL;
	if (s->cow_chunks < 2) {
		ti->error = "The COW device is smaller than two chunks";
		goto bad;
	}
	s->cow_chunks--;
	if (cbt_bitmap_init(&s->copied, s->nr_chunks, GFP_KERNEL) ||
	    cbt_bitmap_init(&s->lost, s->nr_chunks, GFP_KERNEL)) {
		ti->error = "Cannot allocate the copied-chunk bitmap";
		r = -ENOMEM;
		goto bad;
	}

	mutex_lock(&cbt_trackers_lock);
	t = cbt_tracker_find(NULL, s->cbt_devt);
	mutex_unlock(&cbt_trackers_lock);
	if (!t) {
		ti->error = "Not a cbt device";
		r = -EINVAL;
		goto bad;
	}
	/*
	 * Check everything before anything can be written (the first resume
	 * zeroes the COW's first chunk, which may be another device's
	 * superblock). The claim keeps other attaches and takes of this
	 * device away until the snapshot is published; cbt_snapshot_lock,
	 * held for the checks only, other attaches: the origin's open waits
	 * for no global lock, so the checks against the other snapshots are
	 * made again with the pointer's publication.
	 */
	r = cbt_claim(&t, 1, true);
	if (r) {
		ti->error = "Interrupted";
		cbt_tracker_put(t);
		goto bad;
	}
	r = -EINVAL;
	mutex_lock(&cbt_snapshot_lock);
	why = attach_check(s, t, ti->len, &r);
	mutex_unlock(&cbt_snapshot_lock);
	if (!why && cbt_bitmap_init(&s->preserve, s->nr_blocks, GFP_KERNEL)) {
		why = "Cannot allocate the preserve set";
		r = -ENOMEM;
	}
	if (!why) {
		/* The cbt target holds it with the same dm claim: this cannot conflict. */
		snprintf(origin, sizeof(origin), "%u:%u", MAJOR(s->origin_devt),
			 MINOR(s->origin_devt));
		r = dm_get_device(ti, origin, CBT_OPEN_READ, &s->origin);
		if (r)
			why = "Error opening the cbt device's origin";
	}
	/* The COW's first chunk is zeroed at the first resume (snap_preresume). */
	if (!why) {
		r = -EINVAL;
		mutex_lock(&cbt_snapshot_lock);
		why = attach_check(s, t, ti->len, &r);
		if (!why) {
			s->t = t;
			s->gate.copied = &s->copied;
			s->gate.chunk_shift = s->chunk_shift;
			rcu_assign_pointer(t->snap, s);
			rcu_assign_pointer(t->snap_gate, &s->gate);
			r = 0;
		}
		mutex_unlock(&cbt_snapshot_lock);
	}
	cbt_unclaim(&t, 1);
	if (why)
		ti->error = why;
	if (r) {
		cbt_tracker_put(t);
		goto bad;
	}
	ti->private = s;
	ti->per_io_data_size = sizeof(struct cbt_snap_read);
	ti->num_flush_bios = 1;
	return 0;
bad:
	if (s->origin)
		dm_put_device(ti, s->origin);
	if (s->cow)
		dm_put_device(ti, s->cow);
	if (s->cbt_open)
		cbt_bdev_close(&s->cbt_ref);
	snap_free(s);
	return r;
}

struct block_device *cbt_snap_cow_rcu(struct cbt_tracker *t)
{
	struct cbt_snapshot *s = rcu_dereference(t->snap);

	/* snap_dtr() puts the COW device only after a grace period. */
	return s ? s->cow->bdev : NULL;
}

void cbt_snap_orphan(struct cbt_tracker *t)
{
	struct cbt_snapshot *s;

	cbt_claim(&t, 1, false);
	s = snap_of(t);
	if (s)
		cbt_cow_invalidate(s, -ENODEV);
	cbt_unclaim(&t, 1);
}

static void snap_dtr(struct dm_target *ti)
{
	struct cbt_snapshot *s = ti->private;
	struct cbt_tracker *t = s->t;

	/*
	 * First stop copying: waiting writes go down, queued ones skip it.
	 * Under the claim, so a take that found it PREPARED cannot make it
	 * ACTIVE again; the pointer's change under cbt_snapshot_lock too,
	 * which an attach's checks of the other snapshots hold.
	 */
	cbt_claim(&t, 1, false);
	cbt_cow_invalidate(s, 0);
	mutex_lock(&cbt_snapshot_lock);
	rcu_assign_pointer(t->snap, NULL);
	rcu_assign_pointer(t->snap_gate, NULL);
	mutex_unlock(&cbt_snapshot_lock);
	cbt_unclaim(&t, 1);
	/* Its grace period also ends every check_write() that read the gate. */
	cbt_cow_drain(s);
	dm_put_device(ti, s->origin);
	dm_put_device(ti, s->cow);
	cbt_bdev_close(&s->cbt_ref);
	snap_free(s);
	cbt_tracker_put(t);
}

/*
 * Whatever the COW device held before: no filesystem signature at its start
 * (the first chunk never holds a copy). Here, not in snap_ctr(): dm runs
 * each target's constructor before it refuses a later line of the table (a
 * second target), and a refused table must write nothing. Only the first
 * resume writes; dm serialises a device's resumes, which ->cow_zeroed needs.
 */
static int snap_preresume(struct dm_target *ti)
{
	struct cbt_snapshot *s = ti->private;
	int r;

	if (s->cow_zeroed)
		return 0;
	r = blkdev_issue_zeroout(s->cow->bdev, 0, s->chunk_sectors, GFP_KERNEL, 0);
	if (r) {
		DMERR("Cannot zero the COW device's first chunk: %d", r);
		return r;
	}
	s->cow_zeroed = true;
	return 0;
}

static int snap_map(struct dm_target *ti, struct bio *bio)
{
	struct cbt_snapshot *s = ti->private;
	struct cbt_snap_read *rd = dm_per_bio_data(bio, sizeof(*rd));
	sector_t sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	u64 first, last, n;
	sector_t len;
	s64 cow;

	rd->registered = false;
	if (op_is_write(bio_op(bio))) {
		/* Nothing to flush; anything else is refused: a snapshot is read-only. */
		if (!bio_sectors(bio)) {
			bio_endio(bio);
			return DM_MAPIO_SUBMITTED;
		}
		return DM_MAPIO_KILL;
	}
	if (cbt_snap_state(s) != CBT_SNAP_ACTIVE)
		return DM_MAPIO_KILL;
	first = sector >> s->chunk_shift;
	last = (sector + bio_sectors(bio) - 1) >> s->chunk_shift;

	n = cbt_cow_read_start(s, rd, first, last, &cow);
	len = ((first + n) << s->chunk_shift) - sector;
	if (len < bio_sectors(bio))
		dm_accept_partial_bio(bio, len);
	/* Forfeited or released: its data is gone, never another's. */
	if (cow == -2)
		return DM_MAPIO_KILL;
	if (cow < 0) {
		bio_set_dev(bio, s->origin_bdev);
		bio->bi_iter.bi_sector = sector;
	} else {
		bio_set_dev(bio, s->cow->bdev);
		bio->bi_iter.bi_sector = cbt_cow_sector(s, cow) + (sector & (s->chunk_sectors - 1));
	}
	return DM_MAPIO_REMAPPED;
}

static int snap_end_io(struct dm_target *ti, struct bio *bio, blk_status_t *error)
{
	if (!op_is_write(bio_op(bio)))
		cbt_cow_read_done(ti->private, dm_per_bio_data(bio, sizeof(struct cbt_snap_read)),
				  error);
	return DM_ENDIO_DONE;
}

static const char *snap_state_name(enum cbt_snap_state state)
{
	switch (state) {
	case CBT_SNAP_ACTIVE:
		return "active";
	case CBT_SNAP_INVALID:
		return "invalid";
	default:
		return "prepared";
	}
}

/*
 * Status format:
 *
 * INFO:  <state: prepared|active|invalid> <epoch> <COW chunks used>/<COW chunks>
 *        <error> <chunks to read> <released> <forfeited>
 * TABLE: <cbt dev> <cow dev> <chunk sectors>
 */
static void snap_status(struct dm_target *ti, status_type_t type,
			unsigned int status_flags, char *result, unsigned int maxlen)
{
	struct cbt_snapshot *s = ti->private;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%s %llu %llu/%llu %d %llu %llu %llu", snap_state_name(READ_ONCE(s->state)),
		       s->epoch, cbt_cow_used(s), s->cow_chunks, s->error, cbt_snap_to_read(s),
		       READ_ONCE(s->nr_released), READ_ONCE(s->nr_forfeited));
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%u:%u %s %u", MAJOR(s->cbt_devt), MINOR(s->cbt_devt), s->cow->name,
		       s->chunk_sectors);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",cbt_name=%u:%u,cow_name=%s,chunk_sectors=%u;",
		       MAJOR(s->cbt_devt), MINOR(s->cbt_devt), s->cow->name, s->chunk_sectors);
		break;
	}
}

static int snap_iterate_devices(struct dm_target *ti, iterate_devices_callout_fn fn,
				void *data)
{
	struct cbt_snapshot *s = ti->private;

	/* Both: reads go to either, so both devices' limits must stack. */
	return fn(ti, s->origin, 0, ti->len, data) ?:
	       fn(ti, s->cow, 0, (sector_t)(s->cow_chunks + 1) << s->chunk_shift, data);
}

static struct target_type snap_target = {
	.name = DM_CBT_SNAP_TARGET_NAME,
	.version = {1, 1, 0},
	.features = DM_TARGET_SINGLETON,
	.module = THIS_MODULE,
	.ctr = snap_ctr,
	.dtr = snap_dtr,
	.preresume = snap_preresume,
	.map = snap_map,
	.end_io = snap_end_io,
	.status = snap_status,
	.iterate_devices = snap_iterate_devices,
};

static const struct cbt_tracker_listener_ops snap_listener_ops = {
	.check_write = cbt_cow_check_write,
};

static struct cbt_tracker_listener snap_listener = {
	.ops = &snap_listener_ops,
};

int cbt_snap_register(void)
{
	int r;

	/* Before the target: a snapshot's first write must find it. */
	cbt_tracker_listen(&snap_listener);
	r = dm_register_target(&snap_target);
	if (r)
		cbt_tracker_unlisten(&snap_listener);
	return r;
}

void cbt_snap_unregister(void)
{
	dm_unregister_target(&snap_target);
	cbt_tracker_unlisten(&snap_listener);
}
