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

/*
 * Kernels after 6.12, audited against upstream (none is tested here, so
 * each difference is spelled out, never guessed at run time):
 * - crc32c(): declared in <linux/crc32.h> since 6.14, when lib/libcrc32c
 *   (module libcrc32c, <linux/crc32c.h>) became part of the crc32 library
 *   (Eric Biggers' "lib/crc32: standardize on crc32c() name for
 *   Castagnoli CRC32" series). The module names no module dependency
 *   itself (modpost records libcrc32c or crc32 from the symbol), so
 *   Kbuild and dkms.conf need no change. The #if is in
 *   dm-cbt-compat-crc32c.h, which dm-cbt-format.c (built alone by KUnit)
 *   includes.
 * - alloc_workqueue(): WQ_PERCPU since 6.17 ("workqueue: Add new
 *   WQ_PERCPU flag"), ahead of unbound becoming the default: say per-CPU
 *   explicitly where it exists, so the commit worker keeps its behaviour.
 * - Not used by this module, so nothing to do: MODULE_IMPORT_NS() (a
 *   string since 6.13), the target type's prepare_ioctl (new signature in
 *   6.16), del_timer() (timer_delete() since 6.15), timers in general.
 */
#include "dm-cbt-compat-crc32c.h"

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#ifndef WQ_PERCPU
#error "6.17 and later should have WQ_PERCPU: check the workqueue flags"
#endif
#define CBT_WQ_PERCPU WQ_PERCPU
#else
#define CBT_WQ_PERCPU 0
#endif

/* Attributes of a dump request: genl_info_dump() replaced ->attrs in 6.4. */
static inline struct nlattr **cbt_dump_attrs(struct netlink_callback *cb)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	return genl_info_dump(cb)->attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

/* pre_doit's ops argument: struct genl_split_ops since 6.2. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define CBT_GENL_DOIT_OPS struct genl_split_ops
#else
#define CBT_GENL_DOIT_OPS struct genl_ops
#endif

/*
 * Multicast groups limited to CAP_SYS_ADMIN: GENL_MCAST_CAP_SYS_ADMIN
 * (6.7, backported to 6.1.y and 6.6.y). Without it any local user could
 * read every device's events, and genetlink has no other per-group check:
 * refuse to build rather than leak.
 */
#ifndef GENL_MCAST_CAP_SYS_ADMIN
#error "this kernel lacks GENL_MCAST_CAP_SYS_ADMIN: the events group would be open to every user"
#endif

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

/* The block device a cbt_bdev_ref holds open. */
static inline struct block_device *cbt_bdev_of(struct cbt_bdev_ref *ref)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	return file_bdev(ref->file);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	return ref->handle->bdev;
#else
	return ref->bdev;
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
