// SPDX-License-Identifier: GPL-2.0
/*
 * LVM's lock of a VG for `cbt migrate' (lvm.h): the flock LVM's file
 * locking takes on LOCK_DIR/V_<vg> (lib/misc/lvm-flock.c in lvm2), taken
 * shared while a PV's metadata area is copied and compared.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "migrate/lvm.h"
#include "util/util.h"

/* How long mig_lvm_lock() waits for an LVM command that changes the VG. */
#define LVM_LOCK_WAIT_S 60

int mig_lvm_lock(const struct mig_pv *pv, volatile sig_atomic_t *stop, int (*on_wait)(void))
{
	char path[PATH_MAX + 160];
	const struct timespec tick = { 0, 20 * 1000 * 1000 };
	uint64_t until = cbt_mono_ns() + LVM_LOCK_WAIT_S * 1000000000ULL;
	struct stat a, b;
	bool waited = false;
	int fd;

	snprintf(path, sizeof(path), "%s/V_%s", pv->lock_dir, pv->vg);
	for (;;) {
		/* As LVM opens it (lib/misc/lvm-flock.c): created if missing. */
		fd = open(path, O_CREAT | O_APPEND | O_RDWR | O_CLOEXEC, 0777);
		if (fd < 0 && errno == ENOENT)
			return -ENOENT;
		if (fd < 0)
			return cbt_err(-errno, "cannot open LVM's lock %s: %s", path,
				       strerror(errno));
		/*
		 * Not blocking: a command holding it exclusive runs for a moment,
		 * and a signal must still stop the migration (SA_RESTART).
		 */
		while (flock(fd, LOCK_SH | LOCK_NB)) {
			int e = errno, ret;

			if (e != EWOULDBLOCK && e != EINTR) {
				close(fd);
				return cbt_err(-e, "cannot lock %s: %s", path, strerror(e));
			}
			if (e == EWOULDBLOCK && on_wait && !waited) {
				waited = true;
				ret = on_wait();
				if (ret) {
					close(fd);
					return ret;
				}
			}
			if (stop && *stop) {
				close(fd);
				return -EINTR;
			}
			if (cbt_mono_ns() > until) {
				close(fd);
				return cbt_err(-EBUSY, "VG %s: an LVM command held its lock %s for"
					       " over %d s", pv->vg, path, LVM_LOCK_WAIT_S);
			}
			nanosleep(&tick, NULL);
		}
		/* LVM unlinks the file when it drops the last lock: this one must be it. */
		if (!stat(path, &a) && !fstat(fd, &b) && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return fd;
		close(fd);
	}
}
