/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Signatures on block devices (libblkid): what `cbt clone' refuses to write
 * over without --force (clone/check.h), what a snapshot's COW device must
 * not hold (kernel/snapdev.h), and wiping them after use.
 */
#ifndef CBT_SIGNATURE_H
#define CBT_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Probe @path for a partition table or filesystem: 1 and a description in
 * @buf ("an ext4 filesystem (UUID ..., label ...)"), 0 for none, -errno.
 */
int cbt_probe_signature(const char *path, char *buf, size_t len);

/*
 * A snapshot's COW device: 0 when blank (no partition table, filesystem,
 * LVM, RAID or other signature libblkid knows) or with @force; else
 * -EEXIST naming what it holds. The kernel keeps the store's first chunk
 * zeroed, and cbt_snap_drop() wipes what copies left elsewhere, so a COW
 * device the tool used before probes blank again.
 */
int cbt_check_cow_signature(const char *cow, bool force);
/* Erase every signature libblkid finds on @path (as `wipefs -a'); best effort. */
void cbt_wipe_signatures(const char *path);

#endif /* CBT_SIGNATURE_H */
