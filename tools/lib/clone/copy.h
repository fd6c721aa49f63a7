/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The I/O of `cbt clone': copying extents from a snapshot to the target
 * (16 MiB in flight: 16 copies of up to 1 MiB, or up to 64 smaller ones
 * for scattered blocks, clone_io_shape(); by io_uring or a thread pool:
 * qio.h; O_DIRECT where the files allow it), comparing
 * them afterwards (XXH3-128 per MiB and over the whole). Which blocks a
 * filesystem uses comes from fsmap.h, as for full images.
 */
#ifndef CBT_CLONE_COPY_H
#define CBT_CLONE_COPY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/extents.h"

struct clone_copy;

/* Called from the copying thread about every @tick_ms; nonzero stops the copy with it. */
typedef int (*clone_tick_cb)(void *data, uint64_t bytes_done, uint64_t bytes_total);

struct clone_copy_opts {
	uint32_t block_size;
	uint64_t dev_bytes;		/* source size: the last block may be short */
	uint64_t rate;			/* bytes per second at most; 0: no limit */
	volatile sig_atomic_t *stop;	/* stop when *stop >= stop_level */
	int stop_level;
	clone_tick_cb tick;
	void *tick_data;
	unsigned int tick_ms;
};

struct clone_copy_result {
	uint64_t bytes;		/* bytes written (and read) */
	uint64_t ios;
	unsigned int depth;	/* copies in flight at most */
	uint32_t io_bytes;	/* the largest copy */
	/*
	 * Every I/O before this byte offset was written: I/Os are issued in
	 * order, and complete in any order.
	 */
	uint64_t written_upto;
	bool stopped;		/* *stop was seen */
	int err;		/* 0 or the first error (-errno, detail recorded) */
	bool read_err;		/* the error was a read of the snapshot */
};

/*
 * --rate: the time (CLOCK_MONOTONIC ns) until which a copy of @bytes more
 * must wait, given @due, when the copies so far were due, and @now. Time
 * the copy spent stalled or slow earns at most CLONE_RATE_SLACK_NS of credit: a
 * copy held up for a while does not make up for it with a burst at full
 * speed, which is what --rate is there to prevent.
 */
#define CLONE_RATE_SLACK_NS 100000000ULL
uint64_t clone_rate_due(uint64_t due, uint64_t now, uint64_t bytes, uint64_t rate);

/*
 * Copy @ext (tracking blocks) from @src_fd to @dst_fd at the same offsets.
 * Returns 0 or -errno (-EINTR when stopped); @r says how far it got. The
 * target is not flushed: call clone_sync().
 */
int clone_copy_extents(int src_fd, int dst_fd, const struct cbt_extents *ext,
		       const struct clone_copy_opts *o, struct clone_copy_result *r);

/* fdatasync with a detail naming @name. */
int clone_sync(int fd, const char *name);

/*
 * Compare @ext (or the whole device when @ext is NULL) of @src_fd and
 * @dst_fd. 0 when equal, with @digest the XXH3-128 of the compared source
 * bytes (32 hex digits and a NUL); -EBADMSG with the first differing
 * offset in the detail and @mismatch_off.
 */
int clone_verify(int src_fd, int dst_fd, const struct cbt_extents *ext,
		 const struct clone_copy_opts *o, char digest[33], uint64_t *compared,
		 uint64_t *mismatch_off);

/* XXH64 of the first MiB of @path (less if it is smaller); 0 if unreadable. */
uint64_t clone_head_sum(const char *path);

/* Open for clone I/O: O_DIRECT, falling back to buffered where refused. */
int clone_open(const char *path, int flags, bool *direct);

#endif /* CBT_CLONE_COPY_H */
