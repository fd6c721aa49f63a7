/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One `cbt clone' run as steps (docs/clone.md), each returning 0 or -errno
 * with a detail (cbt_err()); the caller prints between them:
 *
 *   cbt_clone_plan()    resolve the source, lock it, check the target and
 *                       the COW device, load an earlier run's state and
 *                       decide whether it resumes; open the target
 *   cbt_clone_begin()   mark the target incomplete (the state file) before
 *                       the first write
 *   cbt_clone_passes()  the passes until the clone is complete
 *   cbt_clone_verify()  compare the target with the last snapshot
 *   cbt_clone_follow()  --follow: a pass every interval until *stop
 *   cbt_clone_release() drop the last snapshot, unless it is kept
 *   cbt_clone_fail()    after a failed pass: abort this run's epochs, drop
 *                       the snapshot, leave the state file incomplete
 *   cbt_clone_job_free() always
 *
 * What a run tells on the way goes through @report (a pass done, the
 * progress of a copy) and @notes (fallbacks); the library prints nothing
 * else.
 */
#ifndef CBT_CLONE_RUN_H
#define CBT_CLONE_RUN_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "clone/check.h"
#include "clone/plan.h"
#include "clone/throttle.h"
#include "kernel/device.h"
#include "kernel/snapdev.h"
#include "store/safefile.h"
#include "util/util.h"

struct cbt_clone_pass {
	unsigned int n;
	uint64_t epoch;
	uint64_t blocks, bytes;
	uint64_t ns;
	uint64_t cow_peak, cow_total;
	bool final, frozen;
	bool full;		/* copied (the rest of) the first, whole-device pass */
	uint64_t freeze_ns, hold_ns;
	uint64_t throttle_ns, throttle_holds;	/* --throttle: DEVICE held, how long, how often */
	enum clone_why why;
	bool follow;
};

struct cbt_clone_job;

struct cbt_clone_report {
	/* A pass is done (and in job->passes). */
	void (*pass)(struct cbt_clone_job *job, const struct cbt_clone_pass *p);
	/* During a pass's copy (job->pass_n, pass_t0, pass_blocks say which); may be NULL. */
	void (*progress)(struct cbt_clone_job *job, uint64_t bytes_done, uint64_t bytes_total);
	/* The copy of a pass ended; may be NULL. */
	void (*progress_end)(struct cbt_clone_job *job);
	void *data;
};

struct cbt_clone_job {
	/* options: set by the caller after cbt_clone_job_init() */
	const char *dev_arg, *target, *cow, *state_dir;
	bool used_only, force, verify, keep_snapshot;
	int freeze_opt;			/* -1: auto */
	unsigned int interval, max_passes;
	uint32_t final_pass_ms;		/* the final pass's time budget; 0: none */
	uint64_t converge, rate;
	uint64_t throttle;		/* --throttle: bytes a second writers may add; 0: off */
	volatile sig_atomic_t *stop;	/* raised by each SIGINT or SIGTERM */
	struct cbt_clone_report report;
	FILE *notes;			/* fallbacks on the way; NULL: nothing */

	struct cbt_nl *nl;
	struct cbt_devsel sel;
	struct cbt_dev_info info;
	struct clone_cfg cfg;
	bool freeze, fs_mounted;

	struct clone_target tgt;
	int tfd;
	bool tdirect;

	struct cbt_snap snap;
	bool have_snap;
	int sfd;
	/*
	 * cbt_device_lock() of DEVICE, closed by cbt_clone_job_free(). A
	 * caller that holds it already (cbt migrate, from before it writes
	 * anything) hands it over here with dev_lock_dev, DEVICE's number:
	 * cbt_clone_plan() takes it as its own. Taking it again would fail,
	 * a second flock on another open of the file conflicting with the
	 * first even in the same process.
	 */
	int dev_lock;
	dev_t dev_lock_dev;

	struct clone_state st;
	char state_path[PATH_MAX];
	/*
	 * The next state file's temporary file, its room taken before the
	 * pass (clone_state_save(), source.c): a filesystem filled during a
	 * pass cannot keep the pass from being recorded.
	 */
	struct cbt_tmpfile spare;
	bool have_spare;
	bool had_state;			/* a state file from an earlier run was there */
	bool resumed;
	bool cow_filled;		/* the pass ended because the COW store filled up */
	char start_why[512];
	uint64_t first_ours;		/* closed epochs from here on are this run's */
	bool begun;			/* cbt_clone_begin() ran: there is a state to keep */

	struct cbt_clone_pass *passes;
	size_t npasses;
	uint64_t copied_bytes;
	enum clone_why final_why;	/* why the last pass was the last */

	/* cbt_clone_verify() */
	char digest[33];
	uint64_t verified, mismatch;

	/* cbt_clone_fail() */
	char why_failed[1200];		/* the failure's detail, kept across the cleanup */
	char aborted[256];		/* the epochs it aborted, "3, 4" or "" */

	/* during a pass */
	uint64_t cow_peak, cow_total;
	uint64_t pass_t0, pass_blocks;
	unsigned int pass_n;
	uint64_t snap_t0;		/* the pass's snapshot was taken */
	struct clone_throttle *thr;	/* --throttle's hold, once started */
};

void cbt_clone_job_init(struct cbt_clone_job *job);
int cbt_clone_plan(struct cbt_clone_job *job);
int cbt_clone_begin(struct cbt_clone_job *job);
int cbt_clone_passes(struct cbt_clone_job *job);
/*
 * 0 when the target matches (job->digest, job->verified); else the error
 * (the state file then says the next run copies everything) with its
 * detail still recorded for cbt_perror().
 */
int cbt_clone_verify(struct cbt_clone_job *job);
int cbt_clone_follow(struct cbt_clone_job *job);
/* Drop the last snapshot unless job->keep_snapshot; 0 or the drop's error. */
int cbt_clone_release(struct cbt_clone_job *job);
/* @ret: the failure; fills job->why_failed and job->aborted. */
void cbt_clone_fail(struct cbt_clone_job *job, int ret);
void cbt_clone_job_free(struct cbt_clone_job *job);

/*
 * Whether @info can be cloned onto @target now, as cbt_clone_plan() checks
 * it: no snapshot attached, no closed epoch but those an earlier killed
 * run onto @target left (its state file in @state_dir). 0, or -EBUSY with
 * cbt_clone_plan()'s message. For a caller that must refuse before it
 * writes anything (cbt migrate's plan); cbt_clone_plan() checks again.
 */
int cbt_clone_check_source(const struct cbt_dev_info *info, const char *target,
			   const char *state_dir);

/* The oldest epoch the kernel holds for @d (the open one if none is closed). */
uint64_t clone_oldest_held(const struct cbt_dev_info *d);
/* Wall time of the passes so far. */
uint64_t cbt_clone_total_ns(const struct cbt_clone_job *job);

#endif /* CBT_CLONE_RUN_H */
