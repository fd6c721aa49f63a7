// SPDX-License-Identifier: GPL-2.0
/*
 * incremental-copy DEVICE COW FILE: keep FILE a copy of cbt device DEVICE.
 * Each run takes a snapshot (COW: a blank device for its copy-on-write
 * store), copies the extents changed since the previous run from the
 * snapshot into FILE at their offsets, prints them ("OFFSET LENGTH" in
 * bytes), then commits the epoch; on failure it aborts the epoch, so the
 * next run copies those changes again. Uses only <cbt/cbt.h>. The first run
 * copies what changed since tracking began: start from a blank device or
 * from a full copy (dd) taken before tracking.
 */
/* pread, pwrite, ftruncate under -std=c11 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cbt/cbt.h>

static int copy(int from, int to, uint64_t off, uint64_t len)
{
	static char buf[1 << 20];

	for (uint64_t done = 0, n; done < len; done += n) {
		n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		if (pread(from, buf, n, (off_t)(off + done)) != (ssize_t)n ||
		    pwrite(to, buf, n, (off_t)(off + done)) != (ssize_t)n)
			return -1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct cbt_device *dev = NULL;
	struct cbt_snapshot *snap = NULL;
	struct cbt_extent_iter *it = NULL;
	struct cbt_error err = { 0 };
	uint64_t epoch = 0, off, len;
	int src = -1, dst = -1, ok = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s DEVICE COW FILE\n", argv[0]);
		return 2;
	}
	if (cbt_device_open(argv[1], &dev, &err) ||
	    cbt_snapshot_take((const char *[]){ argv[1] }, (const char *[]){ argv[2] }, 1, 0, 0,
			      &snap, &err))
		goto out;
	epoch = cbt_snapshot_epoch(snap, 0);
	if (cbt_device_changes(dev, epoch, epoch, &it, &err))
		goto out;
	src = open(cbt_snapshot_path(snap, 0), O_RDONLY);
	dst = open(argv[3], O_WRONLY | O_CREAT, 0600);
	if (src < 0 || dst < 0 || ftruncate(dst, (off_t)cbt_snapshot_bytes(snap, 0))) {
		perror("incremental-copy: opening");
		goto out;
	}
	while (cbt_extents_next_bytes(it, &off, &len)) {
		if (copy(src, dst, off, len)) {
			perror("incremental-copy: copying");
			goto out;
		}
		printf("%llu %llu\n", (unsigned long long)off, (unsigned long long)len);
	}
	ok = !fsync(dst) && !cbt_device_epoch_commit(dev, epoch, &err);
out:
	if (!ok && epoch)
		cbt_device_epoch_abort(dev, epoch, NULL);
	if (err.code)
		fprintf(stderr, "incremental-copy: %s\n", err.message);
	if (src >= 0)
		close(src);	/* an open snapshot device cannot be dropped */
	if (snap && cbt_snapshot_drop(snap, &err))
		fprintf(stderr, "incremental-copy: %s\n", err.message);
	if (dst >= 0)
		close(dst);
	cbt_extents_destroy(it);
	cbt_device_close(dev);
	return ok ? 0 : 1;
}
