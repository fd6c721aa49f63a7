// SPDX-License-Identifier: GPL-2.0
/*
 * The source's checks of `cbt clone' (source.h), shared by cbt_clone_plan()
 * and callers that must refuse before they write anything (cbt migrate's
 * plan), and the state file they read to tell an earlier run's epochs
 * from someone else's. Writing the state file is the run's (run.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "clone/run.h"
#include "clone/source.h"
#include "util/util.h"

/* ---- The state file ------------------------------------------------------ */

void clone_state_path(const char *state_dir, const char *target, char *buf, size_t len)
{
	char id[200];

	clone_target_id(target, id, sizeof(id));
	snprintf(buf, len, "%s/clone-%s.json", state_dir, id);
}

int clone_state_load(const char *path, struct clone_state *s)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return clone_state_parse(buf, s);
}

/* ---- The source ---------------------------------------------------------- */

int clone_check_snapshot(const struct cbt_dev_info *info)
{
	if (info->snap.present)
		return cbt_err(-EBUSY, "%s already has a snapshot attached (`cbt snapshot list');"
			       " drop it first (`cbt snapshot drop %s')", info->name, info->name);
	return 0;
}

/*
 * Closed epochs that are not this clone's belong to someone else. A
 * killed run on this target (its state @old, when it is this device's,
 * says epochs_held) may have left one closed, from its resume_epoch on:
 * that one is ours to commit or abort. One closed after a run that
 * stopped cleanly is not. @first_ours: the first closed epoch that is ours.
 */
int clone_check_epochs(const struct cbt_dev_info *info, const struct clone_state *old,
		       uint64_t *first_ours)
{
	*first_ours = info->epoch_current;
	if (old && old->epochs_held && old->resume_epoch < *first_ours)
		*first_ours = old->resume_epoch;
	for (size_t i = 0; i < info->nr_epochs; i++) {
		const struct cbt_epoch_info *e = &info->epochs[i];

		if (e->state == CBT_EPOCH_CLOSED && e->number < *first_ours)
			return cbt_err(-EBUSY, "%s has epoch %" PRIu64 " closed, waiting for commit or"
				       " abort (a backup in progress?); finish it first (`cbt epoch"
				       " commit|abort %s %" PRIu64 "')", info->name, e->number,
				       info->name, e->number);
	}
	return 0;
}

int cbt_clone_check_source(const struct cbt_dev_info *info, const char *target,
			   const char *state_dir)
{
	struct clone_state old;
	char path[PATH_MAX];
	uint64_t first_ours;
	bool ours;
	int ret = clone_check_snapshot(info);

	if (ret)
		return ret;
	clone_state_path(state_dir, target, path, sizeof(path));
	ours = !clone_state_load(path, &old) && !memcmp(old.uuid, info->uuid, 16);
	cbt_err_clear();
	return clone_check_epochs(info, ours ? &old : NULL, &first_ours);
}
