/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Random access to one restore point of a chain (docs/format.md, "Random
 * access"): the nbdkit plugin, `cbt mount' and `cbt serve' read through
 * this. Opening resolves, for every block range of the point, which image
 * of the chain holds it and in which frame (from the version 2 trailers'
 * frame indexes, or one header scan of a version 1 image); reads
 * decompress only the frames they touch, through a bounded LRU cache.
 */
#ifndef CBT_VIEW_H
#define CBT_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cbt_view;                       /* one restore point of a chain, opened for random access */
struct cbt_view_opts {
	uint64_t cache_bytes;          /* decompressed-frame cache budget; 0: 64 MiB */
	bool full_check;               /* read every frame once at open (like cbt verify) */
	const char *s3_config;         /* for an s3:// chain: --s3-config, or NULL */
};
/*
 * chain_dir: a chain directory, one image file, or a chain in S3 (s3://BUCKET/PREFIX,
 * image/s3chain.h: its local view lives until the process exits or cbt_s3chain_src_done());
 * id as cbt_open_point (number, file name, UUID; NULL: last).
 * Refuses, before returning, a chain with a missing image, a broken link or another device's image.
 */
int cbt_view_open(struct cbt_view **vp, const char *chain_dir, const char *id,
		  const struct cbt_view_opts *o);
uint64_t cbt_view_size(const struct cbt_view *v);          /* device size of the point, bytes */
uint32_t cbt_view_block_size(const struct cbt_view *v);
/*
 * Thread-safe (nbdkit calls it from several threads). Blocks no image holds read as zeros.
 * A damaged frame: -EIO for the requested range only, and one log line naming the image file and
 * the frame's file offset (through cbt_view_set_log(), stderr by default). Never returns wrong
 * data.
 */
int cbt_view_pread(struct cbt_view *v, void *buf, size_t len, uint64_t off);
/*
 * Calls cb for consecutive ranges covering [off, off+len): data=true where some image of the chain
 * holds the blocks, false where the point reads as zeros (for NBD base:allocation). A non-zero
 * return of cb stops the walk and is returned.
 */
int cbt_view_extents(struct cbt_view *v, uint64_t off, uint64_t len,
		     int (*cb)(void *arg, uint64_t off, uint64_t len, bool data), void *arg);
/*
 * Which image (index in the chain, 0 = the full) holds block b, -1 if none: for tests and `cbt info`.
 * The index counts along the point's restore path: 0 the full image, 1 the next image the point
 * builds on (for a differential point, the differential itself), up to the point.
 */
int cbt_view_owner(const struct cbt_view *v, uint64_t block);
void cbt_view_close(struct cbt_view *v);

/*
 * Where cbt_view_pread()'s damage reports go (one line, no newline); NULL
 * restores the default, stderr. Process-wide; set it before opening views.
 */
void cbt_view_set_log(void (*log)(void *arg, const char *line), void *arg);

/* What the frame cache did (tests, the bench). */
struct cbt_view_stats {
	uint64_t bytes;		/* decompressed bytes cached now */
	uint64_t peak_bytes;	/* the most ever cached at once */
	uint64_t loads;		/* frames read from disk and checked */
	uint64_t hits;		/* frames found in the cache */
};
void cbt_view_stats(struct cbt_view *v, struct cbt_view_stats *st);

#endif /* CBT_VIEW_H */
