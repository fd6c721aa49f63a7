/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One `cbt clone' run (clone.c): its options and state, shared with
 * clone_run.c, which sets it up, saves the state file and prints the
 * reports.
 */
#ifndef CBT_CLONE_RUN_H
#define CBT_CLONE_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "clone/check.h"
#include "clone/plan.h"
#include "kernel/device.h"
#include "util/json.h"
#include "kernel/snapdev.h"
#include "util/util.h"

struct pass_report {
	unsigned int n;
	uint64_t epoch;
	uint64_t blocks, bytes;
	uint64_t ns;
	uint64_t cow_peak, cow_total;
	bool final, frozen;
	uint64_t freeze_ns, hold_ns;
	enum clone_why why;
	bool follow;
};

struct run {
	/* options */
	const char *dev_arg, *target, *cow, *state_dir;
	bool used_only, force, verify, follow, json, quiet, keep_snapshot;
	int freeze_opt;			/* -1: auto */
	unsigned int interval, max_passes;
	uint64_t converge, rate;

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
	int dev_lock;			/* cbt_device_lock() */

	struct clone_state st;
	char state_path[PATH_MAX];
	bool resumed;
	char start_why[512];
	uint64_t first_ours;		/* closed epochs from here on are this run's */

	struct pass_report *passes;
	size_t npasses;
	bool progress;
	struct cbt_json jl;		/* --follow --json: one line per pass */

	/* during a pass */
	uint64_t cow_peak, cow_total;
	uint64_t pass_t0, pass_blocks;
	unsigned int pass_n;
	uint64_t copied_bytes;
	uint64_t pass_cow_check;
	enum clone_why final_why;	/* why the last pass was the last */
};

/*
 * Resolve the source, take the device lock, check the target and the COW
 * device, load an earlier run's state and decide whether it resumes.
 */
int clone_setup(struct run *r);
/* The oldest epoch the kernel holds for @d (the open one if none is closed). */
uint64_t clone_oldest_held(const struct cbt_dev_info *d);

/* The state file at r->state_path: read into @s; written from r->st (atomically). */
int clone_load_state(struct run *r, struct clone_state *s);
int clone_save_state(struct run *r);

/* "12.3 MiB/s" into @buf. */
void clone_fmt_rate(uint64_t bytes, uint64_t ns, char buf[CBT_HUMAN_LEN + 4]);
/* A finished pass: a line on stdout, or a JSON line with --follow --json. */
void clone_report_pass(struct run *r, const struct pass_report *p);
/* The --json report at the end. */
void clone_print_json_summary(struct run *r, const char *result, const char *verify_digest,
			      uint64_t verified, int verify_ret, const char *err);

#endif /* CBT_CLONE_RUN_H */
