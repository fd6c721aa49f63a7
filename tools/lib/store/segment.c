// SPDX-License-Identifier: GPL-2.0
/*
 * Split images: the segment writer and reader threads, the manifest.
 * See segment.h and docs/storage.md.
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
#include <xxhash.h>

#include "store/remote.h"
#include "store/safefile.h"
#include "store/segment.h"
#include "store/sock.h"
#include "util/util.h"

#define IO_BUF (1U << 20)
/* A manifest of CBT_SEG_MAX_NR lines fits; anything larger is not one. */
#define MANIFEST_MAX ((size_t)CBT_SEG_MAX_NR * (NAME_MAX + 48) + 64)

static int seg_name(char *buf, size_t len, const char *name, size_t i)
{
	if ((size_t)snprintf(buf, len, "%s.%04zu", name, i) >= len)
		return cbt_err(-ENAMETOOLONG, "%s: name too long for a segment", name);
	return 0;
}

void cbt_seg_manifest_free(struct cbt_seg_manifest *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

int cbt_seg_manifest_parse(const char *buf, size_t len, const char *name, const char *shown,
			   struct cbt_seg_manifest *m)
{
	size_t ml = strlen(CBT_SEG_MAGIC), line = 1, nr = 0;
	unsigned long long total = 0;
	const char *p = buf + ml, *end = buf + len;
	bool done = false;

	memset(m, 0, sizeof(*m));
	if (len < ml || memcmp(buf, CBT_SEG_MAGIC, ml))
		return cbt_err(-EBADMSG, "%s: not a segment manifest", shown);
	while (p < end && !done) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char l[NAME_MAX + 80], sn[NAME_MAX + 1], want[NAME_MAX + 1];
		unsigned long long size, sum;
		int used = 0;

		line++;
		if (!nl || (size_t)(nl - p) >= sizeof(l))
			goto bad;
		memcpy(l, p, (size_t)(nl - p));
		l[nl - p] = 0;
		p = nl + 1;
		if (sscanf(l, "end %zu %llu%n", &nr, &total, &used) == 2 && !l[used]) {
			if (nr != m->nr || total != m->size || p != end)
				goto bad;
			done = true;
			continue;
		}
		if (sscanf(l, "segment %255s %llu %16llx%n", sn, &size, &sum, &used) != 3 ||
		    l[used] || !size || m->nr >= CBT_SEG_MAX_NR)
			goto bad;
		if (seg_name(want, sizeof(want), name, m->nr) || strcmp(sn, want))
			goto bad;
		if (size > CBT_SEG_MAX_SIZE || m->size + size > 2 * CBT_SEG_MAX_SIZE)
			goto bad;
		if (!(m->nr & (m->nr + 1))) {
			struct cbt_seg *v = realloc(m->v, (2 * m->nr + 1) * sizeof(*v));

			if (!v) {
				cbt_seg_manifest_free(m);
				return -ENOMEM;
			}
			m->v = v;
		}
		snprintf(m->v[m->nr].name, sizeof(m->v[m->nr].name), "%s", sn);
		m->v[m->nr].size = size;
		m->v[m->nr].sum = sum;
		m->nr++;
		m->size += size;
	}
	if (done && m->nr)
		return 0;
	cbt_seg_manifest_free(m);
	return cbt_err(-EBADMSG, "%s: the manifest is incomplete (no end line)", shown);
bad:
	cbt_seg_manifest_free(m);
	return cbt_err(-EBADMSG, "%s: bad manifest line %zu", shown, line);
}

/* ---- Writing ------------------------------------------------------------ */

struct cbt_seg_writer {
	pthread_t thread;
	int sock[2];		/* [0] drained by the thread, [1] the image writer's */
	int dfd;
	uint64_t seg_size;
	char name[NAME_MAX + 1];
	char shown[4096];
	struct cbt_tmpfile cur;	/* the segment being filled */
	uint64_t cur_len;
	XXH64_state_t *xs;
	struct cbt_seg_manifest m;
	int err;		/* the thread's first failure, read after the join */
	char detail[1024];
};

static void writer_fail(struct cbt_seg_writer *w, int err)
{
	const char *d = cbt_err_detail();

	if (w->err)
		return;
	w->err = err;
	snprintf(w->detail, sizeof(w->detail), "%s", d ? d : strerror(-err));
}

static int seg_close(struct cbt_seg_writer *w)
{
	struct cbt_seg *s;
	int ret;

	if (!(w->m.nr & (w->m.nr + 1))) {
		s = realloc(w->m.v, (2 * w->m.nr + 1) * sizeof(*s));
		if (!s)
			return -ENOMEM;
		w->m.v = s;
	}
	s = &w->m.v[w->m.nr];
	ret = seg_name(s->name, sizeof(s->name), w->name, w->m.nr);
	if (!ret)
		ret = cbt_tmpfile_commit(&w->cur);
	if (ret)
		return ret;
	s->size = w->cur_len;
	s->sum = XXH64_digest(w->xs);
	w->m.size += s->size;
	w->m.nr++;
	w->cur_len = 0;
	return 0;
}

static int seg_open(struct cbt_seg_writer *w)
{
	char sn[NAME_MAX + 1], path[4096 + NAME_MAX];
	int ret;

	if (w->m.nr >= CBT_SEG_MAX_NR)
		return cbt_err(-EFBIG, "%s: more than %d segments: choose a larger --split",
			       w->shown, CBT_SEG_MAX_NR);
	ret = seg_name(sn, sizeof(sn), w->name, w->m.nr);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s.%04zu", w->shown, w->m.nr);
	ret = cbt_tmpfile_create_at(&w->cur, w->dfd, sn, path);
	if (ret)
		return ret;
	w->cur.noreplace = true;
	XXH64_reset(w->xs, 0);
	return 0;
}

/*
 * Drain the socket into segments. After a failure it keeps draining, so
 * the image writer never blocks on a full socket; finish reports it.
 */
static void *writer_thread(void *arg)
{
	struct cbt_seg_writer *w = arg;
	uint8_t *buf = malloc(IO_BUF);

	if (!buf)
		writer_fail(w, -ENOMEM);
	for (;;) {
		uint8_t drop[4096];
		ssize_t n = buf ? read(w->sock[0], buf, IO_BUF) : read(w->sock[0], drop, sizeof(drop));
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			writer_fail(w, cbt_err(-errno, "%s: reading the image stream: %s", w->shown,
					       strerror(errno)));
			break;
		}
		if (!n)
			break;
		while (!w->err && off < (size_t)n) {
			size_t k = (size_t)n - off;
			int ret = 0;

			if (w->cur.fd < 0)
				ret = seg_open(w);
			if (!ret && k > w->seg_size - w->cur_len)
				k = (size_t)(w->seg_size - w->cur_len);
			if (!ret)
				ret = cbt_write_all(w->cur.fd, buf + off, k);
			if (ret == -ENOSPC || ret == -EIO || ret == -EFBIG || ret == -EDQUOT)
				ret = cbt_err(ret, "%s: %s", w->cur.shown, strerror(-ret));
			if (!ret) {
				XXH64_update(w->xs, buf + off, k);
				w->cur_len += k;
				off += k;
				if (w->cur_len == w->seg_size)
					ret = seg_close(w);
			}
			if (ret)
				writer_fail(w, ret);
		}
	}
	if (!w->err && w->cur.fd >= 0) {
		int ret = seg_close(w);

		if (ret)
			writer_fail(w, ret);
	}
	free(buf);
	return NULL;
}

/* Segments NAME.NNNN left by a run that died before its manifest. */
static void remove_segments(int dfd, const char *name, size_t from)
{
	char sn[NAME_MAX + 1];

	for (size_t i = from; !seg_name(sn, sizeof(sn), name, i); i++)
		if (unlinkat(dfd, sn, 0))
			break;
}

int cbt_seg_writer_open(struct cbt_seg_writer **wp, int dfd, const char *name, const char *shown,
			uint64_t seg_size, int *fd)
{
	struct cbt_seg_writer *w;
	int ret;

	*wp = NULL;
	if (seg_size < CBT_SEG_MIN_SIZE)
		return cbt_err(-EINVAL, "segments of %" PRIu64 " bytes: at least 1 MiB", seg_size);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->dfd = dfd;
	w->seg_size = seg_size;
	w->cur.fd = -1;
	w->sock[0] = w->sock[1] = -1;
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->shown, sizeof(w->shown), "%s", shown);
	w->xs = XXH64_createState();
	if (!w->xs || strlen(name) + 6 > NAME_MAX) {
		ret = w->xs ? cbt_err(-ENAMETOOLONG, "%s: name too long", shown) : -ENOMEM;
		goto fail;
	}
	remove_segments(dfd, name, 0);
	ret = cbt_sock_pair(w->sock);
	if (ret)
		goto fail;
	ret = -pthread_create(&w->thread, NULL, writer_thread, w);
	if (ret)
		goto fail;
	*fd = w->sock[1];
	*wp = w;
	return 0;
fail:
	for (int i = 0; i < 2; i++)
		if (w->sock[i] >= 0)
			close(w->sock[i]);
	XXH64_freeState(w->xs);
	free(w);
	return ret;
}

static void writer_free(struct cbt_seg_writer *w, bool remove)
{
	if (w->cur.fd >= 0)
		cbt_tmpfile_abort(&w->cur);
	if (remove)
		remove_segments(w->dfd, w->name, 0);
	close(w->sock[0]);
	XXH64_freeState(w->xs);
	cbt_seg_manifest_free(&w->m);
	free(w);
}

static int write_manifest(struct cbt_seg_writer *w)
{
	struct cbt_tmpfile t = { .fd = -1, .dfd = -1 };
	FILE *f;
	int ret = cbt_tmpfile_create_at(&t, w->dfd, w->name, w->shown);

	if (ret)
		return ret;
	t.noreplace = true;
	f = cbt_tmpfile_fdopen(&t);
	if (!f)
		return -ENOMEM;
	fputs(CBT_SEG_MAGIC, f);
	for (size_t i = 0; i < w->m.nr; i++)
		fprintf(f, "segment %s %" PRIu64 " %016" PRIx64 "\n", w->m.v[i].name,
			w->m.v[i].size, w->m.v[i].sum);
	fprintf(f, "end %zu %" PRIu64 "\n", w->m.nr, w->m.size);
	return cbt_tmpfile_commit_stdio(&t, f);
}

int cbt_seg_writer_finish(struct cbt_seg_writer *w)
{
	int ret;

	close(w->sock[1]);
	pthread_join(w->thread, NULL);
	ret = w->err;
	if (ret)
		cbt_err(ret, "%s", w->detail);
	else if (!w->m.nr)
		ret = cbt_err(-EINVAL, "%s: the image is empty", w->shown);
	else
		ret = write_manifest(w);
	writer_free(w, ret != 0);
	return ret;
}

void cbt_seg_writer_abort(struct cbt_seg_writer *w)
{
	if (!w)
		return;
	close(w->sock[1]);
	pthread_join(w->thread, NULL);
	writer_free(w, true);
}

/* ---- Reading ------------------------------------------------------------ */

struct seg_source {
	int dir;		/* the directory holding the segments (O_PATH) */
	int sock;		/* the end the thread writes */
	char shown[4096];	/* the manifest's path */
	struct cbt_seg_manifest m;
};

static int seg_path(const struct seg_source *s, size_t i, char *buf, size_t len)
{
	const char *slash = strrchr(s->shown, '/');
	int n = (int)(slash ? slash - s->shown + 1 : 0);

	snprintf(buf, len, "%.*s%s", n, s->shown, s->m.v[i].name);
	return 0;
}

static int seg_open_at(const struct seg_source *s, size_t i)
{
	char path[4096 + NAME_MAX];
	struct stat st;
	int fd;

	seg_path(s, i, path, sizeof(path));
	fd = cbt_open_regular(s->dir, s->m.v[i].name, path, true);
	if (fd < 0)
		return cbt_err_prefix(fd, "segment %zu of %zu missing", i + 1, s->m.nr);
	if (fstat(fd, &st) || (uint64_t)st.st_size != s->m.v[i].size) {
		close(fd);
		return cbt_err(-EBADMSG, "%s: damaged segment: %llu bytes, the manifest says %"
			       PRIu64, path, (unsigned long long)st.st_size, s->m.v[i].size);
	}
	return fd;
}

static int pread_full(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -EPIPE;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int seg_check(const struct seg_source *s, size_t i, int fd, uint8_t *buf)
{
	XXH64_state_t *xs = XXH64_createState();
	char path[4096 + NAME_MAX];
	uint64_t off = 0;
	int ret = 0;

	if (!xs)
		return -ENOMEM;
	XXH64_reset(xs, 0);
	while (!ret && off < s->m.v[i].size) {
		size_t k = s->m.v[i].size - off < IO_BUF ? (size_t)(s->m.v[i].size - off) : IO_BUF;

		ret = pread_full(fd, buf, k, off);
		if (!ret)
			XXH64_update(xs, buf, k);
		off += k;
	}
	seg_path(s, i, path, sizeof(path));
	if (ret)
		ret = cbt_err(ret, "%s: %s", path, strerror(-ret));
	else if (XXH64_digest(xs) != s->m.v[i].sum)
		ret = cbt_err(-EBADMSG, "%s: damaged segment (%zu of %zu): checksum mismatch",
			      path, i + 1, s->m.nr);
	XXH64_freeState(xs);
	return ret;
}

static void source_free(struct seg_source *s)
{
	if (s->sock >= 0)
		close(s->sock);
	if (s->dir >= 0)
		close(s->dir);
	cbt_seg_manifest_free(&s->m);
	free(s);
}

/*
 * Check each segment whole, then send it: the reader only ever sees bytes
 * of segments that checked out. A failure is printed here (no caller waits
 * for this thread) and ends the stream, which the reader then reports as
 * a truncated image.
 */
static void *source_thread(void *arg)
{
	struct seg_source *s = arg;
	uint8_t *buf = malloc(IO_BUF);
	int ret = buf ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < s->m.nr; i++) {
		int fd = seg_open_at(s, i);

		ret = fd < 0 ? fd : seg_check(s, i, fd, buf);
		for (uint64_t off = 0; !ret && off < s->m.v[i].size;) {
			size_t k = s->m.v[i].size - off < IO_BUF ?
				   (size_t)(s->m.v[i].size - off) : IO_BUF;

			ret = pread_full(fd, buf, k, off);
			if (!ret)
				ret = cbt_write_all(s->sock, buf, k);
			off += k;
		}
		if (fd >= 0)
			close(fd);
	}
	/* -EPIPE: the reader stopped early (it failed, or needed no more): its business. */
	if (ret && ret != -EPIPE && ret != -ECONNRESET) {
		const char *d = cbt_err_detail();

		fprintf(stderr, "cbt: %s\n", d ? d : strerror(-ret));
	}
	free(buf);
	source_free(s);
	return NULL;
}

/* The manifest in @fd (a regular file), or 0 when @fd holds a plain image. */
static int read_manifest(int fd, const char *name, const char *shown, struct cbt_seg_manifest *m)
{
	size_t ml = strlen(CBT_SEG_MAGIC);
	char head[32], *buf;
	struct stat st;
	int ret;

	if (pread_full(fd, (uint8_t *)head, ml, 0) || memcmp(head, CBT_SEG_MAGIC, ml))
		return 0;
	if (fstat(fd, &st))
		return -errno;
	if ((uint64_t)st.st_size > MANIFEST_MAX)
		return cbt_err(-EBADMSG, "%s: a manifest of %llu bytes is too large", shown,
			       (unsigned long long)st.st_size);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	ret = pread_full(fd, (uint8_t *)buf, (size_t)st.st_size, 0);
	if (ret)
		ret = cbt_err(ret, "%s: %s", shown, strerror(-ret));
	else
		ret = cbt_seg_manifest_parse(buf, (size_t)st.st_size, name, shown, m);
	free(buf);
	return ret ? ret : 1;
}

/* The directory @file is in, relative to @dfd, and its last component. */
static int open_parent(int dfd, const char *file, const char *shown, const char **base)
{
	const char *slash = strrchr(file, '/');
	char dir[4096];
	int fd;

	*base = slash ? slash + 1 : file;
	if (!slash)
		fd = openat(dfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	else if ((size_t)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file + 1), file) >=
		 sizeof(dir))
		return cbt_err(-ENAMETOOLONG, "%s: path too long", shown);
	else
		fd = openat(dfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? cbt_err(-errno, "%s: %s", shown, strerror(errno)) : fd;
}

/*
 * Open @file: its fd and 0 for a plain image, or a source with its
 * manifest and 1 (the manifest's fd is closed then).
 */
static int open_any(int dfd, const char *file, const char *shown, bool nofollow, int *fd,
		    struct seg_source **sp)
{
	struct seg_source *s;
	const char *base;
	int ret;

	*sp = NULL;
	*fd = cbt_open_regular(dfd, file, shown, nofollow);
	if (*fd < 0)
		return *fd;
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(*fd);
		return -ENOMEM;
	}
	s->sock = -1;
	s->dir = -1;
	snprintf(s->shown, sizeof(s->shown), "%s", shown);
	ret = open_parent(dfd, file, shown, &base);
	if (ret >= 0) {
		s->dir = ret;
		ret = read_manifest(*fd, base, shown, &s->m);
	}
	if (ret <= 0) {
		source_free(s);
		if (ret < 0) {
			close(*fd);
			*fd = -1;
		}
		return ret;
	}
	close(*fd);
	*fd = -1;
	*sp = s;
	return 1;
}

/* 1 and the object's name and size when @file is a stub of a chain in S3 (store/remote.c). */
static int stub_of(int dfd, const char *file, const char *shown, bool nofollow, char *name,
		   uint64_t *size)
{
	int fd = cbt_open_regular(dfd, file, shown, nofollow), ret;

	if (fd < 0)
		return fd;
	ret = cbt_remote_stub_read(fd, name, NAME_MAX + 1, size);
	close(fd);
	return ret < 0 ? cbt_err_prefix(ret, "%s", shown) : ret;
}

/* A missing segment is refused before anything is read. */
static int seg_all_present(const struct seg_source *s)
{
	for (size_t i = 0; i < s->m.nr; i++) {
		int sfd = seg_open_at(s, i);

		if (sfd < 0)
			return sfd;
		close(sfd);
	}
	return 0;
}

int cbt_store_open_image(int dfd, const char *file, const char *shown, bool nofollow)
{
	struct seg_source *s;
	char name[NAME_MAX + 1];
	uint64_t size;
	pthread_t th;
	int fd, sv[2], ret = stub_of(dfd, file, shown, nofollow, name, &size);

	if (ret)
		return ret < 0 ? ret : cbt_remote_open_image(name, size, shown);
	ret = open_any(dfd, file, shown, nofollow, &fd, &s);
	if (ret <= 0)
		return ret < 0 ? ret : fd;
	ret = seg_all_present(s);
	if (!ret)
		ret = cbt_sock_pair(sv);
	if (ret) {
		source_free(s);
		return ret;
	}
	s->sock = sv[1];
	ret = -pthread_create(&th, NULL, source_thread, s);
	if (ret) {
		close(sv[0]);
		source_free(s);
		return ret;
	}
	pthread_detach(th);
	return sv[0];
}

/* Read [off, off + len) of the concatenated segments. */
static int seg_pread(const struct seg_source *s, uint8_t *buf, size_t len, uint64_t off)
{
	uint64_t start = 0;

	for (size_t i = 0; len && i < s->m.nr; start += s->m.v[i++].size) {
		uint64_t end = start + s->m.v[i].size;
		size_t k;
		int fd, ret;

		if (off >= end)
			continue;
		k = end - off < len ? (size_t)(end - off) : len;
		fd = seg_open_at(s, i);
		if (fd < 0)
			return fd;
		ret = pread_full(fd, buf, k, off - start);
		close(fd);
		if (ret)
			return cbt_err(ret, "%s: reading segment %zu: %s", s->shown, i + 1,
				       strerror(-ret));
		buf += k;
		len -= k;
		off += k;
	}
	return len ? cbt_err(-EPIPE, "%s: shorter than its trailer says", s->shown) : 0;
}

static int seg_pread_cb(void *ctx, uint8_t *buf, size_t len, uint64_t off)
{
	return seg_pread(ctx, buf, len, off);
}

static void seg_close_cb(void *ctx)
{
	source_free(ctx);
}

int cbt_store_obj_open(int dfd, const char *file, const char *shown, bool nofollow,
		       struct cbt_store_obj *o)
{
	struct seg_source *s;
	char name[NAME_MAX + 1];
	uint64_t size;
	int fd, ret = stub_of(dfd, file, shown, nofollow, name, &size);

	memset(o, 0, sizeof(*o));
	if (ret > 0)
		return cbt_remote_obj_open(name, size, o);
	if (!ret)
		ret = open_any(dfd, file, shown, nofollow, &fd, &s);
	if (ret <= 0) {
		if (!ret)
			close(fd);
		return ret;
	}
	ret = seg_all_present(s);
	if (ret) {
		source_free(s);
		return ret;
	}
	o->size = s->m.size;
	o->pread = seg_pread_cb;
	o->close = seg_close_cb;
	o->ctx = s;
	return 1;
}

int cbt_store_obj_pread(const struct cbt_store_obj *o, void *buf, size_t len, uint64_t off)
{
	return o->pread(o->ctx, buf, len, off);
}

void cbt_store_obj_close(struct cbt_store_obj *o)
{
	if (o->close)
		o->close(o->ctx);
	memset(o, 0, sizeof(*o));
}

int cbt_store_unlink(int dfd, const char *file)
{
	struct seg_source *s;
	int fd, ret = open_any(dfd, file, file, true, &fd, &s);

	if (ret == 1) {
		for (size_t i = 0; i < s->m.nr; i++)
			unlinkat(s->dir, s->m.v[i].name, 0);
		source_free(s);
	} else if (!ret) {
		close(fd);
	}
	return unlinkat(dfd, file, 0) ? -errno : 0;
}

int cbt_store_open_path(const char *path)
{
	struct stat st;
	int fd;

	if (!strcmp(path, "-"))
		fd = dup(STDIN_FILENO);
	else if (!stat(path, &st) && S_ISREG(st.st_mode))
		return cbt_store_open_image(AT_FDCWD, path, path, false);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? cbt_err(-errno, "%s: %s", path, strerror(errno)) : fd;
}
