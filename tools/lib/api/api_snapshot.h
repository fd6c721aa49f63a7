/* SPDX-License-Identifier: GPL-2.0 */
/* The snapshot handle, for the image part of the API. */
#ifndef CBT_API_SNAPSHOT_H
#define CBT_API_SNAPSHOT_H

#include <stdbool.h>

#include <linux/dm-cbt.h>

#include "kernel/snapdev.h"

struct cbt_snapshot {
	size_t n;
	/*
	 * Each member device's /run/cbt lock (cbt_device_lock()), held from the
	 * take (or find) to the drop or release, so that a `cbt backup' or
	 * `cbt clone' of the device does not take this live snapshot and its
	 * closed epoch for a dead process's leftovers; -1: not held.
	 */
	int lock_fd[DM_CBT_MAX_GROUP];
	/* from cbt_snapshot_find(): uuid, block size and epoch are not known */
	bool found;
	struct cbt_snap v[];
};

#endif /* CBT_API_SNAPSHOT_H */
