/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Carrying out a `cbt migrate' plan (plan.h), in steps the command calls
 * in order and prints between:
 *
 *   mig_write_table()  the target's partition table, identifiers kept, the
 *                      GPT backup at the new end; the MBR boot code and (on
 *                      an MBR disk) the gap before the first partition
 *   mig_copy_part()    one partition by its method, then its final check
 *   mig_resize_part()  the partition that changed size: its filesystem
 *                      follows (resize2fs, xfs_growfs, pvresize), on the
 *                      target only
 *
 * A partition that shrinks is copied onto a device-mapper device of its
 * old size (the new partition, then zeros) so that the filesystem on it
 * can be shrunk by resize2fs before it is cut to the partition.
 */
#ifndef CBT_MIGRATE_RUN_H
#define CBT_MIGRATE_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "migrate/plan.h"

struct mig_result {
	uint64_t bytes;			/* copied */
	uint64_t ns;			/* the copy and its check */
	uint64_t frozen_ns;		/* MIG_FROZEN, MIG_TRACKED: the longest freeze */
	unsigned int rounds;		/* MIG_RECHECK: reads until source and target agreed */
	unsigned int passes;		/* MIG_TRACKED: the clone's passes */
	bool resumed;			/* MIG_TRACKED: the clone resumed an earlier run */
	char digest[33];		/* XXH3-128 of what was compared, "" if nothing */
	char resized[128];		/* what mig_resize_part() did, "" if nothing */
};

struct mig_job {
	struct mig_plan plan;
	const char *cow, *state_dir;
	volatile sig_atomic_t *stop;	/* raised by SIGINT or SIGTERM */
	FILE *notes;			/* what the tools run say; NULL: nothing */
	/* During a copy; may be NULL. */
	void (*progress)(struct mig_job *j, size_t i, uint64_t done, uint64_t total);
	void *data;
};

int mig_write_table(struct mig_job *j);
/* Copies partition @i (its method), then checks the copy; r->ns its time. */
int mig_copy_part(struct mig_job *j, size_t i, struct mig_result *r);
int mig_resize_part(struct mig_job *j, size_t i, struct mig_result *r);

/* For lvm.c: */
struct cbt_extents;
/*
 * Copy (@verify: compare) @ext, in blocks of @bs bytes, of partition @i's
 * @sfd to @tfd. A copy adds to *@bytes and flushes @tfd; a comparison
 * fills @digest, or says -EBADMSG with *@mismatch.
 */
int mig_copy_ext(struct mig_job *j, size_t i, int sfd, int tfd, const struct cbt_extents *ext,
		 uint32_t bs, bool verify, char digest[33], uint64_t *bytes, uint64_t *mismatch);
/* The error (-EIO: exit status 1) of a copy of @src on @tgt that differs from it at byte @off. */
int mig_differs(const char *src, const char *tgt, uint64_t off);
/*
 * The clone engine, live: cbt device @cbt onto @target (--used-only;
 * --verify unless @shrink).
 */
int mig_clone_live(struct mig_job *j, const char *cbt, const char *target, bool shrink,
		   struct mig_result *r);

/*
 * Test hook (tests/vm/cases/migrate_lvm_change.sh): in the test build only
 * (make -C tools cbt-test), the shell command CBT_MIGRATE_HOOK, run with
 * CBT_MIGRATE_STEP=@step and CBT_PID at fixed points of a run: "plan" (the
 * plan made, nothing written, the device locks not taken yet), "lv NAME"
 * (an LV of a PV copied and compared), "clone TARGET" (a live clone begun:
 * its state file written, nothing copied yet), "clone TARGET pass 1
 * DONE/TOTAL" (once, inside the first pass's copy: DONE of its TOTAL bytes
 * copied, after the first I/O completed), "metadata" (every LV of a PV
 * copied, its metadata next), "metadata wait" (once, when LVM's lock of
 * the VG was found held by a writer; the wait follows). A failing hook
 * fails the copy, except inside a pass (printed only). The installed tool
 * runs nothing from its environment.
 */
#ifdef CBT_TEST_HOOKS
int mig_test_hook(const char *step);
#else
static inline int mig_test_hook(const char *step)
{
	(void)step;
	return 0;
}
#endif

#endif /* CBT_MIGRATE_RUN_H */
