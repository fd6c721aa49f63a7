// SPDX-License-Identifier: GPL-2.0
/*
 * qemu/export.c: starting and stopping qemu-nbd, with a pidfd and without
 * one (Linux before 5.3 has no pidfd_open(): RHEL 8's 4.18), on a fake
 * qemu-nbd first in $PATH, a shell script that serves (writes its pid
 * file), ends first, never serves, or ignores SIGTERM. The bounds are
 * shortened through the test hooks.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu/export.h"
#include "unit.h"
#include "util/util.h"

/* The fake's first lines: its --pid-file, whatever else it is given. */
#define FAKE_HEAD "#!/bin/sh\nPATH=/usr/bin:/bin\n" \
	"for a; do case $a in --pid-file=*) pf=${a#--pid-file=};; esac; done\n"
#define SERVES "echo $$ >\"$pf\"\nexec sleep 60\n"
/* A SIGTERM ignored by the shell is ignored by the sleep it becomes. */
#define IGNORES_TERM "trap '' TERM\necho $$ >\"$pf\"\nexec sleep 60\n"
#define ENDS_FIRST "exit 3\n"
#define NEVER_SERVES "exec sleep 60\n"

static char base[64], bin[96];

/* A fresh export whose qemu-nbd is a script of @body; @no_pidfd: as on Linux before 5.3. */
static int setup(struct cbt_qemu_export *e, const char *body, bool no_pidfd, int lfd[1])
{
	char path[160], env[4200];
	FILE *f;

	memset(e, 0, sizeof(*e));
	snprintf(base, sizeof(base), "/tmp/cbt-export-XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(bin, sizeof(bin), "%s/bin", base);
	snprintf(e->dir, sizeof(e->dir), "%s/run", base);
	snprintf(path, sizeof(path), "%s/qemu-nbd", bin);
	if (mkdir(bin, 0700) || mkdir(e->dir, 0700))
		return -1;
	f = fopen(path, "w");
	if (!f || fprintf(f, FAKE_HEAD "%s", body) < 0 || fclose(f) || chmod(path, 0700))
		return -1;
	snprintf(env, sizeof(env), "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	setenv("PATH", env, 1);
	e->bitmap = "b0";
	cbt_qemu_no_pidfd = no_pidfd;
	cbt_qemu_start_ms = 120 * 1000;
	cbt_qemu_stop_ms = 10 * 1000;
	*lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* A case that hangs (a stop that waits for ever) ends the binary, not the run. */
	alarm(30);
	return *lfd < 0 ? -1 : 0;
}

static void teardown(int lfd)
{
	char path[160];
	const char *p = getenv("PATH");

	alarm(0);
	close(lfd);
	snprintf(path, sizeof(path), "%s/qemu-nbd", bin);
	unlink(path);
	rmdir(bin);
	/* left by a start that failed with the server reaped already */
	snprintf(path, sizeof(path), "%s/run", base);
	rmdir(path);
	rmdir(base);
	/* PATH back as it was: drop our directory from its front. */
	if (p && !strncmp(p, bin, strlen(bin)) && p[strlen(bin)] == ':')
		setenv("PATH", p + strlen(bin) + 1, 1);
	cbt_qemu_no_pidfd = false;
	cbt_err_clear();
}

/* @pid ended and was reaped: no zombie is left behind. */
static bool reaped(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD && kill(pid, 0) < 0 &&
	       errno == ESRCH;
}

/* Every child ended and was reaped. */
static bool no_children(void)
{
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/*
 * Start the fake @body (without a pidfd if @no_pidfd_start), then stop it
 * (without one if @no_pidfd_stop) within @stop_ms: how long the stop took,
 * in ms; -1 if the start failed or the stop left the server unreaped or
 * the scratch directory behind.
 */
static long start_then_stop(const char *body, bool no_pidfd_start, bool no_pidfd_stop, int stop_ms)
{
	struct cbt_qemu_export e;
	long ms = -1;
	uint64_t t0;
	pid_t pid;
	int lfd;

	if (setup(&e, body, no_pidfd_start, &lfd))
		return -1;
	cbt_qemu_stop_ms = stop_ms;
	if (!cbt_qemu_export_start(&e, lfd) && e.server > 0) {
		pid = e.server;
		cbt_qemu_no_pidfd = no_pidfd_stop;
		t0 = cbt_mono_ns();
		cbt_qemu_export_stop(&e);
		ms = (long)((cbt_mono_ns() - t0) / 1000000);
		if (e.server || !reaped(pid) || e.dir[0])
			ms = -1;
	}
	teardown(lfd);
	return ms;
}

/* Serving once its pid file holds its pid; stopped by SIGTERM well before the bound (5 s here). */
static void serves_then_stops(bool no_pidfd)
{
	long ms = start_then_stop(SERVES, no_pidfd, no_pidfd, 5000);

	CHECK(ms >= 0 && ms < 5000);
}

/*
 * Ignores SIGTERM: SIGKILL once the stop's bound (1 s here) has passed,
 * not a wait for ever. The stop alone without a pidfd; the start's
 * fallback is the other cases'.
 */
static void term_ignored_killed_after_bound(bool no_pidfd)
{
	long ms = start_then_stop(IGNORES_TERM, false, no_pidfd, 1000);

	CHECK(ms >= 1000 && ms < 4000);
}

/* Ends before it serves: its exit status, reaped, at once. */
static void ends_before_serving(bool no_pidfd)
{
	struct cbt_qemu_export e;
	int lfd;

	CHECK_EQ(setup(&e, ENDS_FIRST, no_pidfd, &lfd), 0);
	CHECK_ERR(cbt_qemu_export_start(&e, lfd), -EPIPE,
		  "qemu-nbd ended before serving (exit status 3)");
	CHECK_EQ(e.server, 0);
	CHECK(no_children());
	teardown(lfd);
}

/* Never serves: the start's bound (300 ms here), then it is stopped and reaped. */
static void never_serves_times_out(bool no_pidfd)
{
	struct cbt_qemu_export e;
	uint64_t t0, ms;
	int lfd;

	CHECK_EQ(setup(&e, NEVER_SERVES, no_pidfd, &lfd), 0);
	cbt_qemu_start_ms = 300;
	t0 = cbt_mono_ns();
	CHECK_ERR(cbt_qemu_export_start(&e, lfd), -ETIMEDOUT,
		  "qemu-nbd did not start serving within 1 s");
	ms = (cbt_mono_ns() - t0) / 1000000;
	CHECK(ms >= 300 && ms < 5000);
	CHECK_EQ(e.server, 0);
	CHECK(no_children());
	teardown(lfd);
}

#define BOTH_WAYS(fn)								\
	static void fn##_pidfd(void) { fn(false); }				\
	static void fn##_no_pidfd(void) { fn(true); }
BOTH_WAYS(serves_then_stops)
BOTH_WAYS(term_ignored_killed_after_bound)
BOTH_WAYS(ends_before_serving)
BOTH_WAYS(never_serves_times_out)

UT_MAIN("export",
	UT_CASE(serves_then_stops_pidfd),
	UT_CASE(serves_then_stops_no_pidfd),
	UT_CASE(term_ignored_killed_after_bound_pidfd),
	UT_CASE(term_ignored_killed_after_bound_no_pidfd),
	UT_CASE(ends_before_serving_pidfd),
	UT_CASE(ends_before_serving_no_pidfd),
	UT_CASE(never_serves_times_out_pidfd),
	UT_CASE(never_serves_times_out_no_pidfd))
