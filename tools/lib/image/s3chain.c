// SPDX-License-Identifier: GPL-2.0
/*
 * Chains in S3: the local view a command works on. See s3chain.h and
 * docs/storage.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/chain.h"
#include "image/s3chain.h"
#include "store/remote.h"
#include "store/safefile.h"
#include "store/sock.h"
#include "util/util.h"

static int write_index(int dfd, const char *view, const char *p, size_t len)
{
	struct cbt_tmpfile t = { .fd = -1, .dfd = -1 };
	char shown[PATH_MAX + 16];
	int ret;

	snprintf(shown, sizeof(shown), "%s/%s", view, CBT_CHAIN_INDEX);
	ret = cbt_tmpfile_create_at(&t, dfd, CBT_CHAIN_INDEX, shown);
	if (ret)
		return ret;
	if (write(t.fd, p, len) != (ssize_t)len) {
		cbt_tmpfile_abort(&t);
		return cbt_err(-EIO, "%s: short write", shown);
	}
	return cbt_tmpfile_commit(&t);
}

void cbt_s3chain_close(struct cbt_s3chain *r)
{
	int dfd;
	DIR *d;
	struct dirent *de;

	if (!*r->view)
		return;
	dfd = open(r->view, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = dfd < 0 ? NULL : fdopendir(dfd);
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	else if (dfd >= 0)
		close(dfd);
	rmdir(r->view);
	r->view[0] = 0;
}

/* ---- Changing a chain in S3 (cbt_s3chain_attach) ------------------------ */

static int hook_put_index(void *arg)
{
	return cbt_s3chain_put_index(arg);
}

#define COPY_BUF (1 << 20)

/* Upload local image @file of the view, then leave its stub in its place. */
static int hook_put_image(void *arg, int dfd, const char *file)
{
	const struct cbt_s3chain *r = arg;
	struct cbt_remote_writer *w;
	uint8_t *buf = malloc(COPY_BUF);
	int in = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out, ret;

	if (in < 0 || !buf) {
		ret = in < 0 ? cbt_err(-errno, "%s/%s: %s", r->view, file, strerror(errno)) :
			       -ENOMEM;
		if (in >= 0)
			close(in);
		free(buf);
		return ret;
	}
	ret = cbt_remote_writer_open(&w, &r->s3, r->url, file, NULL, NULL, false, &out);
	if (ret) {
		close(in);
		free(buf);
		return ret;
	}
	for (;;) {
		ssize_t n = read(in, buf, COPY_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = cbt_err(-errno, "%s/%s: %s", r->view, file, strerror(errno));
		else if (n)
			ret = cbt_write_all(out, buf, (size_t)n);
		if (n <= 0 || ret)
			break;
	}
	close(in);
	free(buf);
	if (ret) {
		cbt_remote_writer_abort(w);
		return ret;
	}
	return cbt_remote_writer_finish(w, dfd);
}

/* Stub @file leaves the view: its object leaves the bucket first. */
static int hook_remove(void *arg, int dfd, const char *file)
{
	const struct cbt_s3chain *r = arg;
	char name[NAME_MAX + 1];
	uint64_t size;
	int fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), ret;

	if (fd < 0)
		return 0;
	ret = cbt_remote_stub_read(fd, name, sizeof(name), &size);
	close(fd);
	if (ret <= 0)
		return ret;
	ret = cbt_s3_delete(&r->s3, name);
	if (ret == -ENOENT)
		ret = 0;
	if (ret)
		fprintf(stderr, "cbt: %s/%s: not deleted: %s\n", r->url, name,
			cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
	return ret;
}

void cbt_s3chain_attach(const struct cbt_s3chain *r, struct cbt_chain *c)
{
	c->remote = &r->remote;
}

int cbt_s3chain_open(struct cbt_s3chain *r, const char *url, const char *config, bool create)
{
	struct cbt_s3_buf idx = { 0 };
	struct cbt_chain c;
	const char *tmp = getenv("TMPDIR");
	int ret, dfd;

	memset(r, 0, sizeof(*r));
	r->remote = (struct cbt_chain_remote){ .put_image = hook_put_image,
					       .put_index = hook_put_index,
					       .remove = hook_remove, .arg = r };
	ret = cbt_s3_open(&r->s3, url, config);
	if (ret)
		return ret;
	snprintf(r->url, sizeof(r->url), "s3://%s%s%s", r->s3.bucket, *r->s3.prefix ? "/" : "",
		 r->s3.prefix);
	cbt_remote_use(&r->s3);
	ret = cbt_s3_get(&r->s3, CBT_CHAIN_INDEX, &idx);
	if (ret == -ENOENT && create)
		ret = 0;
	else if (ret == -ENOENT)
		ret = cbt_err(-ENOENT, "%s: no chain there (no %s object)", r->url, CBT_CHAIN_INDEX);
	if (ret)
		goto out;
	snprintf(r->view, sizeof(r->view), "%s/cbt-s3.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(r->view)) {
		ret = cbt_err(-errno, "a directory for the chain's view in %s: %s",
			      tmp && *tmp ? tmp : "/tmp", strerror(errno));
		r->view[0] = 0;
		goto out;
	}
	dfd = open(r->view, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		goto out;
	}
	ret = idx.len ? write_index(dfd, r->view, idx.p, idx.len) : 0;
	if (!ret && idx.len) {
		ret = cbt_chain_open(&c, r->view, false, false);
		for (size_t i = 0; !ret && i < c.nr; i++) {
			uint64_t size;

			ret = cbt_s3_size(&r->s3, c.v[i].file, &size);
			if (!ret)
				ret = cbt_remote_write_stub(dfd, c.v[i].file, size);
			else if (ret == -ENOENT)
				ret = cbt_err(-EBADMSG, "%s: image %s the index lists is missing",
					      r->url, c.v[i].file);
		}
		cbt_chain_close(&c);
	}
	close(dfd);
out:
	cbt_s3_buf_free(&idx);
	if (ret)
		cbt_s3chain_close(r);
	return ret;
}

int cbt_s3chain_put_index(const struct cbt_s3chain *r)
{
	char path[PATH_MAX + 16];
	struct stat st;
	char *buf;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", r->view, CBT_CHAIN_INDEX);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		return ret;
	}
	buf = malloc((size_t)st.st_size + 1);
	ret = buf ? 0 : -ENOMEM;
	if (!ret && read(fd, buf, (size_t)st.st_size) != st.st_size)
		ret = -EIO;
	close(fd);
	if (!ret) {
		/* The image is uploaded: an outage now is waited out as during the upload. */
		struct cbt_s3_patience pat = { 0 };

		do
			ret = cbt_s3_put(&r->s3, CBT_CHAIN_INDEX, buf, (size_t)st.st_size);
		while (ret && cbt_s3_patient(&r->s3, ret, &pat, r->url));
	}
	free(buf);
	return ret ? cbt_err_prefix(ret, "updating the chain index") : 0;
}


/* ---- For the commands --------------------------------------------------- */

/* The chain a command named by URL; its view is removed at exit. */
static struct cbt_s3chain cmd_remote;

static void cmd_remote_cleanup(void)
{
	cbt_s3chain_close(&cmd_remote);
}

void cbt_s3chain_src_done(void)
{
	cbt_s3chain_close(&cmd_remote);
}

int cbt_s3chain_src(const char *src, const char *config, bool create, const char **path,
		   const struct cbt_s3chain **r)
{
	int ret;

	static bool registered;

	*path = src;
	if (r)
		*r = NULL;
	if (!cbt_s3_is_url(src))
		return 0;
	/* `cbt mount' checks the chain before it starts the server: the view is there */
	if (cmd_remote.view[0] && cmd_remote.url[0] && !strcmp(cmd_remote.url, src))
		goto out;
	cbt_s3chain_close(&cmd_remote);
	if (!config && getenv("CBT_S3_CONFIG") && *getenv("CBT_S3_CONFIG"))
		config = getenv("CBT_S3_CONFIG");
	ret = cbt_s3chain_open(&cmd_remote, src, config, create);
	if (ret)
		return ret;
	if (!registered)
		atexit(cmd_remote_cleanup);
	registered = true;
out:
	*path = cmd_remote.view;
	if (r)
		*r = &cmd_remote;
	return 0;
}
