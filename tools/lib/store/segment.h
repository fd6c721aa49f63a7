/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Split images (`cbt backup --split SIZE', docs/storage.md): the image
 * stream is cut into segment files NAME.0000, NAME.0001 ... of at most
 * SIZE bytes each, and NAME itself becomes a small text manifest listing
 * them with their sizes and XXH64 checksums. The image format does not
 * change: the segments concatenated are the image.
 *
 * The writer is a thread draining a socket the image writer writes to; the
 * reader is a thread that checks each segment's size and checksum before
 * passing its bytes on through a socket, so a damaged segment is named and
 * none of its bytes reaches the image reader. Both ends are plain file
 * descriptors: the image code does not know about segments.
 */
#ifndef CBT_SEGMENT_H
#define CBT_SEGMENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


#define CBT_SEG_MAGIC "cbt-segments 1\n"
/* The largest segment a manifest may list (the image format's own limit). */
#define CBT_SEG_MAX_SIZE (1ULL << 57)
/* Below this, a chain of a large device would need millions of files. */
#define CBT_SEG_MIN_SIZE (1ULL << 20)
#define CBT_SEG_MAX_NR 100000

struct cbt_seg {
	char name[NAME_MAX + 1];
	uint64_t size;
	uint64_t sum;		/* XXH64, seed 0 */
};

struct cbt_seg_manifest {
	struct cbt_seg *v;
	size_t nr;
	uint64_t size;		/* the image's: the segments' sizes added */
};

/*
 * Parse a manifest from @buf (@len bytes) of image @name (the manifest's
 * own file name: segments must be NAME.NNNN, numbered from 0 in order).
 * -EBADMSG with a detail naming @shown and the line.
 */
int cbt_seg_manifest_parse(const char *buf, size_t len, const char *name, const char *shown,
			   struct cbt_seg_manifest *m);
void cbt_seg_manifest_free(struct cbt_seg_manifest *m);

struct cbt_seg_writer;

/*
 * Start split image @name in directory @dfd (@shown: its path, for
 * messages), cut at @seg_size bytes: *@fd gets the descriptor the image
 * writer writes to. Segments of an earlier run that died under the same
 * name are removed first. Each segment is written as a temporary file and
 * renamed once full and flushed.
 */
int cbt_seg_writer_open(struct cbt_seg_writer **wp, int dfd, const char *name, const char *shown,
			uint64_t seg_size, int *fd);
/*
 * The image is written: close the writing end, wait for the last segment,
 * then write the manifest as a temporary file and rename it to @name
 * (never over an existing file). Frees @w either way; on failure the
 * segments are removed.
 */
int cbt_seg_writer_finish(struct cbt_seg_writer *w);
/* Give up: stop the thread, remove every segment written, free @w. */
void cbt_seg_writer_abort(struct cbt_seg_writer *w);

/*
 * Open image @file in @dfd for a stream reader: a plain image file as it
 * is, a manifest as a socket carrying its segments one after the other
 * (every segment's presence is checked here; each one's size and checksum
 * before its first byte is passed on: a damaged one ends the stream early
 * and its name is printed). Like cbt_open_regular() otherwise.
 */
int cbt_store_open_image(int dfd, const char *file, const char *shown, bool nofollow);
/*
 * An image the user named: "-" (standard input), a split image's manifest
 * (as cbt_store_open_image()), any other file as it is (a FIFO too).
 */
int cbt_store_open_path(const char *path);
/*
 * An image stored as segments or as an S3 object (store/remote.c), for
 * reads at any offset: the image layer reads headers and trailers so.
 */
struct cbt_store_obj {
	uint64_t size;
	int (*pread)(void *ctx, uint8_t *buf, size_t len, uint64_t off);
	void (*close)(void *ctx);
	void *ctx;
};

/*
 * Open @file as cbt_store_open_image() does: 0 when it is a plain file
 * (nothing is kept open: read it as one), 1 and @o filled for segments or
 * an S3 object, or -errno.
 */
int cbt_store_obj_open(int dfd, const char *file, const char *shown, bool nofollow,
		       struct cbt_store_obj *o);
/* Exactly @len bytes at @off, or -errno with a detail. */
int cbt_store_obj_pread(const struct cbt_store_obj *o, void *buf, size_t len, uint64_t off);
void cbt_store_obj_close(struct cbt_store_obj *o);
/* Remove image @file of a chain: a manifest with its segments. */
int cbt_store_unlink(int dfd, const char *file);

#endif /* CBT_SEGMENT_H */
