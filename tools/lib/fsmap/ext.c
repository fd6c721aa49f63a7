// SPDX-License-Identifier: GPL-2.0
/* ext2/3/4 through libext2fs, for fsmap.c's probe table (fsmap/fs.h). */
#include <errno.h>

#include <ext2fs/ext2fs.h>

#include "fsmap/fs.h"
#include "fsmap/fsmap.h"

/* A checksum error of ext2fs_open(): an ext2/3/4 filesystem that is damaged, not none. */
static bool ext4_csum_error(errcode_t err)
{
	return err == EXT2_ET_SB_CSUM_INVALID || err == EXT2_ET_UNKNOWN_CSUM ||
	       err == EXT2_ET_BLOCK_BITMAP_CSUM_INVALID;
}

/*
 * The blocks an ext2/3/4 filesystem uses, from its block bitmaps; checksums
 * are checked (metadata_csum): a bitmap failing its checksum may leave out
 * blocks in use, which would restore as zeros, so the caller falls back to
 * the non-zero blocks. So it does for a journal-less (ext2) filesystem that
 * is mounted and was not frozen: nothing then says its bitmaps on disk are
 * current.
 */
static int ext4_used_blocks(const char *path, uint64_t dev_bytes, uint32_t block_size,
			    bool frozen, struct cbt_extents *out, const char **why)
{
	ext2_filsys fs = NULL;
	errcode_t err;
	uint64_t nr_tracking = (dev_bytes + block_size - 1) / block_size;
	int ret = 0;

	err = ext2fs_open(path, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
	if (err && ext4_csum_error(err)) {
		*why = "the ext4 superblock fails its checksum";
		return -EOPNOTSUPP;
	}
	if (err)
		return -ENODATA;
	if (ext2fs_has_feature_journal_needs_recovery(fs->super)) {
		*why = "the ext4 journal needs recovery (take the snapshot with --freeze)";
		ret = -EOPNOTSUPP;
		goto out;
	}
	if (!ext2fs_has_feature_journal(fs->super) && !frozen &&
	    !(fs->super->s_state & EXT2_VALID_FS)) {
		*why = "an ext2 filesystem (no journal) in use and not frozen at the snapshot";
		ret = -EOPNOTSUPP;
		goto out;
	}
	err = ext2fs_read_block_bitmap(fs);
	if (err) {
		*why = err == EXT2_ET_BLOCK_BITMAP_CSUM_INVALID ?
		       "an ext4 block bitmap fails its checksum" :
		       "the ext4 block bitmaps cannot be read";
		ret = -EOPNOTSUPP;
		goto out;
	}
	uint64_t fsb = fs->blocksize, nblocks = ext2fs_blocks_count(fs->super);
	blk64_t b = fs->super->s_first_data_block, endb = nblocks - 1, found;

	while (!ret && b <= endb) {
		blk64_t next_free;

		if (ext2fs_find_first_set_block_bitmap2(fs->block_map, b, endb, &found))
			break;
		if (ext2fs_find_first_zero_block_bitmap2(fs->block_map, found, endb, &next_free))
			next_free = endb + 1;
		ret = cbt_fs_add(out, found * fsb / block_size, (next_free * fsb - 1) / block_size);
		b = next_free;
	}
	/* Past the filesystem's end the device is not the filesystem's: keep it. */
	if (!ret && nblocks * fsb < dev_bytes)
		ret = cbt_fs_add(out, nblocks * fsb / block_size, nr_tracking - 1);
out:
	ext2fs_close_free(&fs);
	return ret;
}

const struct cbt_fs_type cbt_fs_ext = { ext4_used_blocks };

int cbt_fs_ext_shrink_check(const char *path, uint64_t new_bytes, bool live, uint64_t *first_used,
			    const char **why)
{
	ext2_filsys fs = NULL;
	errcode_t err;
	int ret = 0;
	/* A bitmap being written as it is read fails its checksum: no forecast is exact. */
	int flags = EXT2_FLAG_64BITS | (live ? EXT2_FLAG_IGNORE_CSUM_ERRORS : 0);

	err = ext2fs_open(path, flags, 0, 0, unix_io_manager, &fs);
	if (err) {
		*why = "no ext2/3/4 filesystem that libext2fs can open";
		return -EOPNOTSUPP;
	}
	if (ext2fs_read_block_bitmap(fs)) {
		*why = "the ext4 block bitmaps cannot be read";
		ret = -EOPNOTSUPP;
		goto out;
	}
	uint64_t fsb = fs->blocksize, nblocks = ext2fs_blocks_count(fs->super);
	blk64_t keep = new_bytes / fsb, b, found;
	dgrp_t groups = (dgrp_t)((keep - fs->super->s_first_data_block +
				  EXT2_BLOCKS_PER_GROUP(fs->super) - 1) /
				 EXT2_BLOCKS_PER_GROUP(fs->super));

	/*
	 * The superblock and descriptor backups of the groups that go are
	 * resize2fs's to drop; any other block in use there stops it.
	 */
	for (b = keep; b < nblocks; b = found + 1) {
		dgrp_t g;
		blk64_t super = 0, old_desc = 0, new_desc = 0;
		blk_t used = 0;

		if (ext2fs_find_first_set_block_bitmap2(fs->block_map, b, nblocks - 1, &found))
			break;
		g = ext2fs_group_of_blk2(fs, found);
		if (g >= groups) {
			ext2fs_super_and_bgd_loc2(fs, g, &super, &old_desc, &new_desc, &used);
			if (used && found >= ext2fs_group_first_block2(fs, g) &&
			    found < ext2fs_group_first_block2(fs, g) + used)
				continue;
		}
		*first_used = found * fsb;
		ret = -ENOSPC;
		break;
	}
out:
	ext2fs_close_free(&fs);
	return ret;
}
