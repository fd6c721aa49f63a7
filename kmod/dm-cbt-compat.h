/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every kernel-version difference dm-cbt meets, in one place. Tested
 * kernels: Debian's 6.1 and 6.12.
 */
#ifndef DM_CBT_COMPAT_H
#define DM_CBT_COMPAT_H

#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/version.h>
#include <net/genetlink.h>

/* Attributes of a dump request: genl_info_dump() replaced ->attrs in 6.4. */
static inline struct nlattr **cbt_dump_attrs(struct netlink_callback *cb)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	return genl_info_dump(cb)->attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

/* The extack of a dump request. */
static inline struct netlink_ext_ack *cbt_dump_extack(struct netlink_callback *cb)
{
	return cb->extack;
}

/* Open mode for a read-only dm_get_device(): blk_mode_t since 6.5. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define CBT_OPEN_READ BLK_OPEN_READ
#define CBT_OPEN_RW (BLK_OPEN_READ | BLK_OPEN_WRITE)
#else
#define CBT_OPEN_READ FMODE_READ
#define CBT_OPEN_RW (FMODE_READ | FMODE_WRITE)
#endif

/*
 * A plain (not exclusive) read-only open of a block device: it keeps a
 * device-mapper device from being removed, whatever else has it claimed
 * (a mounted filesystem), where dm_get_device() would claim it and fail.
 * bdev_file_open_by_dev() since 6.9, bdev_open_by_dev() in 6.8, holder
 * arguments since 6.5.
 */
struct cbt_bdev_ref {
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	struct file *file;
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	struct bdev_handle *handle;
#else
	struct block_device *bdev;
#endif
};

static inline int cbt_bdev_open(dev_t dev, struct cbt_bdev_ref *ref)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	ref->file = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	return PTR_ERR_OR_ZERO(ref->file);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	ref->handle = bdev_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	return PTR_ERR_OR_ZERO(ref->handle);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	ref->bdev = blkdev_get_by_dev(dev, BLK_OPEN_READ, NULL, NULL);
	return PTR_ERR_OR_ZERO(ref->bdev);
#else
	ref->bdev = blkdev_get_by_dev(dev, FMODE_READ, NULL);
	return PTR_ERR_OR_ZERO(ref->bdev);
#endif
}

static inline void cbt_bdev_close(struct cbt_bdev_ref *ref)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	fput(ref->file);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	bdev_release(ref->handle);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	blkdev_put(ref->bdev, NULL);
#else
	blkdev_put(ref->bdev, FMODE_READ);
#endif
}

/* Filesystem freeze of a block device: bdev_freeze() since 6.8. */
static inline int cbt_freeze_bdev(struct block_device *bdev)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return bdev_freeze(bdev);
#else
	return freeze_bdev(bdev);
#endif
}

static inline void cbt_thaw_bdev(struct block_device *bdev)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	bdev_thaw(bdev);
#else
	thaw_bdev(bdev);
#endif
}

/*
 * Does the dm device count every write and discard in its disk stats?
 * Up to 6.10 dm accounts every bio it maps whatever the queue's iostats
 * flag says; from 6.11 iostats is a queue limits feature (BLK_FEAT_IO_STAT)
 * and an off switch stops the counting. Used by dm-cbt-history.c.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
static inline bool cbt_dm_counts_io(struct mapped_device *md)
{
	return blk_queue_io_stat(dm_disk(md)->queue);
}
#else
static inline bool cbt_dm_counts_io(struct mapped_device *md)
{
	return true;
}
#endif

#endif /* DM_CBT_COMPAT_H */
