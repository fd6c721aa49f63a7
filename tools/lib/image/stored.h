/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_img_read_ends_at() for an image however it is stored: a plain file,
 * a split image's manifest, a stub of an image in S3 (store/segment.h).
 */
#ifndef CBT_STORED_H
#define CBT_STORED_H

#include <stdbool.h>

#include "image/image.h"

int cbt_img_read_ends_stored(int dfd, const char *file, const char *shown, bool nofollow,
			     struct cbt_img_header *hdr, struct cbt_img_trailer *t);

struct cbt_store_obj;
/*
 * What cbt_img_read_ends_fd() and cbt_img_frame_index() read of stored
 * image @o (the header, the footer, the trailer it points to), in a
 * sparse memory file of the image's size: the descriptor, or -errno.
 * Copying lets the one set of checks on files serve every store.
 */
int cbt_img_ends_memfd(const struct cbt_store_obj *o, const char *shown);

#endif /* CBT_STORED_H */
