/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Export a read-only block device over NBD with a block set as a QEMU
 * dirty bitmap (`qemu:dirty-bitmap:NAME', next to `base:allocation'),
 * with QEMU's own tools only (docs/serve.md says why):
 *
 *   1. qemu-img creates a scratch qcow2 of the device's size with an
 *      empty persistent bitmap of granularity = the tracking block size;
 *      qemu-io writes zeroes over exactly the changed ranges (metadata
 *      only: zero flags), and QEMU marks them dirty in that bitmap;
 *   2. qemu-img creates the overlay that is served: a qcow2 with no data
 *      of its own, the device as its raw backing file, and a bitmap of
 *      the same name merged from the scratch image's (`qemu-img bitmap
 *      --merge ... -b'); the scratch image is removed;
 *   3. qemu-nbd serves the overlay read-only (-r, persistent, -B NAME) on a
 *      listening socket the caller made, passed as systemd socket
 *      activation (LISTEN_FDS), so the address is in use from the start
 *      and a client connecting early waits in the backlog.
 */
#ifndef CBT_QEMU_EXPORT_H
#define CBT_QEMU_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/extents.h"

struct cbt_qemu_export {
	/* set by the caller */
	const char *device;	/* the block device to serve (backing file) */
	uint64_t bytes;		/* its size */
	uint32_t block_size;	/* bitmap granularity: the extents' unit */
	const char *bitmap;	/* the bitmap's name */
	const char *tls_dir;	/* x509 credentials directory (server-*.pem), or NULL */
	const char *tag;	/* names the scratch directory: serve-TAG (the device's MAJ:MIN) */

	/* the export's state */
	char dir[4096];		/* scratch directory holding the overlay, "" when none */
	char overlay[4200];
	pid_t server;		/* qemu-nbd, 0 when not running */
};

/*
 * Steps 1 and 2: the overlay with @changed (blocks) as its bitmap; every
 * block when @changed is NULL. The scratch directory is
 * $CBT_RUN_DIR/serve-TAG (default /run/cbt); the caller holds the device's
 * lock, so one found there is a dead run's, and is replaced.
 */
int cbt_qemu_export_prepare(struct cbt_qemu_export *e, const struct cbt_extents *changed);
/*
 * Step 3: start qemu-nbd on @listen_fd (a listening stream socket; the
 * caller keeps its own copy) and return once it serves (its pid file, in
 * the scratch directory, holds its pid), or fail if it ends first or takes
 * over 120 s. The server gets SIGTERM if this process dies.
 */
int cbt_qemu_export_start(struct cbt_qemu_export *e, int listen_fd);
/*
 * Stop the server (SIGTERM, sent again every 500 ms, SIGKILL after 10 s;
 * waited for) and remove the scratch directory.
 */
void cbt_qemu_export_stop(struct cbt_qemu_export *e);

#ifdef CBT_TEST_HOOKS
/*
 * Test builds: wait for the server as on a kernel without pidfd_open()
 * (before 5.3), and the start and stop bounds in ms (120 s and 10 s
 * unless a test shortens them).
 */
extern bool cbt_qemu_no_pidfd;
extern int cbt_qemu_start_ms, cbt_qemu_stop_ms;
#endif

#endif /* CBT_QEMU_EXPORT_H */
