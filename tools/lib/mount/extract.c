// SPDX-License-Identifier: GPL-2.0
/*
 * `cbt restore DIR --path P -o OUT' (nbd.h): mount the point on a private
 * temporary directory, copy one file or directory out, take it all down
 * again, whatever happened. The path is resolved inside the mounted
 * filesystem only (openat2 RESOLVE_IN_ROOT): an image's absolute symbolic
 * links and `..' cannot reach the host's files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "mount/nbd.h"
#include "store/safefile.h"
#include "util/util.h"

static int open_in_root(const char *root, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int rfd, fd;

	rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return cbt_err(-errno, "%s: %s", root, strerror(errno));
	while (*path == '/')
		path++;
	fd = syscall(SYS_openat2, rfd, *path ? path : ".", &how, sizeof(how));
	if (fd < 0)
		fd = cbt_err(-errno, "%s in the restore point: %s", path, strerror(errno));
	close(rfd);
	return fd;
}

static int copy_file(int in, const struct stat *st, const char *path, const char *out,
		     const char *log)
{
	struct cbt_tmpfile t = { .fd = -1, .dfd = -1 };
	static char buf[1 << 20];
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	ssize_t n;
	int ret;

	ret = cbt_tmpfile_create(&t, out);
	if (ret)
		return ret;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = cbt_err(-errno, "reading %s from the restore point: %s (the server's"
				      " messages: %s)", path, strerror(errno), log);
			break;
		}
		for (ssize_t done = 0, w; done < n; done += w) {
			w = write(t.fd, buf + done, n - done);
			if (w < 0) {
				ret = cbt_err(-errno, "%s: %s", out, strerror(errno));
				break;
			}
		}
		if (ret)
			break;
	}
	if (!ret && (fchmod(t.fd, st->st_mode & 07777) || futimens(t.fd, times)))
		ret = cbt_err(-errno, "%s: %s", out, strerror(errno));
	if (!ret)
		return cbt_tmpfile_commit(&t);
	cbt_tmpfile_abort(&t);
	return ret;
}

/* cp -a of the directory open as @dir to the new directory @out. */
static int copy_tree(int dir, const char *path, const char *out)
{
	char abs[PATH_MAX], cwd[PATH_MAX];
	struct stat st;
	int status;
	pid_t pid;

	if (!lstat(out, &st))
		return cbt_err(-EEXIST, "%s exists (a directory is restored to a new name)", out);
	if (out[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)) ||
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, out) >= sizeof(abs))
			return cbt_err(-ENAMETOOLONG, "%s: path too long", out);
		out = abs;
	}
	pid = fork();
	if (pid < 0)
		return cbt_err(-errno, "fork: %s", strerror(errno));
	if (!pid) {
		if (fchdir(dir))
			_exit(126);
		execlp("cp", "cp", "-a", ".", out, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cbt_err(-errno, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return cbt_err(-EIO, "copying %s from the restore point failed (cp -a; %s may be"
			       " partial)", path, out);
	return 0;
}

int cbt_extract_path(const struct cbt_mount_opts *base, const char *path, const char *out,
		     bool recursive)
{
	char dir[] = CBT_MOUNT_DIR "/restore.XXXXXX", log[PATH_MAX];
	struct cbt_mount_opts o = *base;
	struct cbt_mount m;
	struct stat st;
	int ret, fd, stop;

	/* CBT_MOUNT_DIR exists once a mount was made; mkdtemp needs it now */
	if ((mkdir("/run/cbt", 0755) && errno != EEXIST) ||
	    (mkdir(CBT_MOUNT_DIR, 0700) && errno != EEXIST) || !mkdtemp(dir))
		return cbt_err(-errno, "%s: %s", CBT_MOUNT_DIR, strerror(errno));
	o.mountpoint = dir;
	o.quiet = true;
	ret = cbt_mount_start(&o, &m);
	if (ret) {
		rmdir(dir);
		return ret;
	}
	snprintf(log, sizeof(log), "%s/%s.log", CBT_MOUNT_DIR, m.id);
	fd = open_in_root(dir, path);
	ret = fd < 0 ? fd : 0;
	if (!ret && fstat(fd, &st))
		ret = cbt_err(-errno, "%s: %s", path, strerror(errno));
	if (!ret) {
		if (S_ISREG(st.st_mode))
			ret = copy_file(fd, &st, path, out, log);
		else if (S_ISDIR(st.st_mode) && recursive)
			ret = copy_tree(fd, path, out);
		else if (S_ISDIR(st.st_mode))
			ret = cbt_err(-EISDIR, "%s is a directory (-r restores it)", path);
		else
			ret = cbt_err(-EINVAL, "%s is not a regular file or a directory", path);
	}
	if (fd >= 0)
		close(fd);
	stop = cbt_mount_stop(&m, true);
	if (!ret)
		ret = stop;
	rmdir(dir);
	return ret;
}
