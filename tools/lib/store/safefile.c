// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/safefile.h"
#include "util/util.h"

int cbt_dir_open_private(const char *path, bool create)
{
	struct stat st;
	int dfd;

	if (create && mkdir(path, 0700) && errno != EEXIST)
		return cbt_err(-errno, "creating %s: %s", path, strerror(errno));
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;

		/* O_NOFOLLOW on a link to a directory gives ENOTDIR, not ELOOP. */
		if ((e == ELOOP || e == ENOTDIR) && !lstat(path, &st) && S_ISLNK(st.st_mode))
			return cbt_err(-ELOOP, "%s is a symbolic link: give the directory it"
				       " points to (the tool writes as root only into a directory"
				       " named directly)", path);
		return cbt_err(-e, "%s: %s", path, strerror(e));
	}
	if (fstat(dfd, &st)) {
		int e = errno;

		close(dfd);
		return cbt_err(-e, "%s: %s", path, strerror(e));
	}
	if (st.st_uid != geteuid() || st.st_mode & (S_IWGRP | S_IWOTH)) {
		const char *why = st.st_uid != geteuid() ? "owned by another user" :
				  st.st_mode & S_IWOTH ? "writable by others" :
				  "writable by its group";

		close(dfd);
		return cbt_err(-EPERM, "%s is %s (uid %u, mode %04o): whoever else can write"
			       " there can replace or remove images and the index; use a directory"
			       " owned by uid %u and writable by it alone (chown, chmod 0700)", path,
			       why, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
			       (unsigned)geteuid());
	}
	return dfd;
}

int cbt_open_regular(int dfd, const char *path, const char *shown, bool nofollow)
{
	struct stat st;
	int fd, e;

	fd = openat(dfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		e = errno;
		if (e == ELOOP)
			return cbt_err(-ELOOP, "%s is a symbolic link (not followed: give the file"
				       " it points to)", shown);
		return cbt_err(-e, "%s: %s", shown, strerror(e));
	}
	if (fstat(fd, &st)) {
		e = errno;
		close(fd);
		return cbt_err(-e, "%s: %s", shown, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cbt_err(-EINVAL, "%s is not a regular file", shown);
	}
	/* Reads of a regular file never block; O_NONBLOCK only kept open() from hanging. */
	if (fcntl(fd, F_SETFL, 0)) {
		e = errno;
		close(fd);
		return cbt_err(-e, "%s: %s", shown, strerror(e));
	}
	return fd;
}

int cbt_dir_sync(int dfd, const char *shown)
{
	if (fsync(dfd))
		return cbt_err(-errno, "flushing the directory of %s: %s", shown, strerror(errno));
	return 0;
}

int cbt_tmpfile_create_at(struct cbt_tmpfile *t, int dfd, const char *name, const char *shown)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

	t->dfd = dfd;
	t->own_dfd = false;
	t->noreplace = false;
	t->fd = -1;
	t->tmp[0] = 0;
	snprintf(t->shown, sizeof(t->shown), "%s", shown);
	if (strlen(name) + 19 > NAME_MAX || strchr(name, '/'))
		return cbt_err(-ENAMETOOLONG, "%s: file name too long", shown);
	snprintf(t->name, sizeof(t->name), "%s", name);
	for (int tries = 0; tries < 100; tries++) {
		unsigned char r[8];
		char s[9];

		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			return cbt_err(-errno, "getrandom: %s", strerror(errno));
		for (int i = 0; i < 8; i++)
			s[i] = abc[r[i] % (sizeof(abc) - 1)];
		s[8] = 0;
		snprintf(t->tmp, sizeof(t->tmp), ".%s.%s.partial", name, s);
		t->fd = openat(dfd, t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			       0600);
		if (t->fd >= 0)
			return 0;
		t->tmp[0] = 0;
		if (errno != EEXIST)
			return cbt_err(-errno, "creating a temporary file next to %s: %s", shown,
				       strerror(errno));
	}
	return cbt_err(-EEXIST, "creating a temporary file next to %s: every name taken", shown);
}

int cbt_tmpfile_create(struct cbt_tmpfile *t, const char *path)
{
	char *a = strdup(path), *b = strdup(path);
	int dfd, ret;

	t->fd = -1;
	t->dfd = -1;
	t->own_dfd = false;
	t->tmp[0] = 0;
	if (!a || !b) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	dfd = open(dirname(a), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = cbt_err(-errno, "%s: %s", path, strerror(errno));
	} else {
		ret = cbt_tmpfile_create_at(t, dfd, basename(b), path);
		t->own_dfd = true;
		if (ret) {
			close(dfd);
			t->dfd = -1;
		}
	}
	free(a);
	free(b);
	return ret;
}

FILE *cbt_tmpfile_fdopen(struct cbt_tmpfile *t)
{
	int fd = dup(t->fd);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	if (!f) {
		if (fd >= 0)
			close(fd);
		cbt_tmpfile_abort(t);
	}
	return f;
}

int cbt_tmpfile_commit_stdio(struct cbt_tmpfile *t, FILE *f)
{
	int ret = 0;

	/* errno only from a failed fflush(): an earlier write error left no errno of its own */
	if (fflush(f))
		ret = cbt_err(-(errno ? errno : EIO), "writing %s: %s", t->shown,
			      strerror(errno ? errno : EIO));
	else if (ferror(f))
		ret = cbt_err(-EIO, "writing %s: %s", t->shown, strerror(EIO));
	fclose(f);
	if (ret) {
		cbt_tmpfile_abort(t);
		return ret;
	}
	return cbt_tmpfile_commit(t);
}

static void tmpfile_close(struct cbt_tmpfile *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->own_dfd && t->dfd >= 0)
		close(t->dfd);
	t->fd = -1;
	t->dfd = -1;
}

static int tmp_rename(const struct cbt_tmpfile *t)
{
	if (!t->noreplace)
		return renameat(t->dfd, t->tmp, t->dfd, t->name);
	if (!renameat2(t->dfd, t->tmp, t->dfd, t->name, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL)
		return -1;
	/* A filesystem without RENAME_NOREPLACE: callers hold the directory's lock. */
	if (!faccessat(t->dfd, t->name, F_OK, AT_SYMLINK_NOFOLLOW)) {
		errno = EEXIST;
		return -1;
	}
	return renameat(t->dfd, t->tmp, t->dfd, t->name);
}

int cbt_tmpfile_commit(struct cbt_tmpfile *t)
{
	int ret = 0;

	if (fsync(t->fd))
		ret = cbt_err(-errno, "flushing %s: %s", t->shown, strerror(errno));
	/* closed whatever fsync said */
	if (close(t->fd) && !ret)
		ret = cbt_err(-errno, "writing %s: %s", t->shown, strerror(errno));
	t->fd = -1;
	if (!ret && tmp_rename(t))
		ret = cbt_err(-errno, "renaming %s into place: %s%s", t->shown, strerror(errno),
			      errno == EEXIST ? " (a file the index does not list has its name:"
			      " move it away)" : "");
	if (ret)
		unlinkat(t->dfd, t->tmp, 0);
	else
		ret = cbt_dir_sync(t->dfd, t->shown);
	tmpfile_close(t);
	return ret;
}

int cbt_tmpfile_reserve(struct cbt_tmpfile *t, off_t bytes)
{
	int ret = 0;

	if (fallocate(t->fd, FALLOC_FL_KEEP_SIZE, 0, bytes) && errno != EOPNOTSUPP)
		ret = cbt_err(-errno, "taking room for %s: %s", t->shown, strerror(errno));
	if (ret) {
		cbt_tmpfile_abort(t);
		return ret;
	}
	close(t->fd);
	t->fd = -1;
	return 0;
}

int cbt_tmpfile_reopen(struct cbt_tmpfile *t)
{
	struct stat st;
	int ret = 0;

	/* O_NONBLOCK: a FIFO in its place must not hang the open (refused below). */
	t->fd = openat(t->dfd, t->tmp, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0)
		ret = cbt_err(-errno, "opening the temporary file next to %s: %s", t->shown,
			      strerror(errno));
	else if (fstat(t->fd, &st))
		ret = cbt_err(-errno, "%s: %s", t->shown, strerror(errno));
	/* Replaced since it was made (or linked elsewhere): not ours to write. */
	else if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != geteuid())
		ret = cbt_err(-EEXIST, "the temporary file next to %s was replaced", t->shown);
	if (ret)
		cbt_tmpfile_abort(t);
	return ret;
}

void cbt_tmpfile_abort(struct cbt_tmpfile *t)
{
	if (t->dfd >= 0 && t->tmp[0])
		unlinkat(t->dfd, t->tmp, 0);
	tmpfile_close(t);
}
