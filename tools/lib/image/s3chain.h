/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Chains in S3 (`--to s3://BUCKET/PREFIX', docs/storage.md): PREFIX/chain.idx
 * and one object per image, named as in a chain directory. A command works
 * on a private local view of the chain: a temporary directory holding the
 * index and, for each image, a stub naming its object (store/remote.h), so
 * the chain code reads it as it reads a directory. A backup uploads its
 * image and then replaces the index object: only after the upload was
 * completed.
 */
#ifndef CBT_S3CHAIN_H
#define CBT_S3CHAIN_H

#include <limits.h>
#include <stdbool.h>

#include "image/chain.h"
#include "store/s3.h"

struct cbt_s3chain {
	struct cbt_s3 s3;
	char url[600];		/* s3://BUCKET/PREFIX, for messages */
	char view[PATH_MAX];	/* the local view directory */
	struct cbt_chain_remote remote;	/* cbt_s3chain_attach() */
};

/*
 * Open chain @url with @config (--s3-config or NULL) and build its view.
 * Without @create, a prefix with no chain.idx is refused (-ENOENT).
 */
int cbt_s3chain_open(struct cbt_s3chain *r, const char *url, const char *config, bool create);
/* Remove the view. */
void cbt_s3chain_close(struct cbt_s3chain *r);
/* Upload the view's chain.idx: the last step of a backup. */
int cbt_s3chain_put_index(const struct cbt_s3chain *r);
/*
 * Make chain @c, opened on @r's view, change the chain in S3 as it changes
 * (merge, prune): a merged image is uploaded (from a local file in the
 * view) before the index names it, the index uploaded each time it is
 * rewritten, and an image the index no longer names deleted after that.
 */
void cbt_s3chain_attach(const struct cbt_s3chain *r, struct cbt_chain *c);
/*
 * For a command's CHAIN argument @src: an s3:// URL is opened (@config:
 * --s3-config, else $CBT_S3_CONFIG, else the environment) and *@path is its
 * view, removed at exit; anything else is *@path as it is. @r (may be
 * NULL) gets the chain, or NULL.
 */
int cbt_s3chain_src(const char *src, const char *config, bool create, const char **path,
		    const struct cbt_s3chain **r);
/*
 * Remove the view cbt_s3chain_src() made now: before exec (`cbt serve'
 * becomes nbdkit, and exit handlers do not run then).
 */
void cbt_s3chain_src_done(void);

#endif /* CBT_S3CHAIN_H */
