// SPDX-License-Identifier: GPL-2.0
/*
 * cbt export: a restore point as one raw or qcow2 file. qcow2 is made the
 * honest way: the point is restored into a sparse raw file next to the
 * output, which `qemu-img convert -O qcow2' (qemu-utils) turns into the
 * qcow2 file; the raw file is removed either way. Both are temporary files
 * (safefile.h) renamed over OUTPUT only when complete: a failed or
 * interrupted export leaves an existing OUTPUT as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image/apply.h"
#include "image/s3chain.h"
#include "store/safefile.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s export DIR|FILE --format raw|qcow2 [--image ID] -o OUTPUT\n\n"
		"Writes a restore point (the last image of DIR, or the one --image names)\n"
		"as a sparse raw file or a qcow2 file. qcow2 needs qemu-img (qemu-utils):\n"
		"the point is restored to a temporary raw file next to OUTPUT and converted.\n"
		"OUTPUT is replaced only once the export is complete. DIR may be a chain in\n"
		"S3, s3://BUCKET/PREFIX (docs/storage.md).\n\n"
		"  --format raw|qcow2   output format (raw by default)\n"
		"  --image ID           image number, file name or UUID in DIR\n"
		"  -o, --output FILE    where to write (replaced if it exists)\n"
		"  --quiet              no progress line\n"
		"  --key FILE         the key of an encrypted chain (docs/format.md)\n"
		"  --s3-config FILE     S3 endpoint, region and keys\n", PROG_NAME);
}

/* The temporary files, for the signal handler: removed when the export is interrupted. */
static struct cbt_tmpfile rawf = { .fd = -1, .dfd = -1 }, qf = { .fd = -1, .dfd = -1 };

static void on_signal(int sig)
{
	if (rawf.fd >= 0)
		unlinkat(rawf.dfd, rawf.tmp, 0);
	if (qf.fd >= 0)
		unlinkat(qf.dfd, qf.tmp, 0);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int run_qemu_img(const char *raw, const char *out)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return cbt_err(-errno, "fork: %s", strerror(errno));
	if (!pid) {
		execlp("qemu-img", "qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, out,
		       (char *)NULL);
		fprintf(stderr, "cbt export: running qemu-img: %s (install qemu-utils)\n",
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return cbt_err(-errno, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return cbt_err(-EIO, "qemu-img convert failed (exit status %d)",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

int export_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "image", required_argument, NULL, 'i' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "s3-config", required_argument, NULL, 'Y' },
		{ "key", required_argument, NULL, KEY_OPT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *s3cfg = NULL, *src;
	const char *id = NULL, *out = NULL;
	bool qcow2 = false, quiet = false;
	char raw[4096], qpath[4096];
	struct cbt_apply_stats st;
	struct cbt_progress p;
	struct cbt_point pt;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:q", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "qcow2"))
				qcow2 = true;
			else if (strcmp(optarg, "raw"))
				return bad_argument("export", "unknown format", optarg,
						    "it is raw or qcow2");
			break;
		case 'i':
			id = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'Y':
			s3cfg = optarg;
			break;
		case KEY_OPT:
			if ((ret = key_option("export", optarg)))
				return ret;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("export", c, argv);
		}
	}
	if (argc - optind != 1 || !out) {
		if (!out)
			cbt_fail(CBT_EXIT_USAGE, "%s export: where to? (-o OUTPUT)", PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	ret = chain_argument("export", argv[optind]);
	if (ret)
		return ret;
	ret = cbt_s3chain_src(argv[optind], s3cfg, false, &src, NULL);
	if (!ret)
		ret = cbt_open_point(src, id, true, NULL, &pt);
	if (ret)
		goto fail;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	ret = cbt_tmpfile_create(&rawf, out);
	if (!ret && qcow2)
		ret = cbt_tmpfile_create(&qf, out);
	if (ret)
		goto fail;
	cbt_progress_init(&p, "export: read", cbt_point_bytes(&pt), !quiet);
	ret = cbt_apply_images(pt.fds, (const char *const *)pt.names, pt.n, rawf.fd, true, &p,
			       &st);
	cbt_progress_end(&p);
	if (!ret && qcow2) {
		/* dirname() may return "." without touching its argument: compute once */
		char *d = strdup(out);
		const char *dir = d ? dirname(d) : NULL;

		if (!dir || (size_t)snprintf(raw, sizeof(raw), "%s/%s", dir, rawf.tmp) >=
		    sizeof(raw) || (size_t)snprintf(qpath, sizeof(qpath), "%s/%s", dir, qf.tmp) >=
		    sizeof(qpath))
			ret = d ? cbt_err(-ENAMETOOLONG, "%s: path too long", out) : -ENOMEM;
		free(d);
		if (!ret)
			ret = run_qemu_img(raw, qpath);
		if (!ret)
			ret = cbt_tmpfile_commit(&qf);
	} else if (!ret) {
		ret = cbt_tmpfile_commit(&rawf);
	}
	if (ret)
		goto fail;
	cbt_tmpfile_abort(&rawf);
	cbt_point_free(&pt);
	return 0;
fail:
	if (qf.fd >= 0 || qf.tmp[0])
		cbt_tmpfile_abort(&qf);
	if (rawf.fd >= 0 || rawf.tmp[0])
		cbt_tmpfile_abort(&rawf);
	cbt_point_free(&pt);
	cbt_perror("cbt export", ret);
	return cbt_exit_status(ret);
}
