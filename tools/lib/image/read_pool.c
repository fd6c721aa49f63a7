// SPDX-License-Identifier: GPL-2.0
/*
 * The image reader on several threads (cbt_img_reader_threads()), a
 * pipeline through a ring of frame slots:
 *   - the reading thread reads frames from the stream (img_frame_parse()),
 *     in order, into free slots;
 *   - @n decoding threads check, decrypt and decompress them, in any order;
 *   - the digest thread feeds the decoded frames to the content digest, in
 *     order (XXH3-128 of the content is sequential by the format);
 *   - the caller's thread takes them from cbt_img_next(), in order, and
 *     does its own work with them (a restore's pwrite()) while the next
 *     ones are read, decoded and hashed.
 * A slot is read into again once the caller has given its frame back and
 * the digest has taken it. A frame's error (or the trailer) stops the
 * reading and is returned when its turn comes, after every frame before
 * it, with its detail: the caller sees exactly what the single-threaded
 * reader (image/read.c) shows. The trailer is read on the caller's thread,
 * once the reading thread stopped before it and the digest holds every
 * frame before it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/read_priv.h"
#include "util/util.h"

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE };

struct read_pool {
	struct cbt_img_reader *r;
	/*
	 * protects every slot's state, err, msg and trailer, and released, job,
	 * tail, hashed, stop and quit
	 */
	pthread_mutex_t lock;
	pthread_cond_t work;	/* decoding threads: a frame was queued, or quit */
	pthread_cond_t done;	/* caller, digest: a frame was decoded or settled, or quit */
	pthread_cond_t room;	/* reading: a slot came free; caller: a frame was hashed */
	size_t nslots;
	struct frame_slot **slots;
	uint64_t head;		/* the next frame to hand out (caller only) */
	uint64_t released;	/* frames before this are back from the caller */
	uint64_t job;		/* the next frame a decoding thread takes */
	uint64_t tail;		/* the next frame to read */
	uint64_t hashed;	/* frames before this are in the digest */
	bool stop;		/* reading stopped at the trailer or an error */
	bool quit;
	int nthreads;		/* decoding threads started */
	pthread_t *tid;
	bool reading, hashing;	/* the reading and the digest thread started */
	pthread_t reader, digester;
};

static struct frame_slot *pool_slot(const struct read_pool *p, uint64_t seq)
{
	return p->slots[seq % p->nslots];
}

static void slot_result(struct frame_slot *s, int err)
{
	const char *d = err < 0 ? cbt_err_detail() : NULL;

	s->err = err;
	snprintf(s->msg, sizeof(s->msg), "%s", d ? d : "");
}

static void *pool_worker(void *arg)
{
	struct read_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct frame_slot *s;
		int ret;

		while (!p->quit && p->job == p->tail)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->quit)
			break;
		s = pool_slot(p, p->job++);
		if (s->state != SLOT_QUEUED)
			continue;	/* the trailer or an error, settled when read */
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&p->lock);
		ret = img_frame_decode(p->r, s);
		pthread_mutex_lock(&p->lock);
		slot_result(s, ret);
		cbt_err_clear();
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Frames the reading thread may not read into yet: the caller's or the digest's. */
static uint64_t pool_busy_from(const struct read_pool *p)
{
	return p->released < p->hashed ? p->released : p->hashed;
}

static void *pool_reader(void *arg)
{
	struct read_pool *p = arg;

	/* cancelled only in img_frame_parse(): it may wait in read() on a stream */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct frame_slot *s;
		int ret;

		while (!p->quit && p->tail - pool_busy_from(p) >= p->nslots)
			pthread_cond_wait(&p->room, &p->lock);
		if (p->quit)
			break;
		s = pool_slot(p, p->tail);
		s->state = SLOT_FREE;
		pthread_mutex_unlock(&p->lock);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		ret = img_frame_parse(p->r, s);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_mutex_lock(&p->lock);
		s->trailer = ret == 1;
		if (ret) {
			slot_result(s, ret);
			s->state = SLOT_DONE;
			p->stop = true;
			pthread_cond_broadcast(&p->done);
		} else {
			s->state = SLOT_QUEUED;
		}
		p->tail++;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->lock);
	cbt_err_clear();
	return NULL;
}

static void *pool_digest(void *arg)
{
	struct read_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct frame_slot *s;

		while (!p->quit && (p->hashed == p->tail ||
				    pool_slot(p, p->hashed)->state != SLOT_DONE))
			pthread_cond_wait(&p->done, &p->lock);
		if (p->quit)
			break;
		s = pool_slot(p, p->hashed);
		if (s->trailer || s->err)
			break;	/* the content ends here */
		pthread_mutex_unlock(&p->lock);
		XXH3_128bits_update(p->r->digest, s->raw, s->raw_len);
		pthread_mutex_lock(&p->lock);
		p->hashed++;
		pthread_cond_broadcast(&p->room);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void img_pool_free(struct read_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->done);
	pthread_cond_broadcast(&p->room);
	pthread_mutex_unlock(&p->lock);
	if (p->reading) {
		pthread_cancel(p->reader);
		pthread_join(p->reader, NULL);
	}
	if (p->hashing)
		pthread_join(p->digester, NULL);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->tid[i], NULL);
	for (size_t i = 0; p->slots && i < p->nslots; i++)
		img_slot_free(p->slots[i]);
	free(p->slots);
	free(p->tid);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->room);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int pool_start(pthread_t *t, void *(*fn)(void *), struct read_pool *p, int n)
{
	int e = pthread_create(t, NULL, fn, p);

	return e ? cbt_err(-e, "starting %d decoding threads: %s", n, strerror(e)) : 0;
}

int cbt_img_reader_threads(struct cbt_img_reader *r, int n)
{
	struct read_pool *p;
	int ret = 0;

	if (n <= 1 || r->pool)
		return 0;
	if (r->parse_seq || r->done)
		return -EINVAL;
	if (n > CBT_IMG_READ_THREADS_MAX)
		n = CBT_IMG_READ_THREADS_MAX;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->r = r;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	pthread_cond_init(&p->room, NULL);
	/* one frame with the caller (and the digest), one being read, the rest decoding */
	p->nslots = (size_t)n + 2;
	p->slots = calloc(p->nslots, sizeof(*p->slots));
	p->tid = calloc((size_t)n, sizeof(*p->tid));
	if (!p->slots || !p->tid)
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < p->nslots; i++)
		if (!(p->slots[i] = img_slot_new(r)))
			ret = -ENOMEM;
	for (; !ret && p->nthreads < n; p->nthreads++)
		ret = pool_start(&p->tid[p->nthreads], pool_worker, p, n);
	if (!ret && !(ret = pool_start(&p->digester, pool_digest, p, n)))
		p->hashing = true;
	if (!ret && !(ret = pool_start(&p->reader, pool_reader, p, n)))
		p->reading = true;
	if (ret) {
		img_pool_free(p);
		return ret;
	}
	r->pool = p;
	return 0;
}

int img_pool_next(struct cbt_img_reader *r, struct cbt_img_frame *f)
{
	struct read_pool *p = r->pool;
	uint64_t k = p->head;
	struct frame_slot *s = pool_slot(p, k);
	int ret;

	if (r->failed)
		return r->failed;
	pthread_mutex_lock(&p->lock);
	p->released = k;	/* the frame handed out last time comes back */
	pthread_cond_broadcast(&p->room);
	while (k == p->tail || s->state != SLOT_DONE)
		pthread_cond_wait(&p->done, &p->lock);
	/* the trailer goes on with the digest of every frame before it */
	while (s->trailer && p->hashed < k)
		pthread_cond_wait(&p->room, &p->lock);
	pthread_mutex_unlock(&p->lock);
	p->head++;
	if (s->trailer)
		ret = img_read_trailer(r, s->h, s->start);
	else if (s->err && s->msg[0])
		ret = cbt_err(s->err, "%s", s->msg);
	else if (s->err)
		ret = s->err;
	else
		ret = img_frame_commit(r, s, f);
	if (ret < 0)
		r->failed = ret;
	return ret;
}
