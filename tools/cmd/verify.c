// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/chain.h"
#include "image/image.h"
#include "image/s3chain.h"
#include "store/segment.h"
#include "util/json.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s verify [--json] [--quiet] [--threads N] DIR|FILE|-\n\n"
		"Reads every image of a chain directory, or one image, through and checks\n"
		"every checksum, the block maps, the digests of the content, and (for a\n"
		"directory) that every image is the one the index lists and that each\n"
		"incremental or differential image's parent is present and matches.\n"
		"Exits 0 only when everything checks out, 4 when an image or a link is damaged\n"
		"or missing. DIR may be a chain in S3, s3://BUCKET/PREFIX (docs/storage.md).\n\n"
		"  --json    print one result per image as JSON (an array); on a failure, an\n"
		"            object with \"error\", \"code\" and that array as \"images\"\n"
		"  --quiet   print only failures\n"
		"  --threads N        decompress and check frames on N threads (default 1)\n"
		"  --key FILE         the key of an encrypted chain (docs/format.md)\n"
		"  --s3-config FILE   S3 endpoint, region and keys\n", PROG_NAME);
}

struct result {
	const char *name;
	int err;
	char detail[512];
};

static void record(struct result *r, const char *name, int err)
{
	r->name = name;
	r->err = err;
	snprintf(r->detail, sizeof(r->detail), "%s",
		 err ? (cbt_err_detail() ? cbt_err_detail() : strerror(-err)) : "");
	cbt_err_clear();
}

static int verify_file(const char *path, struct cbt_img_header *h)
{
	int fd = cbt_store_open_path(path);
	int ret;

	if (fd < 0)
		return fd;
	ret = cbt_img_verify_fd(fd, strcmp(path, "-") ? path : "standard input", h, NULL);
	close(fd);
	return ret;
}

int verify_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "s3-config", required_argument, NULL, 'Y' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "key", required_argument, NULL, KEY_OPT },
		{ "threads", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *s3cfg = NULL;
	bool json = false, quiet = false;
	struct result *res = NULL;
	struct cbt_chain ch = { .lock_fd = -1 };
	size_t nres = 0, bad = 0;
	char summary[128] = "";
	struct stat st;
	int c, ret = 0, threads = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hq", opts, NULL)) != -1) {
		switch (c) {
		case 'Y':
			s3cfg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case KEY_OPT:
			if ((ret = key_option("verify", optarg)))
				return ret;
			break;
		case 'T':
			if ((ret = threads_option("verify", optarg, &threads)))
				return ret;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("verify", c, argv);
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	const char *src;

	ret = chain_argument("verify", argv[optind]);
	if (ret)
		return ret;
	cbt_img_set_read_threads(threads);
	ret = cbt_s3chain_src(argv[optind], s3cfg, false, &src, NULL);
	if (ret) {
		cbt_perror("cbt verify", ret);
		return cbt_exit_status(ret);
	}

	if (strcmp(src, "-") && !stat(src, &st) && S_ISDIR(st.st_mode)) {
		struct cbt_img_header *hs;

		ret = cbt_chain_open(&ch, src, false, false);
		if (ret) {
			cbt_chain_close(&ch);	/* what it read before the bad line */
			cbt_perror("cbt verify", ret);
			return cbt_exit_status(ret) == CBT_EXIT_USAGE ? CBT_EXIT_USAGE :
			       CBT_EXIT_DAMAGED;
		}
		if (!ch.nr) {
			cbt_chain_close(&ch);
			return cbt_fail(CBT_EXIT_DAMAGED, "cbt verify: %s holds no image", src);
		}
		res = calloc(ch.nr, sizeof(*res));
		hs = calloc(ch.nr, sizeof(*hs));
		if (!res || !hs) {
			free(res);
			free(hs);
			cbt_chain_close(&ch);
			return 1;
		}
		for (size_t i = 0; i < ch.nr; i++) {
			const struct cbt_chain_entry *e = &ch.v[i];
			char path[4096];
			int fd = cbt_chain_open_image(&ch, i);

			ret = fd < 0 ? fd : cbt_chain_path(&ch, i, path, sizeof(path));
			if (!ret)
				ret = cbt_img_verify_fd(fd, path, &hs[i], NULL);
			if (fd >= 0)
				close(fd);
			if (!ret && (memcmp(hs[i].uuid, e->uuid, 16) || hs[i].type != e->type ||
				     memcmp(hs[i].parent, e->parent, 16) ||
				     memcmp(hs[i].base, e->base, 16) ||
				     memcmp(hs[i].dev_uuid, e->dev_uuid, 16) ||
				     hs[i].epoch_first != e->epoch_first ||
				     hs[i].epoch_last != e->epoch_last))
				ret = cbt_err(-EBADMSG, "%s is not the image the index lists"
					      " (replaced?)", e->file);
			if (!ret && e->type != CBT_IMG_FULL) {
				long p = cbt_chain_find(&ch, e->parent);

				if (p < 0 || (size_t)p >= i)
					ret = cbt_err(-ENOENT, "%s: its parent is not in the chain",
						      e->file);
				else if (res[p].err)
					ret = cbt_err(-EBADMSG, "%s: its parent %s is damaged: this"
						      " point cannot be restored", e->file,
						      ch.v[p].file);
				else
					ret = cbt_img_check_link(&hs[i], &hs[p], e->file,
								 ch.v[p].file);
			}
			record(&res[nres++], ch.v[i].file, ret);
		}
		free(hs);
	} else {
		res = calloc(1, sizeof(*res));
		if (!res)
			return 1;
		ret = verify_file(src, NULL);
		record(&res[nres++], src, ret);
	}

	struct cbt_json j;

	/* Damage is 4; only a missing or wrong key (nothing known about the data) is 2. */
	int status = 0;

	for (size_t i = 0; i < nres; i++) {
		bad += res[i].err != 0;
		if (res[i].err && status != CBT_EXIT_DAMAGED)
			status = cbt_exit_status(res[i].err) == CBT_EXIT_USAGE ? CBT_EXIT_USAGE :
				 CBT_EXIT_DAMAGED;
	}
	if (bad)
		snprintf(summary, sizeof(summary), "cbt verify: %zu of %zu image%s failed", bad,
			 nres, nres == 1 ? "" : "s");
	if (json) {
		cbt_json_init(&j, stdout, false);
		if (bad) {
			cbt_json_object_begin(&j, NULL);
			cbt_json_string(&j, "error", summary);
			cbt_json_u64(&j, "code", (uint64_t)status);
			cbt_fail_json_printed();
		}
		cbt_json_array_begin(&j, bad ? "images" : NULL);
	}
	for (size_t i = 0; i < nres; i++) {
		if (json) {
			cbt_json_object_begin(&j, NULL);
			cbt_json_string(&j, "image", res[i].name);
			cbt_json_bool(&j, "ok", !res[i].err);
			if (res[i].err)
				cbt_json_string(&j, "error", res[i].detail);
			cbt_json_object_end(&j);
		} else if (res[i].err) {
			fprintf(stderr, "cbt verify: %s: FAILED: %s\n", res[i].name, res[i].detail);
		} else if (!quiet) {
			printf("%s: ok\n", res[i].name);
		}
	}
	if (json) {
		cbt_json_array_end(&j);
		if (bad)
			cbt_json_object_end(&j);
		cbt_json_finish(&j);
	}
	if (bad && !json)
		fprintf(stderr, "%s\n", summary);
	free(res);
	cbt_chain_close(&ch);
	return status;
}
