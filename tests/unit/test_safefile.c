// SPDX-License-Identifier: GPL-2.0
/* safefile.c: the temporary file's failure paths (review: fd leak, stale errno). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

UT_MAIN("safefile",
	UT_CASE(commit_fsync_failure_closes),
	UT_CASE(commit_stdio_ferror_no_stale_errno))
