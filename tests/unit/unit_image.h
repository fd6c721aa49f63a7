/* SPDX-License-Identifier: GPL-2.0 */
/* Images written in memory for the tests that read them (test_image, test_image_threads, test_crypt). */
#ifndef CBT_UNIT_IMAGE_H
#define CBT_UNIT_IMAGE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "image/image.h"

static const uint8_t DEV_UUID[16] = { 1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15, 16 };

static inline void mkheader(struct cbt_img_header *h, uint64_t dev_bytes, uint32_t bs, uint32_t comp)
{
	memset(h, 0, sizeof(*h));
	h->version = CBT_IMG_VERSION;
	memcpy(h->dev_uuid, DEV_UUID, 16);
	h->dev_bytes = dev_bytes;
	h->block_size = bs;
	h->type = CBT_IMG_FULL;
	cbt_uuid_generate(h->uuid);
	memcpy(h->base, h->uuid, 16);
	h->epoch_first = 0;
	h->epoch_last = 7;
	h->created_ns = 1234567890123456789ULL;
	h->compression = comp;
	h->level = comp ? 3 : 0;
	h->flags = CBT_IMG_F_NONZERO;
	snprintf(h->tool_version, sizeof(h->tool_version), "test");
}

/* Deterministic, half compressible content for block @b. */
static inline void fill(uint8_t *p, size_t len, uint64_t b)
{
	uint64_t x = b * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		if (i % 64 < 32) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			p[i] = (uint8_t)x;
		} else {
			p[i] = (uint8_t)b;
		}
	}
}

static inline int memfd(void)
{
	return memfd_create("img", 0);
}

/* Write an image of @ext (nr ranges) to a new memfd; returns the fd at offset 0. */
static inline int write_image(const struct cbt_img_header *h, const struct cbt_range *ext, size_t nr,
		       int threads)
{
	struct cbt_img_write_opts o = { .threads = threads };
	struct cbt_img_writer *w;
	int fd = memfd(), ret;

	ret = cbt_img_writer_open(&w, fd, h, &o);
	for (size_t i = 0; i < nr && !ret; i++) {
		size_t len = 0;

		for (uint64_t b = ext[i].start; b < ext[i].start + ext[i].len; b++)
			len += cbt_img_block_len(h, b);
		uint8_t *buf = malloc(len), *p = buf;

		for (uint64_t b = ext[i].start; b < ext[i].start + ext[i].len; b++) {
			fill(p, cbt_img_block_len(h, b), b);
			p += cbt_img_block_len(h, b);
		}
		ret = cbt_img_writer_add(w, ext[i].start, ext[i].len, buf);
		free(buf);
	}
	if (!ret)
		ret = cbt_img_writer_finish(w, NULL);
	cbt_img_writer_free(w);
	if (ret) {
		close(fd);
		return ret;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

#endif /* CBT_UNIT_IMAGE_H */
