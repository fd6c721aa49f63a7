// SPDX-License-Identifier: GPL-2.0
/*
 * Coarse marks (format version 3; docs/design.md): the region maps that
 * let a first write into a region go down without waiting for its fine
 * bit's commit. Regions are staged and written ahead of the writes they
 * cover (cbt_md_commit_regions()), published to map() in t->rmap once on
 * disk, folded into the fine bits a generation at a time, and replayed
 * after a crash by the load (dm-cbt-load.c). The pages they are written
 * with, and the fine bits a fold commits, are dm-cbt-metadata.c's.
 *
 * cbt_md_regions_on() and cbt_md_regions_marked() are map()'s: no lock,
 * the region map read under RCU. Every other function here runs with the
 * tracker's lock held and may sleep.
 */
#include <linux/blkdev.h>
#include <linux/bitmap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "dm-cbt.h"

#define REGIONS_PER_MD_PAGE (DM_CBT_MD_PAGE_SIZE * 8ULL)
#define WORDS_PER_MD_PAGE (DM_CBT_MD_PAGE_SIZE / sizeof(long))

bool cbt_md_regions_on(struct cbt_tracker *t)
{
	return READ_ONCE(t->rmap) && READ_ONCE(t->persistence) == CBT_PERSIST_METADATA;
}

/* Is every region of blocks [start, start + len) on disk in the current generation? */
bool cbt_md_regions_marked(struct cbt_tracker *t, u64 start, u64 len)
{
	const unsigned long *rmap = READ_ONCE(t->rmap);
	u32 shift = t->ledger.region_shift;
	u64 r;

	if (!rmap || !len)
		return false;
	for (r = start >> shift; r <= (start + len - 1) >> shift; r++)
		if (!test_bit_le(r, rmap))
			return false;
	return true;
}

void cbt_md_stage_regions(struct cbt_tracker *t, u64 start, u64 len)
{
	u32 shift = t->ledger.region_shift;
	u64 r, last;

	lockdep_assert_held(&t->lock);
	if (!t->rmap || !len)
		return;
	last = min(start + len, t->nr_blocks) - 1;
	for (r = start >> shift; r <= last >> shift; r++) {
		if (__test_and_set_bit_le(r, t->rstaged))
			continue;
		__set_bit(r / REGIONS_PER_MD_PAGE, t->rtouch);
	}
}

/*
 * Copy region-map page @i of @from (NULL: zeroes) into @to, word by word
 * for map()'s lockless readers.
 */
static void copy_map_page(unsigned long *to, const unsigned long *from, u64 i)
{
	u64 w;

	for (w = i * WORDS_PER_MD_PAGE; w < (i + 1) * WORDS_PER_MD_PAGE; w++)
		WRITE_ONCE(to[w], from ? from[w] : 0);
}

int cbt_md_commit_regions(struct cbt_tracker *t)
{
	u64 base = cbt_region_map_page(&t->ledger, t->rgen);
	u64 page_nos[CBT_COMMIT_BATCH], i;
	unsigned int n = 0;
	int r = 0;

	lockdep_assert_held(&t->lock);
	if (!t->rmap || bitmap_empty(t->rtouch, t->rmap_pages))
		return 0;
	for_each_set_bit(i, t->rtouch, t->rmap_pages) {
		memcpy(page_address(t->batch[n]), (u8 *)t->rstaged + i * DM_CBT_MD_PAGE_SIZE,
		       DM_CBT_MD_PAGE_SIZE);
		page_nos[n++] = base + i;
		__set_bit(i, t->rwritten[t->rgen]);
		if (n == CBT_COMMIT_BATCH) {
			r = cbt_md_io(t, t->batch, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
			if (r)
				return r;
			n = 0;
		}
	}
	r = cbt_md_io(t, t->batch, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
	if (!r) {
		r = blkdev_issue_flush(t->meta_bdev);
		if (r)
			atomic64_inc(&t->metadata_errors);
	}
	if (r)
		return r;
	/* On disk: now map() may let first writes into these regions go. */
	for_each_set_bit(i, t->rtouch, t->rmap_pages)
		copy_map_page(t->rmap, t->rstaged, i);
	bitmap_zero(t->rtouch, t->rmap_pages);
	return 0;
}

bool cbt_md_fold_start(struct cbt_tracker *t, unsigned long *gp)
{
	u32 old = t->rgen;
	u64 i;

	lockdep_assert_held(&t->lock);
	if (t->fold_pending || !cbt_md_regions_on(t) || t->dead ||
	    bitmap_empty(t->rwritten[old], t->rmap_pages))
		return false;
	/* Only pages written in this generation hold bits. */
	for_each_set_bit(i, t->rwritten[old], t->rmap_pages)
		copy_map_page(t->rmap, NULL, i);
	memset(t->rstaged, 0, t->rmap_pages * DM_CBT_MD_PAGE_SIZE);
	t->rgen = !old;
	t->fold_pending = true;
	/* After the flip: the grace period must cover every map() that saw it. */
	t->fold_gp = get_state_synchronize_rcu();
	*gp = t->fold_gp;
	return true;
}

/* @quiesced: no map() can be running (see cbt_md_fold()). */
static int fold_finish(struct cbt_tracker *t, bool quiesced)
{
	u32 old = !t->rgen;
	u64 i;
	int r;

	lockdep_assert_held(&t->lock);
	if (!t->fold_pending)
		return 0;
	t->fold_pending = false;
	/* Failed or gone meanwhile: the old generation's marks are only extra. */
	if (!cbt_md_regions_on(t) || t->dead)
		return 0;
	/*
	 * Every map() that saw a region of the old generation has set its
	 * fine bits and dirty leaves once the grace period is over: the
	 * commit below writes them all, and only then does the old
	 * generation go. Over already when the caller waited for it, and
	 * not needed when no map() runs.
	 */
	if (!quiesced)
		cond_synchronize_rcu(t->fold_gp);
	r = cbt_md_commit_dirty(t);
	if (r)
		return r;
	for_each_set_bit(i, t->rwritten[old], t->rmap_pages) {
		r = cbt_md_zero_pages(t, cbt_region_map_page(&t->ledger, old) + i, 1);
		if (r)
			return r;
	}
	bitmap_zero(t->rwritten[old], t->rmap_pages);
	r = blkdev_issue_flush(t->meta_bdev);
	if (r)
		atomic64_inc(&t->metadata_errors);
	return r;
}

int cbt_md_fold_finish(struct cbt_tracker *t)
{
	return fold_finish(t, false);
}

/*
 * No grace period here, though map() reads the region map under RCU
 * (cbt_mark_fast_rcu()): the caller guarantees that no map() of this tracker
 * runs. Writes are held and drained (an epoch close or a snapshot take)
 * or the device is suspended, and map() reads the region map only for a
 * write counted in t->writes (or in dm's own in-flight count), whose
 * end_io comes after its read section ended; the drain (or the suspend)
 * waited for every such end_io, and writes arriving meanwhile are parked
 * (or queued by dm) before they reach cbt_mark_fast_rcu(). So every map()
 * that could have seen the old generation has set its fine bits and
 * dirty leaves already, which is all the grace period waited for. A take
 * used to wait for a whole grace period here, under t->lock and with the
 * device's writes held.
 */
int cbt_md_fold(struct cbt_tracker *t)
{
	unsigned long gp;
	int r;

	lockdep_assert_held(&t->lock);
	/* One the fold worker started: finish it before the next. */
	r = fold_finish(t, true);
	if (r || !cbt_md_fold_start(t, &gp))
		return r;
	return fold_finish(t, true);
}

void cbt_md_regions_free(struct cbt_tracker *t)
{
	kvfree(t->rmap);
	kvfree(t->rstaged);
	bitmap_free(t->rtouch);
	bitmap_free(t->rwritten[0]);
	bitmap_free(t->rwritten[1]);
	t->rmap = NULL;
	t->rstaged = NULL;
	t->rtouch = NULL;
	t->rwritten[0] = NULL;
	t->rwritten[1] = NULL;
	t->rmap_pages = 0;
}

/*
 * Empty region maps in memory for the ledger's layout, both generations
 * zero on disk. Without memory for them (or in version 2) they stay NULL
 * and every first write waits for its fine bit, which is always safe.
 */
void cbt_md_regions_reset(struct cbt_tracker *t)
{
	u64 pages = t->ledger.region_pages;
	unsigned int noio;

	t->rgen = 0;
	t->fold_pending = false;
	if (pages && pages == t->rmap_pages) {
		memset(t->rmap, 0, pages * DM_CBT_MD_PAGE_SIZE);
		memset(t->rstaged, 0, pages * DM_CBT_MD_PAGE_SIZE);
		bitmap_zero(t->rtouch, pages);
		bitmap_zero(t->rwritten[0], pages);
		bitmap_zero(t->rwritten[1], pages);
		return;
	}
	cbt_md_regions_free(t);
	if (!pages)
		return;
	/* A restart runs while the device is suspended: no I/O to it here. */
	noio = memalloc_noio_save();
	t->rstaged = kvzalloc(pages * DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);
	t->rtouch = bitmap_zalloc(pages, GFP_KERNEL);
	t->rwritten[0] = bitmap_zalloc(pages, GFP_KERNEL);
	t->rwritten[1] = bitmap_zalloc(pages, GFP_KERNEL);
	/* Last: a non-NULL rmap says the rest is there. */
	t->rmap = kvzalloc(pages * DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);
	memalloc_noio_restore(noio);
	if (!t->rstaged || !t->rtouch || !t->rwritten[0] || !t->rwritten[1] || !t->rmap) {
		DMWARN("%u:%u: no memory for the region maps: every first write waits",
		       MAJOR(t->devt), MINOR(t->devt));
		cbt_md_regions_free(t);
		return;
	}
	t->rmap_pages = pages;
}

/*
 * After a crash: every region marked in either generation may hold writes
 * whose fine bits never reached the disk. Mark all their blocks in the
 * open epoch @e (the caller commits them), and say whether any was.
 */
int cbt_md_regions_replay(struct cbt_tracker *t, struct cbt_epoch *e, bool *any)
{
	u64 page_nos[CBT_COMMIT_BATCH], p = 0, bit;
	u32 shift = t->ledger.region_shift, gen, n, i;
	u64 per = 1ULL << shift;	/* blocks per region */
	int r;

	*any = false;
	for (gen = 0; gen < 2; gen++) {
		for (p = 0; p < t->ledger.region_pages; p += n) {
			n = min_t(u64, CBT_COMMIT_BATCH, t->ledger.region_pages - p);
			for (i = 0; i < n; i++)
				page_nos[i] = cbt_region_map_page(&t->ledger, gen) + p + i;
			r = cbt_md_io(t, t->batch, page_nos, n, REQ_OP_READ);
			if (r)
				return r;
			for (i = 0; i < n; i++) {
				const void *map = page_address(t->batch[i]);
				u64 first = (p + i) * REGIONS_PER_MD_PAGE;

				for (bit = find_next_bit_le(map, REGIONS_PER_MD_PAGE, 0);
				     bit < REGIONS_PER_MD_PAGE;
				     bit = find_next_bit_le(map, REGIONS_PER_MD_PAGE, bit + 1)) {
					u64 block = (first + bit) << shift;

					if (block >= t->nr_blocks)
						break;
					cbt_bitmap_set_range(&e->bm, block, per, GFP_KERNEL);
					cbt_md_mark_dirty(e, block, per);
					*any = true;
				}
			}
		}
	}
	return 0;
}
