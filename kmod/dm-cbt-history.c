// SPDX-License-Identifier: GPL-2.0
/*
 * History you can prove: the evidence a persistent tracker keeps about the
 * stretches in which its origin could be written without it, and the
 * verdict at the next resume (docs/target.md, "History").
 *
 * Evidence, in the version 2 superblock:
 * - At every postsuspend (every write through the target is done; a
 *   removal suspends too): a fingerprint (xxh64 of the origin's first and
 *   last MiB) with its size, fp_valid set, detach state "suspended", and
 *   the dm device's write and discard I/O counters with the identity of
 *   that device instance (module-load nonce, diskseq, dev_t).
 * - At the dtr of the last table of a device that stays live (another
 *   target's table was swapped in): detach state "replaced".
 * - At every preresume: detach "attached" and fp_valid clear, since writes
 *   go on changing the fingerprinted regions.
 * The verdict, at the first preresume of a tracker loaded from metadata:
 * "replaced" continues only on the same device instance with unchanged
 * counters (nothing was written through the other table); then, at every
 * preresume, a valid fingerprint must match the origin as it is.
 * Anything else starts a new identity with the reason.
 */
#include <linux/blkdev.h>
#include <linux/part_stat.h>
#include <linux/sched/mm.h>
#include <linux/xxhash.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"

u64 cbt_module_nonce;

static const char * const reason_names[__CBT_IDENTITY_MAX] = {
	[CBT_IDENTITY_CONTINUED] = "continued",
	[CBT_IDENTITY_MEMORY_ONLY] = "memory-only",
	[CBT_IDENTITY_NEW_METADATA] = "new-metadata",
	[CBT_IDENTITY_DAMAGED] = "damaged",
	[CBT_IDENTITY_OTHER_DEVICE] = "other-device",
	[CBT_IDENTITY_ORIGIN_CHANGED] = "origin-changed",
	[CBT_IDENTITY_TABLE_REPLACED] = "table-replaced",
	[CBT_IDENTITY_UNTRACKED_BOOT] = "untracked-boot",
	[CBT_IDENTITY_METADATA_FAILED] = "metadata-failed",
	[CBT_IDENTITY_UNVERIFIED] = "unverified",
};

const char *cbt_reason_name(enum cbt_identity_reason why)
{
	return why < __CBT_IDENTITY_MAX && reason_names[why] ? reason_names[why] : "unknown";
}

void cbt_history_announce(struct cbt_tracker *t)
{
	lockdep_assert_held(&t->lock);
	switch (t->reason) {
	case CBT_IDENTITY_CONTINUED:
		DMINFO("%u:%u: tracking identity %pUb continued", MAJOR(t->devt),
		       MINOR(t->devt), t->ledger.uuid);
		return;
	case CBT_IDENTITY_MEMORY_ONLY:
	case CBT_IDENTITY_NEW_METADATA:
		DMINFO("%u:%u: new tracking identity %pUb (%s)", MAJOR(t->devt),
		       MINOR(t->devt), t->ledger.uuid, cbt_reason_name(t->reason));
		return;
	default:
		DMWARN("%u:%u: history lost, new tracking identity %pUb (%s)",
		       MAJOR(t->devt), MINOR(t->devt), t->ledger.uuid,
		       cbt_reason_name(t->reason));
		schedule_work(&t->lost_work);
	}
}

/*
 * xxh64 of the fingerprint regions of the first @sectors of @bdev, read
 * through @pages (@nr of them, at most CBT_COMMIT_BATCH), which the caller
 * owns: t->batch under t->lock, or cbt_fp_work()'s own, without it.
 */
static int fingerprint(struct block_device *bdev, struct page **pages, unsigned int nr,
		       u64 sectors, u64 *fp)
{
	const u64 per_page = DM_CBT_MD_PAGE_SIZE >> SECTOR_SHIFT;
	u64 page_nos[CBT_COMMIT_BATCH], page, end;
	struct cbt_fp_regions reg;
	struct xxh64_state state;
	unsigned int n, i;
	int r, k;

	nr = min_t(unsigned int, nr, CBT_COMMIT_BATCH);
	cbt_fp_regions(sectors, &reg);
	xxh64_reset(&state, sectors);
	for (k = 0; k < 2; k++) {
		page = reg.start[k] / per_page;
		end = (reg.start[k] + reg.len[k]) / per_page;
		while (page < end) {
			n = min_t(u64, nr, end - page);
			for (i = 0; i < n; i++)
				page_nos[i] = page + i;
			r = cbt_md_rw(bdev, pages, page_nos, n, REQ_OP_READ | REQ_SYNC);
			if (r)
				return r;
			for (i = 0; i < n; i++)
				xxh64_update(&state, page_address(pages[i]), DM_CBT_MD_PAGE_SIZE);
			page += n;
		}
	}
	*fp = xxh64_digest(&state);
	return 0;
}

/*
 * The dm device's write and discard counters (a write-zeroes or secure
 * erase counts as a write). dm accounts every bio it maps; false when the
 * counters cannot be trusted to have seen every write.
 */
static bool io_counters(struct mapped_device *md, u64 *w, u64 *d)
{
	struct block_device *part0 = dm_disk(md)->part0;

	*w = part_stat_read(part0, ios[STAT_WRITE]);
	*d = part_stat_read(part0, ios[STAT_DISCARD]);
	return cbt_dm_counts_io(md);
}

static int write_sb(struct cbt_tracker *t, const char *what)
{
	int r;

	/* A failed device's superblocks are wiped: never write a valid one back. */
	if (t->persistence != CBT_PERSIST_METADATA || t->dead)
		return -ENODEV;
	t->ledger.seq++;
	r = cbt_md_write_sb(t);
	if (r)
		cbt_md_failed(t, r, what);
	return r;
}

/* Same device instance as the one that wrote the evidence, nothing written since? */
static bool unchanged_since_replaced(struct cbt_tracker *t, struct mapped_device *md)
{
	const struct cbt_ledger *l = &t->ledger;
	u64 w, d;

	if (!l->io_known || l->md_nonce != cbt_module_nonce ||
	    l->md_diskseq != dm_disk(md)->diskseq || l->md_devt != t->devt)
		return false;
	return io_counters(md, &w, &d) && w == l->io_writes && d == l->io_discards;
}

void cbt_history_resume(struct cbt_tracker *t, struct mapped_device *md)
{
	enum cbt_identity_reason why = CBT_IDENTITY_CONTINUED;
	struct cbt_ledger *l = &t->ledger;
	u64 fp;
	int r;

	lockdep_assert_held(&t->lock);
	/* A memory-only identity begins at the load: named at its first resume. */
	if (!t->was_live && t->reason == CBT_IDENTITY_MEMORY_ONLY)
		cbt_history_announce(t);
	t->was_live = true;
	if (t->persistence != CBT_PERSIST_METADATA)
		return;
	if (!t->checked && l->detach == CBT_DETACH_REPLACED && !unchanged_since_replaced(t, md))
		why = CBT_IDENTITY_TABLE_REPLACED;
	if (why == CBT_IDENTITY_CONTINUED && l->fp_valid) {
		r = fingerprint(t->origin_bdev, t->batch, CBT_COMMIT_BATCH, l->fp_sectors, &fp);
		if (r)
			DMERR("%u:%u: cannot read the origin to check its fingerprint (%d)",
			      MAJOR(t->devt), MINOR(t->devt), r);
		if (r || fp != l->fingerprint)
			why = CBT_IDENTITY_ORIGIN_CHANGED;
	}
	/* A restart that failed announced its own loss (cbt_md_failed()). */
	if (why != CBT_IDENTITY_CONTINUED) {
		if (!cbt_md_restart(t, why))
			cbt_history_announce(t);
	} else if (!t->checked) {
		cbt_history_announce(t);
	}
	t->checked = true;
}

void cbt_history_attached(struct cbt_tracker *t)
{
	struct cbt_ledger *l = &t->ledger;

	lockdep_assert_held(&t->lock);
	/* Suspended: no map() reads the regions now. */
	cbt_fp_regions(t->dev_sectors, &t->fp_regions);
	if (t->persistence != CBT_PERSIST_METADATA)
		return;
	if (!l->fp_valid || l->fp_sectors != t->dev_sectors)
		l->fp_valid = false;
	l->detach = CBT_DETACH_ATTACHED;
	if (write_sb(t, "marking the device attached"))
		return;
	atomic_set(&t->fp_state, l->fp_valid ? CBT_FP_VALID : CBT_FP_INVALID);
	if (!l->fp_valid)
		mod_delayed_work(t->wq, &t->fp_work, HZ);
}

/* The first part of a fingerprint: what the origin holds once its cache is flushed. */
static int fp_read(struct block_device *origin, struct page **pages, unsigned int nr,
		   u64 sectors, u64 *fp)
{
	return blkdev_issue_flush(origin) ?: fingerprint(origin, pages, nr, sectors, fp);
}

static void fp_warn(struct cbt_tracker *t, int r)
{
	DMWARN("%u:%u: cannot fingerprint the origin (%d): %s", MAJOR(t->devt),
	       MINOR(t->devt), r, "an untracked write there will not be seen");
}

/* The second part: record it as valid (in memory; the caller writes the superblock). */
static void fp_set(struct cbt_tracker *t, u64 fp, u64 sectors)
{
	struct cbt_ledger *l = &t->ledger;

	lockdep_assert_held(&t->lock);
	l->fingerprint = fp;
	l->fp_sectors = sectors;
	l->fp_valid = true;
}

/* Hash the regions and record fp_valid; t->lock held, no write to them in flight. */
static int fp_record(struct cbt_tracker *t)
{
	u64 fp;
	int r;

	lockdep_assert_held(&t->lock);
	r = fp_read(t->origin_bdev, t->batch, CBT_COMMIT_BATCH, t->dev_sectors, &fp);
	if (r) {
		fp_warn(t, r);
		return r;
	}
	fp_set(t, fp, t->dev_sectors);
	return 0;
}

/* Pages of its own for cbt_fp_work(): 64 KiB reads, 32 of them for the 2 MiB. */
#define CBT_FP_PAGES 16

/*
 * Start a validation under t->lock: false when there is nothing to do, or
 * a write to the regions is in flight (its end_io queues the work again).
 */
static bool fp_start(struct cbt_tracker *t)
{
	lockdep_assert_held(&t->lock);
	if (t->persistence != CBT_PERSIST_METADATA || t->dead || !t->was_live ||
	    atomic_read(&t->fp_state) != CBT_FP_INVALID)
		return false;
	atomic_set(&t->fp_state, CBT_FP_VALIDATING);
	/*
	 * Set the state, then read the count; map() counts, then reads the
	 * state (cbt_fp_write_deferred). One of the two sees the other: a
	 * write is either counted here or deferred to the worker. A full
	 * barrier: atomic_set() is a plain store, which smp_mb__after_atomic()
	 * does not order (a no-op on x86), so the read below could pass it.
	 */
	smp_mb();
	if (!atomic_read(&t->fp_inflight))
		return true;
	atomic_set(&t->fp_state, CBT_FP_INVALID);
	return false;
}

/*
 * Validate the fingerprint: hash the regions, record fp_valid. The 2 MiB
 * are read WITHOUT t->lock, which the commit worker (so the device's
 * writes to unmarked blocks), status, epoch closes and takes need: a slow
 * origin delays only this work. Under the lock again, the hash counts only
 * if the state is still VALIDATING: a write to the regions that came
 * meanwhile went to the worker, which cleared fp_valid on disk and set
 * INVALID before letting it down (cbt_fp_invalidate()), so the hash may
 * hold some of its data or none; that write's end_io queues this work
 * again. The origin and its size stay as read here: a table swap or a
 * resize happens only while suspended, and postsuspend cancels this work
 * synchronously first, so the live table keeps @origin open throughout.
 */
void cbt_fp_work(struct work_struct *ws)
{
	struct cbt_tracker *t = container_of(to_delayed_work(ws), struct cbt_tracker, fp_work);
	struct page *pages[CBT_FP_PAGES] = {};
	/* Region writes may wait for this work's records: no reclaim into their I/O. */
	unsigned int noio = memalloc_noio_save(), i;
	struct block_device *origin;
	u64 sectors, fp = 0;
	bool started;
	int r = 0;

	mutex_lock(&t->lock);
	started = fp_start(t);
	origin = t->origin_bdev;
	sectors = t->dev_sectors;
	mutex_unlock(&t->lock);
	if (!started)
		goto out;
	for (i = 0; i < CBT_FP_PAGES && !r; i++) {
		pages[i] = alloc_page(GFP_KERNEL);
		if (!pages[i])
			r = -ENOMEM;
	}
	if (!r)
		r = fp_read(origin, pages, CBT_FP_PAGES, sectors, &fp);

	mutex_lock(&t->lock);
	/* Changed meanwhile (see above): this hash means nothing. */
	if (atomic_read(&t->fp_state) != CBT_FP_VALIDATING || t->dead ||
	    WARN_ON_ONCE(t->origin_bdev != origin || t->dev_sectors != sectors))
		goto unlock;
	if (r) {
		fp_warn(t, r);
		atomic_set(&t->fp_state, CBT_FP_INVALID);
		goto unlock;
	}
	fp_set(t, fp, sectors);
	if (!write_sb(t, "recording the fingerprint"))
		atomic_set(&t->fp_state, CBT_FP_VALID);
unlock:
	mutex_unlock(&t->lock);
out:
	for (i = 0; i < CBT_FP_PAGES; i++)
		if (pages[i])
			__free_page(pages[i]);
	memalloc_noio_restore(noio);
}

/* A persistent tracker's write to the fingerprinted regions. */
bool __cbt_fp_write_deferred(struct cbt_tracker *t, struct bio *bio)
{
	struct cbt_io *io = dm_per_bio_data(bio, sizeof(struct cbt_io));

	atomic_inc(&t->fp_inflight);
	/* Count, then read the state: pairs with the barrier in cbt_fp_work(). */
	smp_mb__after_atomic();
	if (atomic_read(&t->fp_state) == CBT_FP_INVALID) {
		io->fp = true;
		return false;
	}
	atomic_dec(&t->fp_inflight);
	io->fp_defer = true;
	return true;
}

void cbt_fp_invalidate(struct cbt_tracker *t, struct bio_list *bios)
{
	struct cbt_io *io;
	struct bio *bio;
	bool any = false;

	lockdep_assert_held(&t->lock);
	bio_list_for_each(bio, bios) {
		io = dm_per_bio_data(bio, sizeof(struct cbt_io));
		if (!io->fp_defer)
			continue;
		io->fp_defer = false;
		io->fp = true;
		atomic_inc(&t->fp_inflight);
		any = true;
	}
	if (!any || atomic_read(&t->fp_state) == CBT_FP_INVALID)
		return;
	/* On disk first: until then map() keeps deferring such writes here. */
	t->ledger.fp_valid = false;
	write_sb(t, "clearing the fingerprint");
	atomic_set(&t->fp_state, CBT_FP_INVALID);
}

void cbt_fp_write_done(struct cbt_tracker *t)
{
	atomic_dec(&t->fp_inflight);
	/* Coalesced: validate once such writes have paused for a second. */
	mod_delayed_work(t->wq, &t->fp_work, HZ);
}

void cbt_history_suspend(struct cbt_tracker *t, struct mapped_device *md, bool noflush)
{
	struct cbt_ledger *l = &t->ledger;

	lockdep_assert_held(&t->lock);
	cbt_md_wipe_sb(t);
	if (t->persistence != CBT_PERSIST_METADATA || t->dead || !t->was_live)
		return;
	/*
	 * Every write is done: valid now unless it was hashed already. Not
	 * on a noflush suspend (multipath with queue_if_no_path): the origin
	 * may not answer, and the suspend must not hang on it. Without a
	 * fingerprint only evidence is lost, never a write.
	 */
	if (atomic_read(&t->fp_state) != CBT_FP_VALID && (noflush || fp_record(t)))
		t->ledger.fp_valid = false;
	atomic_set(&t->fp_state, t->ledger.fp_valid ? CBT_FP_VALID : CBT_FP_INVALID);
	l->detach = CBT_DETACH_SUSPENDED;
	l->io_known = io_counters(md, &l->io_writes, &l->io_discards);
	l->md_nonce = cbt_module_nonce;
	l->md_diskseq = dm_disk(md)->diskseq;
	l->md_devt = t->devt;
	write_sb(t, "recording the suspend");
}

void cbt_history_detach(struct cbt_tracker *t, bool replaced)
{
	lockdep_assert_held(&t->lock);
	cbt_md_wipe_sb(t);
	if (replaced && t->persistence == CBT_PERSIST_METADATA) {
		t->ledger.detach = CBT_DETACH_REPLACED;
		if (write_sb(t, "recording the table replacement"))
			DMERR("%u:%u: the table was replaced and that could not be recorded",
			      MAJOR(t->devt), MINOR(t->devt));
	}
}
