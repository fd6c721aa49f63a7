// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "clone/copy.h"
#include "clone/plan.h"
#include "util/util.h"

#define NBUF 8
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

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -ENOSPC;
		done += (size_t)n;
	}
	return 0;
}

struct slot {
	void *buf;
	uint64_t off;
	uint32_t len;
	bool full;
};

struct ring {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot slot[NBUF];
	unsigned int head, tail;	/* reader fills head, writer drains tail */
	bool eof;			/* no more slots will be filled */
	bool abort;			/* the writer must stop */
	int werr;			/* the writer's error */
	uint64_t werr_off;
	uint64_t written, written_upto, ios;
	int dst_fd;
};

static void *writer(void *arg)
{
	struct ring *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct slot *s = &r->slot[r->tail % NBUF];
		int ret;

		while (!s->full && !r->eof && !r->abort)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->abort || !s->full)
			break;
		pthread_mutex_unlock(&r->lock);
		ret = pwrite_full(r->dst_fd, s->buf, s->len, s->off);
		pthread_mutex_lock(&r->lock);
		if (ret) {
			r->werr = ret;
			r->werr_off = s->off;
			break;
		}
		r->written += s->len;
		r->written_upto = s->off + s->len;
		r->ios++;
		s->full = false;
		r->tail++;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int clone_copy_extents(int src_fd, int dst_fd, const struct cbt_extents *ext,
		       const struct clone_copy_opts *o, struct clone_copy_result *res)
{
	uint64_t total = clone_extents_bytes(ext, o->block_size, o->dev_bytes);
	uint64_t t0 = cbt_mono_ns(), last_tick = t0, read_bytes = 0, pos = 0, off;
	struct ring r = { .dst_fd = dst_fd };
	pthread_t thr;
	size_t ei = 0;
	uint32_t len;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	for (int i = 0; i < NBUF; i++) {
		if (posix_memalign(&r.slot[i].buf, ALIGN, CLONE_IO_BYTES > o->block_size ?
				   CLONE_IO_BYTES : o->block_size)) {
			for (int k = 0; k < i; k++)
				free(r.slot[k].buf);
			return -ENOMEM;
		}
	}
	if (pthread_create(&thr, NULL, writer, &r)) {
		for (int i = 0; i < NBUF; i++)
			free(r.slot[i].buf);
		return cbt_err(-EAGAIN, "cannot start the writer thread");
	}

	while (clone_next_io(ext, o->block_size, o->dev_bytes, &ei, &pos, &off, &len)) {
		struct slot *s;
		uint64_t t;

		if (o->stop && *o->stop >= o->stop_level) {
			res->stopped = true;
			ret = -EINTR;
			break;
		}
		pthread_mutex_lock(&r.lock);
		s = &r.slot[r.head % NBUF];
		while (s->full && !r.werr)
			pthread_cond_wait(&r.cond, &r.lock);
		ret = r.werr;
		pthread_mutex_unlock(&r.lock);
		if (ret)
			break;
		ret = cbt_pread_full(src_fd, s->buf, len, off);
		if (ret) {
			ret = cbt_err(ret, "reading the snapshot at byte %" PRIu64 ": %s", off,
				      strerror(-ret));
			res->read_err = true;
			break;
		}
		pthread_mutex_lock(&r.lock);
		s->off = off;
		s->len = len;
		s->full = true;
		r.head++;
		pthread_cond_broadcast(&r.cond);
		pthread_mutex_unlock(&r.lock);
		read_bytes += len;

		t = cbt_mono_ns();
		if (o->rate) {
			/* Sleep until the bytes read fit the rate. */
			uint64_t due = t0 + read_bytes * 1000000000ULL / o->rate;

			while (t < due && !(o->stop && *o->stop >= o->stop_level)) {
				uint64_t d = due - t > 100000000ULL ? 100000000ULL : due - t;
				struct timespec ts = { 0, (long)d };

				nanosleep(&ts, NULL);
				t = cbt_mono_ns();
			}
		}
		if (o->tick && t - last_tick >= (uint64_t)o->tick_ms * 1000000ULL) {
			uint64_t w;

			last_tick = t;
			pthread_mutex_lock(&r.lock);
			w = r.written;
			pthread_mutex_unlock(&r.lock);
			ret = o->tick(o->tick_data, w, total);
			if (ret)
				break;
		}
	}

	pthread_mutex_lock(&r.lock);
	if (ret)
		r.abort = ret != -EINTR;	/* stopped: let the writer finish what was read */
	r.eof = true;
	pthread_cond_broadcast(&r.cond);
	pthread_mutex_unlock(&r.lock);
	pthread_join(thr, NULL);
	if (!ret && r.werr)
		ret = r.werr;
	if (r.werr && ret == r.werr)
		ret = cbt_err(r.werr, "writing the target at byte %" PRIu64 ": %s", r.werr_off,
			      strerror(-r.werr));
	res->bytes = r.written;
	res->ios = r.ios;
	res->written_upto = r.written_upto;
	res->err = ret;
	for (int i = 0; i < NBUF; i++)
		free(r.slot[i].buf);
	pthread_mutex_destroy(&r.lock);
	pthread_cond_destroy(&r.cond);
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

