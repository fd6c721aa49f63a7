// SPDX-License-Identifier: GPL-2.0
/* The probe table: each filesystem's file says whether the device holds it (fsmap/fs.h). */
#include <errno.h>

#include "fsmap/fs.h"
#include "fsmap/fsmap.h"
#include "util/util.h"

/* Tried in this order; the first that does not say -ENODATA answers. */
static const struct cbt_fs_type *const fs_types[] = {
	&cbt_fs_ext,
	&cbt_fs_xfs,
};

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
	ret = cbt_fs_add(out, 0, (65536 + block_size - 1) / block_size - 1);
	if (!ret) {
		ret = -ENODATA;
		for (size_t i = 0; ret == -ENODATA && i < ARRAY_SIZE(fs_types); i++)
			ret = fs_types[i]->used_blocks(path, dev_bytes, block_size, frozen, out, why);
		if (ret == -ENODATA) {
			*why = "no ext2/3/4 or xfs filesystem";
			ret = -EOPNOTSUPP;
		}
	}
	if (!ret)
		clip(out, nr_tracking);
	else
		cbt_extents_free(out);
	return ret;
}
