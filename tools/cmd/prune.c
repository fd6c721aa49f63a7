// SPDX-License-Identifier: GPL-2.0
/*
 * cbt prune: apply a retention policy to a chain (image/retain.h): keep
 * the points it selects, delete the images no kept point needs, merge
 * the ones a kept point still needs into it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/retain.h"
#include "image/s3chain.h"
#include "subcommands.h"
#include "util/json.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s prune DIR [--keep-last N] [--keep-daily N] [--keep-weekly N]\n"
		"                 [--keep-monthly N] [--dry-run] [options]\n\n"
		"Keeps the restore points of chain directory DIR that one of the rules\n"
		"selects (and always the newest, which the next backup builds on) and\n"
		"removes the others. An image a kept point restores from is never deleted:\n"
		"the removed images below a kept point are merged into it (cbt merge); an\n"
		"image that several kept points need stays. Days, weeks (ISO) and months\n"
		"are those of the images' creation times in local time.\n\n"
		"  --keep-last N      the newest N points\n"
		"  --keep-daily N     the newest point of each of the newest N days with one\n"
		"  --keep-weekly N    ... of each of the newest N weeks with one\n"
		"  --keep-monthly N   ... of each of the newest N months with one\n"
		"  --dry-run          print the plan, change nothing\n"
		"  --compress zstd[:LEVEL]|none   merged images' compression (default: kept\n"
		"                     point's)\n"
		"  --threads N        compression threads\n"
		"  --key FILE         the key of an encrypted chain (docs/format.md)\n"
		"  --s3-config FILE   S3 endpoint, region and keys (DIR s3://BUCKET/PREFIX)\n"
		"  --json             print the plan and the result as JSON\n", PROG_NAME);
}

/* Points to keep under @p: by the images' creation times. */
static int select_points(const struct cbt_chain *ch, const struct cbt_retain_policy *p,
			 unsigned *why, bool *keep)
{
	time_t *times = calloc(ch->nr + 1, sizeof(*times));

	if (!times)
		return -ENOMEM;
	for (size_t i = 0; i < ch->nr; i++) {
		struct cbt_img_header h;
		struct cbt_img_trailer t;
		int ret = cbt_chain_read_ends(ch, i, &h, &t);

		cbt_extents_free(&t.map);
		if (ret) {
			free(times);
			return ret;
		}
		times[i] = (time_t)(h.created_ns / 1000000000ULL);
	}
	cbt_retain_select(times, ch->nr, p, why);
	for (size_t i = 0; i < ch->nr; i++)
		keep[i] = why[i] != 0;
	free(times);
	return 0;
}

static void why_json(struct cbt_json *j, unsigned why)
{
	static const char *const names[] = { "last", "daily", "weekly", "monthly", "newest" };

	cbt_json_array_begin(j, "keep");
	for (size_t b = 0; b < ARRAY_SIZE(names); b++)
		if (why & (1U << b))
			cbt_json_string(j, NULL, names[b]);
	cbt_json_array_end(j);
}

static void report(const struct cbt_chain *ch, const struct cbt_prune_plan *pl, const unsigned *why,
		   const struct cbt_merge_result *mr, bool done, bool json)
{
	struct cbt_json j;

	if (!json) {
		for (size_t i = 0; i < pl->nr; i++)
			if (pl->keep[i])
				printf("keep   %s\n", ch->v[i].file);
		for (size_t k = 0; k < pl->nheld; k++)
			printf("hold   %s (several kept points build on it)\n",
			       ch->v[pl->held[k]].file);
		for (size_t k = 0; k < pl->ndel; k++)
			printf("delete %s\n", ch->v[pl->del[k]].file);
		for (size_t r = 0; r < pl->nruns; r++)
			printf("merge  %s .. %s%s%s\n", ch->v[pl->runs[r][0]].file,
			       ch->v[pl->runs[r][1]].file, done ? " -> " : "",
			       done ? mr[r].file : "");
		return;
	}
	cbt_json_init(&j, stdout, false);
	cbt_json_object_begin(&j, NULL);
	cbt_json_bool(&j, "dry_run", !done);
	cbt_json_array_begin(&j, "points");
	for (size_t i = 0; i < pl->nr; i++) {
		bool held = false;

		for (size_t k = 0; k < pl->nheld; k++)
			held |= pl->held[k] == i;
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "image", ch->v[i].file);
		cbt_json_u64(&j, "number", ch->v[i].seq);
		cbt_json_string(&j, "action", pl->keep[i] ? "keep" : held ? "hold" :
				!pl->needed[i] ? "delete" : "merge");
		why_json(&j, why[i]);
		cbt_json_object_end(&j);
	}
	cbt_json_array_end(&j);
	cbt_json_array_begin(&j, "merges");
	for (size_t r = 0; r < pl->nruns; r++) {
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "from", ch->v[pl->runs[r][0]].file);
		cbt_json_string(&j, "upto", ch->v[pl->runs[r][1]].file);
		if (done)
			merge_json(&j, &mr[r]);
		cbt_json_object_end(&j);
	}
	cbt_json_array_end(&j);
	cbt_json_object_end(&j);
	cbt_json_finish(&j);
}

int prune_chain(const char *dir, const char *s3cfg, const struct cbt_retain_policy *p,
		bool dry_run, const struct cbt_merge_opts *o, bool json, bool quiet)
{
	struct cbt_chain ch = { .lock_fd = -1 }, before = { .lock_fd = -1 };
	struct cbt_prune_plan pl = { 0 };
	struct cbt_merge_result *mr = NULL;
	const struct cbt_s3chain *remote;
	const char *view;
	unsigned *why = NULL;
	bool *keep = NULL;
	int ret;

	ret = cbt_s3chain_src(dir, s3cfg, false, &view, &remote);
	if (!ret)
		ret = cbt_chain_open(&ch, view, false, !dry_run);
	if (!ret && remote)
		cbt_s3chain_attach(remote, &ch);
	if (!ret && !ch.nr)
		ret = cbt_err(-ENOENT, "%s holds no image", dir);
	if (ret)
		goto out;
	why = calloc(ch.nr, sizeof(*why));
	keep = calloc(ch.nr, sizeof(*keep));
	mr = calloc(ch.nr, sizeof(*mr));
	if (!why || !keep || !mr) {
		ret = -ENOMEM;
		goto out;
	}
	ret = select_points(&ch, p, why, keep);
	if (!ret)
		ret = cbt_prune_plan(&ch, keep, &pl);
	if (ret)
		goto out;
	/* The report names the images as they were: keep a copy of the old index. */
	before = ch;
	before.v = malloc(ch.nr * sizeof(*ch.v));
	if (!before.v) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(before.v, ch.v, ch.nr * sizeof(*ch.v));
	if (!dry_run)
		ret = cbt_prune_apply(&ch, &pl, o, mr);
	if (!ret && !quiet)
		report(&before, &pl, why, mr, !dry_run, json);
	free(before.v);
out:
	cbt_prune_plan_free(&pl);
	free(why);
	free(keep);
	free(mr);
	cbt_chain_close(&ch);
	return ret;
}

int prune_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "keep-last", required_argument, NULL, 'l' },
		{ "keep-daily", required_argument, NULL, 'd' },
		{ "keep-weekly", required_argument, NULL, 'w' },
		{ "keep-monthly", required_argument, NULL, 'm' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "compress", required_argument, NULL, 'C' },
		{ "threads", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "key", required_argument, NULL, KEY_OPT },
		{ "s3-config", required_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_merge_opts o = { .keep_compression = true };
	struct cbt_retain_policy p = { 0 };
	const char *s3cfg = NULL;
	bool json = false, dry_run = false;
	uint32_t v;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hn", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
		case 'd':
		case 'w':
		case 'm':
			if (cbt_parse_u32(optarg, &v) || v > 100000)
				return bad_argument("prune", "a count of 0 to 100000, not", optarg,
						    NULL);
			*(c == 'l' ? &p.last : c == 'd' ? &p.daily : c == 'w' ? &p.weekly :
			  &p.monthly) = v;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'C':
		case 'T':
			ret = merge_opt("prune", c, &o);
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
			if ((ret = key_option("prune", optarg)))
				return ret;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("prune", c, argv);
		}
	}
	if (argc - optind != 1) {
		cbt_fail(CBT_EXIT_USAGE, "%s prune: which chain directory?", PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (cbt_retain_empty(&p))
		return bad_argument("prune", "no --keep-* rule given for", argv[optind],
				    "prune would keep only the newest point: say so with"
				    " --keep-last 1");
	ret = chain_argument("prune", argv[optind]);
	if (ret)
		return ret;
	ret = prune_chain(argv[optind], s3cfg, &p, dry_run, &o, json, false);
	if (ret) {
		cbt_perror("cbt prune", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
