/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Chains in S3 (`--to s3://BUCKET/PREFIX', docs/storage.md): PREFIX/chain.idx
 * and one object per image, named as in a chain directory. A command works
 * on a private local view of the chain: a temporary directory holding the
 * index and, for each image, a stub naming its object, which
 * cbt_store_open_image() and cbt_store_read_ends() read from S3 (a GET
 * streamed into a socket; ranged GETs for the header and trailer). A new
 * image is a multipart upload; the index object is replaced only after
 * CompleteMultipartUpload succeeded.
 */
#ifndef CBT_REMOTE_H
#define CBT_REMOTE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "image/image.h"
#include "store/s3.h"

#define CBT_REMOTE_STUB_MAGIC "cbt-s3-object 1\n"
/* Parts are buffered in memory: two of this size at most per upload. */
#define CBT_REMOTE_PART_SIZE (8U << 20)

struct cbt_remote {
	struct cbt_s3 s3;
	char url[600];
	char view[PATH_MAX];	/* the local view directory */
};

/*
 * Open chain @url (s3://BUCKET/PREFIX) with @config (--s3-config or NULL)
 * and build its view. Without @create, a prefix with no chain.idx is
 * refused (-ENOENT).
 */
int cbt_remote_open(struct cbt_remote *r, const char *url, const char *config, bool create);
/* Remove the view. */
void cbt_remote_close(struct cbt_remote *r);
/* Upload the view's chain.idx: the last step of a backup. */
int cbt_remote_put_index(const struct cbt_remote *r);

struct cbt_remote_writer;
/*
 * Start uploading image @name (unfinished uploads under the prefix, left
 * by a run that died, are aborted first): *@fd gets the descriptor the
 * image writer writes to.
 */
int cbt_remote_writer_open(struct cbt_remote_writer **wp, const struct cbt_remote *r,
			   const char *name, int *fd);
/*
 * The image is written: upload the last part, complete the upload, then
 * put the image's stub in directory @dfd (the view). Frees @w; on failure
 * the upload is aborted.
 */
int cbt_remote_writer_finish(struct cbt_remote_writer *w, int dfd);
void cbt_remote_writer_abort(struct cbt_remote_writer *w);

/*
 * For a command's CHAIN argument @src: an s3:// URL is opened (@config:
 * --s3-config, else $CBT_S3_CONFIG, else the environment) and *@path is its
 * view, removed at exit; anything else is *@path as it is. @r (may be
 * NULL) gets the chain, or NULL.
 */
int cbt_remote_src(const char *src, const char *config, bool create, const char **path,
		   const struct cbt_remote **r);

/* Stub files of a view (used by store/segment.c). 1 and @name, @size for a stub, else 0. */
int cbt_remote_stub_read(int fd, char *name, size_t len, uint64_t *size);
int cbt_remote_open_image(const char *name, uint64_t size, const char *shown);
int cbt_remote_read_ends(const char *name, uint64_t size, const char *shown,
			 struct cbt_img_header *hdr, struct cbt_img_trailer *t);

#endif /* CBT_REMOTE_H */
