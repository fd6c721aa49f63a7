// SPDX-License-Identifier: GPL-2.0
/*
 * The metadata device's pages: the bio pool, page reads and writes, the
 * superblock's write, the fine bits' commit, zeroing, and what a failure
 * of the device does. The coarse marks are in dm-cbt-regions.c; opening
 * the device (load, format, a new identity) is in dm-cbt-load.c.
 *
 * Layout (include/uapi/linux/dm-cbt.h): two superblock copies, then
 * DM_CBT_MD_SLOTS slots of slot_pages pages, page i of a slot holding bitmap
 * leaf i. Bits only go from 0 to 1 inside a slot while its epoch lives, so a
 * torn page write can only lose bits whose writes have not been released
 * yet; a freed slot is zeroed before an epoch opens in it.
 *
 * Every function here but cbt_md_init(), cbt_md_exit(), cbt_md_rw() and
 * cbt_md_mark_dirty() runs with the tracker's lock held and may sleep.
 */
#include <linux/blkdev.h>
#include <linux/bio.h>
#include <linux/completion.h>
#include <linux/uuid.h>

#include "dm-cbt.h"

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

		bio->bi_iter.bi_sector = page_nos[i] * CBT_MD_PAGE_SECTORS;
		__bio_add_page(bio, pages ? pages[i] : ZERO_PAGE(0), DM_CBT_MD_PAGE_SIZE, 0);
		bio->bi_private = &io;
		bio->bi_end_io = md_end_io;
		submit_bio(bio);
	}
	wait_for_completion_io(&io.done);
	return blk_status_to_errno(io.status);
}

/* Metadata I/O: a dead tracker has no metadata device any more. */
int cbt_md_io(struct cbt_tracker *t, struct page **pages, const u64 *page_nos,
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

int cbt_md_write_sb(struct cbt_tracker *t)
{
	u64 page_no = t->ledger.seq % DM_CBT_MD_SB_COPIES;

	lockdep_assert_held(&t->lock);
	cbt_sb_encode(&t->ledger, page_address(t->batch[0]));
	/* PREFLUSH: every bitmap page written before is durable first. */
	return cbt_md_io(t, &t->batch[0], &page_no, 1,
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
			page_nos[n++] = cbt_md_slot_page(t, slot, leaf);
			if (n == CBT_COMMIT_BATCH) {
				r = cbt_md_io(t, t->batch, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
				if (r)
					return r;
				written += n;
				n = 0;
			}
		}
	}
	r = cbt_md_io(t, t->batch, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
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
int cbt_md_zero_pages(struct cbt_tracker *t, u64 first, u64 count)
{
	u64 page_nos[CBT_COMMIT_BATCH];
	unsigned int i, n;
	int r;

	while (count) {
		n = min_t(u64, count, CBT_COMMIT_BATCH);
		for (i = 0; i < n; i++)
			page_nos[i] = first + i;
		/* No pages: the zero page for each. */
		r = cbt_md_io(t, NULL, page_nos, n, REQ_OP_WRITE | REQ_SYNC);
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
		r = cbt_md_zero_pages(t, cbt_md_slot_page(t, slot, leaf), run);
		if (r)
			return r;
		leaf += run;
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
	if (!cbt_md_zero_pages(t, 0, DM_CBT_MD_SB_COPIES))
		t->sb_wiped = true;
}
