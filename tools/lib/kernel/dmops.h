/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device-mapper operations for `cbt attach' and `cbt detach', on
 * libdevmapper: read a device's state and table, create, load, suspend,
 * resume, clear and remove. Each returns 0 or -errno with a detail
 * (cbt_err) that names the device and quotes what libdevmapper or the
 * kernel said. Tables read back hold device numbers ("253:4"), and dm-crypt
 * keys: they are wiped when freed.
 *
 * Not in libcbt.a, so that the unit tests do not need libdevmapper.
 */
#ifndef CBT_DMOPS_H
#define CBT_DMOPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* DM_NAME_LEN and DM_UUID_LEN, with the NUL. */
#define CBT_DM_NAME_LEN 128
#define CBT_DM_UUID_LEN 129

struct cbt_dm_info {
	bool exists;
	bool suspended;
	bool live_table;
	bool inactive_table;
	bool read_only;
	int32_t open_count;
	uint32_t major, minor;
	char name[CBT_DM_NAME_LEN];
	char uuid[CBT_DM_UUID_LEN];
};

struct cbt_dm_target {
	uint64_t start, len;	/* sectors */
	char *type;
	char *params;
};

struct cbt_dm_table {
	size_t nr;
	struct cbt_dm_target *t;
};

/* Route libdevmapper's messages into the error detail; call once. */
void cbt_dm_init(void);

/* @info->exists is false (and 0 returned) when there is no such device. */
int cbt_dm_info(const char *name, struct cbt_dm_info *info);
int cbt_dm_info_dev(uint32_t major, uint32_t minor, struct cbt_dm_info *info);
/* The live table, dm-crypt keys included. Free with cbt_dm_table_free(). */
int cbt_dm_get_table(const char *name, struct cbt_dm_table *table);
void cbt_dm_table_free(struct cbt_dm_table *table);
int cbt_dm_table_add(struct cbt_dm_table *table, uint64_t start, uint64_t len, const char *type,
		     const char *params);
bool cbt_dm_table_equal(const struct cbt_dm_table *a, const struct cbt_dm_table *b);
uint64_t cbt_dm_table_sectors(const struct cbt_dm_table *table);

/*
 * Create @name (@uuid may be "") with @table, live. @hidden: no udev rules
 * but device-mapper's own (no /dev/disk/by-* links, no blkid, no LVM scan),
 * as LVM does for its private layers.
 */
int cbt_dm_create(const char *name, const char *uuid, const struct cbt_dm_table *table,
		  bool read_only, bool hidden);
/* Load @table as @name's inactive table. */
int cbt_dm_load(const char *name, const struct cbt_dm_table *table, bool read_only);
/* Drop @name's inactive table. */
int cbt_dm_clear(const char *name);
/* Suspend, flushing and freezing the filesystem on it (lockfs). */
int cbt_dm_suspend(const char *name);
/*
 * Suspend without freezing the filesystem (skip lockfs): device-mapper
 * waits for the I/O in flight and holds every new read and write until
 * cbt_dm_resume().
 */
int cbt_dm_hold(const char *name);
/* Resume: makes the inactive table live if there is one. */
int cbt_dm_resume(const char *name);
int cbt_dm_remove(const char *name);
/*
 * Whether the kernel has the target @type ("zero") loaded: 1 or 0, or
 * -errno. device-mapper loads a target's module when a table first names
 * it, so 0 does not mean that a table naming it would fail.
 */
int cbt_dm_has_target(const char *type);

#endif /* CBT_DMOPS_H */
