// SPDX-License-Identifier: GPL-2.0
/*
 * One `cbt clone' run as steps (run.h): the setup, the state file, the
 * passes and their epochs, verify, follow, and the cleanup after a
 * failure. The pass planner and the state format are in plan.c, the
 * target checks in check.c, the source checks and reading and writing
 * the state file in source.c, the copying in copy.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <libdevmapper.h>

#include "clone/copy.h"
#include "clone/run.h"
#include "clone/source.h"
#include "clone/throttle.h"
#include "fsmap/fsmap.h"
#include "store/safefile.h"
#include "util/extents.h"

void cbt_clone_job_init(struct cbt_clone_job *job)
{
	memset(job, 0, sizeof(*job));
	job->freeze_opt = -1;
	job->interval = 60;
	job->max_passes = CLONE_DEFAULT_MAX_PASSES;
	job->final_pass_ms = CLONE_DEFAULT_FINAL_PASS_MS;
	job->tfd = -1;
	job->sfd = -1;
	job->dev_lock = -1;
	/* No closed epoch is this run's until cbt_clone_plan() says which are. */
	job->first_ours = UINT64_MAX;
}

void cbt_clone_job_free(struct cbt_clone_job *job)
{
	if (job->tfd >= 0)
		close(job->tfd);
	if (job->dev_lock >= 0)
		close(job->dev_lock);
	if (job->sfd >= 0)
		close(job->sfd);
	if (job->have_spare)
		cbt_tmpfile_abort(&job->spare);
	clone_throttle_free(job->thr);
	free(job->passes);
	cbt_dev_info_free(&job->info);
	cbt_nl_close(job->nl);
}

uint64_t cbt_clone_total_ns(const struct cbt_clone_job *job)
{
	uint64_t ns = 0;

	for (size_t i = 0; i < job->npasses; i++)
		ns += job->passes[i].ns;
	return ns;
}

/* ---- The state file ------------------------------------------------------ */

uint64_t clone_oldest_held(const struct cbt_dev_info *d)
{
	return d->nr_epochs ? d->epochs[0].number : d->epoch_current;
}

/* ---- Setup ------------------------------------------------------------- */

int cbt_clone_plan(struct cbt_clone_job *r)
{
	struct clone_stack src = { .nr = 0 };
	struct clone_state old;
	struct stat st;
	dev_t cow = 0;
	bool have_old, ours = false;
	int ret;

	ret = cbt_dev_lookup(r->dev_arg, &r->nl, &r->sel, &r->info);
	if (ret)
		return ret;
	if (r->dev_lock >= 0 && r->dev_lock_dev != makedev(r->info.major, r->info.minor))
		return cbt_err(-EINVAL, "the device lock handed to the clone of %s is another"
			       " device's", r->info.name);
	if (r->dev_lock < 0)
		r->dev_lock = cbt_device_lock(&r->info);
	if (r->dev_lock < 0)
		return r->dev_lock;
	r->cfg.dev_bytes = cbt_dev_bytes(&r->info);
	r->cfg.block_size = r->info.block_size;
	r->cfg.max_passes = r->max_passes;
	r->cfg.final_pass_ms = r->final_pass_ms;
	r->cfg.converge_bytes = r->converge;
	r->fs_mounted = cbt_dev_mounted(r->info.major, r->info.minor);
	r->freeze = r->freeze_opt == -1 ? r->fs_mounted : r->freeze_opt;
	r->cfg.freeze = r->freeze;

	ret = clone_check_snapshot(&r->info);
	if (ret)
		return ret;

	/* What the source is built on, and the COW device. */
	clone_stack_add(&clone_env_default, &src, makedev(r->info.major, r->info.minor));
	if (stat(r->cow, &st))
		return cbt_err(-errno, "COW device `%s': %s", r->cow, strerror(errno));
	if (S_ISBLK(st.st_mode))
		cow = st.st_rdev;

	/* A state file from an earlier run on this target. */
	clone_state_path(r->state_dir, r->target, r->state_path, sizeof(r->state_path));
	have_old = !clone_state_load(r->state_path, &old);
	r->had_state = have_old;
	cbt_err_clear();
	ours = have_old && !memcmp(old.uuid, r->info.uuid, 16);

	r->tgt.path = r->target;
	/* A target holding our own earlier clone needs no --force to be resumed. */
	ret = clone_check_target(&clone_env_default, &r->tgt, &src, cow, r->cfg.dev_bytes,
				 r->force || ours);
	if (ret)
		return ret;

	if (have_old) {
		uint64_t sum = clone_head_sum(r->target);

		r->resumed = clone_resume_ok(&old, r->info.uuid, r->cfg.dev_bytes, r->cfg.block_size,
					     r->tgt.bytes, sum, clone_oldest_held(&r->info),
					     r->info.epoch_current, r->start_why,
					     sizeof(r->start_why));
		if (!r->resumed && ours && r->tgt.found[0] && !r->force)
			return cbt_err_usage(-EEXIST, "target `%s' holds %s from an earlier clone that cannot"
				       " be resumed (%s); --force starts over", r->target,
				       r->tgt.found, r->start_why);
	}

	ret = clone_check_epochs(&r->info, ours ? &old : NULL, &r->first_ours);
	if (ret)
		return ret;

	if (r->resumed) {
		r->st = old;
		r->st.used_only = old.used_only || r->used_only;
	} else {
		memset(&r->st, 0, sizeof(r->st));
		memcpy(r->st.uuid, r->info.uuid, 16);
		r->st.src_bytes = r->cfg.dev_bytes;
		r->st.block_size = r->cfg.block_size;
		r->st.resume_epoch = r->info.epoch_current;
		r->st.used_only = r->used_only;
	}
	r->st.target_bytes = r->tgt.bytes;
	snprintf(r->st.source, sizeof(r->st.source), "%s", r->info.name);
	snprintf(r->st.target, sizeof(r->st.target), "%s", r->target);

	/* Keep the target to ourselves while we write it. */
	r->tfd = clone_open(r->target, O_WRONLY | (r->tgt.is_blk ? O_EXCL : 0), &r->tdirect);
	if (r->tfd < 0) {
		/*
		 * Another opener got there between the checks and this open:
		 * the same refusal as clone_check_target()'s, so the same exit
		 * status (2, a refused target).
		 */
		if (r->tfd == -EBUSY)
			return cbt_err_usage(-EBUSY, "target `%s' is in use (an exclusive open"
					     " failed)", r->target);
		return cbt_err(r->tfd, "opening target `%s': %s", r->target, strerror(-r->tfd));
	}
	if (r->tgt.is_blk)
		clone_state_remove_partials(r);

	return 0;
}

/* Whether an epoch this run closed or took over is still closed. */
static bool holds_ours(const struct cbt_clone_job *r)
{
	for (size_t i = 0; i < r->info.nr_epochs; i++)
		if (r->info.epochs[i].state == CBT_EPOCH_CLOSED &&
		    r->info.epochs[i].number >= r->first_ours)
			return true;
	return false;
}

int cbt_clone_begin(struct cbt_clone_job *r)
{
	/* Marked incomplete before the first write. */
	r->st.complete = false;
	r->st.epochs_held = holds_ours(r);
	r->begun = true;
	r->st.target_sum = clone_head_sum(r->target);
	return clone_state_save(r, false);
}


/* ---- Epochs -------------------------------------------------------------- */

static int refresh(struct cbt_clone_job *r)
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
static int commit_upto(struct cbt_clone_job *r, uint64_t upto)
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
static void abort_ours(struct cbt_clone_job *r, char *list, size_t len)
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
static int sample_cow(struct cbt_clone_job *r)
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

		if (r->info.snap.error == ENOSPC) {
			r->cow_filled = true;
			return cbt_err(-ENOSPC, "the COW store (%s) filled up during pass %u: the"
				       " source was written faster than the pass copied; give a larger"
				       " --cow", cbt_human_size(r->info.snap.cow_total, a), r->pass_n);
		}
		return cbt_err(-EIO, "the snapshot became invalid during pass %u (%s)", r->pass_n,
			       strerror((int)r->info.snap.error));
	}
	return 0;
}

/* Sleep until @until_ns (CLOCK_MONOTONIC) or a signal. */
static void sleep_until(volatile sig_atomic_t *stop, uint64_t until_ns)
{
	while (!*stop) {
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

/*
 * --throttle holds DEVICE at most this long past the last check (a tick of
 * the copy) that found the writers ahead: a copy that stops ticking
 * releases it soon.
 */
#define THROTTLE_HOLD_MAX_NS 1000000000ULL

/*
 * --throttle: the writers of DEVICE may add at most r->throttle bytes a
 * second to what the next pass copies (the blocks written since this
 * pass's snapshot, a block written twice counting once). When they are
 * ahead, hold DEVICE's I/O (clone/throttle.h) until the time catches up,
 * at most THROTTLE_HOLD_MAX_NS past this check; the copy goes on meanwhile.
 * Called with r->info just refreshed.
 */
static int throttle_writers(struct cbt_clone_job *r)
{
	uint64_t now = cbt_mono_ns(), dirty, due;

	if (!r->thr)
		return 0;
	dirty = open_bits(&r->info) * r->cfg.block_size;
	due = r->snap_t0 + (uint64_t)((double)dirty * 1e9 / (double)r->throttle);
	if (due <= now)
		return 0;
	if (due - now > THROTTLE_HOLD_MAX_NS)
		due = now + THROTTLE_HOLD_MAX_NS;
	return clone_throttle_hold(r->thr, due);
}

static int tick(void *data, uint64_t done, uint64_t total)
{
	struct cbt_clone_job *r = data;
	int ret = sample_cow(r);

	if (!ret)
		ret = throttle_writers(r);

	if (r->report.progress)
		r->report.progress(r, done, total);
	return ret;
}

static void end_progress(struct cbt_clone_job *r)
{
	if (r->report.progress_end)
		r->report.progress_end(r);
}

/*
 * One pass: snapshot, the blocks to copy, copy, flush, commit, state.
 * @final: freeze (if wanted) and mark the clone complete afterwards.
 */
static int do_pass(struct cbt_clone_job *r, bool final, bool freeze, enum clone_why why,
		   int stop_at, bool follow)
{
	const char *devs[1] = { r->dev_arg }, *cows[1] = { r->cow };
	/* COW checked for signatures once: later passes find the earlier passes' copies. */
	struct cbt_snap_opts so = { .cows = cows, .freeze = freeze,
				    .force = r->force || r->npasses };
	struct clone_copy_opts co = {
		.block_size = r->cfg.block_size, .dev_bytes = r->cfg.dev_bytes, .rate = r->rate,
		.stop = r->stop, .stop_level = stop_at, .tick = tick, .tick_data = r,
		.tick_ms = 250,
	};
	struct clone_copy_result res;
	struct cbt_extents ext, bm, tail, fsext;
	struct cbt_clone_pass p = { .final = final, .frozen = freeze, .why = why, .follow = follow,
				    .full = !r->st.full_done };
	uint64_t nr = clone_nr_blocks(&r->cfg);
	bool direct;
	int ret, ret2;

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
	if (*r->stop >= stop_at)
		return cbt_err(-EINTR, "interrupted");
	/* Killed from here until the commit, this pass leaves its epoch closed for the next run. */
	if (!r->st.epochs_held) {
		r->st.epochs_held = true;
		ret = clone_state_save(r, false);
		if (ret)
			return ret;
	}
	ret = cbt_snap_take(devs, 1, &so, &r->snap);
	if (ret)
		return cbt_err_prefix(ret, "taking the snapshot for pass %u", p.n);
	r->have_snap = true;
	r->snap_t0 = cbt_mono_ns();
	if (r->throttle && !r->thr) {
		ret = clone_throttle_start(&r->thr, r->info.name);
		if (ret)
			goto out;
	}
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
			if (ret && r->notes)
				fprintf(r->notes, "cbt clone: --used-only: %s; copying every block\n",
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
	/* After counting the changed set (what convergence is judged by): read small gaps through. */
	clone_extents_coalesce(&ext, r->cfg.block_size);

	r->pass_t0 = cbt_mono_ns();
	ret = clone_copy_extents(r->sfd, r->tfd, &ext, &co, &res);
	ret2 = clone_throttle_release(r->thr, &p.throttle_ns, &p.throttle_holds);
	if (!ret)
		ret = ret2;
	end_progress(r);
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
	r->st.epochs_held = false;
	r->st.target_sum = clone_head_sum(r->target);
	/* Into the room taken before the pass: recorded on a filesystem filled since, too. */
	ret = clone_state_save(r, true);
	if (ret)
		goto out;
	r->passes = realloc(r->passes, (r->npasses + 1) * sizeof(*r->passes));
	if (!r->passes) {
		ret = -ENOMEM;
		goto out;
	}
	r->passes[r->npasses++] = p;
	if (r->report.pass)
		r->report.pass(r, &p);
out:
	cbt_extents_free(&ext);
	cbt_extents_free(&bm);
	cbt_extents_free(&tail);
	cbt_extents_free(&fsext);
	return ret;
}

/* ---- The steps after the setup ------------------------------------------- */

int cbt_clone_passes(struct cbt_clone_job *r)
{
	enum clone_why why = CLONE_WHY_FIRST, final_why = CLONE_WHY_UNCHANGED;
	enum clone_step step;
	bool last_final = false;
	int ret;

	for (;;) {
		const struct cbt_clone_pass *last = r->npasses ? &r->passes[r->npasses - 1] : NULL;
		uint64_t last_blocks = last ? last->blocks : 0;
		uint64_t prev_blocks = r->npasses > 1 ? r->passes[r->npasses - 2].blocks : 0;
		/*
		 * The rate the final pass is predicted at: a pass of changed
		 * blocks, not the whole device's sequential copy.
		 */
		uint64_t last_ns = last && !last->full ? last->ns : 0;
		uint64_t pending = 0;

		if (r->npasses) {
			ret = refresh(r);
			if (ret)
				return ret;
			pending = open_bits(&r->info);
		}
		step = clone_plan_next(&r->cfg, (unsigned int)r->npasses, prev_blocks, last_blocks,
				       last_ns, last_final, pending, &why);
		if (step == CLONE_STEP_DONE)
			break;
		last_final = step == CLONE_STEP_FINAL;
		if (last_final)
			final_why = r->final_why = why;
		/* --used-only reads the filesystem's free-space map: take pass 1 frozen too. */
		ret = do_pass(r, last_final, (last_final || (r->used_only && !r->st.full_done)) &&
			      r->freeze, why, 1, false);
		if (ret)
			return ret;
	}
	if (!r->st.complete) {
		r->st.complete = true;
		ret = clone_state_save(r, false);
		if (ret)
			return ret;
	}
	/* The reason the report gives: the final pass's, or why none was needed. */
	r->final_why = why == CLONE_WHY_FINISHED ? final_why : why;
	return 0;
}

int cbt_clone_verify(struct cbt_clone_job *r)
{
	struct clone_copy_opts vo = {
		.block_size = r->cfg.block_size, .dev_bytes = r->cfg.dev_bytes,
		.stop = r->stop, .stop_level = 1,
	};
	struct cbt_extents used;
	char detail[1024] = "";
	const char *fwhy;
	int vfd, vret;
	bool direct;

	/* The last pass's snapshot: frozen when r->freeze. */
	cbt_extents_init(&used);
	if (r->st.used_only && cbt_fs_used_blocks(r->snap.snap_path, r->cfg.dev_bytes,
						  r->cfg.block_size, r->freeze && r->fs_mounted,
						  &used, &fwhy))
		r->st.used_only = false;
	vfd = clone_open(r->target, O_RDONLY, &direct);
	if (vfd < 0) {
		vret = cbt_err(vfd, "opening %s to verify it: %s", r->target, strerror(-vfd));
	} else {
		vret = clone_verify(r->sfd, vfd, r->st.used_only ? &used : NULL, &vo, r->digest,
				    &r->verified, &r->mismatch);
		close(vfd);
	}
	cbt_extents_free(&used);
	if (!vret)
		return 0;
	/* The target cannot be trusted: the next run copies everything. */
	if (cbt_err_detail())
		snprintf(detail, sizeof(detail), "%s", cbt_err_detail());
	r->st.complete = false;
	r->st.full_done = false;
	r->st.copied_upto = 0;
	clone_state_save(r, true);
	cbt_err_clear();
	if (detail[0])
		cbt_err(vret, "%s", detail);
	return vret;
}

int cbt_clone_follow(struct cbt_clone_job *r)
{
	uint64_t next = cbt_mono_ns() + (uint64_t)r->interval * 1000000000ULL;
	int ret;

	for (;;) {
		sleep_until(r->stop, next);
		if (*r->stop)
			return 0;
		next = cbt_mono_ns() + (uint64_t)r->interval * 1000000000ULL;
		/* A signal during a follow pass lets it finish; a second one stops it. */
		ret = do_pass(r, true, r->freeze, CLONE_WHY_FINISHED, 2, true);
		if (ret)
			return ret;
	}
}

int cbt_clone_release(struct cbt_clone_job *r)
{
	int ret;

	if (r->keep_snapshot || !r->have_snap)
		return 0;
	if (r->sfd >= 0)
		close(r->sfd);
	r->sfd = -1;
	ret = cbt_snap_drop(&r->snap);
	r->have_snap = false;
	return ret;
}

void cbt_clone_fail(struct cbt_clone_job *r, int ret)
{
	snprintf(r->why_failed, sizeof(r->why_failed), "%s",
		 cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
	/*
	 * A plan that failed closed no epoch and wrote nothing: the epochs
	 * closed now are someone else's (a backup's, with its snapshot
	 * attached), and the state file is an earlier run's.
	 */
	if (!r->begun)
		return;
	/* Tracking stays intact: this run's uncommitted epochs go back. */
	abort_ours(r, r->aborted, sizeof(r->aborted));
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
		/* One whose abort failed is still the next run's to take over. */
		r->st.epochs_held = holds_ours(r);
	}
	r->st.complete = false;
	r->st.target_sum = clone_head_sum(r->target);
	clone_state_save(r, true);
	cbt_err_clear();
}
