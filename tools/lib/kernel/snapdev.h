/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Point-in-time snapshots of cbt devices (docs/snapshot.md): attach a
 * read-only cbt-snap device over each cbt device with libdevmapper, then
 * take them all at one instant with CBT_CMD_SNAPSHOT, which also closes
 * each device's open epoch. `cbt snapshot' and `cbt backup' build on this.
 *
 * Before attaching, the COW device is checked in userspace, because the
 * kernel can only say "Invalid argument": it must not be the cbt device,
 * its origin or metadata device, on the origin's disk, stacked (directly
 * or through loop files) on any of them, mounted, or in use by another
 * device-mapper device.
 *
 * Errors are -errno with a detail (cbt_err()) naming the device and what
 * to do. libdevmapper's own messages go into that detail, not to stderr.
 */
#ifndef CBT_SNAP_H
#define CBT_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cbt_snap {
	char cbt_name[128];       /* dm name of the cbt device */
	char snap_name[128];      /* dm name of the snapshot device */
	char snap_path[4096];     /* /dev/mapper/<snap_name> */
	uint64_t epoch;           /* the epoch the snapshot closed */
	uint64_t sectors;         /* snapshot size */
	uint8_t uuid[16];         /* tracking identity (CBT_A_UUID) at the instant */
	uint32_t block_size;      /* tracking block size */
	uint64_t freeze_ns, hold_ns;
	dev_t cow;                /* its COW device, 0 if unknown */
};

struct cbt_snap_opts {
	const char *const *cows;  /* one COW device path per device */
	bool freeze;              /* CBT_A_FREEZE */
	uint32_t chunk_bytes;     /* 0: 4096 */
	bool force;               /* write over a COW device holding a signature */
	/*
	 * NULL, or per device the first epoch of its preserve set (0: none):
	 * only blocks of that epoch through the one the take closes are kept
	 * (CBT_A_SNAP_PRESERVE_FROM, docs/snapshot.md).
	 */
	const uint64_t *preserve_from;
};

/* Attach a read-only cbt-snap device to each cbt device (named like the
 * selectors `cbt status` takes) and take them all at one instant. On error
 * nothing is left behind (attached devices removed, no epoch closed). */
int cbt_snap_take(const char *const *devices, size_t n, const struct cbt_snap_opts *o, struct cbt_snap *out);
/*
 * Remove the snapshot device (frees its COW). Does not commit or abort.
 * The COW device's filesystem and other signatures (copies of the origin's
 * blocks can carry them) are then wiped, so the next take finds it blank.
 */
int cbt_snap_drop(struct cbt_snap *s);

/*
 * Tell the kernel the reader of @sel's snapshot is done with bytes
 * [@off, @off + @len) (CBT_CMD_SNAP_RELEASE): whole COW chunks inside
 * are no longer copied, their COW space is freed, and reading them fails.
 */
struct cbt_nl;
struct cbt_devsel;
int cbt_snap_release(struct cbt_nl *nl, const struct cbt_devsel *sel, uint64_t off, uint64_t len);

/* Default COW chunk, and the bounds the cbt-snap target takes. */
#define CBT_SNAP_CHUNK_DEFAULT 4096U
#define CBT_SNAP_CHUNK_MIN 4096U
#define CBT_SNAP_CHUNK_MAX (1024U * 1024U)

/*
 * The snapshot device attached to cbt device @major:@minor, found among
 * the device-mapper devices by its cbt-snap table: fills @s's cbt_name,
 * snap_name, snap_path and sectors (the rest is zero; the kernel's status
 * of the cbt device has the epoch). -ENOENT when there is none.
 */
int cbt_snap_find(uint32_t major, uint32_t minor, struct cbt_snap *s);

/* Whether a filesystem is mounted on block device @major:@minor. */
bool cbt_dev_mounted(uint32_t major, uint32_t minor);

#endif /* CBT_SNAP_H */
