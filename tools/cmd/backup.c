// SPDX-License-Identifier: GPL-2.0
/*
 * cbt backup: snapshot a cbt device, read the blocks the image needs from
 * the snapshot, write the image, then commit the epoch the snapshot closed
 * and drop the snapshot. On any failure the epoch is aborted instead (its
 * changes fold into the next backup) and the partial image is removed.
 *
 * Recovery from a run that died: a snapshot device still attached is
 * dropped and every closed epoch still in the kernel is aborted before
 * anything else. Those epochs are older than the snapshot this run takes,
 * and no image that completed needs them (an image is entered in the
 * chain before its epoch is committed; if the tool died between the two,
 * aborting only makes the next incremental hold some blocks twice).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libdevmapper.h>

#include "backup/engine.h"
#include "kernel/device.h"
#include "fsmap/fsmap.h"
#include "util/json.h"
#include "store/safefile.h"
#include "kernel/snapdev.h"
#include "subcommands.h"
#include "util/util.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

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
		"  -o, --output FILE   one full image to FILE, or to standard output (-)\n"
		"  --cow COW           the snapshot's copy-on-write device (blank, or --force)\n"
		"  --force             use a COW device holding a filesystem or other signature\n"
		"  --freeze            freeze the filesystem around the snapshot (default)\n"
		"  --no-freeze         do not\n"
		"  --compress zstd[:LEVEL]|none   compression (zstd level 3 by default)\n"
		"  --auto-full         when the chain's history is lost (exit status 3 otherwise:\n"
		"                      a new identity, an outside commit, a shrink), write a\n"
		"                      full image into the chain instead of refusing\n"
		"  --all-blocks        a full image holds every block\n"
		"  --threads N         compression threads (one per CPU up to 8 by default;\n"
		"                      fewer when they would need more than a quarter of RAM)\n"
		"  --quiet             no progress line, no summary\n"
		"  --json              print the summary as JSON\n", PROG_NAME);
}

/*
 * The chain's history is lost (-ESTALE from the chain checks, with the
 * detail recorded): name the reason, the device's identity reason when its
 * identity changed. Without --auto-full, the backup fails (exit status 3);
 * with it, the image becomes a full one in the same chain. Returns 0 or -ESTALE.
 */
static int history_lost(struct cbt_backup_req *req, const struct cbt_dev_info *info,
			const char *dev, bool quiet, char *lost, size_t len)
{
	const char *why = cbt_failure_reason();

	/* the reason the kernel gave the new identity (info is from before a change mid-start) */
	if ((!why || !strcmp(why, "identity-changed")) &&
	    info->identity_reason != CBT_IDENTITY_CONTINUED)
		why = cbt_identity_reason_name(info->identity_reason);
	if (!why)
		why = "identity-changed";
	cbt_fail_reason(why);
	if (!req->auto_full)
		return -ESTALE;
	snprintf(lost, len, "%s", why);
	if (!quiet)
		fprintf(stderr, "cbt backup: %s: %s; --auto-full: writing a full image into the"
			" chain\n", dev, cbt_err_detail() ? cbt_err_detail() : why);
	cbt_err_clear();
	cbt_fail_reason("");
	req->type = CBT_IMG_FULL;
	return 0;
}

struct bitmap_acc {
	struct cbt_extents *e;
};

static int bitmap_cb(const struct cbt_range *v, size_t nr, void *data)
{
	struct cbt_extents *e = data;

	for (size_t i = 0; i < nr; i++) {
		uint64_t s = v[i].start, l = v[i].len, end = cbt_extents_end(e);

		/* Batches may repeat the last (still growing) extent. */
		if (e->nr && s < end) {
			if (s + l <= end)
				continue;
			l = s + l - end;
			s = end;
		}
		int ret = cbt_extents_append(e, s, l);

		if (ret)
			return ret;
	}
	return 0;
}

/* Drop a snapshot and abort closed epochs left by a run that died. */
static int recover(struct cbt_nl *nl, const struct cbt_devsel *sel, struct cbt_dev_info *info,
		   const char *dev, bool quiet)
{
	struct cbt_snap s;
	int ret;

	if (info->snap.present && !cbt_snap_find(info->major, info->minor, &s)) {
		if (!quiet)
			fprintf(stderr, "cbt backup: %s: dropping snapshot %s left by an interrupted"
				" run\n", dev, s.snap_name);
		ret = cbt_snap_drop(&s);
		if (ret)
			return cbt_err_prefix(ret, "dropping the leftover snapshot %s", s.snap_name);
	}
	for (size_t i = 0; i < info->nr_epochs; i++) {
		if (info->epochs[i].state != CBT_EPOCH_CLOSED)
			continue;
		if (!quiet)
			fprintf(stderr, "cbt backup: %s: aborting epoch %" PRIu64 ", closed by an"
				" interrupted run (its changes go into this backup)\n", dev,
				info->epochs[i].number);
		ret = cbt_epoch_abort(nl, sel, info->epochs[i].number);
		if (ret)
			return ret;
	}
	return 0;
}

#ifdef CBT_TEST_HOOKS
/*
 * Test hook (tests/vm/cases/backup_*.sh): a shell command run once the
 * snapshot is taken, with CBT_SNAP_PATH, CBT_SNAP_EPOCH and CBT_PID set;
 * the VM cases checksum the snapshot or kill the tool here. A failing hook
 * fails the backup. Only in the test build (make -C tools cbt-test): the
 * installed tool runs nothing from its environment.
 */
static int run_test_hook(const struct cbt_snap *snap)
{
	const char *hook = getenv("CBT_BACKUP_HOOK");
	char num[32];

	if (!hook)
		return 0;
	setenv("CBT_SNAP_PATH", snap->snap_path, 1);
	snprintf(num, sizeof(num), "%" PRIu64, snap->epoch);
	setenv("CBT_SNAP_EPOCH", num, 1);
	snprintf(num, sizeof(num), "%d", (int)getpid());
	setenv("CBT_PID", num, 1);
	fflush(NULL);
	if (system(hook))
		return cbt_err(-ECANCELED, "CBT_BACKUP_HOOK `%s' failed", hook);
	return 0;
}
#endif

static int parse_compress(const char *s, uint32_t *comp, uint32_t *level)
{
	if (!strcmp(s, "none")) {
		*comp = CBT_IMG_COMP_NONE;
		*level = 0;
		return 0;
	}
	if (!strcmp(s, "zstd")) {
		*comp = CBT_IMG_COMP_ZSTD;
		*level = 3;
		return 0;
	}
	if (!strncmp(s, "zstd:", 5) && !cbt_parse_u32(s + 5, level) && *level >= 1 && *level <= 19) {
		*comp = CBT_IMG_COMP_ZSTD;
		return 0;
	}
	return -EINVAL;
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
		{ "auto-full", no_argument, NULL, 'a' },
		{ "threads", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_backup_req req = { .compression = CBT_IMG_COMP_ZSTD, .level = 3, .out_fd = -1,
				      .full_mode = CBT_FULL_FS, .stop = &stop };
	const char *out = NULL, *cow = NULL, *dev, *why = NULL, *step = "starting";
	bool freeze = true, force_cow = false, quiet = false, json = false, taken = false, committed = false;
	struct cbt_extents changed, used;
	struct cbt_backup_result res;
	struct cbt_progress prog;
	struct cbt_dev_info info = { 0 };
	struct cbt_devsel sel;
	struct cbt_nl *nl = NULL;
	struct cbt_snap snap;
	int dev_lock = -1;
	struct cbt_tmpfile outf = { .fd = -1, .dfd = -1 };
	char why_failed[1024] = "", lost[32] = "";
	uint32_t t32;
	int c, ret, src = -1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:q", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
		case 'I':
		case 'D':
			if (req.type)
				return bad_argument("backup", "give one image type, not also",
						    argv[optind - 1], NULL);
			req.type = c == 'F' ? CBT_IMG_FULL : c == 'I' ? CBT_IMG_INCREMENTAL :
				   CBT_IMG_DIFFERENTIAL;
			break;
		case 't':
			req.dir = optarg;
			break;
		case 'o':
			out = optarg;
			if (!strcmp(out, "-"))
				cbt_stdout_is_data();
			break;
		case 'c':
			cow = optarg;
			break;
		case 'f':
			force_cow = true;
			break;
		case 'z':
		case 'Z':
			freeze = c == 'z';
			break;
		case 'C':
			if (parse_compress(optarg, &req.compression, &req.level))
				return bad_argument("backup", "unknown compression", optarg,
						    "zstd, zstd:LEVEL with LEVEL 1-19, or none");
			break;
		case 'A':
			req.full_mode = CBT_FULL_ALL;
			break;
		case 'a':
			req.auto_full = true;
			break;
		case 'T':
			if (cbt_parse_u32(optarg, &t32) || !t32 || t32 > 64)
				return bad_argument("backup", "--threads takes 1 to 64, not", optarg,
						    NULL);
			req.threads = (int)t32;
			break;
		case 'q':
			quiet = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("backup", c, argv);
		}
	}
	if (argc - optind != 1 || !req.type || !req.dir == !out || !cow) {
		if (argc - optind < 1)
			fprintf(stderr, "%s backup: which DEVICE? (`cbt status' lists them)\n",
				PROG_NAME);
		else if (!req.type)
			fprintf(stderr, "%s backup: --full, --incremental or --differential?\n",
				PROG_NAME);
		else if (!req.dir == !out)
			fprintf(stderr, "%s backup: give one of --to DIR and -o FILE\n", PROG_NAME);
		else if (!cow)
			fprintf(stderr, "%s backup: the snapshot needs a COW device (--cow COW)\n",
				PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (out && req.type != CBT_IMG_FULL)
		return bad_argument("backup", "-o writes full images only; for", argv[optind],
				    "incremental and differential images use --to DIR");
	if (req.auto_full && (out || req.type == CBT_IMG_FULL))
		return bad_argument("backup", "--auto-full goes with --incremental or"
				    " --differential into --to DIR, not with", argv[optind], NULL);
	if (out && !strcmp(out, "-") && isatty(STDOUT_FILENO))
		return bad_argument("backup", "standard output is a terminal: not writing an image"
				    " to", out, "redirect it to a file or a pipe");
	dev = argv[optind];
	cbt_extents_init(&changed);
	cbt_extents_init(&used);
	memset(&snap, 0, sizeof(snap));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);

	step = "reading the device's state";
	ret = cbt_dev_lookup(dev, &nl, &sel, &info);
	if (ret)
		goto out;
	/* Refuse before touching anything: no full image, or history lost. */
	step = "checking the chain";
	ret = cbt_backup_precheck(req.dir, req.type, info.uuid, cbt_dev_bytes(&info),
				  info.block_size, info.epoch_current, info.last_committed);
	if (ret == -ESTALE)
		ret = history_lost(&req, &info, dev, quiet || json, lost, sizeof(lost));
	if (ret)
		goto out;
	step = "locking the device";
	dev_lock = cbt_device_lock(&info);
	if (dev_lock < 0) {
		ret = dev_lock;
		goto out;
	}
	/* Now anything left on the device is from a run that died. */
	step = "cleaning up after an interrupted backup";
	ret = recover(nl, &sel, &info, dev, quiet || json);
	if (ret)
		goto out;

	step = "taking the snapshot";
	const char *devs[1] = { dev }, *cows[1] = { cow };
	struct cbt_snap_opts so = { .cows = cows, .freeze = freeze, .force = force_cow };
	/* Mounted before and after: mounted, so frozen, at the instant. */
	bool fs_frozen = freeze && cbt_dev_mounted(info.major, info.minor);

	ret = cbt_snap_take(devs, 1, &so, &snap);
	if (ret)
		goto out;
	taken = true;
	fs_frozen = fs_frozen && cbt_dev_mounted(info.major, info.minor);
	/*
	 * Without udev, libdevmapper makes the /dev/mapper node when it
	 * flushes its node operations: now, as the snapshot is read next.
	 */
	dm_lib_release();
	if (memcmp(snap.uuid, info.uuid, 16) && req.type != CBT_IMG_FULL) {
		ret = cbt_err(-ESTALE, "the tracking identity changed while the backup started:"
			      " a full image is needed (--full, or --auto-full)");
		cbt_fail_reason("identity-changed");
		ret = history_lost(&req, &info, dev, quiet || json, lost, sizeof(lost));
		if (ret)
			goto out;
	}
	memcpy(req.dev_uuid, snap.uuid, 16);
	req.dev_bytes = snap.sectors * 512;
	req.block_size = snap.block_size;
	req.epoch = snap.epoch;

	step = "reading the changed blocks";
	if (req.type != CBT_IMG_FULL) {
		cbt_dev_info_free(&info);
		ret = cbt_get_device(nl, &sel, &info);
		if (ret)
			goto out;
		/*
		 * The image holds epoch N's changes only; those of earlier epochs
		 * since the chain's last image are in N if they were aborted
		 * (folded forward), lost to the chain if committed (checked with
		 * last_committed, again under the chain's lock), and not in N yet
		 * if still closed by another reader, who may commit them later.
		 */
		req.last_committed = info.last_committed;
		for (size_t i = 0; i < info.nr_epochs; i++) {
			if (info.epochs[i].state == CBT_EPOCH_CLOSED &&
			    info.epochs[i].number < snap.epoch) {
				ret = cbt_err(-EBUSY, "epoch %" PRIu64 " is held by another reader"
					      " (a clone or a backup in progress): its changes are"
					      " not in epoch %" PRIu64 "; run this backup again when"
					      " it is committed or aborted (if committed, the chain"
					      " will need a full backup)",
					      info.epochs[i].number, snap.epoch);
				goto out;
			}
		}
		ret = cbt_read_bitmap(nl, &sel, &info, snap.epoch, snap.epoch, bitmap_cb,
				      &changed);
		if (ret)
			goto out;
		req.changed = &changed;
	} else if (req.full_mode == CBT_FULL_FS) {
		step = "reading which blocks the filesystem uses";
		ret = cbt_fs_used_blocks(snap.snap_path, req.dev_bytes, req.block_size, fs_frozen,
					 &used, &why);
		if (ret && ret != -EOPNOTSUPP)
			goto out;
		if (ret) {
			ret = 0;
			req.full_mode = CBT_FULL_NONZERO;
			if (!quiet && !json)
				fprintf(stderr, "cbt backup: %s: %s: the image leaves out all-zero"
					" blocks only\n", dev, why);
		} else {
			req.fs_used = &used;
		}
	}

#ifdef CBT_TEST_HOOKS
	step = "running CBT_BACKUP_HOOK";
	ret = run_test_hook(&snap);
	if (ret)
		goto out;
#endif

	step = "reading the snapshot";
	src = open(snap.snap_path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (src < 0 && errno == EINVAL)
		src = open(snap.snap_path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		ret = cbt_err(-errno, "%s: %s", snap.snap_path, strerror(errno));
		goto out;
	}
	if (out && strcmp(out, "-")) {
		ret = cbt_tmpfile_create(&outf, out);
		if (ret)
			goto out;
		req.out_fd = outf.fd;
	} else if (out) {
		req.out_fd = STDOUT_FILENO;
	}
	step = "writing the image";
	cbt_progress_init(&prog, "backup", 0, !quiet && !json);
	req.progress = &prog;
	ret = cbt_backup_run(&req, src, &res);
	cbt_progress_end(&prog);
	if (!ret && outf.fd >= 0) {
		ret = cbt_tmpfile_commit(&outf);
		req.out_fd = -1;
	}
	if (ret)
		goto out;
	/* --auto-full switched under the chain's lock (a commit by another reader meanwhile) */
	if (req.auto_full && res.h.type == CBT_IMG_FULL && !lost[0])
		snprintf(lost, sizeof(lost), "%s", cbt_failure_reason() ? cbt_failure_reason() :
			 "identity-changed");

	/*
	 * A chain's image consumes the epoch. A lone image (-o) does not: no
	 * incremental can follow it, and the chain in a directory still needs
	 * these changes, so they are folded back (aborted) instead.
	 */
	step = "committing the epoch";
	ret = req.dir ? cbt_epoch_commit(nl, &sel, snap.epoch) :
			cbt_epoch_abort(nl, &sel, snap.epoch);
	if (ret)
		goto out;
	committed = true;
out:
	/* The cleanup below talks to the kernel, which replaces the detail: keep it. */
	if (ret)
		snprintf(why_failed, sizeof(why_failed), "%s",
			 cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
	if (src >= 0)
		close(src);
	if (outf.fd >= 0)
		cbt_tmpfile_abort(&outf);
	if (taken && !committed) {
		int r = cbt_epoch_abort(nl, &sel, snap.epoch);

		if (r)
			fprintf(stderr, "cbt backup: aborting epoch %" PRIu64 " failed too (the next"
				" backup aborts it)\n", snap.epoch);
	}
	if (taken) {
		int r = cbt_snap_drop(&snap);

		if (r && !ret)
			cbt_perror("cbt backup: dropping the snapshot (the image is complete)", r);
	}
	if (dev_lock >= 0)
		close(dev_lock);
	cbt_dev_info_free(&info);
	cbt_nl_close(nl);
	cbt_extents_free(&changed);
	cbt_extents_free(&used);
	if (ret) {
		char prefix[128];

		snprintf(prefix, sizeof(prefix), "cbt backup: %s failed while %s", dev, step);
		c = cbt_fail(cbt_exit_status(ret), "%s: %s", prefix, why_failed);
		if (taken)
			fprintf(stderr, "cbt backup: epoch %" PRIu64 " was aborted: its changes go"
				" into the next backup; no image was added. Fix the cause and run"
				" the backup again.\n", snap.epoch);
		return c;
	}
	if (json) {
		struct cbt_json j;
		char u[CBT_UUID_STR_LEN];

		/* With the image on standard output, the summary goes to stderr. */
		cbt_json_init(&j, out && !strcmp(out, "-") ? stderr : stdout, false);
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "device", dev);
		cbt_json_string(&j, "type", cbt_img_type_name(res.h.type));
		cbt_json_string(&j, "image", req.dir ? res.file : out);
		cbt_json_string(&j, "uuid", cbt_uuid_str(res.h.uuid, u));
		cbt_json_u64(&j, "epoch", snap.epoch);
		/* --auto-full wrote a full image: why the chain's history was lost */
		if (lost[0])
			cbt_json_string(&j, "history_lost", lost);
		cbt_json_u64(&j, "blocks", res.blocks);
		cbt_json_u64(&j, "logical_bytes", res.logical_bytes);
		cbt_json_u64(&j, "stored_bytes", res.stored_bytes);
		cbt_json_u64(&j, "read_bytes", res.scanned_bytes);
		cbt_json_u64(&j, "freeze_ns", snap.freeze_ns);
		cbt_json_u64(&j, "hold_ns", snap.hold_ns);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	} else if (!quiet) {
		char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

		fprintf(out && !strcmp(out, "-") ? stderr : stdout,
			"%s: %s image %s: epoch %" PRIu64 ", %" PRIu64 " blocks, %s logical, %s"
			" stored\n", dev, cbt_img_type_name(res.h.type), req.dir ? res.file : out,
			snap.epoch, res.blocks, cbt_human_size(res.logical_bytes, a),
			cbt_human_size(res.stored_bytes, b));
	}
	return 0;
}
