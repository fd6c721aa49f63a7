/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `cbt migrate' (docs/migrate.md): the plan that moves a whole disk onto
 * another one. Read from the source's partition table (libfdisk), with
 * the identifiers kept (disk GUID or MBR id, each partition's number,
 * GUID, type, name and attributes); one partition (the last one, or
 * --grow's) takes the difference in size, the partitions after it move
 * by the same amount, so every partition keeps its place relative to the
 * ones before it and the disk's free tail keeps its size. Each partition
 * gets the method its use calls for (enum mig_method). Nothing here
 * writes: run.c carries a plan out.
 */
#ifndef CBT_MIGRATE_PLAN_H
#define CBT_MIGRATE_PLAN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum mig_method {
	MIG_COPY,	/* not in use: copied as it is */
	MIG_TRACKED,	/* under a cbt device: the clone engine, live */
	MIG_FROZEN,	/* mounted, the filesystem can freeze: copied frozen */
	MIG_RECHECK,	/* mounted, no freeze: copied, then re-read until it agrees */
	MIG_SWAP,	/* swap: made anew with its UUID and label */
	MIG_LVM,	/* an LVM PV: its metadata, then each LV by its own method (lvm.h) */
};

const char *mig_method_str(enum mig_method m);

/* Partition alignment of a partition that moves or changes size: 1 MiB. */
#define MIG_ALIGN_BYTES (1024 * 1024)

struct mig_pv;

struct mig_part {
	size_t partno;			/* 0-based, as libfdisk counts */
	uint64_t start, size;		/* on the source, in sectors */
	uint64_t new_start, new_size;	/* on the target */
	char type[64];			/* GPT type GUID, or MBR type "0x83" */
	char uuid[40], name[80], attrs[128];
	bool bootable;			/* MBR active flag */
	char src[64], tgt[64];		/* /dev/ paths of the partitions */
	dev_t src_dev;
	char fstype[32], fsuuid[40], fslabel[80];
	enum mig_method method;
	char cbt[128];			/* MIG_TRACKED: the cbt device on it */
	char held_by[NAME_MAX + 1];	/* another device built on it ("dm-3"), or "" */
	char mnt[PATH_MAX];		/* MIG_FROZEN, MIG_RECHECK: where it is mounted */
	uint64_t copy_bytes;		/* what the copy reads (at most) */
	bool biosboot;			/* the BIOS boot partition (GRUB's core image) */
	struct mig_pv *pv;		/* MIG_LVM: the PV's layout (lvm.h) */
};

/* A tracked device's lock, taken by mig_plan_lock(). */
struct mig_lock {
	char cbt[128];			/* the cbt device */
	dev_t dev;			/* its device number */
	int fd;				/* cbt_device_lock(); -1 once handed to its clone */
};

struct mig_plan {
	char src[64], tgt[64];
	char label[8];			/* "gpt" or "dos" */
	char disk_id[64];
	uint32_t sector;		/* logical sector size */
	uint64_t src_sectors, tgt_sectors;
	uint64_t src_last, tgt_last;	/* last usable sector of each */
	uint64_t first_start;		/* the first partition's start: the gap before it */
	int64_t shift;			/* sectors the grown partition gains (negative: loses) */
	size_t grow;			/* index into p[] of the partition that takes the change */
	struct mig_part *p;
	size_t n;
	uint64_t copy_bytes;
	/* The target already holds this source's table (same disk id): an earlier run's. */
	bool again;
	struct mig_lock *locks;		/* mig_plan_lock() */
	size_t nlocks;
};

/*
 * The new layout of @pl (sources' geometry, p[] sorted by start, and
 * tgt_sectors filled): shift, new_start, new_size. @grow_partno: the
 * 1-based number of the partition that takes the change, 0 for the last
 * one. -EINVAL (no such partition), -ENOSPC (the target cannot hold the
 * layout: the partition would vanish) with a detail.
 */
int mig_layout(struct mig_plan *pl, unsigned int grow_partno);

/*
 * Read SOURCE's table, probe each partition (filesystem, mounts, cbt
 * devices on it), and lay it out on @tgt (opened O_EXCL for the check:
 * -EBUSY when something holds it). A target holding a partition table or
 * a filesystem is refused (-EEXIST) unless @force or the table is this
 * source's (an earlier run: @pl->again). Checks that every partition that
 * must shrink can (mig_check_shrink()), and that every tracked partition
 * or LV can be cloned now (cbt_clone_check_source(), the clone's state
 * files in @state_dir). Writes nothing.
 */
int mig_plan_build(struct mig_plan *pl, const char *src, const char *tgt,
		   unsigned int grow_partno, bool force, const char *state_dir);
/* Frees @pl and closes the locks it still holds. */
void mig_plan_free(struct mig_plan *pl);

/*
 * Before anything is written: take the device lock (cbt_device_lock(),
 * the one `cbt backup', `cbt clone', `cbt serve' and a libcbt snapshot
 * hold) of every tracked partition's or LV's cbt device, in the plan's
 * order, then check each again under it as mig_plan_build() did (a backup
 * that started since the plan has its snapshot attached or its epoch
 * closed). Each lock is held until its clone takes it over
 * (mig_plan_take_lock()), or the plan is freed. A lock another run holds:
 * -EBUSY with its message, prefixed with the partition (and LV).
 */
int mig_plan_lock(struct mig_plan *pl, const char *state_dir);
/*
 * The lock mig_plan_lock() took for cbt device @cbt, handed over (the
 * caller closes it; @dev gets the device's number), or -1 when there is
 * none.
 */
int mig_plan_take_lock(struct mig_plan *pl, const char *cbt, dev_t *dev);

/*
 * The error (-EOPNOTSUPP, with what to do) for partition @p, which must
 * shrink, when the kernel has no dm-zero target (mig_plan_build() checks
 * it before anything is written).
 */
int mig_no_dm_zero(const struct mig_part *p);

/*
 * Whether the filesystem on @part (@fstype, @bytes long) can lose
 * everything past @new_bytes: ext2/3/4 when no block it uses lies there
 * (its block bitmaps; the superblock backups of groups that go do not
 * count: resize2fs drops them), xfs never. @live: mounted and written (a
 * forecast: cbt_fs_ext_shrink_check()). -ENOSPC or -EOPNOTSUPP with the
 * reason.
 */
int mig_check_shrink(const char *part, const char *fstype, uint64_t bytes, uint64_t new_bytes,
		     bool live);

/*
 * The temporary device-mapper device partition @p is written through: for
 * a shrink ("cbt-migrate-<partition>", @lv NULL) or for LV @lv
 * ("cbt-migrate-<partition>-<lv>"). snprintf()'s result.
 */
struct mig_lv;
int mig_dm_name(const struct mig_part *p, const struct mig_lv *lv, char *name, size_t len);

/*
 * The devices built on @dev (its holders in sysfs): @cbt gets the cbt
 * device among them (one of @infos), @other the name of the first other
 * one ("dm-3"); each "" when there is none.
 */
struct cbt_dev_info;
void mig_holders(dev_t dev, const struct cbt_dev_info *infos, size_t nr, char *cbt, size_t clen,
		 char *other, size_t olen);
/*
 * Call @fn for each holder of @dev in sysfs (its name, "dm-3", and its
 * device number, 0 when unreadable) until one returns nonzero: that.
 */
int mig_each_holder(dev_t dev, int (*fn)(void *arg, const char *name, dev_t hdev), void *arg);
/* Where @dev is mounted (the first mount), or false. */
bool mig_mount_point(dev_t dev, char *out, size_t len);

#endif /* CBT_MIGRATE_PLAN_H */
