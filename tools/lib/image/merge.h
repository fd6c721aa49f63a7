/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Merging images of a chain (cbt merge, cbt prune): a run of images along
 * one restore path, FROM (older) to UPTO (newer), folded into one image
 * that restores exactly what UPTO restores, read from the images alone
 * (never from the device). The merged image takes UPTO's UUID, epochs,
 * creation time and device size, and FROM's parent: UPTO's children still
 * name their parent. FROM a full image gives a full image (flag MERGED, its
 * base the chain's base UUID); otherwise an image of FROM's type.
 *
 * Crash-safe order (docs/format.md, "Merging"): the image is written to
 * a temporary file, flushed, read back and checked; renamed to its name
 * (UPTO's number, the merged type) and the directory flushed; the index
 * rewritten (temporary file, flush, rename, flush); only then the
 * absorbed files are removed. A crash before the index is renamed leaves
 * the old chain (plus a file the next merge or prune removes); after it,
 * the new chain (plus the absorbed files, removed the same way).
 */
#ifndef CBT_MERGE_H
#define CBT_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "image/chain.h"

struct cbt_merge_opts {
	int threads;			/* compression workers (0: the writer's default) */
	uint32_t compression, level;	/* of the merged image */
	bool keep_compression;		/* take UPTO's compression instead */
};

struct cbt_merge_result {
	char file[CBT_CHAIN_FILE_MAX];	/* the merged image's file name */
	uint32_t type;
	size_t absorbed;		/* images folded (FROM..UPTO) */
	uint64_t blocks, stored_bytes;	/* of the merged image */
	uint64_t freed_bytes;		/* the absorbed files' sizes minus stored_bytes */
};

/*
 * Check that entries @from..@upto of @c (opened with the lock) can be
 * merged: @from is on @upto's restore path, older than it, and no image
 * outside the run has an absorbed image other than @upto as its parent.
 * -EINVAL with a detail naming the dependent image otherwise.
 */
int cbt_merge_check(const struct cbt_chain *c, size_t from, size_t upto);
/* Merge them (see above); @c then holds the new index. */
int cbt_chain_merge(struct cbt_chain *c, size_t from, size_t upto,
		    const struct cbt_merge_opts *o, struct cbt_merge_result *res);

#endif /* CBT_MERGE_H */
