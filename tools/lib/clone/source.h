/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whether `cbt clone' may take SOURCE now (docs/clone.md): no snapshot
 * attached, and no closed epoch but those an earlier killed run onto the
 * same target left. Whose a closed epoch is comes from that run's state
 * file, so finding and reading the state file is here too. The target's
 * checks are in check.h; the run that uses both in run.h.
 */
#ifndef CBT_CLONE_SOURCE_H
#define CBT_CLONE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clone/plan.h"
#include "kernel/device.h"

/* The state file of a clone onto @target: "STATE_DIR/clone-ID.json". */
void clone_state_path(const char *state_dir, const char *target, char *buf, size_t len);
/* Read and parse the state file @path; 0 or -errno (with a detail on a parse error). */
int clone_state_load(const char *path, struct clone_state *s);

struct cbt_clone_job;
/*
 * Write @r's state file (r->st): with @room into the room taken in advance
 * (r->spare; after a pass's commit, which must be recorded), else in a
 * new temporary file, then taking that room unless it is taken. 0 or
 * -errno with a detail.
 */
int clone_state_save(struct cbt_clone_job *r, bool room);
/* Remove the temporary state files of runs killed before they could. */
void clone_state_remove_partials(const struct cbt_clone_job *r);

/* -EBUSY, with the way out, when @info has a snapshot attached. */
int clone_check_snapshot(const struct cbt_dev_info *info);
/*
 * -EBUSY when @info has a closed epoch that is not this clone's. @old: the
 * state of an earlier run on this target when it is this device's, or
 * NULL. @first_ours gets the first closed epoch that is ours.
 */
int clone_check_epochs(const struct cbt_dev_info *info, const struct clone_state *old,
		       uint64_t *first_ours);

#endif /* CBT_CLONE_SOURCE_H */
