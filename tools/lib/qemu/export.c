// SPDX-License-Identifier: GPL-2.0
/* A read-only NBD export with a dirty bitmap, through QEMU's tools (qemu/export.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qemu/export.h"
#include "util/util.h"

/* qemu-io refuses a request over BDRV_REQUEST_MAX_BYTES (2 GiB - 512 B). */
#define QEMU_IO_MAX_BYTES (1ULL << 30)

/* In the child: signals as a fresh program expects them, not as this one set them. */
static void child_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
}

/*
 * Run @argv with @in_fd (or /dev/null) as standard input and standard
 * output to /dev/null (the QEMU tools print progress there); errors go to
 * our standard error.
 */
static int spawn(char *const argv[], int in_fd, pid_t *pid)
{
	fflush(NULL);
	*pid = fork();
	if (*pid < 0)
		return cbt_err(-errno, "fork: %s", strerror(errno));
	if (!*pid) {
		int null = open("/dev/null", O_RDWR);

		child_signals();
		if (null < 0 || dup2(in_fd >= 0 ? in_fd : null, 0) < 0 || dup2(null, 1) < 0)
			_exit(126);
		execvp(argv[0], argv);
		fprintf(stderr, "cbt: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return 0;
}

static int reap(pid_t pid, const char *what)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return cbt_err(-errno, "waiting for %s: %s", what, strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return cbt_err(-ENOENT, "%s could not be run (is qemu-utils installed?)", what);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return cbt_err(-EIO, "%s failed (%s %d)", what,
			       WIFEXITED(st) ? "exit status" : "signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}

static int run(char *const argv[], const char *what)
{
	pid_t pid;
	int ret = spawn(argv, -1, &pid);

	return ret ? ret : reap(pid, what);
}

/* qemu-io commands, one a line: `write -z OFFSET LENGTH' over each range (bytes). */
static int write_ranges(FILE *f, const struct cbt_qemu_export *e, const struct cbt_extents *changed)
{
	size_t nr = changed ? changed->nr : 1;

	for (size_t i = 0; i < nr; i++) {
		uint64_t off = changed ? changed->v[i].start * e->block_size : 0;
		uint64_t end = changed ? (changed->v[i].start + changed->v[i].len) * e->block_size :
					 e->bytes;

		/* The last block may run past the end of the device. */
		if (end > e->bytes)
			end = e->bytes;
		while (off < end) {
			uint64_t len = end - off < QEMU_IO_MAX_BYTES ? end - off : QEMU_IO_MAX_BYTES;

			if (fprintf(f, "write -z %" PRIu64 " %" PRIu64 "\n", off, len) < 0)
				return -EPIPE;
			off += len;
		}
	}
	return 0;
}

/* Step 1: mark @changed in @file's bitmap by writing zeroes over it with qemu-io. */
static int dirty_ranges(const struct cbt_qemu_export *e, const char *file,
			const struct cbt_extents *changed)
{
	char *argv[] = { "qemu-io", "-f", "qcow2", (char *)file, NULL };
	int fds[2], ret, r;
	pid_t pid;
	FILE *f;

	if (pipe2(fds, O_CLOEXEC))
		return cbt_err(-errno, "pipe: %s", strerror(errno));
	ret = spawn(argv, fds[0], &pid);
	close(fds[0]);
	if (ret) {
		close(fds[1]);
		return ret;
	}
	f = fdopen(fds[1], "w");
	if (!f) {
		close(fds[1]);
		ret = -errno;
	} else {
		ret = write_ranges(f, e, changed);
		if (fclose(f) && !ret)
			ret = -EPIPE;
	}
	r = reap(pid, "qemu-io (marking the changed blocks)");
	if (r)
		return r;
	return ret ? cbt_err(ret, "writing commands to qemu-io: %s", strerror(-ret)) : 0;
}

int cbt_qemu_export_prepare(struct cbt_qemu_export *e, const struct cbt_extents *changed)
{
	const char *run_dir = getenv("CBT_RUN_DIR") ? getenv("CBT_RUN_DIR") : "/run/cbt";
	char scratch[4200], size[32], gran[32], backing[4200];
	int ret;

	if (mkdir(run_dir, 0700) && errno != EEXIST)
		return cbt_err(-errno, "creating %s: %s", run_dir, strerror(errno));
	snprintf(e->dir, sizeof(e->dir), "%s/serve-%s", run_dir, e->tag);
	snprintf(scratch, sizeof(scratch), "%s/changed.qcow2", e->dir);
	snprintf(e->overlay, sizeof(e->overlay), "%s/export.qcow2", e->dir);
	/* A dead run's files: ours alone, as the device's lock is held. */
	unlink(scratch);
	unlink(e->overlay);
	rmdir(e->dir);
	if (mkdir(e->dir, 0700)) {
		ret = cbt_err(-errno, "creating %s: %s", e->dir, strerror(errno));
		e->dir[0] = '\0';
		return ret;
	}
	snprintf(size, sizeof(size), "%" PRIu64, e->bytes);
	snprintf(gran, sizeof(gran), "%" PRIu32, e->block_size);
	/* qemu-img takes a backing file name relative to the overlay; make it absolute. */
	if (e->device[0] == '/')
		snprintf(backing, sizeof(backing), "%s", e->device);
	else if (!realpath(e->device, backing))
		return cbt_err(-errno, "%s: %s", e->device, strerror(errno));

	{
		/* 2 MiB clusters: few L2 tables for the zero flags of a large device. */
		char *create[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-o",
				   "cluster_size=2M", scratch, size, NULL };
		char *add[] = { "qemu-img", "bitmap", "--add", "-g", gran, scratch,
				(char *)e->bitmap, NULL };

		ret = run(create, "qemu-img create (the changed-block bitmap's scratch image)");
		if (!ret)
			ret = run(add, "qemu-img bitmap --add (on the scratch image)");
		if (!ret)
			ret = dirty_ranges(e, scratch, changed);
	}
	if (!ret) {
		char *create[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-b", backing,
				   "-F", "raw", e->overlay, size, NULL };
		char *merge[] = { "qemu-img", "bitmap", "--add", "-g", gran, "--merge",
				  (char *)e->bitmap, "-b", scratch, "-F", "qcow2", e->overlay,
				  (char *)e->bitmap, NULL };

		ret = run(create, "qemu-img create (the overlay over the snapshot)");
		if (!ret)
			ret = run(merge, "qemu-img bitmap --merge (into the overlay)");
	}
	unlink(scratch);
	return ret;
}

int cbt_qemu_export_start(struct cbt_qemu_export *e, int listen_fd)
{
	char tls_obj[4200];
	char *argv[16];
	pid_t parent;
	int n = 0;

	argv[n++] = "qemu-nbd";
	argv[n++] = "--read-only";
	argv[n++] = "--persistent";
	argv[n++] = "--shared=16";
	argv[n++] = "--format=qcow2";
	argv[n++] = "--bitmap";
	argv[n++] = (char *)e->bitmap;
	if (e->tls_dir) {
		snprintf(tls_obj, sizeof(tls_obj), "tls-creds-x509,id=tls0,endpoint=server,dir=%s",
			 e->tls_dir);
		argv[n++] = "--object";
		argv[n++] = tls_obj;
		argv[n++] = "--tls-creds=tls0";
	}
	argv[n++] = e->overlay;
	argv[n] = NULL;

	parent = getpid();
	fflush(NULL);
	e->server = fork();
	if (e->server < 0) {
		e->server = 0;
		return cbt_err(-errno, "fork: %s", strerror(errno));
	}
	if (!e->server) {
		char pid[32];

		/* The server must not outlive us: it holds the snapshot open. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		child_signals();
		/* Socket activation: the socket is fd 3, for this very process. */
		if (listen_fd == 3)
			fcntl(3, F_SETFD, 0);
		else if (dup2(listen_fd, 3) < 0)
			_exit(126);
		closefrom(4);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("LISTEN_PID", pid, 1);
		setenv("LISTEN_FDS", "1", 1);
		unsetenv("LISTEN_FDNAMES");
		execvp(argv[0], argv);
		fprintf(stderr, "cbt: qemu-nbd: %s\n", strerror(errno));
		_exit(127);
	}
	return 0;
}

void cbt_qemu_export_stop(struct cbt_qemu_export *e)
{
	if (e->server > 0) {
		/*
		 * qemu-nbd can miss a SIGTERM that comes while it is still
		 * starting (seen once under load: it stayed in ppoll and we
		 * in wait4 until the test's timer): give it 10 s, then kill.
		 */
		const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
		pid_t r = 0;

		kill(e->server, SIGTERM);
		for (int i = 0; i < 1000 && r == 0; i++) {
			r = waitpid(e->server, NULL, WNOHANG);
			if (r < 0 && errno == EINTR)
				r = 0;
			if (r == 0)
				nanosleep(&tick, NULL);
		}
		if (r == 0) {
			kill(e->server, SIGKILL);
			while (waitpid(e->server, NULL, 0) < 0 && errno == EINTR)
				;
		}
		e->server = 0;
	}
	if (e->dir[0]) {
		if (e->overlay[0])
			unlink(e->overlay);
		rmdir(e->dir);
		e->dir[0] = '\0';
	}
}
