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
#include "util/md5.h"
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

/*
 * The record of an upload, PREFIX/.upload-NAME (text):
 *   cbt-upload 1
 *   what WHAT           (the caller's line: what the image's bytes depend on)
 *   upload UPLOAD-ID
 *   uuid HEX created NS salt HEX|-
 *   sent N MD5          (encrypted images: the part last handed to the server)
 */
#define RECORD_MAGIC "cbt-upload 1\n"

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
	/* Resuming and recording: set before the thread starts, then the thread's. */
	bool recorded;		/* PREFIX/.upload-NAME names this upload */
	char what[512];
	struct cbt_remote_ident id;
	char (*listed)[80];	/* the parts the server held when resuming */
	int nlisted;
	int sent_n;		/* the record's "sent" part (0: none) */
	char sent_md5[33];
	int proven, reconciled;	/* parts not uploaded: proven equal, found after an outage */
};

static void rw_fail(struct cbt_remote_writer *w, int err)
{
	const char *d = cbt_err_detail();

	if (w->err)
		return;
	w->err = err;
	snprintf(w->detail, sizeof(w->detail), "%s", d ? d : strerror(-err));
}

static void record_name(char *out, size_t len, const char *name)
{
	snprintf(out, len, CBT_S3_UPLOAD_RECORD "%s", name);
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static bool unhex(uint8_t *p, size_t n, const char *in)
{
	if (strlen(in) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		if (sscanf(in + 2 * i, "%2x", &v) != 1)
			return false;
		p[i] = (uint8_t)v;
	}
	return true;
}

/* PUT the record, with a "sent" line when @sent_n; patient. */
static int put_record(struct cbt_remote_writer *w, int sent_n, const char *md5)
{
	char buf[2048], rn[NAME_MAX + 16], u[33], salt[49] = "-";
	struct cbt_s3_patience pat = { 0 };
	int n, ret;

	record_name(rn, sizeof(rn), w->name);
	hex(u, w->id.uuid, 16);
	if (w->id.encrypted)
		hex(salt, w->id.salt, sizeof(w->id.salt));
	n = snprintf(buf, sizeof(buf), RECORD_MAGIC "what %s\nupload %s\nuuid %s created %" PRIu64
		     " salt %s\n", w->what, w->upload_id, u, w->id.created_ns, salt);
	if (sent_n)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "sent %d %s\n", sent_n, md5);
	do
		ret = cbt_s3_put(w->s3, rn, buf, (size_t)n);
	while (ret && cbt_s3_patient(w->s3, ret, &pat, w->url));
	return ret;
}

/*
 * Read the record of @w->name: 1 when it is for the same image (@w->what)
 * and its upload is still open on the server (w->upload_id, w->id and
 * w->listed set), 0 when there is nothing to resume.
 */
static int read_record(struct cbt_remote_writer *w)
{
	struct cbt_s3_buf b = { 0 };
	struct cbt_s3_patience pat = { 0 };
	char rn[NAME_MAX + 16], *line, *save = NULL;
	bool what = false, upload = false, ident = false;
	struct cbt_remote_ident id = w->id;
	int ret;

	record_name(rn, sizeof(rn), w->name);
	do
		ret = cbt_s3_get(w->s3, rn, &b);
	while (ret && cbt_s3_patient(w->s3, ret, &pat, w->url));
	if (ret == -ENOENT) {
		cbt_err_clear();
		return 0;
	}
	if (ret)
		return ret;
	if (!b.p || strncmp(b.p, RECORD_MAGIC, strlen(RECORD_MAGIC))) {
		cbt_s3_buf_free(&b);
		return 0;
	}
	for (line = strtok_r(b.p + strlen(RECORD_MAGIC), "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char u[40], salt[56], md5[40];
		unsigned long long created;
		int n;

		if (!strncmp(line, "what ", 5)) {
			what = !strcmp(line + 5, w->what);
		} else if (sscanf(line, "upload %399s", w->upload_id) == 1) {
			upload = true;
		} else if (sscanf(line, "uuid %39s created %llu salt %55s", u, &created, salt) == 3) {
			ident = unhex(id.uuid, 16, u) &&
				(id.encrypted ? unhex(id.salt, sizeof(id.salt), salt) : !strcmp(salt, "-"));
			id.created_ns = created;
		} else if (sscanf(line, "sent %d %39s", &n, md5) == 2 && n > 0 && strlen(md5) == 32) {
			w->sent_n = n;
			memcpy(w->sent_md5, md5, sizeof(w->sent_md5));
		}
	}
	cbt_s3_buf_free(&b);
	if (!what || !upload || !ident) {
		*w->upload_id = 0;
		w->sent_n = 0;
		return 0;
	}
	pat = (struct cbt_s3_patience){ 0 };
	do
		ret = cbt_s3_mpu_list(w->s3, w->name, w->upload_id, &w->listed, &w->nlisted);
	while (ret && cbt_s3_patient(w->s3, ret, &pat, w->url));
	/* The upload is gone (completed, or aborted by hand): nothing to resume. */
	if (ret == -ENOENT) {
		cbt_err_clear();
		*w->upload_id = 0;
		w->sent_n = 0;
		return 0;
	}
	if (ret)
		return ret;
	w->id = id;
	w->id.resumed = true;
	return 1;
}

/*
 * Part @n with MD5 @md5: upload it; when the server cannot be reached,
 * wait (CBT_S3_PATIENCE), then ask ListParts whether it arrived before
 * the connection broke, and upload it only if not.
 */
static int send_part(struct cbt_remote_writer *w, int n, const uint8_t *p, size_t len,
		     const char *md5, char *etag)
{
	struct cbt_s3_patience pat = { 0 };
	char (*got)[80];
	int ret, nr;

	for (;;) {
		ret = cbt_s3_mpu_part(w->s3, w->name, w->upload_id, n, p, len, etag, 80);
		if (!ret || !cbt_s3_patient(w->s3, ret, &pat, w->url))
			return ret;
		if (cbt_s3_mpu_list(w->s3, w->name, w->upload_id, &got, &nr)) {
			cbt_err_clear();
			continue;
		}
		if (n <= nr && !strcmp(got[n - 1], md5)) {
			snprintf(etag, 80, "%s", got[n - 1]);
			free(got);
			w->reconciled++;
			return 0;
		}
		free(got);
	}
}

static int upload_part(struct cbt_remote_writer *w, const uint8_t *p, size_t len)
{
	char md5[33];
	int n, ret;

	if (!(w->parts & (w->parts + 1))) {
		char (*e)[80] = realloc(w->etags, (size_t)(2 * w->parts + 1) * sizeof(*e));

		if (!e)
			return -ENOMEM;
		w->etags = e;
	}
	if (w->parts >= 10000)
		return cbt_err(-EFBIG, "%s/%s: more than 10000 parts", w->url, w->name);
	n = w->parts + 1;
	cbt_md5_hex(p, len, md5);
	if (n <= w->nlisted && *w->listed[n - 1]) {
		/* Proven, never trusted: the server's part must be this one. */
		if (strcmp(w->listed[n - 1], md5))
			return cbt_err(CBT_REMOTE_MISMATCH, "part %d differs from the one the"
				       " interrupted upload holds", n);
		snprintf(w->etags[n - 1], sizeof(w->etags[0]), "%s", md5);
		w->proven++;
	} else {
		/* An encrypted part the server may have seen in part: only the same bytes again. */
		if (w->id.resumed && n == w->sent_n && strcmp(w->sent_md5, md5))
			return cbt_err(CBT_REMOTE_MISMATCH, "part %d differs from the one the"
				       " interrupted upload was sending", n);
		ret = w->id.encrypted && w->recorded ? put_record(w, n, md5) : 0;
		if (!ret)
			ret = send_part(w, n, p, len, md5, w->etags[n - 1]);
		if (ret)
			return ret;
	}
	w->parts = n;
	w->size += len;
	return 0;
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

/*
 * Abort upload @id of @name, and delete its record when @record: the
 * failure that made us abort (error @err) stays the one to report.
 */
static void drop_upload(const struct cbt_s3 *s3, const char *name, const char *id, bool record,
			int err)
{
	const char *d = cbt_err_detail();
	char keep[1024], rn[NAME_MAX + 16];

	snprintf(keep, sizeof(keep), "%s", d ? d : "");
	cbt_s3_mpu_abort(s3, name, id);
	if (record) {
		record_name(rn, sizeof(rn), name);
		cbt_s3_delete(s3, rn);
	}
	cbt_err_clear();
	if (*keep)
		cbt_err(err ? err : -EIO, "%s", keep);
}

int cbt_remote_writer_open(struct cbt_remote_writer **wp, const struct cbt_s3 *s3,
			   const char *url, const char *name, const char *what,
			   struct cbt_remote_ident *id, bool resume, int *fd)
{
	struct cbt_remote_writer *w = calloc(1, sizeof(*w));
	struct cbt_s3_patience pat = { 0 };
	int ret = 0;

	*wp = NULL;
	if (!w)
		return -ENOMEM;
	w->s3 = s3;
	snprintf(w->url, sizeof(w->url), "%s", url);
	w->sock[0] = w->sock[1] = -1;
	snprintf(w->name, sizeof(w->name), "%s", name);
	if (what) {
		snprintf(w->what, sizeof(w->what), "%s", what);
		w->id = *id;
		w->id.resumed = false;
		if (resume)
			ret = read_record(w);
	}
	if (ret > 0) {
		int held = 0;

		for (int i = 0; i < w->nlisted; i++)
			held += !!*w->listed[i];
		fprintf(stderr, "cbt: %s/%s: continuing the upload of an interrupted run: the"
			" parts the server holds (%d) are compared, not uploaded again\n", url, name,
			held);
	}
	if (ret >= 0) {
		do
			ret = cbt_s3_mpu_abort_all(s3, w->id.resumed ? name : NULL,
						   w->id.resumed ? w->upload_id : NULL);
		while (ret < 0 && cbt_s3_patient(s3, ret, &pat, url));
	}
	if (ret > 0)
		fprintf(stderr, "cbt: %s: aborted %d unfinished upload%s of an earlier run\n",
			url, ret, ret == 1 ? "" : "s");
	if (ret >= 0 && !w->id.resumed) {
		pat = (struct cbt_s3_patience){ 0 };
		do
			ret = cbt_s3_mpu_start(s3, name, w->upload_id, sizeof(w->upload_id));
		while (ret && cbt_s3_patient(s3, ret, &pat, url));
		if (!ret && what)
			ret = put_record(w, 0, NULL);
	}
	if (ret > 0)
		ret = 0;
	w->recorded = !ret && what;
	if (!ret)
		ret = cbt_sock_pair(w->sock);
	if (!ret)
		ret = -pthread_create(&w->thread, NULL, upload_thread, w);
	if (ret) {
		/* An upload started here that nothing could continue (no record yet) goes. */
		if (*w->upload_id && !w->id.resumed && !w->recorded)
			drop_upload(s3, name, w->upload_id, false, ret);
		for (int i = 0; i < 2; i++)
			if (w->sock[i] >= 0)
				close(w->sock[i]);
		free(w->listed);
		free(w);
		return ret;
	}
	if (what)
		*id = w->id;
	*fd = w->sock[1];
	*wp = w;
	return 0;
}

static void rw_free(struct cbt_remote_writer *w, int ret)
{
	/* Without a record nothing could continue the upload; a mismatch must not be continued. */
	if (ret && *w->upload_id && (!w->recorded || ret == CBT_REMOTE_MISMATCH))
		drop_upload(w->s3, w->name, w->upload_id, w->recorded, ret);
	close(w->sock[0]);
	free(w->etags);
	free(w->listed);
	free(w);
}

int cbt_remote_writer_finish(struct cbt_remote_writer *w, int dfd)
{
	struct cbt_s3_patience pat = { 0 };
	int ret;

	close(w->sock[1]);
	pthread_join(w->thread, NULL);
	ret = w->err;
	if (ret) {
		cbt_err(ret, "uploading %s/%s: %s", w->url, w->name, w->detail);
	} else {
		if (w->proven || w->reconciled)
			fprintf(stderr, "cbt: %s/%s: %d part%s uploaded, %d proven already there, %d"
				" found there after the outage\n", w->url, w->name,
				w->parts - w->proven - w->reconciled,
				w->parts - w->proven - w->reconciled == 1 ? "" : "s", w->proven,
				w->reconciled);
		do
			ret = cbt_s3_mpu_complete(w->s3, w->name, w->upload_id, w->etags, w->parts);
		while (ret && cbt_s3_patient(w->s3, ret, &pat, w->url));
	}
	if (!ret)
		ret = cbt_remote_write_stub(dfd, w->name, w->size);
	rw_free(w, ret);
	return ret;
}

void cbt_remote_writer_abort(struct cbt_remote_writer *w)
{
	if (!w)
		return;
	close(w->sock[1]);
	pthread_join(w->thread, NULL);
	rw_free(w, w->err ? w->err : -EIO);
}

void cbt_remote_forget(const struct cbt_s3 *s3, const char *url, const char *name)
{
	char rn[NAME_MAX + 16];

	record_name(rn, sizeof(rn), name);
	if (cbt_s3_delete(s3, rn)) {
		fprintf(stderr, "cbt: %s/%s: not deleted (harmless: the next backup replaces it)\n",
			url, rn);
		cbt_err_clear();
	}
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
