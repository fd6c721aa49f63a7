// SPDX-License-Identifier: GPL-2.0
/* safefile.c: the temporary file's failure paths (review: fd leak, stale errno). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/safefile.h"
#include "unit.h"
#include "util/util.h"

/* a failed fsync still closes the file (it leaked) and leaves no temporary */
static void commit_fsync_failure_closes(void)
{
	char dir[] = "/tmp/cbt-safefile-XXXXXX", path[64];
	struct cbt_tmpfile t;
	int p[2], fd;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
	CHECK_EQ(cbt_tmpfile_create(&t, path), 0);
	fd = t.fd;
	/* a pipe in its place: fsync() fails with EINVAL */
	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(dup2(p[0], fd), fd);
	close(p[0]);
	close(p[1]);
	CHECK_EQ(cbt_tmpfile_commit(&t), -EINVAL);
	CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
	CHECK(access(path, F_OK) && errno == ENOENT);
	cbt_err_clear();
	CHECK_EQ(rmdir(dir), 0);
}

/* an earlier write error on the stream, flush fine: EIO, not whatever errno held */
static void commit_stdio_ferror_no_stale_errno(void)
{
	char dir[] = "/tmp/cbt-safefile-XXXXXX", path[64];
	struct cbt_tmpfile t;
	FILE *f;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
	CHECK_EQ(cbt_tmpfile_create(&t, path), 0);
	f = fopen("/dev/null", "r");
	CHECK(f);
	CHECK_EQ(fputc('x', f), EOF);	/* sets the error flag */
	CHECK(ferror(f));
	errno = ENOSPC;
	CHECK_EQ(cbt_tmpfile_commit_stdio(&t, f), -EIO);
	CHECK(access(path, F_OK) && errno == ENOENT);
	cbt_err_clear();
	CHECK_EQ(rmdir(dir), 0);
}

/*
 * Room taken: the temporary file keeps its size 0 and is closed; reopened,
 * what is written replaces NAME. One replaced meanwhile (a link in its
 * place) is refused and removed, NAME untouched.
 */
static void reserve_reopen(void)
{
	char dir[] = "/tmp/cbt-safefile-XXXXXX", path[64], tmp[320], buf[16] = "";
	struct cbt_tmpfile t;
	struct stat st;
	FILE *f;
	int fd;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
	CHECK_EQ(cbt_tmpfile_create(&t, path), 0);
	CHECK_EQ(cbt_tmpfile_reserve(&t, 16384), 0);
	CHECK_EQ(t.fd, -1);
	snprintf(tmp, sizeof(tmp), "%s/%s", dir, t.tmp);
	CHECK_EQ(stat(tmp, &st), 0);
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(cbt_tmpfile_reopen(&t), 0);
	f = cbt_tmpfile_fdopen(&t);
	CHECK(f);
	fputs("new\n", f);
	CHECK_EQ(cbt_tmpfile_commit_stdio(&t, f), 0);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(read(fd, buf, sizeof(buf) - 1), 4);
	close(fd);
	CHECK(!strcmp(buf, "new\n"));
	CHECK(access(tmp, F_OK) && errno == ENOENT);

	CHECK_EQ(cbt_tmpfile_create(&t, path), 0);
	CHECK_EQ(cbt_tmpfile_reserve(&t, 16384), 0);
	snprintf(tmp, sizeof(tmp), "%s/%s", dir, t.tmp);
	CHECK_EQ(unlink(tmp), 0);
	CHECK_EQ(symlink("/etc/passwd", tmp), 0);
	CHECK_EQ(cbt_tmpfile_reopen(&t), -ELOOP);
	CHECK(access(tmp, F_OK) && errno == ENOENT);
	cbt_err_clear();
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(rmdir(dir), 0);
}

UT_MAIN("safefile",
	UT_CASE(commit_fsync_failure_closes),
	UT_CASE(commit_stdio_ferror_no_stale_errno),
	UT_CASE(reserve_reopen))
