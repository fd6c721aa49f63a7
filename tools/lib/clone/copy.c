// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "clone/copy.h"
#include "clone/plan.h"
#include "clone/qio.h"
#include "util/util.h"

#define ALIGN 4096

int clone_open(const char *path, int flags, bool *direct)
{
	int fd = open(path, flags | O_DIRECT | O_CLOEXEC);

	*direct = fd >= 0;
	if (fd < 0 && errno == EINVAL)
		fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

/* Completions arrive out of order: a window of sequence numbers finds the written prefix. */
#define WINDOW (4 * CLONE_QIO_DEPTH)

struct prefix {
	bool done[WINDOW];
	uint64_t end[WINDOW];
	uint64_t next;		/* lowest sequence number not yet written */
	uint64_t upto;		/* every I/O before this byte offset was written */
};

static void prefix_done(struct prefix *p, uint64_t seq, uint64_t end)
{
	p->done[seq % WINDOW] = true;
	p->end[seq % WINDOW] = end;
	while (p->done[p->next % WINDOW]) {
		p->done[p->next % WINDOW] = false;
		p->upto = p->end[p->next % WINDOW];
		p->next++;
	}
}

/* Sleep until @bytes fit @rate since @t0, or a stop. */
static void throttle_rate(const struct clone_copy_opts *o, uint64_t t0, uint64_t bytes)
{
	uint64_t due = t0 + bytes * 1000000000ULL / o->rate, t = cbt_mono_ns();

	while (t < due && !(o->stop && *o->stop >= o->stop_level)) {
		uint64_t d = due - t > 100000000ULL ? 100000000ULL : due - t;
		struct timespec ts = { 0, (long)d };

		nanosleep(&ts, NULL);
		t = cbt_mono_ns();
	}
}

int clone_copy_extents(int src_fd, int dst_fd, const struct cbt_extents *ext,
		       const struct clone_copy_opts *o, struct clone_copy_result *res)
{
	uint64_t total = clone_extents_bytes(ext, o->block_size, o->dev_bytes);
	uint64_t t0 = cbt_mono_ns(), last_tick = t0, read_bytes = 0, pos = 0, seq = 0;
	struct clone_qio_req req[CLONE_QIO_DEPTH], *free_req[CLONE_QIO_DEPTH];
	struct prefix *pf = calloc(1, sizeof(*pf));
	unsigned int nr_free = 0, inflight = 0;
	struct clone_qio *q = NULL;
	bool more = true;
	size_t ei = 0;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	memset(req, 0, sizeof(req));
	if (!pf)
		return -ENOMEM;
	for (int i = 0; i < CLONE_QIO_DEPTH; i++) {
		if (posix_memalign(&req[i].buf, ALIGN, CLONE_IO_BYTES > o->block_size ?
				   CLONE_IO_BYTES : o->block_size)) {
			ret = -ENOMEM;
			goto out;
		}
		free_req[nr_free++] = &req[i];
	}
	ret = clone_qio_open(src_fd, dst_fd, CLONE_QIO_DEPTH, &q);
	if (ret)
		goto out;

	for (;;) {
		struct clone_qio_req *r;
		uint64_t t;

		/* Keep the queue full; after an error or a stop only drain it. */
		while (!ret && more && nr_free && seq < pf->next + WINDOW) {
			if (o->stop && *o->stop >= o->stop_level) {
				res->stopped = true;
				ret = -EINTR;
				break;
			}
			r = free_req[nr_free - 1];
			if (!clone_next_io(ext, o->block_size, o->dev_bytes, &ei, &pos, &r->off,
					   &r->len)) {
				more = false;
				break;
			}
			r->seq = seq++;
			ret = clone_qio_submit(q, r);
			if (ret) {
				ret = cbt_err(ret, "queueing a copy at byte %" PRIu64 ": %s", r->off,
					      strerror(-ret));
				break;
			}
			nr_free--;
			inflight++;
			read_bytes += r->len;
			if (o->rate)
				throttle_rate(o, t0, read_bytes);
		}
		if (!inflight)
			break;
		r = clone_qio_wait(q);
		if (!r) {
			/* In-flight copies are waited for by clone_qio_close(). */
			ret = clone_qio_error(q);
			break;
		}
		inflight--;
		free_req[nr_free++] = r;
		if (r->err && (!ret || ret == -EINTR)) {
			res->read_err = r->read_err;
			ret = cbt_err(r->err, "%s at byte %" PRIu64 ": %s", r->read_err ?
				      "reading the snapshot" : "writing the target", r->off,
				      strerror(-r->err));
		} else if (!r->err) {
			res->bytes += r->len;
			res->ios++;
			prefix_done(pf, r->seq, r->off + r->len);
		}
		t = cbt_mono_ns();
		if (!ret && o->tick && t - last_tick >= (uint64_t)o->tick_ms * 1000000ULL) {
			last_tick = t;
			ret = o->tick(o->tick_data, res->bytes, total);
		}
	}
	res->written_upto = pf->upto;
out:
	res->err = ret;
	clone_qio_close(q);
	for (int i = 0; i < CLONE_QIO_DEPTH; i++)
		free(req[i].buf);
	free(pf);
	return ret;
}

int clone_sync(int fd, const char *name)
{
	if (fdatasync(fd))
		return cbt_err(-errno, "flushing %s: %s", name, strerror(errno));
	return 0;
}

int clone_verify(int src_fd, int dst_fd, const struct cbt_extents *ext,
		 const struct clone_copy_opts *o, char digest[33], uint64_t *compared,
		 uint64_t *mismatch_off)
{
	struct cbt_extents all;
	XXH3_state_t *st = XXH3_createState();
	void *a = NULL, *b = NULL;
	uint64_t pos = 0, off, done = 0, last_tick = cbt_mono_ns();
	size_t ei = 0;
	uint32_t len;
	int ret = 0;

	cbt_extents_init(&all);
	if (!ext) {
		ret = cbt_extents_append(&all, 0, (o->dev_bytes + o->block_size - 1) / o->block_size);
		ext = &all;
	}
	if (!st || posix_memalign(&a, ALIGN, CLONE_IO_BYTES) || posix_memalign(&b, ALIGN, CLONE_IO_BYTES))
		ret = -ENOMEM;
	if (!ret)
		XXH3_128bits_reset(st);
	while (!ret && clone_next_io(ext, o->block_size, o->dev_bytes, &ei, &pos, &off, &len)) {
		if (o->stop && *o->stop >= o->stop_level) {
			ret = cbt_err(-EINTR, "verification interrupted");
			break;
		}
		ret = cbt_pread_full(src_fd, a, len, off);
		if (ret) {
			ret = cbt_err(ret, "reading the snapshot at byte %" PRIu64 ": %s", off,
				      strerror(-ret));
			break;
		}
		ret = cbt_pread_full(dst_fd, b, len, off);
		if (ret) {
			ret = cbt_err(ret, "reading the target at byte %" PRIu64 ": %s", off,
				      strerror(-ret));
			break;
		}
		if (memcmp(a, b, len)) {
			uint32_t i = 0;

			while (((const char *)a)[i] == ((const char *)b)[i])
				i++;
			*mismatch_off = off + i;
			ret = cbt_err(-EBADMSG, "the target differs from the snapshot at byte %" PRIu64
				      " (%s block %" PRIu64 ")", off + i, "tracking",
				      (off + i) / o->block_size);
			break;
		}
		XXH3_128bits_update(st, a, len);
		done += len;
		if (o->tick && cbt_mono_ns() - last_tick >= (uint64_t)o->tick_ms * 1000000ULL) {
			last_tick = cbt_mono_ns();
			o->tick(o->tick_data, done, clone_extents_bytes(ext, o->block_size, o->dev_bytes));
		}
	}
	if (!ret) {
		XXH128_hash_t h = XXH3_128bits_digest(st);

		snprintf(digest, 33, "%016llx%016llx", (unsigned long long)h.high64,
			 (unsigned long long)h.low64);
	}
	*compared = done;
	XXH3_freeState(st);
	free(a);
	free(b);
	cbt_extents_free(&all);
	return ret;
}

uint64_t clone_head_sum(const char *path)
{
	char *buf = malloc(1 << 20);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t sum = 0;
	ssize_t n = 0, got = 0;

	if (fd >= 0 && buf) {
		/* a fresh view: what a previous run wrote with O_DIRECT */
		posix_fadvise(fd, 0, 1 << 20, POSIX_FADV_DONTNEED);
		while (got < (1 << 20) && (n = pread(fd, buf + got, (size_t)((1 << 20) - got), got)) > 0)
			got += n;
		if (n >= 0)
			sum = XXH64(buf, (size_t)got, 0);
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return sum;
}

