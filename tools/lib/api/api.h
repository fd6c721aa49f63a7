/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the files of the public API (include/cbt/cbt.h): how the
 * internal layers' -errno plus thread-local detail (cbt_err()) becomes a
 * struct cbt_error, and the extent iterator the device and chain parts
 * both hand out. Nothing here is exported (libcbt.map).
 */
#ifndef CBT_API_H
#define CBT_API_H

#include <stdbool.h>

#include <cbt/cbt.h>

#include "util/extents.h"

/*
 * Every public entry point starts with cbt_api_begin() (a detail left by
 * an earlier call of this thread must not show in this one's message) and
 * returns through cbt_api_end(), which fills @err: the recorded detail, or
 * strerror() when the layers recorded none.
 */
void cbt_api_begin(void);
int cbt_api_end(struct cbt_error *err, int ret);
/* A failure the API itself finds: "@fmt" becomes the message. */
int cbt_api_fail(struct cbt_error *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct cbt_extent_iter {
	struct cbt_extents ext;
	size_t pos;
	uint32_t block_size;
	uint64_t dev_bytes;	/* where cbt_extents_next_bytes() cuts the last block */
	/*
	 * Where the set came from, so that cbt_image_write() can refuse a set
	 * that is not the snapshot's changes: an incremental written from
	 * another epoch's or another device's set would restore wrong, silently.
	 */
	bool device_changes;	/* from cbt_device_changes(): the fields below hold */
	uint8_t dev_uuid[16];	/* the tracking identity the bitmap was read under */
	uint64_t epoch_first, epoch_last;
};

/* An iterator over @ext, which it then owns (and frees, also on error). */
int cbt_api_iter_new(struct cbt_extents *ext, uint32_t block_size, uint64_t dev_bytes,
		     struct cbt_extent_iter **it);

#endif /* CBT_API_H */
