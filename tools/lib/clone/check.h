/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whether `cbt clone' may write over TARGET. Refused, with a message that
 * says why and what to do:
 *   - the source itself, or a device sharing a disk with the source's
 *     stack (the whole disks under both, through device-mapper slaves,
 *     partitions and loop devices' backing files, must not meet), or the
 *     COW device;
 *   - a target smaller than the source;
 *   - a mounted target (or one of its partitions), or one in use (a
 *     holder in sysfs, or an O_EXCL open that fails with EBUSY);
 *   - without --force: a target holding a partition table or a filesystem
 *     signature (libblkid), named in the message.
 * Paths (sysfs, mountinfo) are parameters so the unit tests run on a fake
 * tree and plain files.
 */
#ifndef CBT_CLONE_CHECK_H
#define CBT_CLONE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CLONE_MAX_STACK 64

/* Whole disks and devices a device is built on (itself included). */
struct clone_stack {
	dev_t dev[CLONE_MAX_STACK];
	size_t nr;
};

struct clone_env {
	const char *sysfs;	/* "/sys" */
	const char *mountinfo;	/* "/proc/self/mountinfo" */
};

extern const struct clone_env clone_env_default;

/* Add @dev and everything under it (slaves, the disk of a partition, loop backing files). */
void clone_stack_add(const struct clone_env *env, struct clone_stack *s, dev_t dev);
bool clone_stack_has(const struct clone_stack *s, dev_t dev);
/* Whether the two stacks share a device; @common gets it. */
bool clone_stacks_meet(const struct clone_stack *a, const struct clone_stack *b, dev_t *common);

/* Whether @dev, or (for a whole disk) one of its partitions, is mounted; @which gets it. */
bool clone_dev_mounted(const struct clone_env *env, dev_t dev, dev_t *which);

struct clone_target {
	const char *path;
	bool is_blk;
	dev_t rdev;		/* block device: its numbers */
	dev_t fs_dev;		/* regular file: the device its filesystem is on */
	uint64_t bytes;
	char found[512];	/* what the signature probe found, "" if nothing */
};

/*
 * Check TARGET (@t->path) against a source of @src_bytes whose stack is
 * @src (and a COW device @cow, 0 if none). Fills @t. -EINVAL, -EBUSY,
 * -ENOSPC (too small), -EEXIST (a signature, without @force) with a detail
 * from cbt_err_usage(): a refused target is bad usage (exit status 2).
 */
int clone_check_target(const struct clone_env *env, struct clone_target *t,
		       const struct clone_stack *src, dev_t cow, uint64_t src_bytes, bool force);

/* "8:16" or the name from sysfs ("vdb") when it has one. */
const char *clone_dev_name(const struct clone_env *env, dev_t dev, char *buf, size_t len);

#endif /* CBT_CLONE_CHECK_H */
