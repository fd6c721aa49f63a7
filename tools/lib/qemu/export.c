// SPDX-License-Identifier: GPL-2.0
/* A read-only NBD export with a dirty bitmap, through QEMU's tools (qemu/export.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qemu/export.h"
#include "util/util.h"

/* qemu-io refuses a request over BDRV_REQUEST_MAX_BYTES (2 GiB - 512 B). */
#define QEMU_IO_MAX_BYTES (1ULL << 30)

/* How long qemu-nbd may take to open the overlay and start serving. */
#define SERVER_START_MS (120 * 1000)
/* How long it may take to end after a SIGTERM, and how often it is sent. */
#define SERVER_STOP_MS (10 * 1000)
#define SERVER_TERM_EVERY_MS 500
/* Without a pidfd, how often the server is looked at (server_wait()). */
#define SERVER_POLL_MS 20

#ifdef CBT_TEST_HOOKS
bool cbt_qemu_no_pidfd;
int cbt_qemu_start_ms = SERVER_START_MS, cbt_qemu_stop_ms = SERVER_STOP_MS;
#else
#define cbt_qemu_no_pidfd false
#define cbt_qemu_start_ms SERVER_START_MS
#define cbt_qemu_stop_ms SERVER_STOP_MS
#endif

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
	char scratch[4200], pid_file[4200], size[32], gran[32], backing[4200];
	int ret;

	if (mkdir(run_dir, 0700) && errno != EEXIST)
		return cbt_err(-errno, "creating %s: %s", run_dir, strerror(errno));
	snprintf(e->dir, sizeof(e->dir), "%s/serve-%s", run_dir, e->tag);
	snprintf(scratch, sizeof(scratch), "%s/changed.qcow2", e->dir);
	snprintf(e->overlay, sizeof(e->overlay), "%s/export.qcow2", e->dir);
	snprintf(pid_file, sizeof(pid_file), "%s/qemu-nbd.pid", e->dir);
	/* A dead run's files: ours alone, as the device's lock is held. */
	unlink(pid_file);
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

/* The server's state in its pid file: 1 when it holds @pid (qemu-nbd is ready), else 0. */
static int pid_file_says(const char *path, pid_t pid)
{
	char buf[32], want[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	snprintf(want, sizeof(want), "%d\n", (int)pid);
	return !strcmp(buf, want);
}

/*
 * A pidfd for the server, or -1: pidfd_open() is Linux 5.3 (RHEL 8's 4.18
 * fails with ENOSYS; a seccomp filter may refuse it with EPERM), and any
 * failure leaves server_wait() to look at the server by itself.
 */
static int server_pidfd(pid_t pid)
{
	if (cbt_qemu_no_pidfd)
		return -1;
	return pidfd_open(pid, 0);
}

/* Has the server ended? Not reaped: WNOWAIT leaves that to the caller. */
static bool server_gone(pid_t pid)
{
	siginfo_t si = { 0 };

	/* ECHILD: reaped already (SIGCHLD ignored); as good as ended. */
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT))
		return errno == ECHILD;
	return si.si_pid == pid;
}

/*
 * Wait up to @ms for server @pid to end (1) or @fd (-1: none) to be
 * readable (0; 0 too when the time is up or a signal came). With a pidfd
 * (@pidfd >= 0) its end wakes poll(); without, the server is looked at
 * every SERVER_POLL_MS: qemu-nbd is our child, so waitid() can tell.
 */
static int server_wait(pid_t pid, int pidfd, int fd, int ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
	int n;

	if (pidfd >= 0) {
		n = poll(p, 2, ms);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		return p[1].revents ? 1 : 0;
	}
	for (;;) {
		int slice = ms < SERVER_POLL_MS ? ms : SERVER_POLL_MS;

		n = poll(p, fd >= 0, slice);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (server_gone(pid))
			return 1;
		ms -= slice;
		if (n || ms <= 0)
			return 0;
	}
}

/* The server ended: reap it and say how. */
static int server_ended(struct cbt_qemu_export *e, const char *when)
{
	int st = 0;

	while (waitpid(e->server, &st, 0) < 0 && errno == EINTR)
		;
	e->server = 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return cbt_err(-ENOENT, "qemu-nbd could not be run (is qemu-utils installed?)");
	return cbt_err(-EPIPE, "qemu-nbd ended %s (%s %d)", when,
		       WIFEXITED(st) ? "exit status" : "signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/*
 * qemu-nbd writes its pid file once it listens and exports, just before
 * its main loop: wait for that (or its end). Until then it would lose a
 * SIGTERM (qemu-nbd.c sets its state to RUNNING only as the loop starts,
 * over the TERMINATE its signal handler set), and "serving" would be
 * said of a server that may still fail to open the overlay.
 */
static int wait_until_serving(struct cbt_qemu_export *e, const char *pid_file)
{
	int ret = 0, left = cbt_qemu_start_ms, pidfd = server_pidfd(e->server);
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (in < 0 || inotify_add_watch(in, e->dir, IN_MODIFY | IN_CLOSE_WRITE) < 0) {
		ret = cbt_err(-errno, "inotify on %s: %s", e->dir, strerror(errno));
		goto out;
	}
	/* Checked after the watch is set: a write before it is not missed. */
	while (!pid_file_says(pid_file, e->server)) {
		char events[4096];
		struct timespec t0, t1;
		int n;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		n = server_wait(e->server, pidfd, in, left);
		if (n < 0) {
			ret = cbt_err(n, "waiting for qemu-nbd: %s", strerror(-n));
			break;
		}
		if (n) {
			ret = server_ended(e, "before serving");
			break;
		}
		while (read(in, events, sizeof(events)) > 0)
			;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left -= (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (left <= 0) {
			ret = cbt_err(-ETIMEDOUT, "qemu-nbd did not start serving within %d s",
				      (cbt_qemu_start_ms + 999) / 1000);
			break;
		}
	}
out:
	if (in >= 0)
		close(in);
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

int cbt_qemu_export_start(struct cbt_qemu_export *e, int listen_fd)
{
	char tls_obj[4200], pid_file[4200], pid_opt[4300];
	char *argv[18];
	pid_t parent;
	int n = 0, ret;

	snprintf(pid_file, sizeof(pid_file), "%s/qemu-nbd.pid", e->dir);
	snprintf(pid_opt, sizeof(pid_opt), "--pid-file=%s", pid_file);
	argv[n++] = "qemu-nbd";
	argv[n++] = "--read-only";
	argv[n++] = "--persistent";
	argv[n++] = "--shared=16";
	argv[n++] = "--format=qcow2";
	argv[n++] = pid_opt;
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

	unlink(pid_file);
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
	ret = wait_until_serving(e, pid_file);
	if (ret && e->server > 0)
		cbt_qemu_export_stop(e);
	return ret;
}

void cbt_qemu_export_stop(struct cbt_qemu_export *e)
{
	if (e->server > 0) {
		/*
		 * SIGTERM again every half second: one that comes in the
		 * instant between the pid file and qemu-nbd's main loop is
		 * lost (see wait_until_serving()). SIGKILL after 10 s, or at
		 * once if it cannot be waited for.
		 */
		int pidfd = server_pidfd(e->server), waited = 0, ended = 0;

		while (!ended && waited < cbt_qemu_stop_ms) {
			kill(e->server, SIGTERM);
			ended = server_wait(e->server, pidfd, -1, SERVER_TERM_EVERY_MS);
			waited += SERVER_TERM_EVERY_MS;
		}
		if (ended <= 0)
			kill(e->server, SIGKILL);
		if (pidfd >= 0)
			close(pidfd);
		while (waitpid(e->server, NULL, 0) < 0 && errno == EINTR)
			;
		e->server = 0;
	}
	if (e->dir[0]) {
		char pid_file[4200];

		snprintf(pid_file, sizeof(pid_file), "%s/qemu-nbd.pid", e->dir);
		unlink(pid_file);
		if (e->overlay[0])
			unlink(e->overlay);
		rmdir(e->dir);
		e->dir[0] = '\0';
	}
}
