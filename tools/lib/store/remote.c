// SPDX-License-Identifier: GPL-2.0
/*
 * Images in S3: the multipart uploader and the readers of stubs. See
 * remote.h and docs/storage.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/remote.h"
#include "store/safefile.h"
#include "store/segment.h"
#include "store/sock.h"
#include "util/util.h"

/*
 * The store stubs are read from: one chain per command. Set by
 * cbt_remote_use() before any stub is read, then only read (threads
 * included).
 */
static struct cbt_s3 remote_s3;

void cbt_remote_use(const struct cbt_s3 *s)
{
	remote_s3 = *s;
}

static int write_file(int dfd, const char *name, const void *p, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int ret = 0;

	if (fd < 0)
		return cbt_err(-errno, "%s: %s", name, strerror(errno));
	if (write(fd, p, len) != (ssize_t)len)
		ret = cbt_err(-EIO, "%s: short write", name);
	close(fd);
	return ret;
}

int cbt_remote_write_stub(int dfd, const char *name, uint64_t size)
{
	char buf[NAME_MAX + 64];
	int n = snprintf(buf, sizeof(buf), "%s%s %" PRIu64 "\n", CBT_REMOTE_STUB_MAGIC, name, size);

	unlinkat(dfd, name, 0);
	return write_file(dfd, name, buf, (size_t)n);
}

int cbt_remote_stub_read(int fd, char *name, size_t len, uint64_t *size)
{
	char buf[NAME_MAX + 64], n[NAME_MAX + 1];
	size_t ml = strlen(CBT_REMOTE_STUB_MAGIC);
	ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);
	unsigned long long sz;
	int used = 0;

	if (got < (ssize_t)ml || memcmp(buf, CBT_REMOTE_STUB_MAGIC, ml))
		return 0;
	buf[got] = 0;
	if (sscanf(buf + ml, "%255s %llu\n%n", n, &sz, &used) != 2 || buf[ml + used] ||
	    strlen(n) >= len || strchr(n, '/'))
		return cbt_err(-EBADMSG, "a bad S3 object stub");
	snprintf(name, len, "%s", n);
	*size = sz;
	return 1;
}

/* ---- Uploading ---------------------------------------------------------- */

struct cbt_remote_writer {
	const struct cbt_s3 *s3;
	char url[600];
	pthread_t thread;
	int sock[2];		/* [0] drained by the thread, [1] the image writer's */
	char name[NAME_MAX + 1];
	char upload_id[400];
	char (*etags)[80];
	int parts;
	uint64_t size;
	int err;		/* the thread's first failure, read after the join */
	char detail[1024];
};

static void rw_fail(struct cbt_remote_writer *w, int err)
{
	const char *d = cbt_err_detail();

	if (w->err)
		return;
	w->err = err;
	snprintf(w->detail, sizeof(w->detail), "%s", d ? d : strerror(-err));
}

static int upload_part(struct cbt_remote_writer *w, const uint8_t *p, size_t len)
{
	if (!(w->parts & (w->parts + 1))) {
		char (*e)[80] = realloc(w->etags, (size_t)(2 * w->parts + 1) * sizeof(*e));

		if (!e)
			return -ENOMEM;
		w->etags = e;
	}
	if (w->parts >= 10000)
		return cbt_err(-EFBIG, "%s/%s: more than 10000 parts", w->url, w->name);
	w->parts++;
	w->size += len;
	return cbt_s3_mpu_part(w->s3, w->name, w->upload_id, w->parts, p, len,
			       w->etags[w->parts - 1], sizeof(w->etags[0]));
}

/* Like the segment writer: after a failure it drains, so the image writer never blocks. */
static void *upload_thread(void *arg)
{
	struct cbt_remote_writer *w = arg;
	uint8_t *buf = malloc(CBT_REMOTE_PART_SIZE), drop[4096];
	size_t have = 0;

	if (!buf)
		rw_fail(w, -ENOMEM);
	for (;;) {
		bool full = !w->err && buf;
		ssize_t n = full ? read(w->sock[0], buf + have, CBT_REMOTE_PART_SIZE - have) :
			    read(w->sock[0], drop, sizeof(drop));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rw_fail(w, -errno);
		if (n <= 0)
			break;
		if (!full)
			continue;
		have += (size_t)n;
		if (have == CBT_REMOTE_PART_SIZE) {
			int ret = upload_part(w, buf, have);

			if (ret)
				rw_fail(w, ret);
			have = 0;
		}
	}
	/* The last part may be short; an empty image still has one part. */
	if (!w->err && buf && (have || !w->parts)) {
		int ret = upload_part(w, buf, have);

		if (ret)
			rw_fail(w, ret);
	}
	free(buf);
	return NULL;
}

int cbt_remote_writer_open(struct cbt_remote_writer **wp, const struct cbt_s3 *s3,
			   const char *url, const char *name, int *fd)
{
	struct cbt_remote_writer *w = calloc(1, sizeof(*w));
	int ret;

	*wp = NULL;
	if (!w)
		return -ENOMEM;
	w->s3 = s3;
	snprintf(w->url, sizeof(w->url), "%s", url);
	w->sock[0] = w->sock[1] = -1;
	snprintf(w->name, sizeof(w->name), "%s", name);
	ret = cbt_s3_mpu_abort_all(s3, NULL, NULL);
	if (ret > 0)
		fprintf(stderr, "cbt: %s: aborted %d unfinished upload%s of an earlier run\n",
			url, ret, ret == 1 ? "" : "s");
	if (ret >= 0)
		ret = cbt_s3_mpu_start(s3, name, w->upload_id, sizeof(w->upload_id));
	if (!ret)
		ret = cbt_sock_pair(w->sock);
	if (!ret)
		ret = -pthread_create(&w->thread, NULL, upload_thread, w);
	if (ret) {
		if (*w->upload_id)
			cbt_s3_mpu_abort(s3, name, w->upload_id);
		for (int i = 0; i < 2; i++)
			if (w->sock[i] >= 0)
				close(w->sock[i]);
		free(w);
		return ret;
	}
	*fd = w->sock[1];
	*wp = w;
	return 0;
}

static void rw_free(struct cbt_remote_writer *w, bool abort)
{
	if (abort && *w->upload_id) {
		/* The failure that made us abort is the one to report, not the abort's. */
		const char *d = cbt_err_detail();
		char keep[1024];

		snprintf(keep, sizeof(keep), "%s", d ? d : "");
		cbt_s3_mpu_abort(w->s3, w->name, w->upload_id);
		cbt_err_clear();
		if (*keep)
			cbt_err(-EIO, "%s", keep);
	}
	close(w->sock[0]);
	free(w->etags);
	free(w);
}

int cbt_remote_writer_finish(struct cbt_remote_writer *w, int dfd)
{
	int ret;

	close(w->sock[1]);
	pthread_join(w->thread, NULL);
	ret = w->err;
	if (ret)
		cbt_err(ret, "uploading %s/%s: %s", w->url, w->name, w->detail);
	else
		ret = cbt_s3_mpu_complete(w->s3, w->name, w->upload_id, w->etags, w->parts);
	if (!ret)
		ret = cbt_remote_write_stub(dfd, w->name, w->size);
	rw_free(w, ret != 0);
	return ret;
}

void cbt_remote_writer_abort(struct cbt_remote_writer *w)
{
	if (!w)
		return;
	close(w->sock[1]);
	pthread_join(w->thread, NULL);
	rw_free(w, true);
}

/* ---- Reading ------------------------------------------------------------ */

struct get_job {
	char name[NAME_MAX + 1];
	char shown[PATH_MAX];
	int sock;
};

static void *get_thread(void *arg)
{
	struct get_job *j = arg;
	int ret = cbt_s3_get_to_fd(&remote_s3, j->name, j->sock);

	/* -EPIPE: the reader stopped early; anything else ends the stream short, said here. */
	if (ret && ret != -EPIPE && ret != -ECONNRESET) {
		const char *d = cbt_err_detail();

		fprintf(stderr, "cbt: %s: %s\n", j->shown, d ? d : strerror(-ret));
	}
	close(j->sock);
	free(j);
	return NULL;
}

int cbt_remote_open_image(const char *name, uint64_t size, const char *shown)
{
	struct get_job *j = calloc(1, sizeof(*j));
	pthread_t th;
	int sv[2], ret;

	(void)size;
	if (!j)
		return -ENOMEM;
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->shown, sizeof(j->shown), "%s", shown);
	ret = cbt_sock_pair(sv);
	if (ret) {
		free(j);
		return ret;
	}
	j->sock = sv[1];
	ret = -pthread_create(&th, NULL, get_thread, j);
	if (ret) {
		close(sv[0]);
		close(sv[1]);
		free(j);
		return ret;
	}
	pthread_detach(th);
	return sv[0];
}

static int range_cb(void *ctx, uint8_t *buf, size_t len, uint64_t off)
{
	return cbt_s3_get_range(&remote_s3, ctx, off, len, buf);
}

int cbt_remote_obj_open(const char *name, uint64_t size, struct cbt_store_obj *o)
{
	o->ctx = strdup(name);
	if (!o->ctx)
		return -ENOMEM;
	o->size = size;
	o->pread = range_cb;
	o->close = free;
	return 1;
}
