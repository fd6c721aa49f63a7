// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include <ext2fs/ext2fs.h>

#include "fsmap.h"
#include "util.h"

static int add(struct cbt_extents *out, uint64_t first, uint64_t last)
{
	uint64_t end = cbt_extents_end(out);

	if (out->nr && last < end)
		return 0;
	if (out->nr && first < end)
		first = end;
	return cbt_extents_append(out, first, last - first + 1);
}

int cbt_fs_used_blocks(const char *path, uint64_t dev_bytes, uint32_t block_size,
		       struct cbt_extents *out, const char **why)
{
	ext2_filsys fs = NULL;
	errcode_t err;
	uint64_t nr_tracking = (dev_bytes + block_size - 1) / block_size;
	int ret = 0;

	*why = NULL;
	cbt_extents_init(out);
	err = ext2fs_open(path, EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS, 0, 0,
			  unix_io_manager, &fs);
	if (err) {
		*why = "no ext2/3/4 filesystem";
		return -EOPNOTSUPP;
	}
	if (ext2fs_has_feature_journal_needs_recovery(fs->super)) {
		*why = "the ext4 journal needs recovery (take the snapshot with --freeze)";
		ret = -EOPNOTSUPP;
		goto out;
	}
	err = ext2fs_read_block_bitmap(fs);
	if (err) {
		*why = "the ext4 block bitmaps cannot be read";
		ret = -EOPNOTSUPP;
		goto out;
	}
	uint64_t fsb = fs->blocksize, nblocks = ext2fs_blocks_count(fs->super);
	blk64_t b = fs->super->s_first_data_block, endb = nblocks - 1, found;

	/* The start of the device (boot sectors, primary superblock). */
	ret = add(out, 0, (65536 + block_size - 1) / block_size - 1);
	while (!ret && b <= endb) {
		blk64_t next_free;

		if (ext2fs_find_first_set_block_bitmap2(fs->block_map, b, endb, &found))
			break;
		if (ext2fs_find_first_zero_block_bitmap2(fs->block_map, found, endb, &next_free))
			next_free = endb + 1;
		ret = add(out, found * fsb / block_size, (next_free * fsb - 1) / block_size);
		b = next_free;
	}
	/* Past the filesystem's end the device is not the filesystem's: keep it. */
	if (!ret && nblocks * fsb < dev_bytes)
		ret = add(out, nblocks * fsb / block_size, nr_tracking - 1);
	while (!ret && out->nr && cbt_extents_end(out) > nr_tracking) {
		struct cbt_range *l = &out->v[out->nr - 1];

		if (l->start >= nr_tracking) {
			out->nr--;
		} else {
			l->len = nr_tracking - l->start;
		}
	}
out:
	ext2fs_close_free(&fs);
	if (ret && ret != -EOPNOTSUPP)
		cbt_extents_free(out);
	return ret;
}
