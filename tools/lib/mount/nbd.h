/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A restore point as a block device and a mounted filesystem (docs/mount.md):
 * nbdkit with the cbt plugin on a Unix socket under CBT_MOUNT_DIR, the
 * kernel's nbd module connected to it by nbd-client (netlink: nbd-client
 * exits once the device is configured, so the only process left is
 * nbdkit), then mount(2). Everything one mount needs to be taken down
 * again is in CBT_MOUNT_DIR/<nbdX>, so `cbt unmount' works from another
 * process and after the server died.
 */
#ifndef CBT_MOUNT_NBD_H
#define CBT_MOUNT_NBD_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define CBT_MOUNT_DIR "/run/cbt/mount"

struct cbt_mount_opts {
	const char *chain;	/* the chain directory, or s3://BUCKET/PREFIX */
	const char *s3_config;	/* --s3-config FILE for a chain in S3, or NULL */
	const char *at;		/* image number, file name or UUID; NULL: the last */
	bool writable;		/* nbdkit's cow filter: writes go to a scratch overlay */
	unsigned int partition;	/* mount partition N of the device; 0: the whole device */
	const char *mountpoint;	/* NULL: stop at the block device */
	bool quiet;		/* no notice about a log not replayed */
};

struct cbt_mount {
	char id[16];		/* nbdX: the state file's name */
	char device[32];	/* /dev/nbdX */
	char fsdev[48];		/* what is mounted: the device or one partition */
	char socket[PATH_MAX];
	char mountpoint[PATH_MAX];	/* empty: device only */
	pid_t pid;		/* nbdkit */
};

/*
 * Check the chain (cbt_view_open() refuses missing, broken and foreign
 * images before anything is attached), start nbdkit, connect a free
 * /dev/nbdX, mount it on @o->mountpoint and write the state file. On
 * failure whatever was set up is taken down again.
 */
int cbt_mount_start(const struct cbt_mount_opts *o, struct cbt_mount *m);
/* The mount whose mount point or device (/dev/nbdX or nbdX) is @what: -ENOENT when none. */
int cbt_mount_find(const char *what, struct cbt_mount *m);
/*
 * Unmount (lazily when busy: say so unless @quiet), disconnect the device,
 * stop nbdkit, remove the state. Works when nbdkit is already gone.
 */
int cbt_mount_stop(const struct cbt_mount *m, bool quiet);
/*
 * Copy @path of the restore point @o names (a file; a directory when
 * @recursive, to @out which must not exist) to @out, through a temporary
 * mount that is taken down again on success and failure alike.
 */
int cbt_extract_path(const struct cbt_mount_opts *o, const char *path, const char *out,
		     bool recursive);
/* The nbdkit plugin: $CBT_NBDKIT_PLUGIN (a path, for a build tree) or `cbt'. */
const char *cbt_nbdkit_plugin(void);

#endif /* CBT_MOUNT_NBD_H */
