// SPDX-License-Identifier: GPL-2.0
/*
 * cbt clone: a live, sector-for-sector clone of a cbt device onto another
 * disk, in passes over point-in-time snapshots (docs/clone.md). The pass
 * planner and the state format are in clone/plan.c, the target checks in
 * clone/check.c, the copying in clone/copy.c, the run's state file and
 * reports in clone_run.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <libdevmapper.h>

#include "clone/check.h"
#include "clone/copy.h"
#include "clone/plan.h"
#include "clone_run.h"
#include "kernel/device.h"
#include "fsmap/fsmap.h"
#include "util/json.h"
#include "kernel/snapdev.h"
#include "subcommands.h"
#include "util/util.h"

#define DEFAULT_STATE_DIR "/var/lib/cbt"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s clone DEVICE TARGET --cow COW [--used-only] [--force] [--verify]\n"
		"           [--follow --interval SECS] [--max-passes N] [--freeze | --no-freeze]\n"
		"           [--json] [--quiet] [--rate BYTES] [--converge BYTES]\n"
		"           [--state-dir DIR] [--keep-snapshot]\n\n"
		"Clones the cbt device DEVICE, while it is in use, onto the disk TARGET,\n"
		"sector for sector. Pass 1 copies the whole device from a snapshot; each\n"
		"next pass takes a new snapshot and copies only the blocks written since\n"
		"the last one, until few are left (less than 1%% of the device or 64 MiB),\n"
		"they stop shrinking, or the pass limit is near; the last pass runs under\n"
		"a filesystem freeze when one is mounted. The target then holds DEVICE as\n"
		"it was at that last snapshot. Epochs are committed only once the target\n"
		"has them (flushed); on any failure they are aborted, tracking stays intact.\n\n"
		"  --cow COW        the snapshots' copy-on-write store (another disk); it\n"
		"                   holds one pass's writes at a time\n"
		"  --used-only      pass 1 copies only the blocks an ext2/3/4 or xfs\n"
		"                   filesystem uses (other filesystems: every block)\n"
		"  --force          write over a TARGET, or use a COW, holding a partition\n"
		"                   table, a filesystem or another signature\n"
		"  --verify         compare the target with the last snapshot afterwards\n"
		"  --follow         keep the clone current: a pass every --interval SECS\n"
		"                   (default 60) until SIGINT or SIGTERM\n"
		"  --max-passes N   passes at most, the last one included (default %d)\n"
		"  --freeze, --no-freeze  freeze the filesystem for the last pass\n"
		"                   (default: when one is mounted on DEVICE)\n"
		"  --json           print the report as JSON (--follow: one line per pass)\n"
		"  --quiet          print nothing but errors\n"
		"  --rate BYTES     copy at most BYTES per second (K, M, G suffixes)\n"
		"  --converge BYTES the changed set under which the next pass is the last\n"
		"  --state-dir DIR  where the resume state goes (default " DEFAULT_STATE_DIR ")\n"
		"  --keep-snapshot  leave the last snapshot attached (for checking); drop\n"
		"                   it with `cbt snapshot drop DEVICE'\n\n"
		"TARGET must be at least as large as DEVICE (the rest is left alone), not\n"
		"mounted or in use, and not on a disk under DEVICE. An interrupted clone\n"
		"(signal, I/O error, COW overflow) leaves the target marked incomplete in\n"
		"DIR/clone-<target>.json; running the same command again resumes from\n"
		"tracking when the target still matches, else starts over.\n",
		PROG_NAME, CLONE_DEFAULT_MAX_PASSES);
}

static volatile sig_atomic_t stop_level;

static void on_signal(int sig)
{
	(void)sig;
	if (stop_level < 100)
		stop_level++;
}

/* ---- Epochs -------------------------------------------------------------- */

static int refresh(struct run *r)
{
	struct cbt_dev_info now;
	int ret = cbt_get_device(r->nl, &r->sel, &now);

	if (ret)
		return ret;
	cbt_dev_info_free(&r->info);
	r->info = now;
	return 0;
}

/* Commit the closed epochs up to @upto, oldest first. */
static int commit_upto(struct run *r, uint64_t upto)
{
	int ret = refresh(r);

	for (size_t i = 0; !ret && i < r->info.nr_epochs; i++) {
		const struct cbt_epoch_info *e = &r->info.epochs[i];

		if (e->state == CBT_EPOCH_CLOSED && e->number <= upto)
			ret = cbt_epoch_commit(r->nl, &r->sel, e->number);
	}
	return ret;
}

/* Abort this run's closed epochs (their changes go back into the open one). */
static void abort_ours(struct run *r, char *list, size_t len)
{
	size_t n = 0;

	list[0] = '\0';
	if (refresh(r))
		return;
	for (size_t i = 0; i < r->info.nr_epochs; i++) {
		const struct cbt_epoch_info *e = &r->info.epochs[i];

		if (e->state != CBT_EPOCH_CLOSED || e->number < r->first_ours)
			continue;
		if (!cbt_epoch_abort(r->nl, &r->sel, e->number) && n < len)
			n += (size_t)snprintf(list + n, len - n, "%s%" PRIu64, n ? ", " : "", e->number);
	}
	cbt_err_clear();
}


static uint64_t open_bits(const struct cbt_dev_info *d)
{
	return d->nr_epochs ? d->epochs[d->nr_epochs - 1].bits : 0;
}

/* ---- Passes -------------------------------------------------------------- */

static int collect_cb(const struct cbt_range *v, size_t nr, void *data)
{
	struct cbt_extents *l = data;

	for (size_t i = 0; i < nr; i++) {
		int ret = cbt_extents_append(l, v[i].start, v[i].len);

		if (ret)
			return ret;
	}
	return 0;
}

/* Sample the snapshot's COW use; a snapshot gone invalid stops the pass. */
static int sample_cow(struct run *r)
{
	int ret = refresh(r);

	if (ret)
		return ret;
	if (!r->info.snap.present)
		return 0;
	if (r->info.snap.cow_used > r->cow_peak)
		r->cow_peak = r->info.snap.cow_used;
	r->cow_total = r->info.snap.cow_total;
	if (r->info.snap.state == CBT_SNAP_INVALID) {
		char a[CBT_HUMAN_LEN];

		if (r->info.snap.error == ENOSPC)
			return cbt_err(-ENOSPC, "the COW store (%s) filled up during pass %u: the"
				       " source was written faster than the pass copied; give a larger"
				       " --cow", cbt_human_size(r->info.snap.cow_total, a), r->pass_n);
		return cbt_err(-EIO, "the snapshot became invalid during pass %u (%s)", r->pass_n,
			       strerror((int)r->info.snap.error));
	}
	return 0;
}

static int tick(void *data, uint64_t done, uint64_t total)
{
	struct run *r = data;
	int ret = sample_cow(r);

	if (r->progress) {
		uint64_t ns = cbt_mono_ns() - r->pass_t0;
		char rate[CBT_HUMAN_LEN + 4];
		uint64_t bs = r->cfg.block_size;

		clone_fmt_rate(done, ns, rate);
		fprintf(stderr, "\r\033[Kpass %u: %" PRIu64 "/%" PRIu64 " blocks, %s", r->pass_n,
			done / bs, r->pass_blocks, rate);
		if (done && total > done)
			fprintf(stderr, ", ETA %" PRIu64 " s",
				(uint64_t)((double)ns * (double)(total - done) / (double)done / 1e9) + 1);
		fflush(stderr);
	}
	return ret;
}

static void clear_progress(struct run *r)
{
	if (r->progress)
		fprintf(stderr, "\r\033[K");
}

/*
 * One pass: snapshot, the blocks to copy, copy, flush, commit, state.
 * @final: freeze (if wanted) and mark the clone complete afterwards.
 */
static int do_pass(struct run *r, bool final, bool freeze, enum clone_why why, int stop_at,
		   bool follow)
{
	const char *devs[1] = { r->dev_arg }, *cows[1] = { r->cow };
	/* COW checked for signatures once: later passes find the earlier passes' copies. */
	struct cbt_snap_opts so = { .cows = cows, .freeze = freeze,
				    .force = r->force || r->npasses };
	struct clone_copy_opts co = {
		.block_size = r->cfg.block_size, .dev_bytes = r->cfg.dev_bytes, .rate = r->rate,
		.stop = &stop_level, .stop_level = stop_at, .tick = tick, .tick_data = r,
		.tick_ms = 250,
	};
	struct clone_copy_result res;
	struct cbt_extents ext, bm, tail, fsext;
	struct pass_report p = { .final = final, .frozen = freeze, .why = why, .follow = follow };
	uint64_t nr = clone_nr_blocks(&r->cfg);
	bool direct;
	int ret;

	cbt_extents_init(&ext);
	cbt_extents_init(&bm);
	cbt_extents_init(&tail);
	cbt_extents_init(&fsext);
	r->pass_n = p.n = (unsigned int)r->npasses + 1;
	r->cow_peak = r->cow_total = 0;

	if (r->have_snap) {
		if (r->sfd >= 0)
			close(r->sfd);
		r->sfd = -1;
		ret = cbt_snap_drop(&r->snap);
		dm_lib_release();
		if (ret)
			return cbt_err_prefix(ret, "dropping the snapshot of pass %u", p.n - 1);
		r->have_snap = false;
	}
	if (stop_level >= stop_at)
		return cbt_err(-EINTR, "interrupted");
	ret = cbt_snap_take(devs, 1, &so, &r->snap);
	if (ret)
		return cbt_err_prefix(ret, "taking the snapshot for pass %u", p.n);
	r->have_snap = true;
	/*
	 * Without udev, libdevmapper makes /dev/mapper nodes only when it
	 * flushes its node operations (at exit in a short-lived command): do
	 * it now, this process reads the snapshot next.
	 */
	dm_lib_release();
	p.epoch = r->snap.epoch;
	p.freeze_ns = r->snap.freeze_ns;
	p.hold_ns = r->snap.hold_ns;
	if (memcmp(r->snap.uuid, r->st.uuid, 16))
		return cbt_err(-ESTALE, "the source's tracking identity changed (history was lost):"
			       " run the clone again, it will start over");
	if (r->snap.sectors * 512 != r->cfg.dev_bytes)
		return cbt_err(-ESTALE, "the source changed size during the clone");
	r->sfd = clone_open(r->snap.snap_path, O_RDONLY, &direct);
	if (r->sfd < 0)
		return cbt_err(r->sfd, "opening the snapshot %s: %s", r->snap.snap_path,
			       strerror(-r->sfd));

	/* Blocks changed since what the target holds. */
	if (r->st.full_done || r->st.copied_upto) {
		ret = refresh(r);
		if (!ret)
			ret = cbt_read_bitmap(r->nl, &r->sel, &r->info, r->st.resume_epoch,
					      r->snap.epoch, collect_cb, &bm);
		if (ret)
			goto out;
	}
	/* The rest of the first pass: every block, or those the filesystem uses. */
	if (!r->st.full_done) {
		struct cbt_extents all;

		cbt_extents_init(&all);
		if (r->used_only) {
			const char *fwhy;

			ret = cbt_fs_used_blocks(r->snap.snap_path, r->cfg.dev_bytes,
						 r->cfg.block_size, freeze && r->fs_mounted, &fsext,
						 &fwhy);
			if (ret < 0 && ret != -EOPNOTSUPP)
				goto out;
			if (ret && !r->quiet)
				fprintf(stderr, "cbt clone: --used-only: %s; copying every block\n",
					fwhy);
			if (ret) {
				ret = 1;
				r->st.used_only = false;
			}
		}
		if (!r->used_only || ret > 0) {
			ret = cbt_extents_append(&all, 0, nr);
			if (!ret)
				ret = clone_extents_from(&all, r->st.copied_upto, &tail);
		} else {
			ret = clone_extents_from(&fsext, r->st.copied_upto, &tail);
		}
		cbt_extents_free(&all);
		if (ret)
			goto out;
	}
	clone_extents_clip(&bm, nr);
	ret = clone_extents_union(&bm, &tail, &ext);
	if (ret)
		goto out;
	p.blocks = r->pass_blocks = ext.total;

	r->pass_t0 = cbt_mono_ns();
	ret = clone_copy_extents(r->sfd, r->tfd, &ext, &co, &res);
	clear_progress(r);
	if (!ret)
		ret = clone_sync(r->tfd, r->target);
	if (!ret)
		ret = sample_cow(r);	/* the last reads came from a valid snapshot */
	p.ns = cbt_mono_ns() - r->pass_t0;
	p.bytes = res.bytes;
	r->copied_bytes += res.bytes;
	if (ret) {
		int s;

		if (res.read_err) {
			/* A read error: most likely the snapshot went invalid. */
			s = sample_cow(r);
			if (s)
				ret = s;
		}
		/*
		 * What was written in order is on the target once flushed (a
		 * bare fdatasync: the error detail stays the pass's).
		 */
		if (!r->st.full_done && !fdatasync(r->tfd) && res.written_upto) {
			uint64_t upto = res.written_upto / r->cfg.block_size;

			if (res.written_upto >= r->cfg.dev_bytes)
				upto = nr;
			if (upto > r->st.copied_upto)
				r->st.copied_upto = upto;
		}
		goto out;
	}
	p.cow_peak = r->cow_peak;
	p.cow_total = r->cow_total;

	/* Everything up to the snapshot's epoch is on the target now. */
	ret = commit_upto(r, r->snap.epoch);
	if (ret) {
		cbt_err_prefix(ret, "committing epochs up to %" PRIu64, r->snap.epoch);
		goto out;
	}
	r->st.resume_epoch = r->snap.epoch + 1;
	r->st.full_done = true;
	r->st.copied_upto = 0;
	r->st.last_epoch = r->snap.epoch;
	r->st.complete = final;
	r->st.target_sum = clone_head_sum(r->target);
	ret = clone_save_state(r);
	if (ret)
		goto out;
	r->passes = realloc(r->passes, (r->npasses + 1) * sizeof(*r->passes));
	if (!r->passes) {
		ret = -ENOMEM;
		goto out;
	}
	r->passes[r->npasses++] = p;
	clone_report_pass(r, &p);
out:
	cbt_extents_free(&ext);
	cbt_extents_free(&bm);
	cbt_extents_free(&tail);
	cbt_extents_free(&fsext);
	return ret;
}

static void sleep_until(uint64_t until_ns)
{
	while (!stop_level) {
		uint64_t t = cbt_mono_ns();
		struct timespec ts;

		if (t >= until_ns)
			return;
		t = until_ns - t > 200000000ULL ? 200000000ULL : until_ns - t;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)t;
		nanosleep(&ts, NULL);
	}
}

static int run_clone(struct run *r)
{
	enum clone_why why = CLONE_WHY_FIRST, final_why = CLONE_WHY_UNCHANGED;
	enum clone_step step;
	char digest[33] = "", aborted[256] = "";
	uint64_t verified = 0, mismatch = 0;
	int ret, vret = 0;
	bool last_final = false;

	ret = clone_setup(r);
	if (ret)
		return ret;

	for (;;) {
		uint64_t last_blocks = r->npasses ? r->passes[r->npasses - 1].blocks : 0;
		uint64_t prev_blocks = r->npasses > 1 ? r->passes[r->npasses - 2].blocks : 0;
		uint64_t pending = 0;

		if (r->npasses) {
			ret = refresh(r);
			if (ret)
				goto fail;
			pending = open_bits(&r->info);
		}
		step = clone_plan_next(&r->cfg, (unsigned int)r->npasses, prev_blocks, last_blocks,
				       last_final, pending, &why);
		if (step == CLONE_STEP_DONE)
			break;
		last_final = step == CLONE_STEP_FINAL;
		if (last_final)
			final_why = r->final_why = why;
		/* --used-only reads the filesystem's free-space map: take pass 1 frozen too. */
		ret = do_pass(r, last_final, (last_final || (r->used_only && !r->st.full_done)) &&
			      r->freeze, why, 1, false);
		if (ret)
			goto fail;
	}
	if (!r->st.complete) {
		r->st.complete = true;
		ret = clone_save_state(r);
		if (ret)
			goto fail;
	}
	if (why != CLONE_WHY_FINISHED)
		r->final_why = why;
	if (!r->quiet && !r->json) {
		char a[CBT_HUMAN_LEN];
		uint64_t ns = 0;

		for (size_t i = 0; i < r->npasses; i++)
			ns += r->passes[i].ns;
		printf("done: %s is a clone of %s as of epoch %" PRIu64 " (%zu pass%s, %s copied in"
		       " %.1f s; %s)\n", r->target, r->info.name, r->st.last_epoch, r->npasses,
		       r->npasses == 1 ? "" : "es", cbt_human_size(r->copied_bytes, a),
		       (double)ns / 1e9, clone_why_str(why == CLONE_WHY_FINISHED ? final_why : why));
	}

	if (r->verify) {
		struct clone_copy_opts vo = {
			.block_size = r->cfg.block_size, .dev_bytes = r->cfg.dev_bytes,
			.stop = &stop_level, .stop_level = 1,
		};
		struct cbt_extents used;
		const char *fwhy;
		int vfd;
		bool direct;

		/* The last pass's snapshot: frozen when r->freeze. */
		cbt_extents_init(&used);
		if (r->st.used_only && cbt_fs_used_blocks(r->snap.snap_path, r->cfg.dev_bytes,
							  r->cfg.block_size,
							  r->freeze && r->fs_mounted, &used,
							  &fwhy))
			r->st.used_only = false;
		vfd = clone_open(r->target, O_RDONLY, &direct);
		if (vfd < 0) {
			vret = cbt_err(vfd, "opening %s to verify it: %s", r->target, strerror(-vfd));
		} else {
			vret = clone_verify(r->sfd, vfd, r->st.used_only ? &used : NULL, &vo, digest,
					    &verified, &mismatch);
			close(vfd);
		}
		cbt_extents_free(&used);
		if (!vret && !r->quiet && !r->json) {
			char a[CBT_HUMAN_LEN];

			printf("verify: the target matches the snapshot of epoch %" PRIu64 " (%s%s"
			       " compared, XXH3-128 %s)\n", r->st.last_epoch,
			       cbt_human_size(verified, a), r->st.used_only ?
			       " of blocks the filesystem uses" : "", digest);
		}
		if (vret) {
			cbt_perror("cbt clone: verify", vret);
			/* The target cannot be trusted: the next run copies everything. */
			r->st.complete = false;
			r->st.full_done = false;
			r->st.copied_upto = 0;
			clone_save_state(r);
		}
	}

	if (r->follow && !vret) {
		uint64_t next = cbt_mono_ns() + (uint64_t)r->interval * 1000000000ULL;

		if (!r->quiet && !r->json)
			printf("following: a pass every %u s until SIGINT or SIGTERM\n", r->interval);
		fflush(stdout);
		for (;;) {
			sleep_until(next);
			if (stop_level)
				break;
			next = cbt_mono_ns() + (uint64_t)r->interval * 1000000000ULL;
			/* A signal during a follow pass lets it finish; a second one stops it. */
			ret = do_pass(r, true, r->freeze, CLONE_WHY_FINISHED, 2, true);
			if (ret)
				goto fail;
		}
		if (!r->quiet && !r->json)
			printf("stopped: %s is a clone of %s as of epoch %" PRIu64 "\n", r->target,
			       r->info.name, r->st.last_epoch);
	}

	if (r->json && !r->quiet)
		clone_print_json_summary(r, vret ? "verify-failed" : "complete", r->verify ? digest : NULL,
				   verified, vret, vret ? "the target differs from the snapshot" : NULL);
	if (r->keep_snapshot && r->have_snap) {
		if (!r->quiet && !r->json)
			printf("snapshot kept: %s (`cbt snapshot drop %s' removes it)\n",
			       r->snap.snap_path, r->info.name);
	} else if (r->have_snap) {
		if (r->sfd >= 0)
			close(r->sfd);
		r->sfd = -1;
		ret = cbt_snap_drop(&r->snap);
		r->have_snap = false;
		if (ret)
			cbt_perror("cbt clone: dropping the last snapshot", ret);
	}
	if (!vret && r->tgt.bytes > r->cfg.dev_bytes && !r->quiet && !r->json) {
		char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

		printf("%s is %s larger than the source: that space was left alone. To use it,"
		       " grow what is on it: a partition with `growpart %s N', then its filesystem"
		       " (`resize2fs', `xfs_growfs'); a filesystem on the whole disk with `resize2fs"
		       " %s' (%s in all)\n", r->target,
		       cbt_human_size(r->tgt.bytes - r->cfg.dev_bytes, a), r->target, r->target,
		       cbt_human_size(r->tgt.bytes, b));
	}
	return vret ? vret : 0;

fail: {
		char msg[1200];
		int saved = ret;

		snprintf(msg, sizeof(msg), "%s", cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
		clear_progress(r);
		/* Tracking stays intact: this run's uncommitted epochs go back. */
		abort_ours(r, aborted, sizeof(aborted));
		if (r->have_snap) {
			if (r->sfd >= 0)
				close(r->sfd);
			r->sfd = -1;
			cbt_snap_drop(&r->snap);
			r->have_snap = false;
			cbt_err_clear();
		}
		if (!refresh(r)) {
			uint64_t o = clone_oldest_held(&r->info);

			/* Aborted epochs merged into the open one: resume from the oldest held. */
			if (o > r->st.resume_epoch)
				r->st.resume_epoch = o;
		}
		r->st.complete = false;
		r->st.target_sum = clone_head_sum(r->target);
		clone_save_state(r);
		cbt_err_clear();
		if (r->json && !r->quiet)
			clone_print_json_summary(r, saved == -EINTR ? "interrupted" : "failed", NULL, 0, 0, msg);
		fprintf(stderr, "cbt clone: %s\n", saved == -EINTR ? "interrupted" : msg);
		fprintf(stderr, "cbt clone: the target is incomplete (%s); the source is untouched and"
			" its tracking intact%s%s%s; run the same command again to resume\n",
			r->state_path, aborted[0] ? " (epochs " : "", aborted, aborted[0] ? " aborted)" : "");
		return 1;
	}
}

int clone_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "cow", required_argument, NULL, 'c' },
		{ "used-only", no_argument, NULL, 'u' },
		{ "force", no_argument, NULL, 'f' },
		{ "verify", no_argument, NULL, 'V' },
		{ "follow", no_argument, NULL, 'F' },
		{ "interval", required_argument, NULL, 'i' },
		{ "max-passes", required_argument, NULL, 'm' },
		{ "freeze", no_argument, NULL, 'z' },
		{ "no-freeze", no_argument, NULL, 'Z' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "rate", required_argument, NULL, 'r' },
		{ "converge", required_argument, NULL, 'C' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "keep-snapshot", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run r = {
		.freeze_opt = -1, .interval = 60, .max_passes = CLONE_DEFAULT_MAX_PASSES,
		.state_dir = DEFAULT_STATE_DIR, .tfd = -1, .sfd = -1, .dev_lock = -1,
	};
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	bool interval_given = false;
	int c, ret;
	uint32_t v;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			r.cow = optarg;
			break;
		case 'u':
			r.used_only = true;
			break;
		case 'f':
			r.force = true;
			break;
		case 'V':
			r.verify = true;
			break;
		case 'F':
			r.follow = true;
			break;
		case 'i':
			if (cbt_parse_u32(optarg, &v) || !v)
				return bad_argument("clone", "--interval takes seconds (1 or more), not",
						    optarg, NULL);
			r.interval = v;
			interval_given = true;
			break;
		case 'm':
			if (cbt_parse_u32(optarg, &v) || !v || v > 1000)
				return bad_argument("clone", "--max-passes takes 1 to 1000, not", optarg,
						    NULL);
			r.max_passes = v;
			break;
		case 'z':
		case 'Z':
			if (r.freeze_opt != -1 && r.freeze_opt != (c == 'z'))
				return bad_argument("clone", "give one of --freeze and --no-freeze, not"
						    " also", argv[optind - 1], NULL);
			r.freeze_opt = c == 'z';
			break;
		case 'j':
			r.json = true;
			break;
		case 'q':
			r.quiet = true;
			break;
		case 'r':
			if (cbt_parse_size(optarg, &r.rate) || !r.rate)
				return bad_argument("clone", "--rate takes bytes per second (as 50M), not",
						    optarg, NULL);
			break;
		case 'C':
			if (cbt_parse_size(optarg, &r.converge) || !r.converge)
				return bad_argument("clone", "--converge takes a size (as 64M), not",
						    optarg, NULL);
			break;
		case 's':
			r.state_dir = optarg;
			break;
		case 'k':
			r.keep_snapshot = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("clone", c, argv);
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "%s clone: %s\n", PROG_NAME, argc - optind ?
			"which TARGET? (the disk to clone onto)" :
			"which DEVICE and TARGET? (`cbt status' lists the devices)");
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (argc - optind > 2)
		return bad_argument("clone", "takes DEVICE and TARGET, not also", argv[optind + 2],
				    NULL);
	if (!r.cow) {
		fprintf(stderr, "%s clone: --cow COW is needed: the device the snapshots keep old"
			" data on while a pass copies (another disk than DEVICE's)\n", PROG_NAME);
		return CBT_EXIT_USAGE;
	}
	if (interval_given && !r.follow)
		return bad_argument("clone", "--interval goes with --follow, given", "--interval",
				    NULL);
	r.dev_arg = argv[optind];
	r.target = argv[optind + 1];
	r.progress = isatty(STDERR_FILENO) && !r.quiet && !r.json;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = run_clone(&r);
	if (r.tfd >= 0)
		close(r.tfd);
	if (r.dev_lock >= 0)
		close(r.dev_lock);
	if (r.sfd >= 0)
		close(r.sfd);
	free(r.passes);
	cbt_dev_info_free(&r.info);
	cbt_nl_close(r.nl);
	if (ret > 0)
		return ret;
	if (ret) {
		cbt_perror("cbt clone", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
