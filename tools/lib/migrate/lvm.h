/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `cbt migrate' of an LVM PV partition (docs/migrate.md, "LVM"): the PV is
 * copied in place, so the VG, PV and LV UUIDs stay what they are, but
 * extent by extent, each LV by the method its use calls for:
 *
 *   the PV's label and metadata area (everything before the first extent),
 *   copied and compared;
 *   an LV under a cbt device: the clone engine, live, onto a linear
 *   device-mapper device that maps the LV's extents on the target
 *   partition exactly as LVM maps them on the source;
 *   an LV mounted, not tracked: copied, then re-read until it agrees;
 *   any other LV (inactive, or active and unused): copied and compared;
 *   free extents: not copied.
 *
 * The layout comes from LVM itself: `lvm pvs --segments --reportformat
 * json', LVM shown the source partition alone (--devices). A target that
 * is larger gets `pvresize'; a smaller one is allowed when no extent lies
 * past its end, and gets `pvresize' too.
 */
#ifndef CBT_MIGRATE_LVM_H
#define CBT_MIGRATE_LVM_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "migrate/plan.h"
#include "migrate/run.h"

/* Extents [pe, pe + count) of the PV hold the LV's [le, le + count). */
struct mig_lvseg {
	uint64_t le, pe, count;
};

struct mig_lv {
	char name[128], uuid[40];
	char dm_path[PATH_MAX];		/* /dev/mapper/VG-LV */
	bool active;
	dev_t dev;			/* active: its device */
	bool linear;			/* every segment linear */
	enum mig_method method;		/* MIG_TRACKED, MIG_RECHECK or MIG_COPY */
	char cbt[128];			/* MIG_TRACKED: the cbt device on it */
	char mnt[PATH_MAX];		/* MIG_RECHECK: where it is mounted */
	uint64_t extents;		/* its size in extents (on this PV) */
	struct mig_lvseg *seg;		/* by le */
	size_t nseg;
	struct mig_result r;		/* once copied */
	bool done;
};

struct mig_pv {
	char pv_uuid[40], vg[128], vg_uuid[40];
	uint64_t seqno;			/* the VG metadata's sequence number */
	char lock_dir[PATH_MAX];	/* LVM's global/locking_dir: its V_<vg> flock */
	uint64_t pe_start;		/* bytes: the first extent */
	uint64_t extent;		/* bytes */
	uint64_t pe_count, pe_alloc;
	uint64_t used_end;		/* the first extent after the last allocated one */
	struct mig_lv *lv;
	size_t nlv;
};

/* What mig_lvm_read() asks `lvm pvs --segments' for: one row per segment of the PV. */
#define MIG_LVM_FIELDS "pv_uuid,vg_name,vg_uuid,vg_seqno,pe_start,vg_extent_size," \
		       "pv_pe_count,pv_pe_alloc_count,pv_count,pv_mda_count,pvseg_start," \
		       "pvseg_size,lv_name,lv_uuid,lv_dm_path,seg_start_pe,segtype"

/*
 * Fill the zeroed @pv from @json, that report (--units b --nosuffix) of
 * PV @src: its geometry, its LVs with their segments (by le), the end of
 * its last extent in use. -EOPNOTSUPP for a VG on more than one PV or a
 * second metadata area, -EIO for a report without rows.
 * mig_lvm_free() frees it (as part of a mig_part).
 */
int mig_lvm_parse(struct mig_pv *pv, const char *json, const char *src);

/*
 * Read the layout of the PV on @p->src with LVM's tools, choose each LV's
 * method (@infos: the cbt devices), and set @p->pv and @p->copy_bytes. A
 * PV that cannot be copied consistently is refused with the reason: a VG
 * on more than one PV, a second metadata area, a tracked LV that is not
 * linear, an LV or the partition held by a device that is not cbt. -ENOENT
 * when LVM's tools are missing.
 */
int mig_lvm_read(struct mig_part *p, const struct cbt_dev_info *infos, size_t nr);
void mig_lvm_free(struct mig_part *p);

/*
 * The VG's metadata in @now is still what @was (the plan's) holds: the
 * same sequence number, PV, extents and LVs with the same segments. If
 * not, false and what changed in @why.
 */
bool mig_lvm_same(const struct mig_pv *was, const struct mig_pv *now, char *why, size_t len);
/* Free a mig_pv's LVs and zero it (the struct itself is the caller's). */
void mig_lvm_clear(struct mig_pv *pv);

/*
 * LVM's report of @p's PV read again, into the zeroed @now (mig_lvm_clear()
 * frees it): what the VG's metadata is after the copy.
 */
int mig_lvm_reread(const struct mig_part *p, struct mig_pv *now);
/*
 * LVM's own lock of @pv's VG (the flock on LOCK_DIR/V_<vg>, which LVM
 * commands take exclusive to change the VG's metadata), taken shared: the
 * descriptor; -ENOENT when LVM has no lock directory (no LVM command ran
 * since boot, or LVM does not lock with files); or -errno (-EINTR: @stop
 * raised while waiting, -EBUSY: held for over a minute). @on_wait, if not
 * NULL, runs once when a writer is found holding it, before the wait (the
 * test build's hook); its error ends the wait with it.
 */
int mig_lvm_lock(const struct mig_pv *pv, volatile sig_atomic_t *stop, int (*on_wait)(void));

/* @p's PV fits in @new_bytes: no extent in use lies past it. -ENOSPC with the reason. */
int mig_lvm_check_shrink(const struct mig_part *p, uint64_t new_bytes);

/* Copy partition @i of @j, MIG_LVM, LV by LV (results in each mig_lv). */
int mig_lvm_copy(struct mig_job *j, size_t i, struct mig_result *r);

#endif /* CBT_MIGRATE_LVM_H */
