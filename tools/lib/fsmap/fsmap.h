/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which tracking blocks of a device a filesystem uses, so a full image or
 * a `clone --used-only' can leave free space out: the one source of truth
 * for both.
 *
 * - ext2/3/4 through libext2fs (fsmap/ext.c): the block bitmaps, which
 *   cover the metadata (superblocks, group descriptors, bitmaps, inode
 *   tables, the journal) as well. Refused when the journal needs recovery:
 *   the bitmaps on disk may then be stale. A freeze writes them out and
 *   clears that flag, so a frozen snapshot always qualifies.
 * - XFS: the free-space B+trees of the allocation groups (fsmap/xfs.c).
 *
 * Each filesystem is one file behind the probe table of fsmap.c (fsmap/fs.h).
 *   XFS has no "needs recovery" flag on disk, so they are trusted only
 *   when the snapshot was taken with the mounted filesystem frozen (a
 *   freeze pushes every logged change to its place on disk).
 *
 * Anything else, or a filesystem that fails a check: -EOPNOTSUPP with a
 * reason, and the caller keeps every (non-zero) block instead.
 */
#ifndef CBT_FSMAP_H
#define CBT_FSMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/extents.h"

/*
 * Fill @out with the tracking blocks (of @block_size bytes, @dev_bytes in
 * all) that hold any block the filesystem on @path uses, the first 64 KiB
 * (boot sectors, the superblock) and anything past the filesystem's end.
 * @frozen: a filesystem was mounted on the device and frozen at the
 * snapshot's instant. -EOPNOTSUPP (and @why) when the filesystem's own
 * map cannot be used; other -errno on failure. @out is empty on error.
 */
int cbt_fs_used_blocks(const char *path, uint64_t dev_bytes, uint32_t block_size, bool frozen,
		       struct cbt_extents *out, const char **why);

/*
 * Whether the ext2/3/4 filesystem on @path could shrink to @new_bytes:
 * no block its bitmaps mark in use lies past that, but the superblock and
 * group descriptor backups of the block groups resize2fs would drop.
 * 0; -ENOSPC with @first_used (the byte offset of the first such block);
 * -EOPNOTSUPP with @why. @live: the filesystem is mounted and written;
 * its bitmaps on disk may lag the journal or be caught mid-write, so
 * checksum errors are ignored and the answer is a forecast, to be checked
 * again (not @live) on a frozen copy.
 */
int cbt_fs_ext_shrink_check(const char *path, uint64_t new_bytes, bool live, uint64_t *first_used,
			    const char **why);

#endif /* CBT_FSMAP_H */
