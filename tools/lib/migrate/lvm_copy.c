// SPDX-License-Identifier: GPL-2.0
/*
 * Copying an LVM PV partition for `cbt migrate' (lvm.h): its metadata and
 * each LV's extents at the same place in the target partition, each LV by
 * its method; free extents are left alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "clone/copy.h"
#include "kernel/dmops.h"
#include "migrate/lvm.h"
#include "util/extents.h"
#include "util/util.h"

/* MIG_RECHECK: reads of an LV that keeps changing before giving up (as a partition's). */
#define LV_RECHECK_ROUNDS 8
#define LV_IO (1024 * 1024)

/* The largest power of two up to 1 MiB that divides the first extent's offset and their size. */
static uint32_t block_size(const struct mig_pv *pv)
{
	uint32_t bs = LV_IO;

	while (bs > 512 && (pv->pe_start % bs || pv->extent % bs))
		bs /= 2;
	return bs;
}

/* @lv's extents on the PV, in blocks of @bs, in the PV's order; NULL lv: the metadata. */
static int lv_blocks(const struct mig_pv *pv, const struct mig_lv *lv, uint32_t bs,
		     struct cbt_extents *ext)
{
	uint64_t per = pv->extent / bs, first = pv->pe_start / bs;
	struct cbt_range *r;
	int ret = 0;

	cbt_extents_init(ext);
	if (!lv)
		return first ? cbt_extents_append(ext, 0, first) : 0;
	r = calloc(lv->nseg, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t k = 0; k < lv->nseg; k++) {
		r[k].start = first + lv->seg[k].pe * per;
		r[k].len = lv->seg[k].count * per;
	}
	/* Appended in the PV's order: the list only grows forwards. */
	for (size_t done = 0; done < lv->nseg && !ret; done++) {
		size_t m = 0;

		for (size_t k = 1; k < lv->nseg; k++)
			if (!r[m].len || (r[k].len && r[k].start < r[m].start))
				m = k;
		ret = cbt_extents_append(ext, r[m].start, r[m].len);
		r[m].len = 0;
	}
	free(r);
	return ret;
}

/* Copy and compare @lv's extents (NULL: the metadata); MIG_RECHECK until they agree. */
static int copy_lv(struct mig_job *j, size_t i, int sfd, int tfd, struct mig_lv *lv,
		   struct mig_result *r)
{
	const struct mig_pv *pv = j->plan.p[i].pv;
	uint32_t bs = block_size(pv);
	struct mig_result *lr = lv ? &lv->r : r;
	unsigned int max = lv && lv->method == MIG_RECHECK ? LV_RECHECK_ROUNDS : 1;
	int mfd = lv && lv->mnt[0] ? open(lv->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	struct cbt_extents ext;
	uint64_t t0 = cbt_mono_ns(), mm = 0;
	int ret = lv_blocks(pv, lv, bs, &ext);

	for (lr->rounds = 1; !ret && lr->rounds <= max; lr->rounds++) {
		/* What the filesystem holds in memory reaches the LV first. */
		if (mfd >= 0)
			syncfs(mfd);
		ret = mig_copy_ext(j, i, sfd, tfd, &ext, bs, false, NULL, &lr->bytes, &mm);
		if (!ret)
			ret = mig_copy_ext(j, i, sfd, tfd, &ext, bs, true, lr->digest, NULL, &mm);
		if (ret != -EBADMSG || lr->rounds == max)
			break;
		ret = 0;
		cbt_err_clear();
	}
	if (ret == -EBADMSG && max > 1)
		ret = cbt_err(-EAGAIN, "LV %s kept changing: %u copies did not agree with it (copy"
			      " it unmounted)", lv->name, max);
	else if (ret == -EBADMSG)
		ret = mig_differs(j->plan.p[i].src, j->plan.p[i].tgt, mm);
	if (max == 1)
		lr->rounds = 0;
	if (lv) {
		lv->r.ns = cbt_mono_ns() - t0;
		lv->done = !ret;
		r->bytes += lv->r.bytes;
	}
	if (mfd >= 0)
		close(mfd);
	cbt_extents_free(&ext);
	return ret;
}

/*
 * A tracked LV: a linear device "cbt-migrate-<target partition>-<LV>"
 * that maps the LV's extents on the target partition as LVM maps them on
 * the source, and the clone engine onto it.
 */
static int clone_lv(struct mig_job *j, size_t i, struct mig_lv *lv, struct mig_result *r)
{
	const struct mig_part *p = &j->plan.p[i];
	const struct mig_pv *pv = p->pv;
	struct cbt_dm_table t = { 0 };
	uint64_t per = pv->extent / 512, first = pv->pe_start / 512;
	char name[CBT_DM_NAME_LEN], target[CBT_DM_NAME_LEN + 16], params[64];
	const char *b = strrchr(p->tgt, '/');
	uint64_t t0 = cbt_mono_ns();
	struct stat st;
	int ret = 0, rm;

	if (stat(p->tgt, &st))
		return cbt_err(-errno, "%s: %s", p->tgt, strerror(errno));
	if (mig_dm_name(p, lv, name, sizeof(name)) >= (int)sizeof(name))
		return cbt_err(-ENAMETOOLONG, "LV %s: its name is too long for a device-mapper"
			       " device cbt-migrate-%s-%s", lv->name, b ? b + 1 : p->tgt, lv->name);
	snprintf(target, sizeof(target), "/dev/mapper/%s", name);
	for (size_t k = 0; k < lv->nseg && !ret; k++) {
		snprintf(params, sizeof(params), "%u:%u %" PRIu64, major(st.st_rdev),
			 minor(st.st_rdev), first + lv->seg[k].pe * per);
		ret = cbt_dm_table_add(&t, lv->seg[k].le * per, lv->seg[k].count * per, "linear",
				       params);
	}
	cbt_dm_init();
	/* One left by an interrupted run. */
	cbt_dm_remove(name);
	cbt_err_clear();
	if (!ret)
		ret = cbt_dm_create(name, "", &t, false, true);
	cbt_dm_table_free(&t);
	if (ret)
		return cbt_err(ret, "cannot map LV %s on %s: %s", lv->name, p->tgt,
			       cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
	ret = mig_clone_live(j, lv->cbt, target, false, &lv->r);
	rm = cbt_dm_remove(name);
	if (!ret && rm)
		ret = rm;
	lv->r.ns = cbt_mono_ns() - t0;
	lv->done = !ret;
	r->bytes += lv->r.bytes;
	r->passes += lv->r.passes;
	r->resumed |= lv->r.resumed;
	if (lv->r.frozen_ns > r->frozen_ns)
		r->frozen_ns = lv->r.frozen_ns;
	return ret;
}

/*
 * Zero the target partition's PV label and metadata area (everything before
 * the first extent): until the last step writes them, the target holds no
 * PV that LVM could activate with stale LVs.
 */
static int wipe_metadata(const struct mig_part *p, int tfd)
{
	uint64_t len = p->pv->pe_start;
	void *zero = NULL;
	int ret = posix_memalign(&zero, 4096, LV_IO) ? -ENOMEM : 0;

	if (zero)
		memset(zero, 0, LV_IO);
	for (uint64_t off = 0; !ret && off < len; off += LV_IO) {
		size_t n = len - off < LV_IO ? (size_t)(len - off) : LV_IO;

		if (pwrite(tfd, zero, n, (off_t)off) != (ssize_t)n)
			ret = cbt_err(errno ? -errno : -EIO, "%s: cannot wipe its PV label: %s",
				      p->tgt, strerror(errno ? errno : EIO));
	}
	if (!ret && fdatasync(tfd))
		ret = cbt_err(-errno, "%s: %s", p->tgt, strerror(errno));
	free(zero);
	return ret;
}

static int open_pair(const struct mig_part *p, int *sfd, int *tfd)
{
	bool sdirect, tdirect;

	*tfd = -1;
	*sfd = clone_open(p->src, O_RDONLY, &sdirect);
	if (*sfd < 0)
		return cbt_err(*sfd, "%s: %s", p->src, strerror(-*sfd));
	*tfd = clone_open(p->tgt, O_RDWR | O_EXCL, &tdirect);
	if (*tfd < 0) {
		close(*sfd);
		return cbt_err(*tfd, "%s: %s", p->tgt, strerror(-*tfd));
	}
	return 0;
}

/* The test build's hook, once, when a writer holds the VG's lock. */
static int lock_wait_hook(void)
{
	return mig_test_hook("metadata wait");
}

/*
 * The last step: the PV label and metadata area, copied and compared under
 * LVM's lock of the VG (shared: no LVM command changes the VG meanwhile;
 * no LVM command is run while it is held, for LVM's readers queue behind
 * a waiting writer), then LVM's report read again. The metadata is the
 * plan's, with the same sequence number and extents, or the copy is
 * refused and the target's PV wiped again.
 */
static int copy_metadata_last(struct mig_job *j, size_t i, struct mig_result *r)
{
	const struct mig_part *p = &j->plan.p[i];
	struct mig_pv now = { 0 };
	char why[300];
	int sfd = -1, tfd = -1, lock, ret, wiped;

	ret = mig_test_hook("metadata");
	if (ret)
		return ret;
	lock = mig_lvm_lock(p->pv, j->stop, lock_wait_hook);
	if (lock < 0 && lock != -ENOENT)
		return lock;
	cbt_err_clear();
	ret = open_pair(p, &sfd, &tfd);
	if (ret) {
		if (lock >= 0)
			close(lock);
		return ret;
	}
	ret = copy_lv(j, i, sfd, tfd, NULL, r);
	close(sfd);
	if (lock >= 0)
		close(lock);
	if (!ret)
		ret = mig_lvm_reread(p, &now);
	if (!ret && !mig_lvm_same(p->pv, &now, why, sizeof(why))) {
		wiped = wipe_metadata(p, tfd);
		cbt_err_clear();
		ret = cbt_err(-EAGAIN, "the metadata of VG %s changed during the migration (%s):"
			      " the LVs were copied as they were before, so %s is not a usable copy"
			      " and %s; %s is untouched; run the same command again", p->pv->vg,
			      why, p->tgt, wiped ? "its PV label could not be wiped: do not use it" :
			      "holds no PV (its label and metadata area are wiped)", p->src);
	} else if (ret) {
		/* Stopped, or a copy that differs: no PV label left half written. */
		char err[1200];

		snprintf(err, sizeof(err), "%s", cbt_err_detail() ? cbt_err_detail() : "");
		wiped = wipe_metadata(p, tfd);
		cbt_err_clear();
		if (err[0])
			cbt_err(ret, "%s%s", err, wiped ? "; and its PV label could not be wiped:"
				" do not use it" : "");
	}
	close(tfd);
	mig_lvm_clear(&now);
	return ret;
}

int mig_lvm_copy(struct mig_job *j, size_t i, struct mig_result *r)
{
	const struct mig_part *p = &j->plan.p[i];
	struct mig_pv *pv = p->pv;
	struct mig_lv *cur = NULL;
	char step[160];
	int sfd = -1, tfd = -1, ret;

	ret = open_pair(p, &sfd, &tfd);
	if (ret)
		return ret;
	ret = wipe_metadata(p, tfd);
	for (size_t k = 0; k < pv->nlv && !ret; k++) {
		cur = &pv->lv[k];
		if (cur->method == MIG_TRACKED)
			continue;
		ret = copy_lv(j, i, sfd, tfd, cur, r);
		snprintf(step, sizeof(step), "lv %s", cur->name);
		if (!ret)
			ret = mig_test_hook(step);
	}
	close(sfd);
	/* Closed first: the mapping of a tracked LV holds the partition. */
	close(tfd);
	for (size_t k = 0; k < pv->nlv && !ret; k++) {
		cur = &pv->lv[k];
		if (cur->method == MIG_TRACKED)
			ret = *j->stop ? -EINTR : clone_lv(j, i, cur, r);
	}
	if (ret && ret != -EINTR && cur) {
		cbt_err_prefix(ret, "LV %s", cur->name);
		return ret;
	}
	if (!ret)
		ret = *j->stop ? -EINTR : copy_metadata_last(j, i, r);
	if (ret && ret != -EINTR && ret != -EAGAIN)
		cbt_err_prefix(ret, "the PV's metadata");
	return ret;
}
