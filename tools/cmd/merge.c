// SPDX-License-Identifier: GPL-2.0
/*
 * cbt merge: fold a run of a chain's images into one, offline, from the
 * images alone (image/merge.h says how and in which crash-safe order).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/merge.h"
#include "image/s3chain.h"
#include "subcommands.h"
#include "util/json.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s merge DIR --upto ID [--from ID] [options]\n\n"
		"Folds the images of chain directory DIR from FROM to UPTO (along UPTO's\n"
		"restore path) into one image that restores exactly what UPTO restores,\n"
		"without the source device: by default FROM is UPTO's full image, and the\n"
		"result is a synthetic full image. The merged image keeps UPTO's UUID, so\n"
		"later images still build on it; it is written to a temporary file,\n"
		"flushed, read back and checked, then swapped in (rename, index rewrite);\n"
		"only then are the absorbed images removed. Restore points between FROM\n"
		"and UPTO are gone afterwards. Refused when a later image builds on an\n"
		"image other than UPTO of the run (a differential on the full image).\n"
		"DIR may be a chain in S3, s3://BUCKET/PREFIX: the merged image is made in\n"
		"$TMPDIR, uploaded, then the index replaced, then the absorbed objects\n"
		"deleted (docs/storage.md).\n\n"
		"  --upto ID         the newest image of the run (a number, file name or UUID)\n"
		"  --from ID         the oldest (default: UPTO's full image)\n"
		"  --compress zstd[:LEVEL]|none   the merged image's compression (default: UPTO's)\n"
		"  --threads N       compression threads\n"
		"  --key FILE         the key of an encrypted chain (docs/format.md)\n"
		"  --s3-config FILE  S3 endpoint, region and keys\n"
		"  --json            print the result as JSON\n", PROG_NAME);
}

/* Shared with prune: the --compress and --threads options into @o. */
int merge_opt(const char *cmd, int c, struct cbt_merge_opts *o)
{
	if (c == 'C') {
		if (cbt_img_parse_compress(optarg, &o->compression, &o->level))
			return bad_argument(cmd, "unknown compression", optarg,
					    "zstd, zstd:LEVEL with LEVEL 1-19, or none");
		o->keep_compression = false;
		return 0;
	}
	return threads_option(cmd, optarg, &o->threads);
}

void merge_json(struct cbt_json *j, const struct cbt_merge_result *r)
{
	cbt_json_string(j, "image", r->file);
	cbt_json_string(j, "type", cbt_img_type_name(r->type));
	cbt_json_u64(j, "absorbed", r->absorbed);
	cbt_json_u64(j, "blocks", r->blocks);
	cbt_json_u64(j, "stored_bytes", r->stored_bytes);
	cbt_json_u64(j, "freed_bytes", r->freed_bytes);
}

int merge_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "upto", required_argument, NULL, 'u' },
		{ "from", required_argument, NULL, 'f' },
		{ "compress", required_argument, NULL, 'C' },
		{ "threads", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "key", required_argument, NULL, KEY_OPT },
		{ "s3-config", required_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_merge_opts o = { .keep_compression = true };
	struct cbt_merge_result r;
	struct cbt_chain ch = { .lock_fd = -1 };
	const struct cbt_s3chain *remote;
	const char *upto_id = NULL, *from_id = NULL, *s3cfg = NULL, *view;
	size_t upto, from, *path = NULL, n;
	bool json = false;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			upto_id = optarg;
			break;
		case 'f':
			from_id = optarg;
			break;
		case 'C':
		case 'T':
			ret = merge_opt("merge", c, &o);
			if (ret)
				return ret;
			break;
		case 'j':
			json = true;
			break;
		case 'Y':
			s3cfg = optarg;
			break;
		case KEY_OPT:
			if ((ret = key_option("merge", optarg)))
				return ret;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("merge", c, argv);
		}
	}
	if (argc - optind != 1 || !upto_id) {
		cbt_fail(CBT_EXIT_USAGE, "%s merge: %s", PROG_NAME, argc - optind != 1 ?
			 "which chain directory?" : "which image to merge up to? (--upto ID)");
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	ret = chain_argument("merge", argv[optind]);
	if (ret)
		return ret;
	ret = cbt_s3chain_src(argv[optind], s3cfg, false, &view, &remote);
	if (!ret)
		ret = cbt_chain_open(&ch, view, false, true);
	if (!ret && remote)
		cbt_s3chain_attach(remote, &ch);
	if (!ret)
		ret = cbt_chain_pick(&ch, upto_id, &upto);
	if (!ret && from_id) {
		ret = cbt_chain_pick(&ch, from_id, &from);
	} else if (!ret) {
		path = calloc(ch.nr, sizeof(*path));
		ret = path ? cbt_chain_resolve(&ch, upto, path, &n) : -ENOMEM;
		if (!ret)
			from = path[n - 1];
		free(path);
	}
	if (!ret)
		ret = cbt_chain_merge(&ch, from, upto, &o, &r);
	cbt_chain_close(&ch);
	if (ret) {
		cbt_perror("cbt merge", ret);
		return cbt_exit_status(ret);
	}
	if (json) {
		struct cbt_json j;

		cbt_json_init(&j, stdout, false);
		cbt_json_object_begin(&j, NULL);
		merge_json(&j, &r);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	} else {
		char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

		printf("%s: merged %zu images into %s image %s: %s stored, %s freed\n",
		       argv[optind], r.absorbed, cbt_img_type_name(r.type), r.file,
		       cbt_human_size(r.stored_bytes, a), cbt_human_size(r.freed_bytes, b));
	}
	return 0;
}
