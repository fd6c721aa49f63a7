/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One `cbt backup' run as steps, each returning 0 or -errno with a detail
 * (cbt_err()) and setting job->step to what it was doing:
 *
 *   cbt_backup_plan()      read the device, check the chain (refuse
 *                          before touching anything), lock the device,
 *                          clean up after a run that died
 *   cbt_backup_snapshot()  take the snapshot (closes the open epoch)
 *   cbt_backup_blocks()    which blocks the image holds: the epoch's
 *                          changes, or what the filesystem uses
 *   cbt_backup_write()     read them from the snapshot and write the image
 *                          (engine.h)
 *   cbt_backup_commit()    commit the epoch (a chain's image consumes
 *                          it), or abort it for a lone image (-o)
 *   cbt_backup_finish()    always: on failure abort the epoch, so its
 *                          changes go into the next backup; drop the
 *                          snapshot, unlock, free
 *
 * Recovery from a run that died: a snapshot device still attached is
 * dropped and every closed epoch still in the kernel is aborted before
 * anything else, unless the run was into S3 and its record (runrec.h)
 * shows this run can write the same image from that snapshot: then the
 * snapshot is kept and read instead of taking one, and the upload resumes. Those epochs are older than the snapshot this run takes,
 * and no image that completed needs them (an image is entered in the
 * chain before its epoch is committed; if the tool died between the two,
 * aborting only makes the next incremental hold some blocks twice).
 */
#ifndef CBT_BACKUP_JOB_H
#define CBT_BACKUP_JOB_H

#include <stdbool.h>
#include <stdio.h>

#include "backup/engine.h"
#include "kernel/device.h"
#include "kernel/snapdev.h"
#include "store/safefile.h"
#include "util/extents.h"
#include "util/progress.h"

struct cbt_backup_job {
	/* what to do: set by the caller before cbt_backup_job_init() returns */
	const char *dev;		/* the DEVICE argument */
	const char *cow;		/* the snapshot's COW device */
	bool freeze, force_cow;
	bool whole_snapshot;		/* no preserve set: every chunk stays readable */
	bool idle;			/* --idle: SCHED_IDLE once the snapshot is taken */
	const char *out;		/* -o FILE, "-" for standard output, or NULL (req.dir) */
	struct cbt_backup_req req;	/* type, dir, compression, threads, auto_full, stop */
	FILE *notes;			/* what the run tells on the way (recovery, fallbacks); NULL: nothing */
	bool progress;			/* a progress line on a terminal */
	const char *name;		/* the command, in notes and messages: "cbt backup" if NULL */

	/* what happened */
	const char *step;		/* what the run was doing (for the failure message) */
	bool taken, committed;		/* a snapshot was taken; its epoch was committed */
	bool adopted;			/* the snapshot is a killed run's, continued (runrec.h) */
	bool idled;			/* --idle: the copy ran under SCHED_IDLE */
	struct cbt_snap snap;
	struct cbt_backup_result res;
	char lost[32];			/* --auto-full: why the chain's history was lost, or "" */
	char why_failed[1024];		/* the failure's detail, kept across the cleanup */

	/* the run's state */
	struct cbt_nl *nl;
	struct cbt_devsel sel;
	struct cbt_dev_info info;
	int dev_lock, src;
	bool fs_frozen;
	struct cbt_extents changed, used;
	struct cbt_tmpfile outf;
	struct cbt_progress prog;
};

void cbt_backup_job_init(struct cbt_backup_job *job);
int cbt_backup_plan(struct cbt_backup_job *job);
int cbt_backup_snapshot(struct cbt_backup_job *job);
int cbt_backup_blocks(struct cbt_backup_job *job);
/*
 * An incremental image of epoch @epoch holds its changes only: -EBUSY when
 * an older epoch is still closed (another reader's), whose changes are not
 * in it. cbt_backup_blocks() and libcbt's cbt_image_write() check it.
 */
int cbt_backup_check_readers(const struct cbt_dev_info *info, uint64_t epoch);
int cbt_backup_write(struct cbt_backup_job *job);
int cbt_backup_commit(struct cbt_backup_job *job);
/* Every step above in order, then cbt_backup_finish(): the run's result. */
int cbt_backup_steps(struct cbt_backup_job *job);
/* @ret: the run's result so far; returns it (a failed drop after success is reported, not returned). */
int cbt_backup_finish(struct cbt_backup_job *job, int ret);

#endif /* CBT_BACKUP_JOB_H */
