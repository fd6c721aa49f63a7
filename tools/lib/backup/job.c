// SPDX-License-Identifier: GPL-2.0
/* One `cbt backup' run as steps (backup/job.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <libdevmapper.h>

#include "backup/job.h"
#include "backup/runrec.h"
#include "fsmap/fsmap.h"
#include "image/crypt.h"
#include "image/s3chain.h"
#include "util/util.h"

void cbt_backup_job_init(struct cbt_backup_job *job)
{
	job->step = "starting";
	if (!job->name)
		job->name = "cbt backup";
	job->dev_lock = -1;
	job->src = -1;
	job->outf.fd = -1;
	job->outf.dfd = -1;
	job->req.out_fd = -1;
	cbt_extents_init(&job->changed);
	cbt_extents_init(&job->used);
}

/*
 * The chain's history is lost (-ESTALE from the chain checks, with the
 * detail recorded): name the reason, the device's identity reason when its
 * identity changed. Without --auto-full, the backup fails (exit status 3);
 * with it, the image becomes a full one in the same chain. Returns 0 or -ESTALE.
 */
static int history_lost(struct cbt_backup_job *job)
{
	const char *why = cbt_failure_reason();

	/* the reason the kernel gave the new identity (info is from before a change mid-start) */
	if ((!why || !strcmp(why, "identity-changed")) &&
	    job->info.identity_reason != CBT_IDENTITY_CONTINUED)
		why = cbt_identity_reason_name(job->info.identity_reason);
	if (!why)
		why = "identity-changed";
	cbt_fail_reason(why);
	if (!job->req.auto_full)
		return -ESTALE;
	snprintf(job->lost, sizeof(job->lost), "%s", why);
	if (job->notes)
		fprintf(job->notes, "cbt backup: %s: %s; --auto-full: writing a full image into the"
			" chain\n", job->dev, cbt_err_detail() ? cbt_err_detail() : why);
	cbt_err_clear();
	cbt_fail_reason("");
	job->req.type = CBT_IMG_FULL;
	return 0;
}

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

/* An incremental's snapshot keeps only the epoch's blocks, and frees each once read. */
static bool use_preserve(const struct cbt_backup_job *job)
{
	return job->req.type == CBT_IMG_INCREMENTAL && !job->req.auto_full && !job->whole_snapshot;
}

/*
 * The record's lines for snapshot @s of epoch @epoch, and for this run's
 * options (runrec.h). -ENAMETOOLONG when one does not fit: then nothing
 * is recorded and nothing continued, rather than two runs matching on
 * what is left of their lines.
 */
static int run_lines(const struct cbt_backup_job *job, const struct cbt_snap *s, uint64_t epoch,
		     char *snap, char *opts)
{
	const struct cbt_backup_req *req = &job->req;
	char u[CBT_UUID_STR_LEN], k[CBT_KEY_ID_STR_LEN] = "-";

	if (cbt_key_isset())
		cbt_key_id_str(cbt_key_id(), k);
	if (cbt_runrec_line(snap, CBT_RUNREC_LINE, CBT_RUNREC_SNAP_FMT, cbt_uuid_str(job->info.uuid, u),
			    epoch, s->snap_name, major(s->cow), minor(s->cow)))
		return -ENAMETOOLONG;
	return cbt_runrec_line(opts, CBT_RUNREC_LINE, "to %s type %u compression %u:%u full-mode %d"
			       " preserve %d key %s version %u", req->remote ? req->remote->url : "-",
			       req->type, req->compression, req->level, (int)req->full_mode,
			       use_preserve(job), k, req->format_version);
}

/* Keep (@rec) or forget (NULL) the record of this run in the device's lock file. */
static void run_record(struct cbt_backup_job *job, const char *rec)
{
	if (job->dev_lock < 0 || ftruncate(job->dev_lock, 0))
		return;
	if (rec && pwrite(job->dev_lock, rec, strlen(rec), 0) != (ssize_t)strlen(rec))
		(void)!ftruncate(job->dev_lock, 0);
}

/*
 * Whether the snapshot @s left on the device is the one a killed run into
 * the same S3 chain was reading, and can give its bytes again: then this
 * run continues from it (job->adopted) and the upload resumes
 * (docs/storage.md, "A killed cbt backup"). 1: adopted, 0: not.
 */
static int adopt(struct cbt_backup_job *job, const struct cbt_snap *s)
{
	struct cbt_dev_info *info = &job->info;
	char rec[4096], snap[CBT_RUNREC_LINE], opts[CBT_RUNREC_LINE];
	const char *why;
	struct stat st;
	bool frozen = false;
	ssize_t n;

	if (!job->req.remote || job->dev_lock < 0)
		return 0;
	n = pread(job->dev_lock, rec, sizeof(rec) - 1, 0);
	if (n <= 0)
		return 0;
	rec[n] = '\0';
	if (run_lines(job, s, info->snap.epoch, snap, opts))
		why = "this run's options do not fit in a record";
	else
		why = cbt_runrec_match(rec, snap, opts, &frozen);
	if (!why && (stat(job->cow, &st) || st.st_rdev != s->cow))
		why = "this run's COW device is not the snapshot's";
	if (!why)
		why = cbt_runrec_snap_usable(info, use_preserve(job));
	/* The image may be in the chain already (killed before committing the epoch). */
	if (!why && cbt_backup_chain_covers(job->req.dir, info->uuid, info->snap.epoch))
		why = "the chain already holds an image of its epoch";
	if (why) {
		if (*why && job->notes)
			fprintf(job->notes, "%s: %s: not continuing from snapshot %s of the interrupted"
				" run: %s\n", job->name, job->dev, s->snap_name, why);
		return 0;
	}
	job->snap = *s;
	snprintf(job->snap.cbt_name, sizeof(job->snap.cbt_name), "%s", info->name);
	job->snap.epoch = info->snap.epoch;
	memcpy(job->snap.uuid, info->uuid, 16);
	job->snap.block_size = info->block_size;
	job->fs_frozen = frozen;
	job->adopted = true;
	job->taken = true;
	if (job->notes)
		fprintf(job->notes, "%s: %s: continuing the interrupted run from its snapshot %s"
			" (epoch %" PRIu64 ")\n", job->name, job->dev, s->snap_name, job->snap.epoch);
	return 1;
}

/*
 * -EBUSY when the snapshot @s on the device is the one `cbt snapshot take'
 * recorded in the lock file (runrec.h): the user's, which they may be
 * reading, then commit or abort its epoch; not a dead run's to drop.
 */
static int user_snapshot(struct cbt_backup_job *job, const struct cbt_snap *s)
{
	const struct cbt_dev_info *info = &job->info;
	char rec[4096], line[CBT_RUNREC_LINE], u[CBT_UUID_STR_LEN];
	uint64_t e = info->snap.epoch;
	ssize_t n;

	if (job->dev_lock < 0)
		return 0;
	n = pread(job->dev_lock, rec, sizeof(rec) - 1, 0);
	if (n <= 0)
		return 0;
	rec[n] = '\0';
	if (cbt_runrec_line(line, sizeof(line), CBT_RUNREC_SNAP_FMT, cbt_uuid_str(info->uuid, u), e,
			    s->snap_name, major(s->cow), minor(s->cow)) ||
	    !cbt_takerec_match(rec, line))
		return 0;
	return cbt_err(-EBUSY, "%s's snapshot %s (epoch %" PRIu64 ") was taken by `cbt snapshot"
		       " take', not left by an interrupted backup: it is left as it is; when done"
		       " with it, `cbt snapshot drop %s', then `cbt epoch commit %s %" PRIu64 "' or"
		       " `cbt epoch abort %s %" PRIu64 "', and run the backup again", info->name,
		       s->snap_name, e, info->name, info->name, e, info->name, e);
}

/*
 * Drop a snapshot and abort closed epochs left by a run that died, unless
 * this run continues from them (adopt()), or the snapshot is the user's
 * (user_snapshot()): then nothing is touched.
 */
static int recover(struct cbt_backup_job *job)
{
	struct cbt_dev_info *info = &job->info;
	struct cbt_snap s;
	int ret;

	if (info->snap.present && !cbt_snap_find(info->major, info->minor, &s)) {
		job->step = "checking the snapshot on the device";
		ret = user_snapshot(job, &s);
		if (ret)
			return ret;
		job->step = "cleaning up after an interrupted backup";
		if (adopt(job, &s))
			return 0;
		if (job->notes)
			fprintf(job->notes, "%s: %s: dropping snapshot %s left by an"
				" interrupted run\n", job->name, job->dev, s.snap_name);
		ret = cbt_snap_drop(&s);
		if (ret)
			return cbt_err_prefix(ret, "dropping the leftover snapshot %s", s.snap_name);
	}
	run_record(job, NULL);
	for (size_t i = 0; i < info->nr_epochs; i++) {
		if (info->epochs[i].state != CBT_EPOCH_CLOSED)
			continue;
		if (job->notes)
			fprintf(job->notes, "%s: %s: aborting epoch %" PRIu64 ", closed by an"
				" interrupted run (its changes go into this run's)\n", job->name, job->dev,
				info->epochs[i].number);
		ret = cbt_epoch_abort(job->nl, &job->sel, info->epochs[i].number);
		if (ret)
			return ret;
	}
	return 0;
}

int cbt_backup_plan(struct cbt_backup_job *job)
{
	int ret;

	job->step = "reading the device's state";
	ret = cbt_dev_lookup(job->dev, &job->nl, &job->sel, &job->info);
	if (ret)
		return ret;
	/* Refuse before touching anything: no full image, or history lost. */
	job->step = "checking the chain";
	ret = cbt_backup_precheck(job->req.dir, job->req.type, job->info.uuid,
				  cbt_dev_bytes(&job->info), job->info.block_size,
				  job->info.epoch_current, job->info.last_committed);
	if (ret == -ESTALE)
		ret = history_lost(job);
	if (ret)
		return ret;
	job->step = "locking the device";
	job->dev_lock = cbt_device_lock(&job->info);
	if (job->dev_lock < 0)
		return job->dev_lock;
	/* Now anything left on the device is from a run that died. */
	job->step = "cleaning up after an interrupted backup";
	return recover(job);
}

/* What the image has read goes from the snapshot: its COW space is freed. */
static int release_read(void *ctx, uint64_t off, uint64_t len)
{
	struct cbt_backup_job *job = ctx;
	int ret = cbt_snap_release(job->nl, &job->sel, off, len);

	return ret ? cbt_err_prefix(ret, "releasing what was read from the snapshot") : 0;
}

int cbt_backup_snapshot(struct cbt_backup_job *job)
{
	const char *devs[1] = { job->dev }, *cows[1] = { job->cow };
	struct cbt_snap_opts so = { .cows = cows, .freeze = job->freeze, .force = job->force_cow };
	struct cbt_backup_req *req = &job->req;
	/* The open epoch now: the one the take closes, unless a close comes between. */
	uint64_t preserve[1] = { job->info.epoch_current };
	char rec[2 * CBT_RUNREC_LINE], snap[CBT_RUNREC_LINE], opts[CBT_RUNREC_LINE];
	int ret;

	/*
	 * An incremental reads the closed epoch's blocks only: nothing else
	 * needs copying. A differential also reads blocks of earlier images,
	 * and --auto-full may turn any image into a full one: those keep
	 * every chunk.
	 */
	if (use_preserve(job))
		so.preserve_from = preserve;
	if (job->adopted)
		goto taken;
	job->step = "taking the snapshot";
	/* Mounted before and after: mounted, so frozen, at the instant. */
	job->fs_frozen = job->freeze && cbt_dev_mounted(job->info.major, job->info.minor);
	ret = cbt_snap_take(devs, 1, &so, &job->snap);
	if (ret)
		return ret;
	job->taken = true;
	job->fs_frozen = job->fs_frozen && cbt_dev_mounted(job->info.major, job->info.minor);
	/*
	 * Without udev, libdevmapper makes the /dev/mapper node when it
	 * flushes its node operations: now, as the snapshot is read next.
	 */
	dm_lib_release();
	if (memcmp(job->snap.uuid, job->info.uuid, 16) && req->type != CBT_IMG_FULL) {
		cbt_err(-ESTALE, "the tracking identity changed while the backup started:"
			" a full image is needed (--full, or --auto-full)");
		cbt_fail_reason("identity-changed");
		ret = history_lost(job);
		if (ret)
			return ret;
	}
	/* Into S3: what the next run needs to continue from this snapshot if this one dies. */
	if (req->remote) {
		if (!run_lines(job, &job->snap, job->snap.epoch, snap, opts) &&
		    !cbt_runrec_format(rec, sizeof(rec), snap, opts, job->fs_frozen))
			run_record(job, rec);
	}
taken:
	/*
	 * --idle: the freeze and the writes' hold are behind us (a starved
	 * task never holds them); the copy and its compression threads (they
	 * start later and inherit it) take the CPU only when nothing else
	 * wants it. Not lowered, the backup goes on as it started.
	 */
	if (job->idle) {
		job->idled = !cbt_sched_idle();
		if (!job->idled && job->notes)
			fprintf(job->notes, "%s: %s: --idle: %s; the copy runs at the priority it"
				" started with\n", job->name, job->dev, cbt_err_detail());
		cbt_err_clear();
	}
	memcpy(req->dev_uuid, job->snap.uuid, 16);
	if (so.preserve_from) {
		req->release = release_read;
		req->release_ctx = job;
	}
	req->dev_bytes = job->snap.sectors * 512;
	req->block_size = job->snap.block_size;
	req->epoch = job->snap.epoch;
	return 0;
}

int cbt_backup_check_readers(const struct cbt_dev_info *info, uint64_t epoch)
{
	for (size_t i = 0; i < info->nr_epochs; i++) {
		if (info->epochs[i].state == CBT_EPOCH_CLOSED && info->epochs[i].number < epoch)
			return cbt_err(-EBUSY, "epoch %" PRIu64 " is held by another reader"
				       " (a clone or a backup in progress): its changes are"
				       " not in epoch %" PRIu64 "; run this backup again when"
				       " it is committed or aborted (if committed, the chain"
				       " will need a full backup)", info->epochs[i].number, epoch);
	}
	return 0;
}

int cbt_backup_blocks(struct cbt_backup_job *job)
{
	struct cbt_backup_req *req = &job->req;
	struct cbt_dev_info *info = &job->info;
	uint64_t epoch = job->snap.epoch;
	const char *why = NULL;
	int ret;

	job->step = "reading the changed blocks";
	if (req->type != CBT_IMG_FULL) {
		cbt_dev_info_free(info);
		ret = cbt_get_device(job->nl, &job->sel, info);
		if (ret)
			return ret;
		/*
		 * The image holds epoch N's changes only; those of earlier epochs
		 * since the chain's last image are in N if they were aborted
		 * (folded forward), lost to the chain if committed (checked with
		 * last_committed, again under the chain's lock), and not in N yet
		 * if still closed by another reader, who may commit them later.
		 */
		req->last_committed = info->last_committed;
		ret = cbt_backup_check_readers(info, epoch);
		if (ret)
			return ret;
		ret = cbt_read_bitmap(job->nl, &job->sel, info, epoch, epoch, bitmap_cb,
				      &job->changed);
		if (ret)
			return ret;
		req->changed = &job->changed;
	} else if (req->full_mode == CBT_FULL_FS) {
		job->step = "reading which blocks the filesystem uses";
		ret = cbt_fs_used_blocks(job->snap.snap_path, req->dev_bytes, req->block_size,
					 job->fs_frozen, &job->used, &why);
		if (ret && ret != -EOPNOTSUPP)
			return ret;
		if (ret) {
			req->full_mode = CBT_FULL_NONZERO;
			if (job->notes)
				fprintf(job->notes, "cbt backup: %s: %s: the image leaves out all-zero"
					" blocks only\n", job->dev, why);
		} else {
			req->fs_used = &job->used;
		}
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

int cbt_backup_write(struct cbt_backup_job *job)
{
	struct cbt_backup_req *req = &job->req;
	const char *path = job->snap.snap_path;
	int ret;

#ifdef CBT_TEST_HOOKS
	job->step = "running CBT_BACKUP_HOOK";
	ret = run_test_hook(&job->snap);
	if (ret)
		return ret;
#endif
	job->step = "reading the snapshot";
	job->src = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (job->src < 0 && errno == EINVAL)
		job->src = open(path, O_RDONLY | O_CLOEXEC);
	if (job->src < 0)
		return cbt_err(-errno, "%s: %s", path, strerror(errno));
	if (job->out && strcmp(job->out, "-")) {
		ret = cbt_tmpfile_create(&job->outf, job->out);
		if (ret)
			return ret;
		req->out_fd = job->outf.fd;
	} else if (job->out) {
		req->out_fd = STDOUT_FILENO;
	}
	job->step = "writing the image";
	cbt_progress_init(&job->prog, "backup", 0, job->progress);
	req->progress = &job->prog;
	ret = cbt_backup_run(req, job->src, &job->res);
	cbt_progress_end(&job->prog);
	if (!ret && job->outf.fd >= 0) {
		ret = cbt_tmpfile_commit(&job->outf);
		req->out_fd = -1;
	}
	if (ret)
		return ret;
	/* --auto-full switched under the chain's lock (a commit by another reader meanwhile) */
	if (req->auto_full && job->res.h.type == CBT_IMG_FULL && !job->lost[0])
		snprintf(job->lost, sizeof(job->lost), "%s",
			 cbt_failure_reason() ? cbt_failure_reason() : "identity-changed");
	return 0;
}

int cbt_backup_commit(struct cbt_backup_job *job)
{
	int ret;

	/*
	 * A chain's image consumes the epoch. A lone image (-o) does not: no
	 * incremental can follow it, and the chain in a directory still needs
	 * these changes, so they are folded back (aborted) instead.
	 */
	job->step = "committing the epoch";
	ret = job->req.dir ? cbt_epoch_commit(job->nl, &job->sel, job->snap.epoch) :
			     cbt_epoch_abort(job->nl, &job->sel, job->snap.epoch);
	if (!ret)
		job->committed = true;
	return ret;
}

int cbt_backup_finish(struct cbt_backup_job *job, int ret)
{
	/* The cleanup below talks to the kernel, which replaces the detail: keep it. */
	if (ret)
		snprintf(job->why_failed, sizeof(job->why_failed), "%s",
			 cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
	if (job->src >= 0)
		close(job->src);
	job->src = -1;
	if (job->outf.fd >= 0)
		cbt_tmpfile_abort(&job->outf);
	/* These two say so whatever --quiet: the next run has work left. */
	if (job->taken && !job->committed) {
		int r = cbt_epoch_abort(job->nl, &job->sel, job->snap.epoch);

		if (r)
			fprintf(stderr, "%s: aborting epoch %" PRIu64 " failed too (the next"
				" backup aborts it)\n", job->name, job->snap.epoch);
	}
	if (job->taken) {
		int r = cbt_snap_drop(&job->snap);

		if (!r)
			run_record(job, NULL);

		if (r && !ret) {
			char what[128];

			snprintf(what, sizeof(what), "%s: dropping the snapshot (the run itself"
				 " succeeded)", job->name);
			cbt_perror(what, r);
		}
	}
	if (job->dev_lock >= 0)
		close(job->dev_lock);
	job->dev_lock = -1;
	cbt_dev_info_free(&job->info);
	cbt_nl_close(job->nl);
	job->nl = NULL;
	cbt_extents_free(&job->changed);
	cbt_extents_free(&job->used);
	return ret;
}

int cbt_backup_steps(struct cbt_backup_job *job)
{
	int ret = cbt_backup_plan(job);

	if (!ret)
		ret = cbt_backup_snapshot(job);
	if (!ret)
		ret = cbt_backup_blocks(job);
	if (!ret)
		ret = cbt_backup_write(job);
	if (!ret)
		ret = cbt_backup_commit(job);
	return cbt_backup_finish(job, ret);
}
