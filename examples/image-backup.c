// SPDX-License-Identifier: GPL-2.0
/*
 * image-backup DEVICE COW DIR: add an image of cbt device DEVICE to chain
 * directory DIR (a full one when DIR holds none, else an incremental one),
 * the way `cbt backup' does, then prove it: the new restore point, read
 * back through the chain, must equal the snapshot it was written from.
 * Prints the image ("TYPE FILE BLOCKS") and the kernel's events about
 * DEVICE seen meanwhile ("event NAME EPOCH"). Uses only <cbt/cbt.h>.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cbt/cbt.h>

#define PIECE (1 << 20)

/* The chain's last restore point holds what the snapshot @path holds. */
static int check_point(const char *dir, const char *path, struct cbt_error *err)
{
	struct cbt_image_chain *chain = NULL;
	char *a = malloc(PIECE), *b = malloc(PIECE);
	int fd = open(path, O_RDONLY), ret = -ENOMEM;
	ssize_t n = 1;

	if (!a || !b || fd < 0 || (ret = cbt_image_chain_open(dir, &chain, err)))
		goto out;
	size_t last = cbt_image_chain_count(chain) - 1;

	ret = cbt_image_chain_verify(chain, last, err);
	for (uint64_t off = 0; !ret && (n = pread(fd, a, PIECE, (off_t)off)) > 0; off += n) {
		ret = cbt_image_chain_read(chain, last, off, b, (size_t)n, err);
		if (!ret && memcmp(a, b, (size_t)n)) {
			snprintf(err->message, sizeof(err->message), "restore point %zu differs from"
				 " the snapshot in bytes %llu+%zd", last, (unsigned long long)off, n);
			ret = err->code = -EBADMSG;
		}
	}
	if (!ret && n < 0)
		ret = -errno;
out:
	if (fd >= 0)
		close(fd);
	free(a);
	free(b);
	cbt_image_chain_close(chain);
	return ret;
}

int main(int argc, char *argv[])
{
	struct cbt_events *ev = NULL;
	struct cbt_device *dev = NULL;
	struct cbt_snapshot *snap = NULL;
	struct cbt_extent_iter *it = NULL;
	struct cbt_image_chain *chain = NULL;
	struct cbt_image_info info;
	struct cbt_event_info e;
	struct cbt_error err = { 0 };
	uint32_t type = CBT_IMAGE_FULL;
	uint64_t epoch = 0;
	int ok = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s DEVICE COW DIR\n", argv[0]);
		return 2;
	}
	if (cbt_events_open(&ev, &err) || cbt_device_open(argv[1], &dev, &err))
		goto out;
	/* a chain that holds an image continues with an incremental one */
	if (!cbt_image_chain_open(argv[3], &chain, NULL) && cbt_image_chain_count(chain))
		type = CBT_IMAGE_INCREMENTAL;
	cbt_image_chain_close(chain);
	if (cbt_snapshot_take((const char *[]){ argv[1] }, (const char *[]){ argv[2] }, 1, 0, 0,
			      &snap, &err))
		goto out;
	epoch = cbt_snapshot_epoch(snap, 0);
	if ((type != CBT_IMAGE_FULL && cbt_device_changes(dev, epoch, epoch, &it, &err)) ||
	    cbt_image_write(dev, snap, type, it, argv[3], -1, &info, &err) ||
	    check_point(argv[3], cbt_snapshot_path(snap, 0), &err) ||
	    cbt_device_epoch_commit(dev, epoch, &err))
		goto out;
	printf("%s %s %llu\n", cbt_image_type_str(info.type), info.file,
	       (unsigned long long)info.blocks);
	ok = 1;
out:
	if (!ok && epoch)
		cbt_device_epoch_abort(dev, epoch, NULL);
	if (err.code)
		fprintf(stderr, "image-backup: %s\n", err.message);
	if (snap && cbt_snapshot_drop(snap, &err)) {
		fprintf(stderr, "image-backup: %s\n", err.message);
		ok = 0;
	}
	/* multicast is delivered as the kernel sends it: all are queued by now */
	while (ev && cbt_events_next(ev, &e, NULL) == 1)
		if (!strcmp(e.device, argv[1]))
			printf("event %s %llu\n", cbt_event_str(e.type), (unsigned long long)e.epoch);
	cbt_extents_destroy(it);
	cbt_device_close(dev);
	cbt_events_close(ev);
	return ok ? 0 : 1;
}
