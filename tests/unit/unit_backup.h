/* SPDX-License-Identifier: GPL-2.0 */
/* Chains for the tests that read them (test_image, test_libcbt), without a kernel. */
#ifndef CBT_UNIT_BACKUP_H
#define CBT_UNIT_BACKUP_H

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "backup/engine.h"

/*
 * What `cbt backup' writes into chain @dir, read from file @devpath (a
 * device of @dev_bytes in @bs-byte blocks under identity @uuid): an image
 * of @type for @epoch, @changed the epoch's blocks; zstd level 1.
 */
static inline int unit_backup(const char *dir, const char *devpath, uint64_t dev_bytes,
			      uint32_t bs, const uint8_t uuid[16], uint32_t type, uint64_t epoch,
			      const struct cbt_extents *changed)
{
	struct cbt_backup_req req = { .type = type, .dev_bytes = dev_bytes, .block_size = bs,
				      .epoch = epoch, .compression = CBT_IMG_COMP_ZSTD, .level = 1,
				      .dir = dir, .threads = 2, .out_fd = -1, .changed = changed };
	struct cbt_backup_result res;
	int src = open(devpath, O_RDONLY), ret;

	memcpy(req.dev_uuid, uuid, 16);
	ret = cbt_backup_run(&req, src, &res);
	if (src >= 0)
		close(src);
	return ret;
}

#endif /* CBT_UNIT_BACKUP_H */
