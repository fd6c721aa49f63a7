// SPDX-License-Identifier: GPL-2.0
/*
 * cbt serve DEVICE --snapshot: take a snapshot as `cbt backup' does
 * (backup/job.h), serve it read-only over NBD with the closed epoch's
 * changes as a QEMU dirty bitmap (qemu/export.h), and commit the epoch on
 * SIGUSR1 or abort it on SIGTERM, SIGINT or SIGHUP (docs/serve.md).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backup/job.h"
#include "qemu/export.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s serve DEVICE --snapshot --cow COW [--bitmap-name NAME]\n"
		"           (--socket PATH | --tcp ADDR:PORT [--tls-certificates DIR])\n\n"
		"Takes a snapshot of DEVICE (closing its open epoch) and serves it read-only\n"
		"over NBD (qemu-nbd), with the epoch's changed blocks as the dirty bitmap\n"
		"qemu:dirty-bitmap:NAME (every block when no epoch was committed under the\n"
		"device's tracking identity) and base:allocation. Runs until told:\n"
		"SIGUSR1 commits the epoch, SIGTERM, SIGINT or SIGHUP abort it (its changes go\n"
		"into the next epoch); then the snapshot is dropped. Stop it when the\n"
		"client is done: open connections are closed.\n\n"
		"  --snapshot          serve a snapshot of the live DEVICE (required)\n"
		"  --cow COW           the snapshot's copy-on-write device (blank, or --force)\n"
		"  --force             use a COW device holding a filesystem or other signature\n"
		"  --freeze            freeze the filesystem around the snapshot (default)\n"
		"  --no-freeze         do not\n"
		"  --bitmap-name NAME  the bitmap's name (default: cbt)\n"
		"  --socket PATH       listen on a Unix socket (a stale one is replaced)\n"
		"  --tcp ADDR:PORT     listen on TCP ([IPV6]:PORT; ADDR empty: the wildcard)\n"
		"  --tls-certificates DIR  require TLS with the x509 files in DIR (ca-cert.pem,\n"
		"                      server-cert.pem, server-key.pem); clients need a\n"
		"                      certificate signed by ca-cert.pem\n", PROG_NAME);
}

/* A Unix socket left by a server that died is replaced; anything else at @path is refused. */
static int listen_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, ret = cbt_unix_socket_reclaim(path);

	if (ret)
		return ret;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cbt_err(-errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16)) {
		int err = errno;

		close(fd);
		return cbt_err(-err, "%s: %s", path, strerror(err));
	}
	return fd;
}

static int listen_tcp(const char *arg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res, *ai;
	char host[256];
	const char *colon = strrchr(arg, ':');
	size_t hl;
	int fd = -1, err = 0, one = 1;

	if (!colon || !colon[1] || (size_t)(colon - arg) >= sizeof(host))
		return cbt_err(-EINVAL, "--tcp `%s': give ADDR:PORT", arg);
	hl = (size_t)(colon - arg);
	memcpy(host, arg, hl);
	host[hl] = '\0';
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	err = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
	if (err)
		return cbt_err(-EINVAL, "--tcp `%s': %s", arg, gai_strerror(err));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 16))
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return cbt_err(-err, "--tcp %s: %s", arg, strerror(err));
	return fd;
}

/*
 * qemu-nbd reads the x509 files only when it starts, after the snapshot
 * was taken: a missing one would close and abort an epoch for nothing.
 */
static int check_tls_dir(const char *dir)
{
	static const char *const files[] = { "ca-cert.pem", "server-cert.pem", "server-key.pem" };
	char path[4200];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (access(path, R_OK))
			return cbt_fail(CBT_EXIT_USAGE, "%s serve: --tls-certificates %s: %s: %s (the"
					" directory holds ca-cert.pem, server-cert.pem and"
					" server-key.pem)", PROG_NAME, dir, path, strerror(errno));
	}
	return 0;
}

/*
 * Wait for the end: SIGUSR1 (commit), SIGTERM, SIGINT, SIGHUP (abort), or
 * the server's death (-EPIPE). The signals are blocked since the start, so
 * one sent while the snapshot was being taken is not lost.
 */
static int wait_for_end(struct cbt_qemu_export *e, const sigset_t *set, bool *commit)
{
	for (;;) {
		siginfo_t si;
		int st;

		if (sigwaitinfo(set, &si) < 0) {
			if (errno == EINTR)
				continue;
			return cbt_err(-errno, "sigwaitinfo: %s", strerror(errno));
		}
		if (si.si_signo != SIGCHLD) {
			*commit = si.si_signo == SIGUSR1;
			return 0;
		}
		if (waitpid(e->server, &st, WNOHANG) == e->server) {
			e->server = 0;
			return cbt_err(-EPIPE, "qemu-nbd ended (%s %d)",
				       WIFEXITED(st) ? "exit status" : "signal",
				       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
	}
}

static int serve(struct cbt_backup_job *job, struct cbt_qemu_export *e, int lfd,
		 const char *uri, const sigset_t *set)
{
	const char *all = NULL;
	bool commit = false;
	char tag[32];
	int ret;

	ret = cbt_backup_plan(job);
	if (ret)
		return ret;
	if (!job->info.last_committed)
		all = "no epoch was committed under the device's tracking identity";
	ret = cbt_backup_snapshot(job);
	if (ret)
		return ret;
	if (memcmp(job->snap.uuid, job->info.uuid, 16))
		all = "the tracking identity changed as the snapshot was taken";
	/* The closed epoch's changes; refused while an older epoch is held by another reader. */
	job->req.type = CBT_IMG_INCREMENTAL;
	ret = cbt_backup_blocks(job);
	if (ret)
		return ret;
	job->step = "building the dirty bitmap";
	snprintf(tag, sizeof(tag), "%" PRIu32 ":%" PRIu32, job->info.major, job->info.minor);
	e->tag = tag;
	e->device = job->snap.snap_path;
	e->bytes = job->snap.sectors * 512;
	e->block_size = job->snap.block_size;
	ret = cbt_qemu_export_prepare(e, all ? NULL : &job->changed);
	if (ret)
		return ret;
	job->step = "starting qemu-nbd";
	ret = cbt_qemu_export_start(e, lfd);
	if (ret)
		return ret;
	if (all)
		printf("%s: %s: the bitmap marks every block\n", job->dev, all);
	printf("%s: serving the snapshot of epoch %" PRIu64 " on %s with qemu:dirty-bitmap:%s"
	       " (%" PRIu64 " blocks of %" PRIu32 " bytes)\n", job->dev, job->snap.epoch, uri,
	       e->bitmap, all ? (e->bytes + e->block_size - 1) / e->block_size : job->changed.total,
	       e->block_size);
	fflush(stdout);

	job->step = "serving";
	ret = wait_for_end(e, set, &commit);
	cbt_qemu_export_stop(e);
	if (ret || !commit)
		return ret;
	job->step = "committing the epoch";
	ret = cbt_epoch_commit(job->nl, &job->sel, job->snap.epoch);
	if (!ret)
		job->committed = true;
	return ret;
}

int cmd_serve_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "snapshot", no_argument, NULL, 's' },
		{ "cow", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ "freeze", no_argument, NULL, 'z' },
		{ "no-freeze", no_argument, NULL, 'Z' },
		{ "bitmap-name", required_argument, NULL, 'b' },
		{ "socket", required_argument, NULL, 'u' },
		{ "tcp", required_argument, NULL, 't' },
		{ "tls-certificates", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_backup_job job = { .freeze = true, .req = { .type = CBT_IMG_FULL } };
	struct cbt_qemu_export e = { .bitmap = "cbt" };
	const char *sock = NULL, *tcp = NULL;
	bool snapshot = false;
	char uri[4200];
	sigset_t set;
	int c, ret, lfd, freeze_opt = -1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			snapshot = true;
			break;
		case 'b':
			/* QEMU's limit; a comma would split qemu-nbd's option list */
			if (!optarg[0] || strlen(optarg) > 1023 || strchr(optarg, ','))
				return bad_argument("serve", "--bitmap-name takes 1 to 1023 characters"
						    " and no comma, not", optarg, NULL);
			e.bitmap = optarg;
			break;
		case 'u':
			sock = optarg;
			break;
		case 't':
			tcp = optarg;
			break;
		case 'T':
			if (strchr(optarg, ','))
				return bad_argument("serve", "--tls-certificates: a directory without"
						    " a comma in its path, not", optarg, NULL);
			e.tls_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			ret = backup_snapshot_option(&job, "serve", &freeze_opt, c, optarg);
			if (ret == 1)
				break;
			return ret ? ret : bad_option("serve", c, argv);
		}
	}
	if (argc - optind != 1 || !snapshot || !job.cow || !sock == !tcp) {
		if (argc - optind < 1)
			cbt_fail(CBT_EXIT_USAGE, "%s serve: which DEVICE? (`cbt status' lists them)",
				 PROG_NAME);
		else if (!snapshot)
			cbt_fail(CBT_EXIT_USAGE, "%s serve: a device is served through a snapshot: give"
				 " --snapshot", PROG_NAME);
		else if (!job.cow)
			cbt_fail(CBT_EXIT_USAGE, "%s serve: the snapshot needs a COW device (--cow COW)",
				 PROG_NAME);
		else
			cbt_fail(CBT_EXIT_USAGE, "%s serve: give one of --socket PATH and --tcp ADDR:PORT",
				 PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (e.tls_dir && !tcp)
		return bad_argument("serve", "--tls-certificates goes with --tcp, not with --socket",
				    sock, NULL);
	if (e.tls_dir && check_tls_dir(e.tls_dir))
		return CBT_EXIT_USAGE;
	job.dev = argv[optind];
	job.notes = stderr;
	job.name = "cbt serve";
	cbt_backup_job_init(&job);

	/* Blocked until wait_for_end() takes them: no signal is lost, none kills us half-way. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Ignored, it would reap qemu-nbd before wait_for_end() could. */
	signal(SIGCHLD, SIG_DFL);

	/* Bad addresses are refused before anything is taken. */
	lfd = sock ? listen_unix(sock) : listen_tcp(tcp);
	if (lfd < 0)
		return cbt_fail(cbt_exit_status(lfd), "cbt serve: %s", cbt_err_detail() ?
				cbt_err_detail() : strerror(-lfd));
	if (sock)
		snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", sock);
	else
		snprintf(uri, sizeof(uri), "%s://%s", e.tls_dir ? "nbds" : "nbd", tcp);

	ret = serve(&job, &e, lfd, uri, &set);
	cbt_qemu_export_stop(&e);
	close(lfd);
	if (sock)
		unlink(sock);
	ret = cbt_backup_finish(&job, ret);
	if (ret) {
		c = cbt_fail(cbt_exit_status(ret), "cbt serve: %s failed while %s: %s", job.dev,
			     job.step, job.why_failed);
		if (job.taken)
			fprintf(stderr, "cbt serve: epoch %" PRIu64 " was aborted: its changes go"
				" into the next epoch\n", job.snap.epoch);
		return c;
	}
	if (job.committed)
		printf("%s: epoch %" PRIu64 " committed\n", job.dev, job.snap.epoch);
	else
		printf("%s: epoch %" PRIu64 " aborted: its changes go into the next epoch\n",
		       job.dev, job.snap.epoch);
	return 0;
}
