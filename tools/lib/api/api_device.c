// SPDX-License-Identifier: GPL-2.0
/* libcbt: a cbt device through the kernel's dm_cbt family (device.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_device.h"
#include "util/util.h"

int cbt_device_open(const char *device, struct cbt_device **devp, struct cbt_error *err)
{
	struct cbt_device *dev;
	struct cbt_dev_info info;
	int ret;

	cbt_api_begin();
	if (!device || !devp)
		return cbt_api_fail(err, -EINVAL, "no device named");
	*devp = NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return cbt_api_end(err, -ENOMEM);
	/* GET_DEVICE now, so that a wrong name fails here rather than at the first use. */
	ret = cbt_dev_lookup(device, &dev->nl, &dev->sel, &info);
	if (ret) {
		cbt_device_close(dev);
		return cbt_api_end(err, ret);
	}
	snprintf(dev->name, sizeof(dev->name), "%s", info.name);
	cbt_dev_info_free(&info);
	*devp = dev;
	return cbt_api_end(err, 0);
}

void cbt_device_close(struct cbt_device *dev)
{
	if (!dev)
		return;
	cbt_nl_close(dev->nl);
	free(dev);
}

static void fill_status(const struct cbt_dev_info *in, struct cbt_status *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", in->name);
	st->major = in->major;
	st->minor = in->minor;
	memcpy(st->uuid, in->uuid, sizeof(st->uuid));
	st->reason = in->identity_reason;
	st->persistence = in->persistence;
	st->block_size = in->block_size;
	st->nr_blocks = in->nr_blocks;
	st->dev_bytes = cbt_dev_bytes(in);
	st->bitmap_bytes = in->bitmap_bytes;
	st->metadata_errors = in->metadata_errors;
	st->epoch = in->epoch_current;
	st->last_committed = in->last_committed;
	/* cbt_parse_device() checked: sorted, the open one last */
	for (size_t i = 0; i < in->nr_epochs; i++) {
		const struct cbt_epoch_info *e = &in->epochs[i];

		if (e->state == CBT_EPOCH_OPEN) {
			st->epoch_blocks = e->bits;
		} else if (st->nr_closed < CBT_STATUS_CLOSED_MAX) {
			st->closed[st->nr_closed] = e->number;
			st->closed_blocks[st->nr_closed++] = e->bits;
		}
	}
	if (in->snap.present) {
		st->snapshot_present = 1;
		st->snapshot_state = in->snap.state;
		st->snapshot_error = (int)in->snap.error;
		st->snapshot_epoch = in->snap.epoch;
		st->cow_used = in->snap.cow_used;
		st->cow_total = in->snap.cow_total;
	}
}

int cbt_api_device_info(struct cbt_device *dev, struct cbt_dev_info *info)
{
	if (!dev)
		return cbt_err(-EINVAL, "no device handle");
	return cbt_get_device(dev->nl, &dev->sel, info);
}

int cbt_device_status(struct cbt_device *dev, struct cbt_status *st, struct cbt_error *err)
{
	struct cbt_dev_info info;
	int ret;

	cbt_api_begin();
	ret = cbt_api_device_info(dev, &info);
	if (ret)
		return cbt_api_end(err, ret);
	fill_status(&info, st);
	cbt_dev_info_free(&info);
	return cbt_api_end(err, 0);
}

int cbt_device_epoch_close(struct cbt_device *dev, uint64_t *epoch, struct cbt_error *err)
{
	cbt_api_begin();
	if (!dev)
		return cbt_api_fail(err, -EINVAL, "no device handle");
	return cbt_api_end(err, cbt_epoch_close(dev->nl, &dev->sel, epoch));
}

int cbt_device_epoch_commit(struct cbt_device *dev, uint64_t epoch, struct cbt_error *err)
{
	cbt_api_begin();
	if (!dev)
		return cbt_api_fail(err, -EINVAL, "no device handle");
	return cbt_api_end(err, cbt_epoch_commit(dev->nl, &dev->sel, epoch));
}

int cbt_device_epoch_abort(struct cbt_device *dev, uint64_t epoch, struct cbt_error *err)
{
	cbt_api_begin();
	if (!dev)
		return cbt_api_fail(err, -EINVAL, "no device handle");
	return cbt_api_end(err, cbt_epoch_abort(dev->nl, &dev->sel, epoch));
}

static int collect(const struct cbt_range *v, size_t nr, void *data)
{
	for (size_t i = 0; i < nr; i++) {
		int ret = cbt_extents_append(data, v[i].start, v[i].len);

		if (ret)
			return ret;
	}
	return 0;
}

int cbt_api_device_changes(struct cbt_device *dev, const struct cbt_dev_info *info,
			   uint64_t first, uint64_t last, struct cbt_extents *ext)
{
	int ret;

	cbt_extents_init(ext);
	if (first > last)
		return cbt_err(-EINVAL, "%s: epochs %llu..%llu: the first is after the last",
			       dev->name, (unsigned long long)first, (unsigned long long)last);
	ret = cbt_read_bitmap(dev->nl, &dev->sel, info, first, last, collect, ext);
	if (ret)
		cbt_extents_free(ext);
	return ret;
}

int cbt_device_changes(struct cbt_device *dev, uint64_t first, uint64_t last,
		       struct cbt_extent_iter **it, struct cbt_error *err)
{
	struct cbt_dev_info info;
	struct cbt_extents ext;
	int ret;

	cbt_api_begin();
	*it = NULL;
	ret = cbt_api_device_info(dev, &info);
	if (ret)
		return cbt_api_end(err, ret);
	ret = cbt_api_device_changes(dev, &info, first, last, &ext);
	if (!ret)
		ret = cbt_api_iter_new(&ext, info.block_size, cbt_dev_bytes(&info), it);
	if (!ret) {
		(*it)->device_changes = true;
		memcpy((*it)->dev_uuid, info.uuid, 16);
		(*it)->epoch_first = first;
		(*it)->epoch_last = last;
	}
	cbt_dev_info_free(&info);
	return cbt_api_end(err, ret);
}
