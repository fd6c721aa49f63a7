/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Images in S3 (docs/storage.md). A chain in S3 is seen through a local
 * view (image/s3chain.h) whose image files are stubs naming their objects:
 * cbt_store_open_image() streams a stub's object from S3 through a socket,
 * cbt_store_obj_open() reads ranges of it. A new image is a multipart
 * upload fed, like the segment writer, through a socket.
 */
#ifndef CBT_REMOTE_H
#define CBT_REMOTE_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/s3.h"

#define CBT_REMOTE_STUB_MAGIC "cbt-s3-object 1\n"
/* Parts are buffered in memory: two of this size at most per upload. */
#define CBT_REMOTE_PART_SIZE (8U << 20)

/* The store stubs are read from (one per process; before any is opened). */
void cbt_remote_use(const struct cbt_s3 *s);
/* Write the stub of object @name (@size bytes) as @name in @dfd (replacing it). */
int cbt_remote_write_stub(int dfd, const char *name, uint64_t size);

struct cbt_remote_writer;

/*
 * What an image must reproduce to continue an upload (docs/storage.md,
 * "Resumable uploads"): the header's random and time fields. The caller
 * fills them for a new image; cbt_remote_writer_open() replaces them with
 * the record's when it resumes.
 */
struct cbt_remote_ident {
	uint8_t uuid[16];
	uint64_t created_ns;
	uint8_t salt[24];	/* an encrypted image's (zero: not encrypted) */
	bool encrypted;
	bool resumed;		/* set by cbt_remote_writer_open() */
};
/* A part of a resumed upload differed: the upload was aborted (cbt_remote_writer_finish()). */
#define CBT_REMOTE_MISMATCH (-EXDEV)

/*
 * Start uploading image @name: *@fd gets the descriptor the image writer
 * writes to. With @resume, an unfinished upload of @name recorded in
 * PREFIX/.upload-@name for the same @what (a line naming everything the
 * image's bytes depend on but @id) is continued: @id gets the record's
 * fields, and each part the server holds is compared (MD5) with the one
 * written now instead of being uploaded. Every other unfinished upload
 * under the prefix, left by a run that died, is aborted. A new upload is
 * recorded before its first part.
 */
int cbt_remote_writer_open(struct cbt_remote_writer **wp, const struct cbt_s3 *s3,
			   const char *url, const char *name, const char *what,
			   struct cbt_remote_ident *id, bool resume, int *fd);
/*
 * The image is written: upload the last part, complete the upload, then
 * put the image's stub in directory @dfd (the view). Frees @w. A failure
 * leaves the upload and its record for the next run to prove and
 * continue, but CBT_REMOTE_MISMATCH: that upload was aborted and its
 * record deleted.
 */
int cbt_remote_writer_finish(struct cbt_remote_writer *w, int dfd);
/* Give up (the image writer failed): the upload and its record are left as by a failure. */
void cbt_remote_writer_abort(struct cbt_remote_writer *w);
/* After the index names the image: delete its upload record. */
void cbt_remote_forget(const struct cbt_s3 *s3, const char *url, const char *name);

/* Stub files of a view (used by store/segment.c). 1 and @name, @size for a stub, else 0. */
int cbt_remote_stub_read(int fd, char *name, size_t len, uint64_t *size);
int cbt_remote_open_image(const char *name, uint64_t size, const char *shown);
struct cbt_store_obj;
/* cbt_store_obj_open() of a stub. */
int cbt_remote_obj_open(const char *name, uint64_t size, struct cbt_store_obj *o);

#endif /* CBT_REMOTE_H */
