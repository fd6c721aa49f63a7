// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "clone/qio.h"
#include "util/util.h"

struct clone_qio {
	bool uring;
	int src_fd, dst_fd;
	int err;			/* why clone_qio_wait() returned NULL */
	/* io_uring */
	struct io_uring ring;
	/* threads */
	pthread_mutex_t lock;		/* protects todo, done and quit */
	pthread_cond_t work;		/* todo gained a request, or quit */
	pthread_cond_t finished;	/* done gained a request */
	struct clone_qio_req *todo, *todo_tail, *done;
	bool quit;
	pthread_t *thr;
	unsigned int nr_thr;
};

/* ---- io_uring ----------------------------------------------------------- */

static void uring_prep(struct clone_qio *q, struct clone_qio_req *r)
{
	/* The ring has room for twice the depth: a free entry is always there. */
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	char *p = (char *)r->buf + r->done;

	if (r->writing && r->buf2)
		io_uring_prep_read(sqe, q->dst_fd, (char *)r->buf2 + r->done, r->len - r->done,
				   r->off + r->done);
	else if (r->writing)
		io_uring_prep_write(sqe, q->dst_fd, p, r->len - r->done, r->off + r->done);
	else
		io_uring_prep_read(sqe, q->src_fd, p, r->len - r->done, r->off + r->done);
	io_uring_sqe_set_data(sqe, r);
}

static int uring_submit(struct clone_qio *q)
{
	int ret;

	do
		ret = io_uring_submit(&q->ring);
	while (ret == -EINTR || ret == -EAGAIN);
	return ret < 0 ? ret : 0;
}

static struct clone_qio_req *uring_wait(struct clone_qio *q)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		struct clone_qio_req *r;
		int res, ret;

		ret = io_uring_wait_cqe(&q->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret) {
			/* The ring itself broke: no request to return. */
			q->err = cbt_err(ret, "waiting for copies in flight: %s", strerror(-ret));
			return NULL;
		}
		r = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&q->ring, cqe);
		if (res == -EINTR || res == -EAGAIN)
			res = 0, r->err = 0;	/* resubmitted below as it was */
		else if (res < 0)
			r->err = res;
		else if (!res)
			/* as cbt_p{read,write}_full */
			r->err = r->writing && !r->buf2 ? -ENOSPC : -ENODATA;
		if (r->err) {
			r->read_err = !r->writing;
			return r;
		}
		r->done += (uint32_t)res;
		if (r->done == r->len) {
			if (r->writing)
				return r;
			r->writing = true;
			r->done = 0;
		}
		/* A short transfer, or the write after the read. */
		uring_prep(q, r);
		ret = uring_submit(q);
		if (ret) {
			r->err = ret;
			r->read_err = false;
			return r;
		}
	}
}

/* ---- threads ------------------------------------------------------------- */

static void *worker(void *arg)
{
	struct clone_qio *q = arg;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct clone_qio_req *r;

		while (!q->todo && !q->quit)
			pthread_cond_wait(&q->work, &q->lock);
		if (!q->todo)
			break;
		r = q->todo;
		q->todo = r->next;
		pthread_mutex_unlock(&q->lock);
		r->err = cbt_pread_full(q->src_fd, r->buf, r->len, r->off);
		r->read_err = r->err != 0;
		if (!r->err && r->buf2)
			r->err = cbt_pread_full(q->dst_fd, r->buf2, r->len, r->off);
		else if (!r->err)
			r->err = cbt_pwrite_full(q->dst_fd, r->buf, r->len, r->off);
		pthread_mutex_lock(&q->lock);
		r->next = q->done;
		q->done = r;
		pthread_cond_signal(&q->finished);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void threads_stop(struct clone_qio *q)
{
	pthread_mutex_lock(&q->lock);
	q->quit = true;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
	for (unsigned int i = 0; i < q->nr_thr; i++)
		pthread_join(q->thr[i], NULL);
	free(q->thr);
}

/*
 * A worker only calls pread and pwrite: a small stack, so that up to 64 of
 * them under --throttle's mlockall(MCL_FUTURE) lock 16 MiB, not 8 MiB each.
 */
#define WORKER_STACK (256U << 10)

static int threads_start(struct clone_qio *q, unsigned int depth)
{
	pthread_attr_t attr;
	bool have_attr = !pthread_attr_init(&attr);
	bool small = have_attr && !pthread_attr_setstacksize(&attr, WORKER_STACK);

	q->thr = calloc(depth, sizeof(*q->thr));
	if (!q->thr) {
		if (have_attr)
			pthread_attr_destroy(&attr);
		return -ENOMEM;
	}
	for (q->nr_thr = 0; q->nr_thr < depth; q->nr_thr++) {
		if (pthread_create(&q->thr[q->nr_thr], small ? &attr : NULL, worker, q))
			break;
	}
	if (have_attr)
		pthread_attr_destroy(&attr);
	/* Fewer threads only mean fewer requests in flight; none is an error. */
	if (!q->nr_thr) {
		free(q->thr);
		return cbt_err(-EAGAIN, "cannot start a copying thread");
	}
	return 0;
}

/* ---- the interface --------------------------------------------------------- */

int clone_qio_open(int src_fd, int dst_fd, unsigned int depth, struct clone_qio **qp)
{
	struct clone_qio *q = calloc(1, sizeof(*q));
	const char *force = getenv("CBT_CLONE_IO");
	int ret;

	if (!q)
		return -ENOMEM;
	q->src_fd = src_fd;
	q->dst_fd = dst_fd;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->finished, NULL);
	if (!force || strcmp(force, "threads"))
		q->uring = !io_uring_queue_init(2 * depth, &q->ring, 0);
	if (q->uring) {
		/* [bounded, unbounded]; 0 keeps a limit. Refused before 5.15: the default cap stays. */
		unsigned int workers[2] = { depth, 0 };

		(void)io_uring_register_iowq_max_workers(&q->ring, workers);
	}
	if (!q->uring) {
		ret = threads_start(q, depth);
		if (ret) {
			free(q);
			return ret;
		}
	}
	*qp = q;
	return 0;
}

int clone_qio_error(const struct clone_qio *q)
{
	return q->err;
}

const char *clone_qio_engine(const struct clone_qio *q)
{
	return q->uring ? "io_uring" : "threads";
}

int clone_qio_submit(struct clone_qio *q, struct clone_qio_req *r)
{
	r->err = 0;
	r->read_err = false;
	r->writing = false;
	r->done = 0;
	r->next = NULL;
	if (q->uring) {
		uring_prep(q, r);
		return uring_submit(q);
	}
	pthread_mutex_lock(&q->lock);
	if (q->todo)
		q->todo_tail->next = r;
	else
		q->todo = r;
	q->todo_tail = r;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

struct clone_qio_req *clone_qio_wait(struct clone_qio *q)
{
	struct clone_qio_req *r;

	if (q->uring)
		return uring_wait(q);
	pthread_mutex_lock(&q->lock);
	while (!q->done)
		pthread_cond_wait(&q->finished, &q->lock);
	r = q->done;
	q->done = r->next;
	pthread_mutex_unlock(&q->lock);
	return r;
}

void clone_qio_close(struct clone_qio *q)
{
	if (!q)
		return;
	if (q->uring)
		io_uring_queue_exit(&q->ring);
	else
		threads_stop(q);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->finished);
	free(q);
}
