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

/*
 * XXH3 here is the comparison's digest, a whole device's worth: inlined,
 * scalar. In a TCG guest (the VM tests, bench_migrate) SSE2 code runs
 * emulated at half the scalar code's speed or less; natively the scalar
 * code still hashes GB/s, above what the two disks deliver, on a thread of
 * its own (struct hasher). The digest is the same either way.
 */
#define XXH_INLINE_ALL
#define XXH_VECTOR XXH_SCALAR
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
#define WINDOW (4 * CLONE_QIO_MAX_DEPTH)

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

/*
 * The test build (CBT_TEST_HOOKS) ticks after the first copy too: a fixed
 * point inside a pass for the migrate hook (migrate/run.h).
 */
#ifdef CBT_TEST_HOOKS
#define TEST_TICK_FIRST(res) ((res)->ios == 1)
#else
#define TEST_TICK_FIRST(res) false
#endif

uint64_t clone_rate_due(uint64_t due, uint64_t now, uint64_t bytes, uint64_t rate)
{
	if (due + CLONE_RATE_SLACK_NS < now)
		due = now - CLONE_RATE_SLACK_NS;
	return due + bytes * 1000000000ULL / rate;
}

/* Sleep until @bytes more fit the rate (*@due: when the copies so far were due), or a stop. */
static void throttle_rate(const struct clone_copy_opts *o, uint64_t *due, uint64_t bytes)
{
	uint64_t t = cbt_mono_ns();

	*due = clone_rate_due(*due, t, bytes, o->rate);
	while (t < *due && !(o->stop && *o->stop >= o->stop_level)) {
		uint64_t d = *due - t > 100000000ULL ? 100000000ULL : *due - t;
		struct timespec ts = { 0, (long)d };

		nanosleep(&ts, NULL);
		t = cbt_mono_ns();
	}
}

int clone_copy_extents(int src_fd, int dst_fd, const struct cbt_extents *ext,
		       const struct clone_copy_opts *o, struct clone_copy_result *res)
{
	uint64_t total = clone_extents_bytes(ext, o->block_size, o->dev_bytes);
	uint64_t t0 = cbt_mono_ns(), last_tick = t0, rate_due = t0, pos = 0, seq = 0;
	struct clone_qio_req req[CLONE_QIO_MAX_DEPTH], *free_req[CLONE_QIO_MAX_DEPTH];
	struct prefix *pf = calloc(1, sizeof(*pf));
	unsigned int nr_free = 0, inflight = 0;
	struct clone_io_shape sh;
	struct clone_qio *q = NULL;
	bool more = true;
	size_t ei = 0;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	memset(req, 0, sizeof(req));
	if (!pf)
		return -ENOMEM;
	clone_io_shape(ext, o->block_size, o->dev_bytes, &sh);
	res->depth = sh.depth;
	res->io_bytes = sh.io_bytes;
	for (unsigned int i = 0; i < sh.depth; i++) {
		if (posix_memalign(&req[i].buf, ALIGN, sh.io_bytes)) {
			ret = -ENOMEM;
			goto out;
		}
		free_req[nr_free++] = &req[i];
	}
	ret = clone_qio_open(src_fd, dst_fd, sh.depth, &q);
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
			if (!clone_next_io(ext, o->block_size, o->dev_bytes, sh.io_bytes, &ei, &pos,
					   &r->off, &r->len)) {
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
			if (o->rate)
				throttle_rate(o, &rate_due, r->len);
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
		if (!ret && o->tick && (t - last_tick >= (uint64_t)o->tick_ms * 1000000ULL ||
					TEST_TICK_FIRST(res))) {
			last_tick = t;
			ret = o->tick(o->tick_data, res->bytes, total);
		}
	}
	res->written_upto = pf->upto;
out:
	res->err = ret;
	clone_qio_close(q);
	for (unsigned int i = 0; i < CLONE_QIO_MAX_DEPTH; i++)
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

/*
 * The digest of a comparison, on a thread of its own: XXH3 costs more CPU
 * than comparing the bytes, and runs in order over the buffers the
 * comparing thread hands over.
 */
struct hasher {
	pthread_mutex_t lock;		/* protects ready, hashed and quit */
	pthread_cond_t cond;		/* ready, hashed or quit changed */
	uint64_t ready, hashed;		/* sequence numbers handed over, hashed */
	bool quit;
	bool thread;			/* running; else the comparing thread hashes */
	pthread_t thr;
	XXH3_state_t *st;
	struct clone_qio_req *slot;	/* VERIFY_DEPTH, request n in slot n % VERIFY_DEPTH */
};

#define VERIFY_DEPTH 8

static void *hash_worker(void *arg)
{
	struct hasher *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		struct clone_qio_req *r;

		while (h->hashed == h->ready && !h->quit)
			pthread_cond_wait(&h->cond, &h->lock);
		if (h->hashed == h->ready)
			break;
		r = &h->slot[h->hashed % VERIFY_DEPTH];
		pthread_mutex_unlock(&h->lock);
		XXH3_128bits_update(h->st, r->buf, r->len);
		pthread_mutex_lock(&h->lock);
		h->hashed++;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Hand request @seq over to be hashed. */
static void hash_add(struct hasher *h, uint64_t seq)
{
	if (!h->thread) {
		XXH3_128bits_update(h->st, h->slot[seq % VERIFY_DEPTH].buf,
				    h->slot[seq % VERIFY_DEPTH].len);
		h->ready = h->hashed = seq + 1;
		return;
	}
	pthread_mutex_lock(&h->lock);
	h->ready = seq + 1;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* Wait until @n requests are hashed; their slots are free again. */
static void hash_wait(struct hasher *h, uint64_t n)
{
	if (!h->thread)
		return;
	pthread_mutex_lock(&h->lock);
	while (h->hashed < n)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

static void hash_stop(struct hasher *h)
{
	if (!h->thread)
		return;
	pthread_mutex_lock(&h->lock);
	h->quit = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thr, NULL);
	h->thread = false;
}

/*
 * Where @a and @b first differ, or @len: eight bytes at a time. In a TCG
 * guest glibc's SSE2 memcmp() runs at a quarter of this loop's speed or
 * less (bench_migrate's root: 1.2-1.6 s against 0.3-0.45 s for 545 MiB);
 * natively both outrun the disks.
 */
static size_t first_difference(const void *a, const void *b, size_t len)
{
	const unsigned char *p = a, *q = b;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t x, y;

		memcpy(&x, p + i, 8);
		memcpy(&y, q + i, 8);
		if (x != y)
			break;
	}
	while (i < len && p[i] == q[i])
		i++;
	return i;
}

/*
 * Both sides are read VERIFY_DEPTH MiB ahead (qio.h, comparison mode),
 * compared in order by this thread, hashed in order by the hasher.
 */
int clone_verify(int src_fd, int dst_fd, const struct cbt_extents *ext,
		 const struct clone_copy_opts *o, char digest[33], uint64_t *compared,
		 uint64_t *mismatch_off)
{
	struct clone_qio_req slot[VERIFY_DEPTH];
	struct hasher h = { .slot = slot };
	bool done[VERIFY_DEPTH] = { false };
	struct cbt_extents all;
	struct clone_qio *q = NULL;
	uint64_t pos = 0, total, finished = 0, last_tick = cbt_mono_ns();
	uint64_t next_submit = 0, next_check = 0;
	unsigned int inflight = 0;
	bool more = true;
	size_t ei = 0;
	int ret = 0;

	memset(slot, 0, sizeof(slot));
	cbt_extents_init(&all);
	if (!ext) {
		ret = cbt_extents_append(&all, 0, (o->dev_bytes + o->block_size - 1) / o->block_size);
		ext = &all;
	}
	total = clone_extents_bytes(ext, o->block_size, o->dev_bytes);
	h.st = XXH3_createState();
	if (!h.st)
		ret = -ENOMEM;
	for (int i = 0; !ret && i < VERIFY_DEPTH; i++)
		if (posix_memalign(&slot[i].buf, ALIGN, CLONE_IO_BYTES) ||
		    posix_memalign(&slot[i].buf2, ALIGN, CLONE_IO_BYTES))
			ret = -ENOMEM;
	if (!ret)
		ret = clone_qio_open(src_fd, dst_fd, VERIFY_DEPTH, &q);
	if (ret)
		goto out;
	XXH3_128bits_reset(h.st);
	pthread_mutex_init(&h.lock, NULL);
	pthread_cond_init(&h.cond, NULL);
	h.thread = !pthread_create(&h.thr, NULL, hash_worker, &h);

	for (;;) {
		struct clone_qio_req *r;

		/* Read ahead into the slots the hasher is done with. */
		while (!ret && more) {
			if (o->stop && *o->stop >= o->stop_level) {
				ret = cbt_err(-EINTR, "verification interrupted");
				break;
			}
			if (next_submit >= next_check + VERIFY_DEPTH)
				break;
			r = &slot[next_submit % VERIFY_DEPTH];
			if (next_submit >= VERIFY_DEPTH)
				hash_wait(&h, next_submit - VERIFY_DEPTH + 1);
			if (!clone_next_io(ext, o->block_size, o->dev_bytes, CLONE_IO_BYTES, &ei, &pos,
					   &r->off, &r->len)) {
				more = false;
				break;
			}
			r->seq = next_submit;
			ret = clone_qio_submit(q, r);
			if (ret) {
				ret = cbt_err(ret, "queueing a comparison at byte %" PRIu64 ": %s",
					      r->off, strerror(-ret));
				break;
			}
			next_submit++;
			inflight++;
		}
		if (!inflight)
			break;
		/* After an error or a stop only drain what is in flight. */
		r = clone_qio_wait(q);
		if (!r) {
			ret = ret ? ret : clone_qio_error(q);
			break;
		}
		inflight--;
		if (r->err && (!ret || ret == -EINTR))
			ret = cbt_err(r->err, "reading the %s at byte %" PRIu64 ": %s", r->read_err ?
				      "snapshot" : "target", r->off, strerror(-r->err));
		if (ret)
			continue;
		done[r->seq % VERIFY_DEPTH] = true;
		while (!ret && next_check < next_submit && done[next_check % VERIFY_DEPTH]) {
			const struct clone_qio_req *c = &slot[next_check % VERIFY_DEPTH];
			size_t i = first_difference(c->buf, c->buf2, c->len);

			done[next_check % VERIFY_DEPTH] = false;
			if (i < c->len) {
				*mismatch_off = c->off + i;
				ret = cbt_err(-EBADMSG, "the target differs from the snapshot at byte %"
					      PRIu64 " (%s block %" PRIu64 ")", c->off + i, "tracking",
					      (c->off + i) / o->block_size);
				break;
			}
			hash_add(&h, next_check);
			finished += c->len;
			next_check++;
		}
		if (!ret && o->tick && cbt_mono_ns() - last_tick >= (uint64_t)o->tick_ms * 1000000ULL) {
			last_tick = cbt_mono_ns();
			o->tick(o->tick_data, finished, total);
		}
	}
	hash_stop(&h);
	pthread_mutex_destroy(&h.lock);
	pthread_cond_destroy(&h.cond);
	if (!ret) {
		XXH128_hash_t d = XXH3_128bits_digest(h.st);

		snprintf(digest, 33, "%016llx%016llx", (unsigned long long)d.high64,
			 (unsigned long long)d.low64);
	}
out:
	*compared = finished;
	clone_qio_close(q);
	XXH3_freeState(h.st);
	for (int i = 0; i < VERIFY_DEPTH; i++) {
		free(slot[i].buf);
		free(slot[i].buf2);
	}
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

