/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The cbt layer that `cbt attach' slides under a live device-mapper device
 * and `cbt detach' takes out again:
 *
 *   before:  NAME (its own table, e.g. linear over PVs)
 *   after:   NAME (cbt over HIDDEN)  ->  HIDDEN (NAME's former table)
 *
 * HIDDEN is "NAME-cbt-orig", with NAME's UUID plus "-CBTORIG" (or
 * "CBT-ORIG-NAME" when NAME has no UUID). NAME keeps its name, device
 * numbers and UUID. A disk that is not a device-mapper device gets a new
 * device NAME with UUID "CBT-DISK-NAME" instead.
 */
#ifndef CBT_LAYER_H
#define CBT_LAYER_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/dmops.h"

#define CBT_ORIG_NAME_SUFFIX "-cbt-orig"
#define CBT_ORIG_UUID_SUFFIX "-CBTORIG"
#define CBT_ORIG_UUID_PREFIX "CBT-ORIG-"
#define CBT_DISK_UUID_PREFIX "CBT-DISK-"

/* The name and UUID of the hidden device under @dev. */
int cbt_layer_hidden_names(const struct cbt_dm_info *dev, char name[CBT_DM_NAME_LEN],
			   char uuid[CBT_DM_UUID_LEN]);
/* Whether @h is the hidden device `cbt attach' put under @dev. */
bool cbt_layer_is_hidden(const struct cbt_dm_info *dev, const struct cbt_dm_info *h);

/*
 * Fault injection for tests: when the environment variable @var holds
 * @step, return -EIO with a message saying so (the step has done its
 * work by then, the harder case to undo); otherwise 0. Only in the test
 * build (-DCBT_TEST_HOOKS, `make -C tools cbt-test'); in the installed
 * tool it is 0 and the variable names are not even in the binary.
 */
#ifdef CBT_TEST_HOOKS
int cbt_layer_inject(const char *var, int step, const char *what);
#else
#define cbt_layer_inject(var, step, what) 0
#endif

/*
 * Put @name back on @want as its live table, resumed, with no inactive
 * table, whatever state a failed swap left it in; then check it is so.
 */
int cbt_layer_restore(const char *name, const struct cbt_dm_table *want, bool read_only);

/* "4k", "64K", "64KiB", "1M", "65536": a tracking block size in bytes. */
int cbt_parse_block_size(const char *s, uint32_t *bytes);

/*
 * The origin and metadata device numbers of a single-target cbt table;
 * @meta_major = 0 when it has no metadata device.
 */
int cbt_layer_parse_cbt(const struct cbt_dm_table *t, uint32_t *major, uint32_t *minor,
			uint32_t *meta_major, uint32_t *meta_minor);

/* Zero the two superblock pages of the metadata device @major:@minor. */
int cbt_layer_wipe_metadata(uint32_t major, uint32_t minor);

/*
 * What `cbt attach' put under a live device, for the handler that puts the
 * layer back when LVM loads its own table over it (udev/cbt-reattach,
 * docs/attach.md): $CBT_RUN_DIR (default /run/cbt)/attached/NAME, lines
 * BLOCK_SIZE=<bytes> and METADATA=<device path, or empty>. `cbt detach'
 * removes it. A failure to write it is only a warning: tracking works, it
 * just does not come back by itself after an LVM reload.
 */
int cbt_layer_record(const char *name, uint32_t block_size, const char *meta_path);
void cbt_layer_forget(const char *name);

/*
 * `cbt detach': take the handler's per-device lock (NAME.lock beside the
 * record, flock exclusive, as udev/cbt-reattach does) and remove the record
 * before any device-mapper operation, so that the change uevent of the table
 * swap cannot attach NAME again. Release puts the record back (@put_back:
 * NAME is still tracked) or removes the lock file with it, then unlocks.
 */
struct cbt_layer_hold {
	int lock_fd;
	bool had_record;
	char *saved;
	size_t len;
};
int cbt_layer_hold(const char *name, struct cbt_layer_hold *h);
void cbt_layer_release(const char *name, struct cbt_layer_hold *h, bool put_back);

#endif /* CBT_LAYER_H */
