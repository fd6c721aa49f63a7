// SPDX-License-Identifier: GPL-2.0
/*
 * Where a cbt-snap table may put its COW store: the checks its constructor
 * runs before it writes anything (docs/snapshot.md, "What the constructor
 * refuses"), and the stacking test the snapshot take and the cbt target
 * share. Apart from the copy-on-write engine in dm-cbt-snapshot-cow.c.
 */
#include <linux/blkdev.h>
#include <linux/kernfs.h>

#include "dm-cbt.h"
#include "dm-cbt-snapshot.h"

/*
 * Protects every tracker's ->snap changes (made with the tracker claimed
 * as well) and the checks of a new snapshot against the attached ones:
 * attaches are one at a time. Global, so held for no I/O and no wait but
 * for cbt_trackers_lock (dm-cbt.h). It lives here, below the snapshot
 * target and the take, because the checks here need it.
 */
DEFINE_MUTEX(cbt_snapshot_lock);

/* "major:minor" or a block device path. */
int cbt_snap_parse_devt(const char *arg, dev_t *dev)
{
	unsigned int major, minor;
	char dummy;

	if (sscanf(arg, "%u:%u%c", &major, &minor, &dummy) == 2) {
		*dev = MKDEV(major, minor);
		return MAJOR(*dev) == major && MINOR(*dev) == minor ? 0 : -EOVERFLOW;
	}
	return lookup_bdev(arg, dev);
}

static bool same_disk(struct block_device *a, struct block_device *b)
{
	return bdev_whole(a) == bdev_whole(b);
}

/* True if dm (or md) lists @lower among the devices @upper is built on. */
static bool holds(struct block_device *upper, struct block_device *lower)
{
	struct kobject *slaves = upper->bd_disk->slave_dir;
	struct kernfs_node *kn;

	if (!slaves)
		return false;
	kn = kernfs_find_and_get(slaves->sd, kobject_name(bdev_kobj(lower)));
	kernfs_put(kn);
	return kn;
}

/*
 * Would I/O to @upper reach @x? It is @x, a partition of @x or the disk
 * @x is a partition of, or a device built directly on one of those (the
 * slaves links dm and md keep). Deeper stacks (dm on dm on @x, a loop file
 * on a filesystem on @x) are beyond what the kernel can see reliably: the
 * tool checks those (docs/snapshot.md).
 */
bool cbt_bdev_on(struct block_device *upper, struct block_device *x)
{
	if (!upper || !x)
		return false;
	return upper == x || bdev_whole(upper) == x || bdev_whole(x) == upper ||
	       holds(upper, x) || holds(upper, bdev_whole(x));
}

/*
 * Is @bdev claimed by more than this table? Every dm table claims with the
 * same holder, so a dm device built on @bdev did not stop our
 * dm_get_device(), and copies would overwrite its data. A claim counts
 * once on a partition and twice on a whole disk (bd_finish_claiming()
 * counts the whole disk for every claim, its own included).
 */
static bool claimed_by_others(struct block_device *bdev)
{
	int ours = bdev_is_partition(bdev) ? 1 : 2;

	return READ_ONCE(bdev->bd_holders) > ours;
}

/*
 * Why @cow (claimed by this table already) cannot be the COW store of a
 * snapshot of @t, or NULL. Refused: the origin's disk, anything that is,
 * overlaps or sits directly on a cbt device, its origin or metadata device,
 * or another snapshot's COW, and a device another dm device is built on.
 */
char *cbt_snap_cow_conflict(struct block_device *cow, struct cbt_tracker *t)
{
	struct cbt_tracker *o;
	struct cbt_snapshot *os;

	lockdep_assert_held(&cbt_snapshot_lock);
	lockdep_assert_held(&cbt_trackers_lock);
	if (cow->bd_dev == t->devt)
		return "The COW device cannot be the cbt device";
	if (same_disk(cow, t->origin_bdev) || cbt_bdev_on(cow, t->origin_bdev))
		return "The COW device cannot be on the origin's disk or stacked on it";
	list_for_each_entry(o, &cbt_trackers, list) {
		if (cow->bd_dev == o->devt || cow->bd_dev == o->meta_devt)
			return "The COW device cannot be a cbt device or its metadata device";
		/* Without a table its devices are not held: nothing to write into. */
		if (!o->md)
			continue;
		if (cbt_bdev_on(cow, dm_disk(o->md)->part0))
			return "The COW device cannot be stacked on a cbt device";
		if (cbt_bdev_on(cow, o->origin_bdev))
			return "The COW device cannot be a cbt device's origin or stacked on it";
		if (cbt_bdev_on(cow, o->meta_bdev))
			return "The COW device cannot be a metadata device or stacked on one";
		os = snap_of(o);
		if (os && cbt_bdev_on(cow, os->cow->bdev))
			return "The COW device is another snapshot's COW store or stacked on it";
	}
	if (claimed_by_others(cow))
		return "The COW device is in use by another device-mapper device";
	return NULL;
}
