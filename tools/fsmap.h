/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which tracking blocks of a device a filesystem uses, so a full image can
 * leave free space out. ext2/3/4 through libext2fs (e2fslibs-dev): the
 * block bitmaps, which cover the metadata (superblocks, group descriptors,
 * bitmaps, inode tables, the journal) as well. Other filesystems (xfs
 * among them) are not read: -EOPNOTSUPP, and the caller falls back to
 * leaving out all-zero blocks.
 */
#ifndef CBT_FSMAP_H
#define CBT_FSMAP_H

#include <stdint.h>

#include "extents.h"

/*
 * Fill @out with the tracking blocks (of @block_size bytes, @dev_bytes in
 * all) that hold any block the filesystem on @path uses, the first 64 KiB
 * (boot sectors, the superblock) and anything past the filesystem's end.
 * -EOPNOTSUPP when @path holds no ext2/3/4 filesystem, or one whose journal
 * needs recovery (its bitmaps on disk may be stale; @why says so).
 */
int cbt_fs_used_blocks(const char *path, uint64_t dev_bytes, uint32_t block_size,
		       struct cbt_extents *out, const char **why);

#endif /* CBT_FSMAP_H */
