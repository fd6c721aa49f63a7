// SPDX-License-Identifier: GPL-2.0
/*
 * cbt backup: parse the arguments, run the steps of backup/job.h
 * (snapshot, image, commit or abort, always the cleanup) and print the
 * outcome.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/job.h"
#include "image/s3chain.h"
#include "store/segment.h"
#include "subcommands.h"
#include "util/json.h"
#include "util/util.h"


static void usage(FILE *f)
{
	fprintf(f, "Usage: %s backup DEVICE --full|--incremental|--differential\n"
		"           (--to DIR | -o FILE|-) --cow COW [options]\n\n"
		"Takes a snapshot of DEVICE (closing its open epoch), writes an image of it,\n"
		"then commits the epoch (-o: keeps its changes for the chain) and drops\n"
		"the snapshot. A full image holds the blocks in use (ext2/3/4: from its\n"
		"block bitmaps; otherwise the non-zero blocks); an incremental one the blocks changed since the chain's last\n"
		"image; a differential one those changed since the chain's last full image.\n"
		"On failure the epoch is aborted, so its changes go into the next backup.\n\n"
		"  --full, --incremental, --differential   the image type\n"
		"  --to DIR            a chain directory (created for a full image); the tool\n"
		"                      names the files and keeps the index\n"
		"  --to s3://BUCKET/PREFIX   a chain in S3 (docs/storage.md)\n"
		"  --s3-config FILE    S3 endpoint, region and keys (else from the environment)\n"
		"  -o, --output FILE   one full image to FILE, or to standard output (-)\n"
		"  --cow COW           the snapshot's copy-on-write device (blank, or --force)\n"
		"  --force             use a COW device holding a filesystem or other signature\n"
		"  --whole-snapshot    an incremental's snapshot keeps every block readable\n"
		"                      while the backup runs (by default it keeps only the\n"
		"                      blocks the image reads, and frees each once read)\n"
		"  --freeze            freeze the filesystem around the snapshot (default)\n"
		"  --no-freeze         do not\n"
		"  --compress zstd[:LEVEL]|none   compression (zstd level 3 by default)\n"
		"  --auto-full         when the chain's history is lost (exit status 3 otherwise:\n"
		"                      a new identity, an outside commit, a shrink), write a\n"
		"                      full image into the chain instead of refusing\n"
		"  --all-blocks        a full image holds every block\n"
		"  --split SIZE        with --to: write the image as segments of at most SIZE\n"
		"                      (K, M, G suffixes; at least 1M), each checksummed\n"
		"  --threads N         compression threads (one per CPU up to 8 by default;\n"
		"                      fewer when they would need more than a quarter of RAM)\n"
		"  --idle              once the snapshot is taken, run under SCHED_IDLE: the\n"
		"                      CPU only when nothing else wants it (on a busy host\n"
		"                      the backup may take much longer while its snapshot's\n"
		"                      COW fills)\n"
		"  --quiet             no progress line, no summary\n"
		"  --encrypt FILE      encrypt with the key in FILE (also --key; docs/format.md)\n"
		"  --json              print the summary as JSON\n", PROG_NAME);
}

int backup_snapshot_option(struct cbt_backup_job *job, const char *cmd, int *freeze_opt, int c,
			   const char *arg)
{
	switch (c) {
	case 'c':
		job->cow = arg;
		return 1;
	case 'f':
		job->force_cow = true;
		return 1;
	case 'z':
	case 'Z':
		if (*freeze_opt != -1 && *freeze_opt != (c == 'z'))
			return bad_argument(cmd, "give one of --freeze and --no-freeze, not also",
					    c == 'z' ? "--freeze" : "--no-freeze", NULL);
		*freeze_opt = c == 'z';
		job->freeze = c == 'z';
		return 1;
	}
	return 0;
}

int backup_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "full", no_argument, NULL, 'F' },
		{ "incremental", no_argument, NULL, 'I' },
		{ "differential", no_argument, NULL, 'D' },
		{ "to", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "cow", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ "freeze", no_argument, NULL, 'z' },
		{ "no-freeze", no_argument, NULL, 'Z' },
		{ "compress", required_argument, NULL, 'C' },
		{ "all-blocks", no_argument, NULL, 'A' },
		{ "whole-snapshot", no_argument, NULL, 'W' },
		{ "auto-full", no_argument, NULL, 'a' },
		{ "threads", required_argument, NULL, 'T' },
		{ "idle", no_argument, NULL, IDLE_OPT },
		{ "split", required_argument, NULL, 'S' },
		{ "s3-config", required_argument, NULL, 'Y' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "encrypt", required_argument, NULL, KEY_OPT },
		{ "key", required_argument, NULL, KEY_OPT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_backup_job job = {
		.req = { .compression = CBT_IMG_COMP_ZSTD, .level = 3, .full_mode = CBT_FULL_FS,
			 .stop = &cbt_stop },
		.freeze = true,
	};
	struct cbt_backup_req *req = &job.req;
	const struct cbt_backup_result *res = &job.res;
	const char *out = NULL, *s3cfg = NULL;
	bool quiet = false, json = false;
	int c, ret, freeze_opt = -1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:q", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
		case 'I':
		case 'D':
			if (req->type)
				return bad_argument("backup", "give one image type, not also",
						    argv[optind - 1], NULL);
			req->type = c == 'F' ? CBT_IMG_FULL : c == 'I' ? CBT_IMG_INCREMENTAL :
				   CBT_IMG_DIFFERENTIAL;
			break;
		case 't':
			req->dir = optarg;
			break;
		case 'W':
			job.whole_snapshot = true;
			break;
		case 'o':
			out = optarg;
			if (!strcmp(out, "-"))
				cbt_stdout_is_data();
			break;
		case 'C':
			if (cbt_img_parse_compress(optarg, &req->compression, &req->level))
				return bad_argument("backup", "unknown compression", optarg,
						    "zstd, zstd:LEVEL with LEVEL 1-19, or none");
			break;
		case 'A':
			req->full_mode = CBT_FULL_ALL;
			break;
		case 'a':
			req->auto_full = true;
			break;
		case 'T':
			if ((ret = threads_option("backup", optarg, &req->threads)))
				return ret;
			break;
		case 'Y':
			s3cfg = optarg;
			break;
		case IDLE_OPT:
			job.idle = true;
			break;
		case 'S':
			if (cbt_parse_size(optarg, &req->split) || req->split < CBT_SEG_MIN_SIZE)
				return bad_argument("backup", "--split takes a size of at least 1M, not",
						    optarg, NULL);
			break;
		case 'q':
			quiet = true;
			break;
		case 'j':
			json = true;
			break;
		case KEY_OPT:
			if ((ret = key_option("backup", optarg)))
				return ret;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			ret = backup_snapshot_option(&job, "backup", &freeze_opt, c, optarg);
			if (ret == 1)
				break;
			return ret ? ret : bad_option("backup", c, argv);
		}
	}
	if (argc - optind != 1 || !req->type || !req->dir == !out || !job.cow) {
		if (argc - optind < 1)
			cbt_fail(CBT_EXIT_USAGE, "%s backup: which DEVICE? (`cbt status' lists them)",
				 PROG_NAME);
		else if (!req->type)
			cbt_fail(CBT_EXIT_USAGE, "%s backup: --full, --incremental or --differential?",
				 PROG_NAME);
		else if (!req->dir == !out)
			cbt_fail(CBT_EXIT_USAGE, "%s backup: give one of --to DIR and -o FILE", PROG_NAME);
		else if (!job.cow)
			cbt_fail(CBT_EXIT_USAGE, "%s backup: the snapshot needs a COW device (--cow COW)",
				 PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (out && req->type != CBT_IMG_FULL)
		return bad_argument("backup", "-o writes full images only; for", argv[optind],
				    "incremental and differential images use --to DIR");
	if (req->split && out)
		return bad_argument("backup", "--split goes with --to DIR, not with -o", out,
				    "split a stream with split(1)");
	if (req->auto_full && (out || req->type == CBT_IMG_FULL))
		return bad_argument("backup", "--auto-full goes with --incremental or"
				    " --differential into --to DIR, not with", argv[optind], NULL);
	if (out && !strcmp(out, "-") && isatty(STDOUT_FILENO))
		return bad_argument("backup", "standard output is a terminal: not writing an image"
				    " to", out, "redirect it to a file or a pipe");
	if (req->dir && cbt_s3_is_url(req->dir)) {
		if (req->split)
			return bad_argument("backup", "--split is for chain directories, not",
					    req->dir, "S3 images are multipart uploads");
		ret = cbt_s3chain_src(req->dir, s3cfg, req->type == CBT_IMG_FULL, &req->dir,
				     &req->remote);
		if (ret) {
			cbt_perror("cbt backup", ret);
			return cbt_exit_status(ret);
		}
	}
	job.dev = argv[optind];
	job.out = out;
	job.notes = quiet || json ? NULL : stderr;
	job.progress = !quiet && !json;
	cbt_backup_job_init(&job);
	catch_stop_signals();

	ret = cbt_backup_steps(&job);
	if (ret) {
		char prefix[128];

		snprintf(prefix, sizeof(prefix), "cbt backup: %s failed while %s", job.dev, job.step);
		c = cbt_fail(cbt_exit_status(ret), "%s: %s", prefix, job.why_failed);
		if (job.taken)
			fprintf(stderr, "cbt backup: epoch %" PRIu64 " was aborted: its changes go"
				" into the next backup; no image was added. Fix the cause and run"
				" the backup again.\n", job.snap.epoch);
		return c;
	}
	if (json) {
		struct cbt_json j;
		char u[CBT_UUID_STR_LEN];

		/* With the image on standard output, the summary goes to stderr. */
		cbt_json_init(&j, out && !strcmp(out, "-") ? stderr : stdout, false);
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "device", job.dev);
		cbt_json_string(&j, "type", cbt_img_type_name(res->h.type));
		cbt_json_string(&j, "image", req->dir ? res->file : out);
		cbt_json_string(&j, "uuid", cbt_uuid_str(res->h.uuid, u));
		cbt_json_u64(&j, "epoch", job.snap.epoch);
		/* --auto-full wrote a full image: why the chain's history was lost */
		if (job.lost[0])
			cbt_json_string(&j, "history_lost", job.lost);
		/* read from a killed run's snapshot (docs/storage.md, "A killed cbt backup") */
		if (job.adopted)
			cbt_json_bool(&j, "continued", true);
		/* --idle: whether the copy ran under SCHED_IDLE */
		if (job.idle)
			cbt_json_bool(&j, "idle", job.idled);
		cbt_json_u64(&j, "blocks", res->blocks);
		cbt_json_u64(&j, "logical_bytes", res->logical_bytes);
		cbt_json_u64(&j, "stored_bytes", res->stored_bytes);
		cbt_json_u64(&j, "read_bytes", res->scanned_bytes);
		cbt_json_u64(&j, "freeze_ns", job.snap.freeze_ns);
		cbt_json_u64(&j, "hold_ns", job.snap.hold_ns);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	} else if (!quiet) {
		char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

		fprintf(out && !strcmp(out, "-") ? stderr : stdout,
			"%s: %s image %s: epoch %" PRIu64 ", %" PRIu64 " blocks, %s logical, %s"
			" stored\n", job.dev, cbt_img_type_name(res->h.type), req->dir ? res->file : out,
			job.snap.epoch, res->blocks, cbt_human_size(res->logical_bytes, a),
			cbt_human_size(res->stored_bytes, b));
	}
	return 0;
}
