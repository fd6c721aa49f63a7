// SPDX-License-Identifier: GPL-2.0
/*
 * The header and trailer of a stored image: see stored.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/stored.h"
#include "store/segment.h"
#include "util/util.h"

/* A trailer's block map can hold at most this much (one extent per other block). */
#define TRAILER_MAX (CBT_IMG_MAX_DEV_BYTES / 512 / 2 * 16 + 4096)

int cbt_img_ends_memfd(const struct cbt_store_obj *o, const char *shown)
{
	uint64_t size = o->size, off = size, len;
	uint8_t foot[16], *buf = NULL;
	int mfd, ret;

	mfd = memfd_create("cbt-ends", MFD_CLOEXEC);
	if (mfd < 0)
		return cbt_err(-errno, "%s: memfd_create: %s", shown, strerror(errno));
	ret = ftruncate(mfd, (off_t)size) ? -errno : 0;
	if (!ret && size >= sizeof(foot)) {
		ret = cbt_store_obj_pread(o, foot, sizeof(foot), size - sizeof(foot));
		off = size - sizeof(foot);
		/* a bad footer: cbt_img_read_ends_at() says what is wrong */
		if (!ret && !memcmp(foot + 8, CBT_IMG_END_MAGIC, 8) && cbt_get_le64(foot) < off)
			off = cbt_get_le64(foot);
	}
	len = size - off;
	if (!ret && len > TRAILER_MAX)
		ret = cbt_err(-EBADMSG, "%s: bad trailer offset", shown);
	if (!ret)
		buf = malloc(len > CBT_IMG_HEADER_SIZE ? len : CBT_IMG_HEADER_SIZE);
	if (!ret && !buf)
		ret = -ENOMEM;
	if (!ret && size >= CBT_IMG_HEADER_SIZE) {
		ret = cbt_store_obj_pread(o, buf, CBT_IMG_HEADER_SIZE, 0);
		if (!ret && pwrite(mfd, buf, CBT_IMG_HEADER_SIZE, 0) != CBT_IMG_HEADER_SIZE)
			ret = -errno;
	}
	if (!ret)
		ret = cbt_store_obj_pread(o, buf, (size_t)len, off);
	if (!ret && pwrite(mfd, buf, (size_t)len, (off_t)off) != (ssize_t)len)
		ret = -errno;
	free(buf);
	if (ret) {
		close(mfd);
		return ret;
	}
	return mfd;
}

static int read_ends_obj(const struct cbt_store_obj *o, const char *shown,
			 struct cbt_img_header *hdr, struct cbt_img_trailer *t)
{
	int mfd = cbt_img_ends_memfd(o, shown), ret;

	if (mfd < 0)
		return mfd;
	ret = cbt_img_read_ends_fd(mfd, shown, hdr, t);
	close(mfd);
	return ret;
}

int cbt_img_read_ends_stored(int dfd, const char *file, const char *shown, bool nofollow,
			     struct cbt_img_header *hdr, struct cbt_img_trailer *t)
{
	struct cbt_store_obj o;
	int ret = cbt_store_obj_open(dfd, file, shown, nofollow, &o);

	memset(t, 0, sizeof(*t));
	if (!ret)
		return cbt_img_read_ends_at(dfd, file, shown, hdr, t);
	if (ret > 0) {
		ret = read_ends_obj(&o, shown, hdr, t);
		cbt_store_obj_close(&o);
	}
	return ret;
}
