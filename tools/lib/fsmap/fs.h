/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The filesystems' side of fsmap.h: one file per filesystem (ext.c,
 * xfs.c), each giving a struct cbt_fs_type that fsmap.c's probe table
 * lists in the order they are tried. Another filesystem (btrfs) is one
 * more file and one more line in that table.
 */
#ifndef CBT_FSMAP_FS_H
#define CBT_FSMAP_FS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/extents.h"

struct cbt_fs_type {
	/*
	 * Add to @out the tracking blocks the filesystem on @path uses (as
	 * cbt_fs_used_blocks() says). -ENODATA: not this filesystem, try the
	 * next; -EOPNOTSUPP with @why: this filesystem, but its map cannot be
	 * trusted; other -errno: failure.
	 */
	int (*used_blocks)(const char *path, uint64_t dev_bytes, uint32_t block_size, bool frozen,
			   struct cbt_extents *out, const char **why);
};

extern const struct cbt_fs_type cbt_fs_ext;
extern const struct cbt_fs_type cbt_fs_xfs;

/* Append tracking blocks [first, last], clipped to what is there already. */
static inline int cbt_fs_add(struct cbt_extents *out, uint64_t first, uint64_t last)
{
	uint64_t end = cbt_extents_end(out);

	if (out->nr && last < end)
		return 0;
	if (out->nr && first < end)
		first = end;
	return cbt_extents_append(out, first, last - first + 1);
}

/* Called with each free extent, in increasing order, in bytes. */
typedef int (*cbt_fs_extent_fn)(void *data, uint64_t offset, uint64_t len);

/*
 * The free extents of the XFS on @fd (@dev_bytes long); @fs_bytes gets the
 * filesystem's size. -ENODATA: no XFS superblock; -EUCLEAN: a structure
 * failed a check; -EIO; or what @on_free returned.
 */
int cbt_xfs_free_space(int fd, uint64_t dev_bytes, uint64_t *fs_bytes, cbt_fs_extent_fn on_free,
		       void *data);

#endif /* CBT_FSMAP_FS_H */
