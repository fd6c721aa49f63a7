// SPDX-License-Identifier: GPL-2.0
/*
 * cbt export: a restore point as one raw or qcow2 file. qcow2 is made the
 * honest way: the point is restored into a sparse raw file next to the
 * output, which `qemu-img convert -O qcow2' (qemu-utils) turns into the
 * qcow2 file; the raw file is removed either way.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply.h"
#include "subcommands.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s export DIR|FILE --format raw|qcow2 [--image ID] -o OUTPUT\n\n"
		"Writes a restore point (the last image of DIR, or the one --image names)\n"
		"as a sparse raw file or a qcow2 file. qcow2 needs qemu-img (qemu-utils):\n"
		"the point is restored to OUTPUT.raw.tmp and converted.\n\n"
		"  --format raw|qcow2   output format (raw by default)\n"
		"  --image ID           image number, file name or UUID in DIR\n"
		"  -o, --output FILE    where to write (replaced if it exists)\n"
		"  --quiet              no progress line\n", PROG_NAME);
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *id = NULL, *out = NULL;
	bool qcow2 = false, quiet = false;
	char raw[4096];
	struct cbt_apply_stats st;
	struct cbt_progress p;
	struct cbt_point pt;
	int c, ret, fd;

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
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("export", c, argv);
		}
	}
	if (argc - optind != 1 || !out) {
		if (!out)
			fprintf(stderr, "%s export: where to? (-o OUTPUT)\n", PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if ((size_t)snprintf(raw, sizeof(raw), qcow2 ? "%s.raw.tmp" : "%s", out) >= sizeof(raw))
		return bad_argument("export", "output path too long", out, NULL);
	ret = cbt_open_point(argv[optind], id, true, &pt);
	if (ret)
		goto fail;
	fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = cbt_err(-errno, "%s: %s", raw, strerror(errno));
		goto fail;
	}
	cbt_progress_init(&p, "export: read", cbt_point_bytes(&pt), !quiet);
	ret = cbt_apply_images(pt.fds, (const char *const *)pt.names, pt.n, fd, true, &p, &st);
	cbt_progress_end(&p);
	close(fd);
	if (!ret && qcow2)
		ret = run_qemu_img(raw, out);
	if (qcow2)
		unlink(raw);
	if (ret) {
		unlink(out);
		goto fail;
	}
	cbt_point_free(&pt);
	return 0;
fail:
	cbt_point_free(&pt);
	cbt_perror("cbt export", ret);
	return cbt_exit_status(ret);
}
