// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

#include "fsmap/fsmap.h"
#include "util/util.h"

/* Append tracking blocks [first, last], clipped to what is there already. */
static int add(struct cbt_extents *out, uint64_t first, uint64_t last)
{
	uint64_t end = cbt_extents_end(out);

	if (out->nr && last < end)
		return 0;
	if (out->nr && first < end)
		first = end;
	return cbt_extents_append(out, first, last - first + 1);
}

/* Drop what lies past the device's last tracking block. */
static void clip(struct cbt_extents *out, uint64_t nr_tracking)
{
	while (out->nr && cbt_extents_end(out) > nr_tracking) {
		struct cbt_range *l = &out->v[out->nr - 1];

		if (l->start >= nr_tracking)
			out->nr--;
		else
			l->len = nr_tracking - l->start;
	}
}

/* The used bytes are the gaps between free extents. */
struct xfs_used {
	struct cbt_extents *out;
	uint32_t block_size;
	uint64_t used_from;	/* the byte after the last free extent */
};

static int xfs_used_gap(void *data, uint64_t offset, uint64_t len)
{
	struct xfs_used *u = data;
	int ret = 0;

	if (offset > u->used_from)
		ret = add(u->out, u->used_from / u->block_size, (offset - 1) / u->block_size);
	u->used_from = offset + len;
	return ret;
}

static int xfs_used_blocks(const char *path, uint64_t dev_bytes, uint32_t block_size,
			   bool frozen, struct cbt_extents *out, const char **why)
{
	struct xfs_used u = { .out = out, .block_size = block_size };
	uint64_t fs_bytes;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = cbt_xfs_free_space(fd, dev_bytes, &fs_bytes, xfs_used_gap, &u);
	close(fd);
	if (ret == -ENODATA) {
		*why = "no ext2/3/4 or xfs filesystem";
		return -EOPNOTSUPP;
	}
	if (!ret && !frozen) {
		*why = "an xfs filesystem that was not mounted and frozen at the snapshot (its log"
		       " may hold allocations its free-space trees do not show yet)";
		return -EOPNOTSUPP;
	}
	if (ret == -EUCLEAN || ret == -EIO) {
		*why = "the xfs free-space trees cannot be read or fail a check";
		return -EOPNOTSUPP;
	}
	if (ret)
		return ret;
	/* After the last free extent, to the device's end (past the fs too). */
	if (dev_bytes > u.used_from)
		ret = add(out, u.used_from / block_size, (dev_bytes - 1) / block_size);
	return ret;
}

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
		ret = add(out, found * fsb / block_size, (next_free * fsb - 1) / block_size);
		b = next_free;
	}
	/* Past the filesystem's end the device is not the filesystem's: keep it. */
	if (!ret && nblocks * fsb < dev_bytes)
		ret = add(out, nblocks * fsb / block_size, nr_tracking - 1);
out:
	ext2fs_close_free(&fs);
	return ret;
}

int cbt_fs_used_blocks(const char *path, uint64_t dev_bytes, uint32_t block_size, bool frozen,
		       struct cbt_extents *out, const char **why)
{
	uint64_t nr_tracking = (dev_bytes + block_size - 1) / block_size;
	int ret;

	*why = NULL;
	cbt_extents_init(out);
	if (!block_size || !nr_tracking)
		return -EINVAL;
	/* The start of the device (boot sectors, the superblock), whatever the fs says. */
	ret = add(out, 0, (65536 + block_size - 1) / block_size - 1);
	if (!ret) {
		ret = ext4_used_blocks(path, dev_bytes, block_size, frozen, out, why);
		if (ret == -ENODATA)
			ret = xfs_used_blocks(path, dev_bytes, block_size, frozen, out, why);
	}
	if (!ret)
		clip(out, nr_tracking);
	else
		cbt_extents_free(out);
	return ret;
}
