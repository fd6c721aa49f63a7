/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Writing images onto a target (cbt restore, cbt export): the images of one
 * restore point, newest first, each block taken from the newest image that
 * holds it; blocks no image holds are zeroed. Every checksum is checked as
 * the frames come in; a link that does not match stops before the image's
 * first block is written.
 */
#ifndef CBT_APPLY_H
#define CBT_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/progress.h"

struct cbt_apply_stats {
	uint64_t dev_bytes;
	uint64_t written;	/* data bytes written */
	uint64_t direct;	/* of which with O_DIRECT (a block device's large runs) */
	uint64_t kicked;	/* of which handed to writeback at once (a file's large runs) */
	uint64_t zeroed;	/* bytes zeroed */
	uint64_t read;		/* image bytes read */
	bool touched;		/* the target was extended or written */
};

/*
 * @fds[i] (read from their current position) and @names[i], newest first,
 * the last one a full image. @target is open for writing; @is_file: a
 * regular file, extended to the device size when shorter.
 */
int cbt_apply_images(const int *fds, const char *const *names, size_t n, int target,
		     bool is_file, struct cbt_progress *p, struct cbt_apply_stats *st);
#ifdef CBT_TEST_HOOKS
/* Write large runs to regular files with O_DIRECT too, as to block devices. */
extern bool cbt_apply_direct_files;
/*
 * Every O_DIRECT write goes through this (default pwrite()): the unit tests
 * make it fail as a device would, to test the page-cache fallback on EINVAL
 * and that any other error ends the restore.
 */
extern ssize_t (*cbt_apply_direct_pwrite)(int fd, const void *buf, size_t len, off_t off);
/*
 * A regular file's large runs are handed to writeback through this
 * (default sync_file_range()): the unit tests record the calls and make
 * them fail as a filesystem would.
 */
extern int (*cbt_apply_writeback)(int fd, off_t off, off_t len, unsigned int flags);
#endif

/*
 * Open a restore target: a block device opened O_EXCL (so a mounted or
 * otherwise held one is refused), or a regular file, created if missing
 * (*@created: by this call; a failed restore that never touched it removes it).
 */
int cbt_open_target(const char *path, int *fd, bool *is_file, bool *created);

/* The images of one restore point, newest first, open for reading. */
struct cbt_point {
	size_t n;
	int *fds;
	char **names;
};

/*
 * Open restore point @id (a sequence number, file name or UUID; NULL: the
 * last) of chain directory @src, or the one image @src ("-": standard
 * input), which must then be a full image. Every link's header, trailer
 * and parent link is checked first; with @full_check every image is also
 * read whole and every checksum checked, before anything is written: a
 * stream (pipe, FIFO, character device) is first copied into an unnamed
 * temporary file in @spool_dir (NULL: $TMPDIR, else /var/tmp, else /tmp).
 */
int cbt_open_point(const char *src, const char *id, bool full_check, const char *spool_dir,
		   struct cbt_point *pt);
/*
 * The same checks of point @id of @src (not standard input), but nothing
 * is opened: every fd is -1 and the names are the image files' paths, for
 * a reader that opens them itself (image/view.c reads split images and
 * images in S3 at any offset).
 */
int cbt_name_point(const char *src, const char *id, struct cbt_point *pt);
void cbt_point_free(struct cbt_point *pt);
/* Bytes of the point's image files (0 for a pipe): the progress total. */
uint64_t cbt_point_bytes(const struct cbt_point *pt);

#endif /* CBT_APPLY_H */
