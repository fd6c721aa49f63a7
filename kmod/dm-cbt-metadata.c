// SPDX-License-Identifier: GPL-2.0
/*
 * The metadata device: loading, formatting and committing bitmaps.
 *
 * Layout (include/uapi/linux/dm-cbt.h): two superblock copies, then
 * DM_CBT_MD_SLOTS slots of slot_pages pages, page i of a slot holding bitmap
 * leaf i. Bits only go from 0 to 1 inside a slot while its epoch lives, so a
 * torn page write can only lose bits whose writes have not been released
 * yet; a freed slot is zeroed before an epoch opens in it.
 *
 * Every function here runs with the tracker's lock held and may sleep.
 */
#include <linux/blkdev.h>
#include <linux/bio.h>
#include <linux/completion.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uuid.h>

#include "dm-cbt.h"

#define SECTORS_PER_MD_PAGE (DM_CBT_MD_PAGE_SIZE >> SECTOR_SHIFT)

/*
 * Metadata and fingerprint bios come from the module's own pool, not from
 * fs_bio_set: the filesystem above may hold that pool's bios in our
 * deferred list, waiting for the very commit that needs one (review M4).
 * Each bio is submitted as soon as it is allocated, so the pool always
 * drains.
 */
static struct bio_set md_bioset;

int cbt_md_init(void)
{
	return bioset_init(&md_bioset, CBT_COMMIT_BATCH, 0, BIOSET_NEED_BVECS);
}

void cbt_md_exit(void)
{
	bioset_exit(&md_bioset);
}

struct md_batch_io {
	atomic_t remaining;
	blk_status_t status;
	struct completion done;
};

static void md_end_io(struct bio *bio)
{
	struct md_batch_io *io = bio->bi_private;

	if (bio->bi_status)
		io->status = bio->bi_status;
	bio_put(bio);
	if (atomic_dec_and_test(&io->remaining))
		complete(&io->done);
}

int cbt_md_rw(struct block_device *bdev, struct page **pages, const u64 *page_nos,
	      unsigned int n, blk_opf_t opf)
{
	struct md_batch_io io = { .status = BLK_STS_OK };
	unsigned int i;

	BUILD_BUG_ON(PAGE_SIZE < DM_CBT_MD_PAGE_SIZE);
	if (!n)
		return 0;
	atomic_set(&io.remaining, n);
	init_completion(&io.done);
	for (i = 0; i < n; i++) {
		/* Mempool-backed with a sleeping gfp: this cannot fail. */
		struct bio *bio = bio_alloc_bioset(bdev, 1, opf, GFP_NOIO, &md_bioset);

		bio->bi_iter.bi_sector = page_nos[i] * SECTORS_PER_MD_PAGE;
		__bio_add_page(bio, pages ? pages[i] : ZERO_PAGE(0), DM_CBT_MD_PAGE_SIZE, 0);
		bio->bi_private = &io;
		bio->bi_end_io = md_end_io;
		submit_bio(bio);
	}
	wait_for_completion_io(&io.done);
	return blk_status_to_errno(io.status);
}

/* Metadata I/O: a dead tracker has no metadata device any more. */
static int md_rw(struct cbt_tracker *t, struct page **pages, const u64 *page_nos,
		 unsigned int n, blk_opf_t opf)
{
	int r;

	lockdep_assert_held(&t->lock);
	if (WARN_ON_ONCE(t->dead || !t->meta_bdev))
		return -ENODEV;
	r = cbt_md_rw(t->meta_bdev, pages, page_nos, n, opf);
	if (r)
		atomic64_inc(&t->metadata_errors);
	return r;
}

static u64 slot_page(struct cbt_tracker *t, u32 slot, u32 leaf)
{
	return DM_CBT_MD_SB_COPIES + (u64)slot * t->ledger.slot_pages + leaf;
}

int cbt_md_write_sb(struct cbt_tracker *t)
{
	u64 page_no = t->ledger.seq % DM_CBT_MD_SB_COPIES;

	lockdep_assert_held(&t->lock);
	cbt_sb_encode(&t->ledger, page_address(t->batch[0]));
	/* PREFLUSH: every bitmap page written before is durable first. */
	return md_rw(t, &t->batch[0], &page_no, 1,
		     REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_META | REQ_SYNC);
}

void cbt_md_mark_dirty(struct cbt_epoch *e, u64 start, u64 len)
{
	u64 first, last;

	if (!len || start >= e->bm.nr_bits)
		return;
	last = min(start + len, e->bm.nr_bits) - 1;
	/* The bits first: a commit that clears the dirty bit then reads them. */
	smp_mb__before_atomic();
	for (first = start / CBT_BITS_PER_LEAF; first <= last / CBT_BITS_PER_LEAF; first++)
		set_bit(first, e->dirty_leaves);
}

int cbt_md_commit_dirty(struct cbt_tracker *t)
{
	u64 page_nos[CBT_COMMIT_BATCH];
	unsigned int n = 0, written = 0;
	u32 slot, leaf;
	int r;

	lockdep_assert_held(&t->lock);
	for (slot = 0; slot < DM_CBT_MD_SLOTS; slot++) {
		struct cbt_epoch *e = t->slots[slot];

		if (!e)
			continue;
		for_each_set_bit(leaf, e->dirty_leaves, e->bm.nr_leaves) {
			__le64 *page = page_address(t->batch[n]);
			const __le64 *pending = t->scratch;
			u32 w;

			/* Fully ordered: a setter's bits before its dirty bit are seen. */
			if (!test_and_clear_bit(leaf, e->dirty_leaves))
				continue;
			cbt_bitmap_read_leaf(&e->bm, leaf, page);
			if (cbt_bitmap_read_leaf(&e->pending, leaf, t->scratch))
				for (w = 0; w < CBT_LEAF_BYTES / sizeof(*page); w++)
					page[w] |= pending[w];
			page_nos[n++] = slot_page(t, slot, leaf);
			if (n == CBT_COMMIT_BATCH) {
				r = md_rw(t, t->batch, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
				if (r)
					return r;
				written += n;
				n = 0;
			}
		}
	}
	r = md_rw(t, t->batch, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
	if (r)
		return r;
	written += n;
	if (!written)
		return 0;
	r = blkdev_issue_flush(t->meta_bdev);
	if (r)
		atomic64_inc(&t->metadata_errors);
	return r;
}

/*
 * Zero @count pages from @first with writes of the zero page from our own
 * bio_set: blkdev_issue_zeroout() would allocate from fs_bio_set, the pool
 * the filesystem above shares, whose bios may sit in t->deferred waiting
 * for this very commit (review M4).
 */
static int md_zero_pages(struct cbt_tracker *t, u64 first, u64 count)
{
	u64 page_nos[CBT_COMMIT_BATCH];
	unsigned int i, n;
	int r;

	while (count) {
		n = min_t(u64, count, CBT_COMMIT_BATCH);
		for (i = 0; i < n; i++)
			page_nos[i] = first + i;
		/* No pages: the zero page for each. */
		r = md_rw(t, NULL, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
		if (r)
			return r;
		first += n;
		count -= n;
	}
	return 0;
}

int cbt_md_zero_slot(struct cbt_tracker *t, u32 slot, const struct cbt_bitmap *bm)
{
	u32 leaf = 0, run;
	int r;

	lockdep_assert_held(&t->lock);
	/* Only pages an epoch touched can hold bits: zero just those runs. */
	while (leaf < bm->nr_leaves) {
		if (!cbt_bitmap_leaf_present(bm, leaf)) {
			leaf++;
			continue;
		}
		run = 1;
		while (leaf + run < bm->nr_leaves && cbt_bitmap_leaf_present(bm, leaf + run))
			run++;
		r = md_zero_pages(t, slot_page(t, slot, leaf), run);
		if (r)
			return r;
		leaf += run;
	}
	return 0;
}

/* ---- Coarse marks (format version 3): docs/design.md ---- */

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
			r = md_rw(t, t->batch, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
			if (r)
				return r;
			n = 0;
		}
	}
	r = md_rw(t, t->batch, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
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
		r = md_zero_pages(t, cbt_region_map_page(&t->ledger, old) + i, 1);
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
 * (cbt_mark_fast()): the caller guarantees that no map() of this tracker
 * runs. Writes are held and drained (an epoch close or a snapshot take)
 * or the device is suspended, and map() reads the region map only for a
 * write counted in t->writes (or in dm's own in-flight count), whose
 * end_io comes after its read section ended; the drain (or the suspend)
 * waited for every such end_io, and writes arriving meanwhile are parked
 * (or queued by dm) before they reach cbt_mark_fast(). So every map()
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
static void regions_reset(struct cbt_tracker *t)
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
static int replay_regions(struct cbt_tracker *t, struct cbt_epoch *e, bool *any)
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
			r = md_rw(t, t->batch, page_nos, n, REQ_OP_READ);
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

void cbt_md_failed(struct cbt_tracker *t, int err, const char *what)
{
	u8 uuid[16];

	lockdep_assert_held(&t->lock);
	if (t->persistence != CBT_PERSIST_METADATA || t->dead)
		return;
	/* The tool sees the new identity and asks for a full image. */
	DMERR("%u:%u: metadata failed %s (%d); tracking goes on in memory, new identity",
	      MAJOR(t->devt), MINOR(t->devt), what, err);
	WRITE_ONCE(t->persistence, CBT_PERSIST_FAILED);
	generate_random_uuid(uuid);
	memcpy(t->ledger.uuid, uuid, sizeof(uuid));
	t->reason = CBT_IDENTITY_METADATA_FAILED;
	t->sb_wiped = false;
	cbt_md_wipe_sb(t);
	schedule_work(&t->lost_work);
}

void cbt_md_wipe_sb(struct cbt_tracker *t)
{
	lockdep_assert_held(&t->lock);
	/*
	 * Wipe both superblocks so a later load can never trust bitmaps that
	 * stopped being updated here. If the device refuses now (a path lost
	 * for a while), postsuspend and the dtr try again; until one succeeds
	 * the superblocks say fp_valid=0 and "attached", so only a crash in
	 * between could make a load trust them (docs/target.md).
	 */
	if (t->sb_wiped || t->dead || !t->meta_bdev ||
	    t->persistence != CBT_PERSIST_FAILED)
		return;
	if (!md_zero_pages(t, 0, DM_CBT_MD_SB_COPIES))
		t->sb_wiped = true;
}

/* Read every leaf of @slot into @e's bitmap. */
static int load_slot(struct cbt_tracker *t, struct cbt_epoch *e)
{
	u64 page_nos[CBT_COMMIT_BATCH];
	u32 leaf = 0, n, i;
	int r;

	while (leaf < e->bm.nr_leaves) {
		n = min_t(u32, CBT_COMMIT_BATCH, e->bm.nr_leaves - leaf);
		for (i = 0; i < n; i++)
			page_nos[i] = slot_page(t, e->slot, leaf + i);
		r = md_rw(t, t->batch, page_nos, n, REQ_OP_READ);
		if (r)
			return r;
		for (i = 0; i < n; i++) {
			cbt_bitmap_or_leaf(&e->bm, leaf + i,
					   page_address(t->batch[i]), GFP_KERNEL);
			/* No page for it: FULL in memory, so all ones on disk too (L3). */
			if (READ_ONCE(e->bm.leaves[leaf + i]) == CBT_LEAF_FULL)
				set_bit(leaf + i, e->dirty_leaves);
		}
		leaf += n;
	}
	return 0;
}

static int format(struct cbt_tracker *t, u64 md_pages, enum cbt_identity_reason why,
		  char **error)
{
	u64 zero_page = 0, one_page = 1;
	struct cbt_epoch *e;
	u8 uuid[16];
	int r;

	generate_random_uuid(uuid);
	cbt_ledger_init(&t->ledger, uuid, t->block_sectors << SECTOR_SHIFT, t->nr_blocks, 0);
	t->ledger.origin_sectors = t->dev_sectors;
	/* cbt_md_open() checked that version 2 fits: this cannot fail. */
	cbt_md_layout(&t->ledger, md_pages);
	r = blkdev_issue_zeroout(t->meta_bdev, DM_CBT_MD_SB_COPIES * SECTORS_PER_MD_PAGE,
				 (cbt_region_map_page(&t->ledger, 2) - DM_CBT_MD_SB_COPIES) *
				 SECTORS_PER_MD_PAGE, GFP_KERNEL, 0);
	if (r) {
		*error = "Cannot zero the metadata device";
		return r;
	}
	t->ledger.seq = 1;
	/* Both copies, so no older superblock can outrank the new identity. */
	cbt_sb_encode(&t->ledger, page_address(t->batch[0]));
	r = md_rw(t, &t->batch[0], &zero_page, 1, REQ_OP_WRITE | REQ_SYNC);
	if (!r)
		r = md_rw(t, &t->batch[0], &one_page, 1,
			  REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA | REQ_SYNC);
	if (r) {
		*error = "Cannot write the metadata superblock";
		return r;
	}
	e = cbt_epoch_alloc(t, t->ledger.open_epoch, t->ledger.open_slot);
	if (!e) {
		*error = "Cannot allocate bitmap";
		return -ENOMEM;
	}
	t->slots[e->slot] = e;
	regions_reset(t);
	t->reason = why;
	/* Weighed already: this identity begins here, there is no stretch to check. */
	t->checked = true;
	return 0;
}

int cbt_md_restart(struct cbt_tracker *t, enum cbt_identity_reason why)
{
	u64 md_pages = bdev_nr_sectors(t->meta_bdev) / SECTORS_PER_MD_PAGE;
	struct cbt_epoch *old[DM_CBT_MD_SLOTS];
	struct cbt_ledger old_ledger = t->ledger;
	char *error = NULL;
	u32 i;
	int r;

	lockdep_assert_held(&t->lock);
	memcpy(old, t->slots, sizeof(old));
	memset(t->slots, 0, sizeof(t->slots));
	r = format(t, md_pages, why, &error);
	if (r) {
		/* The old bits are a superset: keep them, in memory, as a new identity. */
		memcpy(t->slots, old, sizeof(old));
		t->ledger = old_ledger;
		DMERR("%u:%u: %s (%d)", MAJOR(t->devt), MINOR(t->devt), error, r);
		cbt_md_failed(t, r, "starting a new identity");
		return r;
	}
	rcu_assign_pointer(t->open, t->slots[t->ledger.open_slot]);
	/* No map() runs while suspended; this only orders the frees after it. */
	synchronize_rcu();
	for (i = 0; i < DM_CBT_MD_SLOTS; i++)
		cbt_epoch_free(old[i]);
	return 0;
}

/* Load a valid ledger's epochs; 0, or -errno with *error set. */
static int load(struct cbt_tracker *t, const struct cbt_ledger *l, char **error)
{
	u64 old_blocks = l->nr_blocks;
	struct cbt_epoch *e;
	bool replayed = false;
	u32 slot, i;
	int r;

	t->ledger = *l;
	for (i = 0; i <= t->ledger.nr_closed; i++) {
		u64 number = i < t->ledger.nr_closed ? t->ledger.closed[i].epoch :
						       t->ledger.open_epoch;

		slot = i < t->ledger.nr_closed ? t->ledger.closed[i].slot :
						 t->ledger.open_slot;
		e = cbt_epoch_alloc(t, number, slot);
		if (!e) {
			*error = "Cannot allocate bitmap";
			return -ENOMEM;
		}
		t->slots[slot] = e;
		r = load_slot(t, e);
		if (r) {
			*error = "Cannot read the metadata bitmaps";
			return r;
		}
	}
	for (slot = 0; slot < DM_CBT_MD_SLOTS; slot++) {
		if (!(t->ledger.dirty_slots & (1U << slot)))
			continue;
		r = blkdev_issue_zeroout(t->meta_bdev,
					 slot_page(t, slot, 0) * SECTORS_PER_MD_PAGE,
					 t->ledger.slot_pages * SECTORS_PER_MD_PAGE,
					 GFP_KERNEL, 0);
		if (r) {
			*error = "Cannot zero a freed metadata slot";
			return r;
		}
		cbt_ledger_slot_clean(&t->ledger, slot);
	}
	if (t->nr_blocks > old_blocks) {
		/* The origin grew while we were away: the new area changed. */
		e = t->slots[t->ledger.open_slot];
		cbt_bitmap_set_range(&e->bm, old_blocks - 1, t->nr_blocks - old_blocks + 1,
				     GFP_KERNEL);
		cbt_md_mark_dirty(e, old_blocks - 1, t->nr_blocks - old_blocks + 1);
		r = cbt_md_commit_dirty(t);
		if (r) {
			*error = "Cannot write the metadata bitmaps";
			return r;
		}
		t->ledger.nr_blocks = t->nr_blocks;
		t->ledger.origin_sectors = t->dev_sectors;
	}
	if (t->ledger.region_pages) {
		r = replay_regions(t, t->slots[t->ledger.open_slot], &replayed);
		if (r) {
			*error = "Cannot read the region maps";
			return r;
		}
	}
	/* Replayed regions, and the leaves load_slot() could only keep as FULL. */
	r = cbt_md_commit_dirty(t);
	if (r) {
		*error = "Cannot write the metadata bitmaps";
		return r;
	}
	/* Both generations zero again; the superblock's PREFLUSH settles it. */
	if (replayed) {
		DMINFO("%u:%u: unclean stop: the blocks of its coarse marks count as changed",
		       MAJOR(t->devt), MINOR(t->devt));
		r = blkdev_issue_zeroout(t->meta_bdev,
					 cbt_region_map_page(&t->ledger, 0) * SECTORS_PER_MD_PAGE,
					 2 * t->ledger.region_pages * SECTORS_PER_MD_PAGE,
					 GFP_KERNEL, 0);
		if (r) {
			*error = "Cannot zero the region maps";
			return r;
		}
	}
	regions_reset(t);
	t->reason = CBT_IDENTITY_CONTINUED;
	t->ledger.seq++;
	r = cbt_md_write_sb(t);
	if (r)
		*error = "Cannot write the metadata superblock";
	return r;
}

/* cbt_md_open() with room for both superblocks' ledgers in @l. */
static int md_open(struct cbt_tracker *t, struct cbt_ledger *l, char **error)
{
	u64 md_pages = bdev_nr_sectors(t->meta_bdev) / SECTORS_PER_MD_PAGE;
	u64 need = DM_CBT_MD_SB_COPIES + (u64)DM_CBT_MD_SLOTS *
		   DIV_ROUND_UP_ULL(t->nr_blocks, CBT_BITS_PER_LEAF);
	u64 page_nos[DM_CBT_MD_SB_COPIES] = { 0, 1 };
	int r, d[DM_CBT_MD_SB_COPIES], best = -1, i;

	lockdep_assert_held(&t->lock);
	if (md_pages < need) {
		*error = "Metadata device too small (see docs/target.md for its size)";
		return -ENOSPC;
	}
	r = md_rw(t, t->batch, page_nos, DM_CBT_MD_SB_COPIES, REQ_OP_READ);
	if (r) {
		*error = "Cannot read the metadata superblock";
		return r;
	}
	for (i = 0; i < DM_CBT_MD_SB_COPIES; i++) {
		d[i] = cbt_sb_decode(page_address(t->batch[i]), &l[i]);
		if (d[i] == -EPROTO) {
			/* A newer module wrote it: reformatting would drop its history. */
			*error = "Metadata of a newer dm-cbt format; load the newer module";
			return -EPROTO;
		}
		if (!d[i] && (best < 0 || l[i].seq > l[best].seq))
			best = i;
	}
	if (d[0] == -ESTALE || d[1] == -ESTALE)
		return format(t, md_pages, CBT_IDENTITY_UNTRACKED_BOOT, error);
	if (best < 0) {
		if (d[0] == -ENODATA && d[1] == -ENODATA)
			return format(t, md_pages, CBT_IDENTITY_NEW_METADATA, error);
		if (d[0] == -EILSEQ || d[1] == -EILSEQ) {
			/* Never overwrite what the user may need: it isn't ours. */
			*error = "Metadata device holds foreign data; zero its first 8 KiB";
			return -EINVAL;
		}
		DMWARN("%u:%u: metadata is damaged (%d, %d): new identity",
		       MAJOR(t->devt), MINOR(t->devt), d[0], d[1]);
		return format(t, md_pages, CBT_IDENTITY_DAMAGED, error);
	}
	if (l[best].block_size != t->block_sectors << SECTOR_SHIFT ||
	    l[best].nr_blocks > t->nr_blocks ||
	    (l[best].version >= 2 && l[best].origin_sectors > t->dev_sectors) ||
	    cbt_region_map_page(&l[best], 2) > md_pages) {
		DMWARN("%u:%u: metadata is for another device or block size: new identity",
		       MAJOR(t->devt), MINOR(t->devt));
		return format(t, md_pages, CBT_IDENTITY_OTHER_DEVICE, error);
	}
	/* Version 1 kept no evidence of what happened while detached. */
	if (l[best].version < 2)
		return format(t, md_pages, CBT_IDENTITY_UNVERIFIED, error);
	if (t->nr_blocks > l[best].slot_pages * CBT_BITS_PER_LEAF) {
		*error = "Metadata device too small for the grown origin";
		return -ENOSPC;
	}
	return load(t, &l[best], error);
}

int cbt_md_open(struct cbt_tracker *t, char **error)
{
	/* Two ledgers are too large for the stack (CONFIG_FRAME_WARN). */
	struct cbt_ledger *l = kmalloc_array(DM_CBT_MD_SB_COPIES, sizeof(*l), GFP_KERNEL);
	int r;

	lockdep_assert_held(&t->lock);
	if (!l) {
		*error = "Cannot allocate the superblocks' ledgers";
		return -ENOMEM;
	}
	r = md_open(t, l, error);
	kfree(l);
	return r;
}
