// SPDX-License-Identifier: GPL-2.0
/* libcbt: point-in-time snapshots, one device or a group (snap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libdevmapper.h>
#include <linux/dm-cbt.h>

#include "api/api.h"
#include "api/api_snapshot.h"
#include "kernel/device.h"
#include "util/util.h"

static struct cbt_snapshot *snapshot_alloc(size_t n)
{
	struct cbt_snapshot *s = calloc(1, sizeof(*s) + n * sizeof(struct cbt_snap));

	for (size_t i = 0; s && i < DM_CBT_MAX_GROUP; i++)
		s->lock_fd[i] = -1;
	return s;
}

static void snapshot_free(struct cbt_snapshot *s)
{
	for (size_t i = 0; s && i < DM_CBT_MAX_GROUP; i++)
		if (s->lock_fd[i] >= 0)
			close(s->lock_fd[i]);
	free(s);
}

/* Take the /run/cbt lock of each of @devices[0 .. @n) into @s. */
static int lock_devices(struct cbt_snapshot *s, const char *const *devices, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cbt_devsel sel;
		struct cbt_dev_info info;
		struct cbt_nl *nl = NULL;
		int ret;

		ret = cbt_dev_lookup(devices[i], &nl, &sel, &info);
		cbt_nl_close(nl);
		if (ret)
			return ret;
		ret = cbt_device_lock(&info);
		cbt_dev_info_free(&info);
		if (ret < 0)
			return ret;
		s->lock_fd[i] = ret;
	}
	return 0;
}

int cbt_snapshot_take(const char *const *devices, const char *const *cows, size_t n,
		      uint32_t chunk_bytes, unsigned int flags, struct cbt_snapshot **snapp,
		      struct cbt_error *err)
{
	struct cbt_snap_opts o = { .cows = cows, .chunk_bytes = chunk_bytes,
				   .freeze = flags & CBT_SNAPSHOT_FREEZE,
				   .force = flags & CBT_SNAPSHOT_FORCE };
	struct cbt_snapshot *s;
	int ret;

	cbt_api_begin();
	*snapp = NULL;
	if (flags & ~(CBT_SNAPSHOT_FREEZE | CBT_SNAPSHOT_FORCE))
		return cbt_api_fail(err, -EINVAL, "unknown snapshot flags %#x",
				    flags & ~(CBT_SNAPSHOT_FREEZE | CBT_SNAPSHOT_FORCE));
	if (!devices || !n || n > DM_CBT_MAX_GROUP)
		return cbt_api_fail(err, -EINVAL, "%zu devices: a snapshot takes 1 to %d",
				    devices ? n : 0, DM_CBT_MAX_GROUP);
	for (size_t i = 0; i < n; i++)
		if (!devices[i])
			return cbt_api_fail(err, -EINVAL, "device %zu has no name", i);
	s = snapshot_alloc(n);
	if (!s)
		return cbt_api_end(err, -ENOMEM);
	ret = lock_devices(s, devices, n);
	if (!ret)
		ret = cbt_snap_take(devices, n, &o, s->v);
	if (ret) {
		snapshot_free(s);
		return cbt_api_end(err, ret);
	}
	s->n = n;
	/*
	 * Without udev, libdevmapper makes the /dev/mapper nodes when it
	 * flushes its node operations: now, as the caller opens them next.
	 */
	dm_lib_release();
	*snapp = s;
	return cbt_api_end(err, 0);
}

int cbt_snapshot_find(const char *device, struct cbt_snapshot **snapp, struct cbt_error *err)
{
	struct cbt_devsel sel;
	struct cbt_dev_info info;
	struct cbt_snapshot *s;
	struct cbt_nl *nl = NULL;
	int ret;

	cbt_api_begin();
	*snapp = NULL;
	if (!device)
		return cbt_api_fail(err, -EINVAL, "no device named");
	s = snapshot_alloc(1);
	if (!s)
		return cbt_api_end(err, -ENOMEM);
	ret = cbt_dev_lookup(device, &nl, &sel, &info);
	cbt_nl_close(nl);
	if (ret) {
		free(s);
		return cbt_api_end(err, ret);
	}
	/* A live process's snapshot is not a leftover: its holder has the lock. */
	ret = cbt_device_lock(&info);
	if (ret >= 0) {
		s->lock_fd[0] = ret;
		ret = cbt_snap_find(info.major, info.minor, &s->v[0]);
	}
	if (ret == -ENOENT)
		ret = cbt_err(ret, "%s has no snapshot device attached", info.name);
	if (!ret && info.snap.present)
		s->v[0].epoch = info.snap.epoch;
	cbt_dev_info_free(&info);
	if (ret) {
		snapshot_free(s);
		return cbt_api_end(err, ret);
	}
	s->n = 1;
	s->found = true;
	*snapp = s;
	return cbt_api_end(err, 0);
}

size_t cbt_snapshot_count(const struct cbt_snapshot *snap)
{
	return snap ? snap->n : 0;
}

static const struct cbt_snap *member(const struct cbt_snapshot *snap, size_t i)
{
	return snap && i < snap->n ? &snap->v[i] : NULL;
}

const char *cbt_snapshot_device(const struct cbt_snapshot *snap, size_t i)
{
	return member(snap, i) ? member(snap, i)->cbt_name : NULL;
}

const char *cbt_snapshot_path(const struct cbt_snapshot *snap, size_t i)
{
	return member(snap, i) ? member(snap, i)->snap_path : NULL;
}

uint64_t cbt_snapshot_epoch(const struct cbt_snapshot *snap, size_t i)
{
	return member(snap, i) ? member(snap, i)->epoch : 0;
}

uint64_t cbt_snapshot_bytes(const struct cbt_snapshot *snap, size_t i)
{
	return member(snap, i) ? member(snap, i)->sectors * 512 : 0;
}

int cbt_snapshot_drop(struct cbt_snapshot *snap, struct cbt_error *err)
{
	int ret = 0;

	cbt_api_begin();
	if (!snap)
		return cbt_api_fail(err, -EINVAL, "no snapshot handle");
	/* Every member, even after one failed: leave as little behind as possible. */
	for (size_t i = 0; i < snap->n; i++) {
		int r = cbt_snap_drop(&snap->v[i]);

		if (r && !ret) {
			ret = cbt_err_prefix(r, "dropping the snapshot %s of %s", snap->v[i].snap_name,
					     snap->v[i].cbt_name);
			/* keep this detail, not a later member's */
			ret = cbt_api_end(err, ret);
		} else if (r) {
			cbt_err_clear();
		}
	}
	snapshot_free(snap);
	return ret ? ret : cbt_api_end(err, 0);
}

void cbt_snapshot_release(struct cbt_snapshot *snap)
{
	snapshot_free(snap);
}
