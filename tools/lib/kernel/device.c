// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libmnl/libmnl.h>

#include "kernel/device.h"
#include "util/util.h"

/* Name the device in the detail, and say what to do about the usual errors. */
static int dev_err(int err, const struct cbt_devsel *sel)
{
	char buf[CBT_NAME_MAX + 1];

	if (!err)
		return 0;
	if (sel)
		cbt_err_prefix(err, "%s", cbt_devsel_str(sel, buf));
	switch (err) {
	case -ENODEV:
		return cbt_err_hint(err, "`cbt status' lists the cbt devices");
	case -EPERM:
	case -EACCES:
		return cbt_err_hint(err, "cbt needs CAP_SYS_ADMIN: run it as root");
	}
	return err;
}

struct device_req {
	struct cbt_dev_info *info;
	uint32_t flags;		/* CBT_A_DEVICE_FLAGS sent */
};

static int device_cb(const struct nlmsghdr *nlh, void *data)
{
	struct device_req *d = data;

	if (d->info->epochs)	/* a doit has one reply */
		return cbt_err(-EPROTO, "bad reply from dm-cbt: two replies to one GET_DEVICE");
	return cbt_parse_device_flags(nlh, d->info, d->flags);
}

int cbt_get_device(struct cbt_nl *nl, const struct cbt_devsel *sel, struct cbt_dev_info *info)
{
	return cbt_get_device_flags(nl, sel, info, 0);
}

int cbt_get_device_flags(struct cbt_nl *nl, const struct cbt_devsel *sel, struct cbt_dev_info *info,
			 uint32_t flags)
{
	struct nlmsghdr *req = cbt_nl_request(nl, CBT_CMD_GET_DEVICE, false);
	struct device_req d = { .info = info };
	int ret;

	memset(info, 0, sizeof(*info));
	cbt_put_devsel(req, sel);
	/* A module that does not know the attribute would refuse the request. */
	if (flags && cbt_nl_has_attr(nl, CBT_A_DEVICE_FLAGS)) {
		d.flags = flags;
		mnl_attr_put_u32(req, CBT_A_DEVICE_FLAGS, flags);
	}
	ret = cbt_nl_exchange(nl, req, device_cb, &d);
	if (!ret && !info->epochs)
		ret = cbt_err(-EPROTO, "bad reply from dm-cbt: no answer to GET_DEVICE");
	if (ret)
		cbt_dev_info_free(info);
	return dev_err(ret, sel);
}

struct list {
	struct cbt_dev_info *v;
	size_t nr, cap;
};

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list *l = data;
	int ret;

	if (l->nr == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct cbt_dev_info *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	ret = cbt_parse_device(nlh, &l->v[l->nr]);
	if (!ret)
		l->nr++;
	return ret;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct cbt_dev_info *)a)->name, ((const struct cbt_dev_info *)b)->name);
}

void cbt_dev_infos_free(struct cbt_dev_info *infos, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		cbt_dev_info_free(&infos[i]);
	free(infos);
}

int cbt_list_devices(struct cbt_nl *nl, struct cbt_dev_info **infos, size_t *nr)
{
	struct list l = { 0 };
	int ret = cbt_nl_exchange(nl, cbt_nl_request(nl, CBT_CMD_GET_DEVICE, true), list_cb, &l);

	if (ret) {
		cbt_dev_infos_free(l.v, l.nr);
		*infos = NULL;
		*nr = 0;
		return dev_err(ret, NULL);
	}
	if (l.nr)
		qsort(l.v, l.nr, sizeof(*l.v), cmp_name);
	*infos = l.v;
	*nr = l.nr;
	return 0;
}

static int epoch_cb(const struct nlmsghdr *nlh, void *data)
{
	return cbt_parse_epoch_reply(nlh, data);
}

int cbt_epoch_close(struct cbt_nl *nl, const struct cbt_devsel *sel, uint64_t *closed)
{
	struct nlmsghdr *req = cbt_nl_request(nl, CBT_CMD_CLOSE_EPOCH, false);
	uint64_t n = UINT64_MAX;
	int ret;

	cbt_put_devsel(req, sel);
	ret = cbt_nl_exchange(nl, req, epoch_cb, &n);
	if (!ret && n == UINT64_MAX)
		ret = cbt_err(-EPROTO, "bad reply from dm-cbt: no epoch number in the answer to CLOSE_EPOCH");
	if (!ret)
		*closed = n;
	return dev_err(ret, sel);
}

static int epoch_end(struct cbt_nl *nl, uint8_t cmd, const struct cbt_devsel *sel, uint64_t epoch)
{
	struct nlmsghdr *req = cbt_nl_request(nl, cmd, false);

	cbt_put_epoch_req(req, sel, epoch);
	return dev_err(cbt_nl_exchange(nl, req, NULL, NULL), sel);
}

int cbt_epoch_commit(struct cbt_nl *nl, const struct cbt_devsel *sel, uint64_t epoch)
{
	return epoch_end(nl, CBT_CMD_COMMIT_EPOCH, sel, epoch);
}

int cbt_epoch_abort(struct cbt_nl *nl, const struct cbt_devsel *sel, uint64_t epoch)
{
	return epoch_end(nl, CBT_CMD_ABORT_EPOCH, sel, epoch);
}

struct bitmap_read {
	struct cbt_bitmap_reader r;
	cbt_extents_cb cb;
	void *data;
};

static int bitmap_cb(const struct nlmsghdr *nlh, void *data)
{
	struct bitmap_read *b = data;
	int ret = cbt_bitmap_parse_msg(&b->r, nlh);

	/* All but the last extent are settled: the next chunk may extend it. */
	if (!ret && b->r.ext.nr > 1)
		ret = b->cb(b->r.ext.v, b->r.ext.nr - 1, b->data);
	cbt_extents_keep_last(&b->r.ext);
	return ret;
}

/*
 * After a read of the bitmap of the device @info describes: -ESTALE when
 * its identity or size changed meanwhile.
 */
static int check_unchanged(struct cbt_nl *nl, const struct cbt_devsel *sel,
			   const struct cbt_dev_info *info)
{
	struct cbt_dev_info now;
	int ret;

	ret = cbt_get_device(nl, sel, &now);
	if (ret)
		return ret;
	if (memcmp(now.uuid, info->uuid, sizeof(now.uuid)) || now.dev_sectors != info->dev_sectors ||
	    now.block_size != info->block_size)
		ret = cbt_err(-ESTALE, "the device's tracking identity or size changed while its bitmap"
			      " was read; read it again (if the UUID changed, take a full image)");
	cbt_dev_info_free(&now);
	return dev_err(ret, sel);
}

/* The dump into @b (extents to b->cb, or counted), then the identity check. */
static int read_bitmap(struct cbt_nl *nl, const struct cbt_devsel *sel,
		       const struct cbt_dev_info *info, uint64_t first, uint64_t last,
		       struct bitmap_read *b)
{
	struct nlmsghdr *req = cbt_nl_request(nl, CBT_CMD_GET_BITMAP, true);
	int ret;

	cbt_put_bitmap_req(req, sel, first, last);
	ret = cbt_nl_exchange(nl, req, bitmap_cb, b);
	if (ret == -ESTALE)	/* from the kernel, mid-dump */
		cbt_err_hint(ret, "an epoch was committed or aborted while it was read");
	if (!ret && b->r.ext.nr)
		ret = b->cb(b->r.ext.v, b->r.ext.nr, b->data);
	if (ret)
		return dev_err(ret, sel);
	return check_unchanged(nl, sel, info);
}

int cbt_read_bitmap(struct cbt_nl *nl, const struct cbt_devsel *sel,
		    const struct cbt_dev_info *info, uint64_t first, uint64_t last,
		    cbt_extents_cb cb, void *data)
{
	struct bitmap_read b = { .cb = cb, .data = data };
	int ret;

	cbt_bitmap_reader_init(&b.r, first, info->block_size, info->nr_blocks);
	ret = read_bitmap(nl, sel, info, first, last, &b);
	cbt_bitmap_reader_free(&b.r);
	return ret;
}

struct count_reply {
	const struct cbt_dev_info *info;
	struct cbt_bitmap_count *count;
	bool got;
};

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	struct count_reply *c = data;

	c->got = true;
	return cbt_parse_count_reply(nlh, c->info, c->count);
}

int cbt_count_bitmap(struct cbt_nl *nl, const struct cbt_devsel *sel,
		     const struct cbt_dev_info *info, uint64_t first, uint64_t last,
		     struct cbt_bitmap_count *count)
{
	struct bitmap_read b = { 0 };
	int ret;

	memset(count, 0, sizeof(*count));
	if (cbt_nl_has_cmd(nl, CBT_CMD_COUNT_BITMAP)) {
		struct nlmsghdr *req = cbt_nl_request(nl, CBT_CMD_COUNT_BITMAP, false);
		struct count_reply c = { .info = info, .count = count };

		cbt_put_count_req(req, sel, first, last);
		ret = cbt_nl_exchange(nl, req, count_cb, &c);
		if (ret == -ESTALE && !c.got)	/* from the kernel, mid-count */
			cbt_err_hint(ret, "an epoch was committed or aborted while it was counted");
		if (!ret && !c.got)
			ret = cbt_err(-EPROTO, "bad reply from dm-cbt: no counts in the answer to"
				      " COUNT_BITMAP");
		/* The reply names the identity and size counted: no GET_DEVICE after. */
		return dev_err(ret, sel);
	}
	/* A module without the command: count the dump's words here. */
	cbt_bitmap_reader_init(&b.r, first, info->block_size, info->nr_blocks);
	b.r.count = count;
	ret = read_bitmap(nl, sel, info, first, last, &b);
	cbt_bitmap_reader_free(&b.r);
	return ret;
}

int cbt_device_lock(const struct cbt_dev_info *info)
{
	const char *dir = getenv("CBT_RUN_DIR") ? getenv("CBT_RUN_DIR") : "/run/cbt";
	char path[4096];
	int fd;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return cbt_err(-errno, "creating %s (for the device's lock file): %s", dir,
			       strerror(errno));
	snprintf(path, sizeof(path), "%s/%" PRIu32 ":%" PRIu32 ".lock", dir, info->major,
		 info->minor);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cbt_err(-errno, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno;

		close(fd);
		if (err == EWOULDBLOCK)
			/*
			 * Every holder named: a backup refused beside `cbt serve`
			 * must not send the admin looking for a backup.
			 */
			return cbt_err(-EBUSY, "another cbt backup, clone or serve of %s is running,"
				       " or a program holds its snapshot through libcbt (it"
				       " holds %s); run this one when it has finished",
				       info->name, path);
		return cbt_err(-err, "locking %s: %s", path, strerror(err));
	}
	return fd;
}
