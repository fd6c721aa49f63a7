// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kernel/device.h"
#include "util/json.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s bitmap DEVICE [--epoch N | --range A..B]\n"
		"       [--extents | --json | --summary] [--blocks]\n\n"
		"Lists what changed on DEVICE in epoch N, or in epochs A to B, or (by\n"
		"default) in every epoch the kernel holds: all changes not yet committed.\n\n"
		"  --extents  one line per changed extent: OFFSET LENGTH (the default)\n"
		"  --json     a JSON object with the device, the epochs and the extents\n"
		"  --summary  totals only, in human units\n"
		"  --blocks   extents in tracking blocks, not bytes\n\n"
		"Offsets and lengths are in bytes, the last extent ending at the end of the\n"
		"device; with --blocks they count tracking blocks (see `cbt status').\n",
		PROG_NAME);
}

enum mode { EXTENTS, JSON, SUMMARY };

struct out {
	enum mode mode;
	bool blocks;
	const struct cbt_dev_info *info;
	struct cbt_json j;
	uint64_t nr_extents;
	uint64_t changed_blocks;
	uint64_t changed_bytes;
};

/* The extent in the unit asked for; bytes stop at the end of the device. */
static void convert(const struct out *o, const struct cbt_range *r, uint64_t *off, uint64_t *len)
{
	uint64_t end;

	if (o->blocks) {
		*off = r->start;
		*len = r->len;
		return;
	}
	*off = r->start * o->info->block_size;
	end = (r->start + r->len) * o->info->block_size;
	if (end > cbt_dev_bytes(o->info))
		end = cbt_dev_bytes(o->info);
	*len = end - *off;
}

static int print_extents(const struct cbt_range *v, size_t nr, void *data)
{
	struct out *o = data;
	uint64_t off, len;

	o->nr_extents += nr;
	for (size_t i = 0; i < nr; i++) {
		o->changed_blocks += v[i].len;
		convert(o, &v[i], &off, &len);
		o->changed_bytes += o->blocks ? 0 : len;
		if (o->mode == JSON) {
			cbt_json_tuple_begin(&o->j, NULL);
			cbt_json_u64(&o->j, NULL, off);
			cbt_json_u64(&o->j, NULL, len);
			cbt_json_array_end(&o->j);
		} else {
			printf("%" PRIu64 " %" PRIu64 "\n", off, len);
		}
	}
	return 0;
}

static int parse_range(const char *arg, uint64_t *first, uint64_t *last)
{
	const char *dots = strstr(arg, "..");
	char a[24];

	if (!dots || (size_t)(dots - arg) >= sizeof(a))
		return -EINVAL;
	memcpy(a, arg, (size_t)(dots - arg));
	a[dots - arg] = '\0';
	if (cbt_parse_u64(a, first) || cbt_parse_u64(dots + 2, last) || *first > *last)
		return -EINVAL;
	return 0;
}

int bitmap_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "epoch", required_argument, NULL, 'e' },
		{ "range", required_argument, NULL, 'r' },
		{ "extents", no_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ "summary", no_argument, NULL, 's' },
		{ "blocks", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct out o = { .mode = EXTENTS };
	struct cbt_dev_info info = { 0 };
	uint64_t first = 0, last = 0;
	bool have_epochs = false, have_mode = false;
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN], bs[CBT_HUMAN_LEN], u[CBT_UUID_STR_LEN];
	struct cbt_nl *nl = NULL;
	struct cbt_devsel sel;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
		case 'r':
			if (have_epochs)
				return bad_argument("bitmap", "give one --epoch or --range, not also",
						    argv[optind - 1], NULL);
			have_epochs = true;
			if (c == 'e' && cbt_parse_u64(optarg, &first))
				return bad_argument("bitmap", "--epoch takes an epoch number, not", optarg,
						    "`cbt status DEVICE' lists the epochs");
			if (c == 'e')
				last = first;
			else if (parse_range(optarg, &first, &last))
				return bad_argument("bitmap", "--range takes A..B with A <= B, not",
						    optarg, "as in --range 4..6");
			break;
		case 'x':
		case 'j':
		case 's':
			if (have_mode && o.mode != (c == 'x' ? EXTENTS : c == 'j' ? JSON : SUMMARY))
				return bad_argument("bitmap", "give one of --extents, --json and"
						    " --summary, not also", argv[optind - 1], NULL);
			have_mode = true;
			o.mode = c == 'x' ? EXTENTS : c == 'j' ? JSON : SUMMARY;
			break;
		case 'b':
			o.blocks = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("bitmap", c, argv);
		}
	}
	if (optind == argc) {
		cbt_fail(CBT_EXIT_USAGE, "%s bitmap: which DEVICE? (`cbt status' lists them)", PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (argc - optind > 1)
		return bad_argument("bitmap", "takes one DEVICE, not also", argv[optind + 1], NULL);
	cbt_nl_need(CBT_NL_READ);
	/* The summary needs no per-epoch counts: a module that can skips them. */
	ret = cbt_dev_lookup(argv[optind], &nl, &sel, NULL);
	if (!ret)
		ret = cbt_get_device_flags(nl, &sel, &info,
					   o.mode == SUMMARY ? CBT_DEVICE_F_NO_EPOCH_BITS : 0);
	if (ret)
		goto out;
	if (!have_epochs) {
		first = info.epochs[0].number;
		last = info.epoch_current;
	}
	for (uint64_t e = first; e <= last; e++) {
		if (!cbt_dev_epoch(&info, e)) {
			ret = cbt_err(-ENOENT, "%s: epoch %" PRIu64 " is not held in the kernel (it holds"
				      " %" PRIu64 "..%" PRIu64 "; committed epochs are gone)",
				      argv[optind], e, info.epochs[0].number, info.epoch_current);
			goto out;
		}
		if (e == UINT64_MAX)
			break;
	}

	o.info = &info;
	if (o.mode == JSON) {
		cbt_json_init(&o.j, stdout, false);
		cbt_json_object_begin(&o.j, NULL);
		cbt_json_string(&o.j, "device", info.name);
		cbt_json_u64(&o.j, "major", info.major);
		cbt_json_u64(&o.j, "minor", info.minor);
		cbt_json_string(&o.j, "uuid", cbt_uuid_str(info.uuid, u));
		cbt_json_u64(&o.j, "epoch_first", first);
		cbt_json_u64(&o.j, "epoch_last", last);
		cbt_json_u64(&o.j, "block_size", info.block_size);
		cbt_json_u64(&o.j, "nr_blocks", info.nr_blocks);
		cbt_json_u64(&o.j, "size_bytes", cbt_dev_bytes(&info));
		cbt_json_string(&o.j, "unit", o.blocks ? "blocks" : "bytes");
		cbt_json_array_begin(&o.j, "extents");
	}
	if (o.mode == SUMMARY) {
		/* Totals only: popcount on the kernel's words, no extent list (dense bitmaps). */
		struct cbt_bitmap_count n;

		ret = cbt_count_bitmap(nl, &sel, &info, first, last, &n);
		if (ret)
			goto out;
		o.nr_extents = n.runs;
		o.changed_blocks = n.blocks;
		o.changed_bytes = n.blocks * info.block_size;
		/* The last block may be partial: the device ends inside it. */
		if (n.runs && n.end == info.nr_blocks)
			o.changed_bytes -= info.nr_blocks * info.block_size - cbt_dev_bytes(&info);
	} else {
		ret = cbt_read_bitmap(nl, &sel, &info, first, last, print_extents, &o);
		if (ret)
			goto out;
		if (o.blocks)
			o.changed_bytes = cbt_blocks_bytes(&info, o.changed_blocks);
	}
	if (o.mode == JSON) {
		cbt_json_array_end(&o.j);
		cbt_json_u64(&o.j, "nr_extents", o.nr_extents);
		cbt_json_u64(&o.j, "changed_blocks", o.changed_blocks);
		cbt_json_u64(&o.j, "changed_bytes", o.changed_bytes);
		cbt_json_object_end(&o.j);
		cbt_json_finish(&o.j);
	} else if (o.mode == SUMMARY) {
		uint64_t permille = info.nr_blocks ? o.changed_blocks * 1000 / info.nr_blocks : 0;

		printf("device: %s (%u:%u)\n", info.name, info.major, info.minor);
		if (first == last)
			printf("epoch: %" PRIu64 "\n", first);
		else
			printf("epochs: %" PRIu64 "..%" PRIu64 "\n", first, last);
		printf("changed: %s of %s (%" PRIu64 ".%" PRIu64 "%%), %" PRIu64 " blocks of %s\n",
		       cbt_human_size(o.changed_bytes, a), cbt_human_size(cbt_dev_bytes(&info), b),
		       permille / 10, permille % 10, o.changed_blocks,
		       cbt_human_size(info.block_size, bs));
		printf("extents: %" PRIu64 "\n", o.nr_extents);
	}
out:
	cbt_nl_close(nl);
	cbt_dev_info_free(&info);
	if (ret) {
		cbt_perror("cbt bitmap", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
