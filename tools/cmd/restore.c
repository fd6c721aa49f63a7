// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image/apply.h"
#include "image/image.h"
#include "image/s3chain.h"
#include "mount/nbd.h"
#include "util/json.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s restore DIR [--image ID | --at N] TARGET\n"
		"       %s restore FILE|- TARGET\n"
		"       %s restore DIR [--image ID | --at N] --path PATH [-r] -o OUTPUT\n\n"
		"Writes a restore point onto TARGET, a block device (opened exclusively: a\n"
		"mounted or held one is refused) or a file (created, or extended to the\n"
		"device size). From a chain directory the point is the last image, or the\n"
		"one --image (number, file name or UUID) or --at (number) names, with every\n"
		"image it depends on; a full image can also come from FILE or standard input.\n"
		"Links, headers and trailers are checked before anything is written, and\n"
		"every image is read whole first unless --no-preverify; every checksum is\n"
		"checked again as the data is written. Blocks no image holds are zeroed.\n"
		"An image from standard input or another stream is first copied to an\n"
		"unnamed temporary file (in --spool-dir, $TMPDIR, /var/tmp or /tmp) and\n"
		"checked there; with --no-preverify it is written as it is read, so a damaged\n"
		"stream leaves a partial restore. DIR may be a chain in S3, s3://BUCKET/PREFIX\n"
		"(credentials from the environment or --s3-config; docs/storage.md).\n"
		"With --path, only the file PATH of the point's filesystem is restored, to\n"
		"OUTPUT (replaced once complete): the point is mounted read-only as `%s mount'\n"
		"does, the file copied with its mode and times, and the point unmounted again,\n"
		"also on failure. PATH is looked up inside that filesystem only. With -r a\n"
		"directory is copied (cp -a) to OUTPUT, which must not exist.\n\n"
		"  --image ID       restore this image of DIR\n"
		"  --at N           restore image number N of DIR\n"
		"  --no-preverify   do not read the images through before writing\n"
		"  --spool-dir DIR  where a stream is copied to be checked\n"
		"  --s3-config FILE S3 endpoint, region and keys\n"
		"  --path PATH      restore only this file (or directory, with -r)\n"
		"  -r, --recursive  --path may name a directory\n"
		"  -o, --output F   where --path goes\n"
		"  --threads N      decompress and check frames on N threads (default 1)\n"
		"  --quiet          no progress line\n"
		"  --key FILE         the key of an encrypted chain (docs/format.md)\n"
		"  --json           print the result as JSON\n", PROG_NAME, PROG_NAME, PROG_NAME,
		PROG_NAME);
}

/* `cbt restore DIR --path PATH -o OUTPUT': one file, through a temporary mount. */
static int restore_path(const char *dir, const char *id, const char *s3cfg, const char *path,
			const char *out, bool recursive)
{
	struct cbt_mount_opts o = { .chain = dir, .at = id, .s3_config = s3cfg };
	int ret;

	if (!dir || !path || !out) {
		cbt_fail(CBT_EXIT_USAGE, "%s restore: --path PATH -o OUTPUT go together, with one DIR",
			 PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	ret = chain_argument("restore", dir);
	if (ret)
		return ret;
	ret = cbt_extract_path(&o, path, out, recursive);
	if (ret) {
		cbt_perror("cbt restore", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}

int restore_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "at", required_argument, NULL, 'a' },
		{ "no-preverify", no_argument, NULL, 'P' },
		{ "spool-dir", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "s3-config", required_argument, NULL, 'Y' },
		{ "path", required_argument, NULL, 'p' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, KEY_OPT },
		{ "threads", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *s3cfg = NULL, *src;
	const char *id = NULL, *spool_dir = NULL, *path = NULL, *out = NULL;
	bool check = true, quiet = false, json = false, is_file, created = false;
	bool recursive = false;
	struct cbt_apply_stats st = { 0 };
	struct cbt_progress p;
	struct cbt_point pt;
	uint64_t n;
	int c, ret, target = -1, threads = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hqro:", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
		case 'a':
			if (id)
				return bad_argument("restore", "give one of --image and --at, not",
						    optarg, NULL);
			if (c == 'a' && cbt_parse_u64(optarg, &n))
				return bad_argument("restore", "--at takes an image number, not",
						    optarg, "`cbt info DIR' lists them");
			id = optarg;
			break;
		case 'P':
			check = false;
			break;
		case 'S':
			spool_dir = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'Y':
			s3cfg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			path = optarg;
			break;
		case 'r':
			recursive = true;
			break;
		case 'o':
			out = optarg;
			break;
		case KEY_OPT:
			if ((ret = key_option("restore", optarg)))
				return ret;
			break;
		case 'T':
			if ((ret = threads_option("restore", optarg, &threads)))
				return ret;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("restore", c, argv);
		}
	}
	if (path || out || recursive)
		return restore_path(argc - optind == 1 ? argv[optind] : NULL, id, s3cfg, path, out,
				    recursive);
	if (argc - optind != 2) {
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	ret = chain_argument("restore", argv[optind]);
	if (ret)
		return ret;
	cbt_img_set_read_threads(threads);
	ret = cbt_s3chain_src(argv[optind], s3cfg, false, &src, NULL);
	if (!ret)
		ret = cbt_open_point(src, id, check, spool_dir, &pt);
	if (!ret)
		ret = cbt_open_target(argv[optind + 1], &target, &is_file, &created);
	if (!ret) {
		cbt_progress_init(&p, "restore: read", cbt_point_bytes(&pt), !quiet && !json);
		ret = cbt_apply_images(pt.fds, (const char *const *)pt.names, pt.n, target,
				       is_file, &p, &st);
		cbt_progress_end(&p);
	}
	if (target >= 0)
		close(target);
	if (ret) {
		cbt_point_free(&pt);
		cbt_perror("cbt restore", ret);
		/* an empty file this run made (a lone incremental under --no-preverify) */
		if (created && !st.touched)
			unlink(argv[optind + 1]);
		if (st.touched)
			fprintf(stderr, "cbt restore: %s may hold a partial restore; restore again"
				" once the cause is fixed\n", argv[optind + 1]);
		return cbt_exit_status(ret);
	}
	if (json) {
		struct cbt_json j;

		cbt_json_init(&j, stdout, false);
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "target", argv[optind + 1]);
		cbt_json_u64(&j, "images", pt.n);
		cbt_json_u64(&j, "device_bytes", st.dev_bytes);
		cbt_json_u64(&j, "written_bytes", st.written);
		cbt_json_u64(&j, "zeroed_bytes", st.zeroed);
		cbt_json_u64(&j, "read_bytes", st.read);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	} else if (!quiet) {
		char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

		printf("restored %s from %zu image%s: %s written, %s zeroed\n", argv[optind + 1],
		       pt.n, pt.n == 1 ? "" : "s", cbt_human_size(st.written, a),
		       cbt_human_size(st.zeroed, b));
	}
	cbt_point_free(&pt);
	return 0;
}
