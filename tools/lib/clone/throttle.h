/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt clone --throttle: holding a device's I/O for a while (a
 * device-mapper suspend without a filesystem freeze), released by a thread
 * of its own, so the caller (the copy) goes on meanwhile and a release
 * never waits on the copy.
 */
#ifndef CBT_CLONE_THROTTLE_H
#define CBT_CLONE_THROTTLE_H

#include <stdint.h>

struct clone_throttle;

/* For dm device @name (copied); 0 or -errno. */
int clone_throttle_start(struct clone_throttle **tp, const char *name);
/*
 * Hold the device's I/O until @until_ns (CLOCK_MONOTONIC); a hold in
 * progress is extended to @until_ns if that is later. 0, or -errno with a
 * detail (also a release that failed).
 */
int clone_throttle_hold(struct clone_throttle *t, uint64_t until_ns);
/*
 * Release the device now if it is held; *@ns and *@holds get how long and
 * how often it was held since the last call. 0 or -errno with a detail.
 */
int clone_throttle_release(struct clone_throttle *t, uint64_t *ns, uint64_t *holds);
/* Release, stop the thread, free (NULL is fine). */
void clone_throttle_free(struct clone_throttle *t);

#endif /* CBT_CLONE_THROTTLE_H */
