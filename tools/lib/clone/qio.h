/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Many copies in flight for `cbt clone': each request reads [off, off +
 * len) of the source into its buffer, then writes it at the same offset
 * of the target. Passes after the first read scattered blocks, where one
 * read at a time leaves the disks idle between requests.
 *
 * Two engines, chosen at run time: io_uring (liburing) when the kernel
 * offers it, else a pool of threads doing pread/pwrite (io_uring absent,
 * disabled by the kernel.io_uring_disabled sysctl, refused by a seccomp
 * filter, or CBT_CLONE_IO=threads in the environment).
 */
#ifndef CBT_CLONE_QIO_H
#define CBT_CLONE_QIO_H

#include <stdbool.h>
#include <stdint.h>

struct clone_qio;

struct clone_qio_req {
	uint64_t off;
	uint32_t len;
	void *buf;		/* aligned for O_DIRECT, at least len bytes */
	/* NULL: copy; else read the target's [off, off + len) into it too, write nothing */
	void *buf2;
	uint64_t seq;		/* the caller's */
	int err;		/* after completion: 0 or -errno */
	bool read_err;		/* err came from the read of the source */
	/* the engine's */
	bool writing;
	uint32_t done;
	struct clone_qio_req *next;
};

/*
 * 0 or -errno (detail recorded); @depth requests may be in flight. The
 * io_uring engine lets the kernel run @depth of its blocking workers at
 * once: reads of a device-mapper device without nowait support (the
 * snapshot) are all handed to them, and their default cap, 4 per CPU,
 * would keep fewer copies in flight than @depth on a small machine.
 */
int clone_qio_open(int src_fd, int dst_fd, unsigned int depth, struct clone_qio **q);
/* "io_uring" or "threads". */
const char *clone_qio_engine(const struct clone_qio *q);
/*
 * Start copying @req (or with @req->buf2, reading both sides: a
 * comparison); at most depth at once. 0 or -errno.
 */
int clone_qio_submit(struct clone_qio *q, struct clone_qio_req *req);
/*
 * Wait for one submitted request to finish, its read and its write (or an
 * error in it). NULL when the engine itself failed (detail recorded):
 * clone_qio_close() then waits for what is still in flight.
 */
struct clone_qio_req *clone_qio_wait(struct clone_qio *q);
/* The error of a NULL clone_qio_wait() (its detail recorded). */
int clone_qio_error(const struct clone_qio *q);
/* After the last wait; waits for anything still in flight. */
void clone_qio_close(struct clone_qio *q);

#endif /* CBT_CLONE_QIO_H */
