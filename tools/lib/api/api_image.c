// SPDX-License-Identifier: GPL-2.0
/* libcbt: writing an image from a snapshot (backup_core.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/dm-cbt.h>

#include "api/api.h"
#include "api/api_device.h"
#include "api/api_snapshot.h"
#include "backup/job.h"
#include "util/util.h"

/* @dev's member of @snap, or NULL. */
static const struct cbt_snap *member_of(const struct cbt_snapshot *snap, const char *name)
{
	for (size_t i = 0; snap && i < snap->n; i++)
		if (!strcmp(snap->v[i].cbt_name, name))
			return &snap->v[i];
	return NULL;
}

static int check_args(const struct cbt_device *dev, const struct cbt_snap *s, uint32_t type,
		      const struct cbt_extent_iter *blocks, const char *dir, int fd)
{
	if (type < CBT_IMAGE_FULL || type > CBT_IMAGE_DIFFERENTIAL)
		return cbt_err(-EINVAL, "image type %u is none of full, incremental, differential",
			       type);
	if (!s)
		return cbt_err(-EINVAL, "the snapshot has no member for %s", dev->name);
	if (cbt_uuid_is_zero(s->uuid) || !s->epoch)
		return cbt_err(-EINVAL, "the snapshot of %s was found, not taken by this process:"
			       " its tracking identity at the instant is not known; drop it and"
			       " take a new one", dev->name);
	if (!dir && (type != CBT_IMAGE_FULL || fd < 0))
		return cbt_err(-EINVAL, "without a chain directory, only a full image to an open"
			       " file descriptor");
	if (type != CBT_IMAGE_FULL && !blocks)
		return cbt_err(-EINVAL, "an %s image needs the changed blocks (cbt_device_changes())",
			       cbt_img_type_name(type));
	if (type != CBT_IMAGE_FULL &&
	    (!blocks->device_changes || memcmp(blocks->dev_uuid, s->uuid, 16) ||
	     blocks->epoch_last != s->epoch || blocks->epoch_first > s->epoch))
		return cbt_err(-EINVAL, "an %s image needs the changes of the snapshot's epoch %llu"
			       " of %s under its tracking identity, from cbt_device_changes();"
			       " this block set is another", cbt_img_type_name(type),
			       (unsigned long long)s->epoch, dev->name);
	if (type == CBT_IMAGE_FULL && blocks && blocks->device_changes)
		return cbt_err(-EINVAL, "a full image of the changed blocks only would restore"
			       " zeros everywhere else: pass no block set for a full image");
	if (blocks && blocks->block_size != s->block_size)
		return cbt_err(-EINVAL, "the block set is of %u-byte blocks, the device tracks %u",
			       blocks->block_size, s->block_size);
	return 0;
}

static void fill_info(const struct cbt_backup_result *res, struct cbt_image_info *info)
{
	const char *slash = strrchr(res->file, '/'), *name = slash ? slash + 1 : res->file;
	/* the tool's own names (NNNNNN-incr.cbti) are far shorter */
	size_t len = strnlen(name, sizeof(info->file) - 1);

	memset(info, 0, sizeof(*info));
	info->type = res->h.type;
	memcpy(info->file, name, len);
	memcpy(info->uuid, res->h.uuid, 16);
	memcpy(info->parent, res->h.parent, 16);
	memcpy(info->base, res->h.base, 16);
	memcpy(info->dev_uuid, res->h.dev_uuid, 16);
	info->epoch_first = res->h.epoch_first;
	info->epoch_last = res->h.epoch_last;
	info->created_ns = res->h.created_ns;
	info->dev_bytes = res->h.dev_bytes;
	info->block_size = res->h.block_size;
	info->blocks = res->blocks;
	info->stored_bytes = res->stored_bytes;
}

int cbt_image_write(struct cbt_device *dev, const struct cbt_snapshot *snap, uint32_t type,
		    struct cbt_extent_iter *blocks, const char *dir, int fd,
		    struct cbt_image_info *info, struct cbt_error *err)
{
	struct cbt_backup_req req = { .type = type, .compression = CBT_IMG_COMP_ZSTD, .level = 3,
				      .dir = dir, .out_fd = dir ? -1 : fd,
				      .out_name = "the image's file descriptor" };
	struct cbt_backup_result res;
	const struct cbt_snap *s;
	struct cbt_dev_info di;
	int src, ret;

	cbt_api_begin();
	if (!dev || !snap)
		return cbt_api_fail(err, -EINVAL, "no %s handle", dev ? "snapshot" : "device");
	s = member_of(snap, dev->name);
	ret = check_args(dev, s, type, blocks, dir, fd);
	if (ret)
		return cbt_api_end(err, ret);
	memcpy(req.dev_uuid, s->uuid, 16);
	req.dev_bytes = s->sectors * 512;
	req.block_size = s->block_size;
	req.epoch = s->epoch;
	if (type == CBT_IMAGE_FULL) {
		req.full_mode = blocks ? CBT_FULL_FS : CBT_FULL_NONZERO;
		req.fs_used = blocks ? &blocks->ext : NULL;
	} else {
		req.changed = &blocks->ext;
	}
	/* After the snapshot: an epoch committed outside the chain shows here. */
	ret = cbt_api_device_info(dev, &di);
	if (ret)
		return cbt_api_end(err, ret);
	req.last_committed = di.last_committed;
	if (type != CBT_IMAGE_FULL)
		ret = cbt_backup_check_readers(&di, s->epoch);
	cbt_dev_info_free(&di);
	if (ret)
		return cbt_api_end(err, ret);

	src = open(s->snap_path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (src < 0 && errno == EINVAL)
		src = open(s->snap_path, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return cbt_api_fail(err, -errno, "%s: %s", s->snap_path, strerror(errno));
	ret = cbt_backup_run(&req, src, &res);
	close(src);
	if (!ret && info)
		fill_info(&res, info);
	return cbt_api_end(err, ret);
}
