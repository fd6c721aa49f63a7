/* SPDX-License-Identifier: GPL-2.0 */
/* The snapshot handle, for the image part of the API. */
#ifndef CBT_API_SNAPSHOT_H
#define CBT_API_SNAPSHOT_H

#include <stdbool.h>

#include "kernel/snapdev.h"

struct cbt_snapshot {
	size_t n;
	/* from cbt_snapshot_find(): uuid, block size and epoch are not known */
	bool found;
	struct cbt_snap v[];
};

#endif /* CBT_API_SNAPSHOT_H */
