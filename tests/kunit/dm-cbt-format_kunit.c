// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the epoch ledger and its superblock (kmod/dm-cbt-format.c).
 */
#include <kunit/test.h>
#include <linux/crc32c.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-cbt-format.h"

static const u8 test_uuid[16] = {
	0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
};

static void fresh(struct cbt_ledger *l)
{
	cbt_ledger_init(l, test_uuid, 65536, 1000, 1);
}

static void ledger_init_opens_epoch_one(struct kunit *test)
{
	struct cbt_ledger l;

	fresh(&l);
	KUNIT_EXPECT_EQ(test, l.open_epoch, 1ULL);
	KUNIT_EXPECT_EQ(test, l.open_slot, 0U);
	KUNIT_EXPECT_EQ(test, l.nr_closed, 0U);
	KUNIT_EXPECT_EQ(test, l.dirty_slots, 0U);
	KUNIT_EXPECT_EQ(test, cbt_ledger_find(&l, 1), 0);
	KUNIT_EXPECT_EQ(test, cbt_ledger_find(&l, 2), -ENOENT);
}

static void ledger_close_until_busy(struct kunit *test)
{
	struct cbt_ledger l;
	u32 slot, seen = 0, i;

	fresh(&l);
	for (i = 0; i < DM_CBT_MAX_CLOSED; i++) {
		KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);
		KUNIT_EXPECT_EQ_MSG(test, l.closed[i].epoch, (u64)i + 1, "close %u", i);
		KUNIT_EXPECT_EQ(test, l.closed[i].slot, slot);
		seen |= 1U << slot;
		KUNIT_EXPECT_FALSE_MSG(test, seen & (1U << l.open_slot),
				       "open slot %u reuses a closed one", l.open_slot);
	}
	KUNIT_EXPECT_EQ(test, l.open_epoch, (u64)DM_CBT_MAX_CLOSED + 1);
	KUNIT_EXPECT_EQ(test, cbt_ledger_close(&l, &slot), -EBUSY);
	/* A refused close changes nothing. */
	KUNIT_EXPECT_EQ(test, l.open_epoch, (u64)DM_CBT_MAX_CLOSED + 1);
	KUNIT_EXPECT_EQ(test, l.nr_closed, (u32)DM_CBT_MAX_CLOSED);
}

static void ledger_commit_in_order(struct kunit *test)
{
	struct cbt_ledger l;
	u32 slot, freed;

	fresh(&l);
	KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);	/* epoch 1 */
	KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);	/* epoch 2 */
	KUNIT_EXPECT_EQ(test, cbt_ledger_commit(&l, 2, &freed), -EINVAL);
	KUNIT_EXPECT_EQ(test, cbt_ledger_commit(&l, 3, &freed), -ENOENT);
	KUNIT_EXPECT_EQ(test, cbt_ledger_commit(&l, 7, &freed), -ENOENT);
	KUNIT_EXPECT_EQ(test, l.last_committed, 0ULL);
	KUNIT_ASSERT_EQ(test, cbt_ledger_commit(&l, 1, &freed), 0);
	KUNIT_EXPECT_EQ(test, l.last_committed, 1ULL);
	KUNIT_EXPECT_EQ(test, freed, 0U);
	KUNIT_EXPECT_EQ(test, l.dirty_slots, 1U);
	KUNIT_EXPECT_EQ(test, l.nr_closed, 1U);
	KUNIT_EXPECT_EQ(test, l.closed[0].epoch, 2ULL);
	KUNIT_EXPECT_EQ(test, cbt_ledger_commit(&l, 1, &freed), -ENOENT);
}

static void ledger_abort_any_order(struct kunit *test)
{
	struct cbt_ledger l;
	u32 slot, freed;

	fresh(&l);
	KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);
	KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);
	KUNIT_ASSERT_EQ(test, cbt_ledger_abort(&l, 2, &freed), 0);
	/* An abort folds changes back: nothing was consumed. */
	KUNIT_EXPECT_EQ(test, l.last_committed, 0ULL);
	KUNIT_EXPECT_EQ(test, l.nr_closed, 1U);
	KUNIT_EXPECT_EQ(test, l.closed[0].epoch, 1ULL);
	KUNIT_EXPECT_EQ(test, l.dirty_slots, 1U << freed);
	KUNIT_EXPECT_EQ(test, cbt_ledger_abort(&l, 3, &freed), -ENOENT);	/* open */
}

static void ledger_dirty_slot_not_reused(struct kunit *test)
{
	struct cbt_ledger l;
	u32 slot, freed, i;

	fresh(&l);
	/* Fill every slot, then free one without cleaning it. */
	for (i = 0; i < DM_CBT_MAX_CLOSED; i++)
		KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);
	KUNIT_ASSERT_EQ(test, cbt_ledger_commit(&l, 1, &freed), 0);
	KUNIT_EXPECT_EQ(test, cbt_ledger_close(&l, &slot), -EAGAIN);
	cbt_ledger_slot_clean(&l, freed);
	KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);
	KUNIT_EXPECT_EQ(test, l.open_slot, freed);
}

static void sb_round_trip(struct kunit *test)
{
	struct cbt_ledger l, out;
	void *page = kunit_kzalloc(test, DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);
	u32 slot, freed;

	KUNIT_ASSERT_NOT_NULL(test, page);
	cbt_ledger_init(&l, test_uuid, 4096, 123456789, 4000);
	l.seq = 0x1122334455667788ULL;
	KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);
	KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);
	KUNIT_ASSERT_EQ(test, cbt_ledger_commit(&l, 1, &freed), 0);
	cbt_sb_encode(&l, page);
	KUNIT_ASSERT_EQ(test, cbt_sb_decode(page, &out), 0);
	KUNIT_EXPECT_EQ(test, memcmp(l.uuid, out.uuid, sizeof(l.uuid)), 0);
	KUNIT_EXPECT_EQ(test, out.seq, l.seq);
	KUNIT_EXPECT_EQ(test, out.block_size, 4096U);
	KUNIT_EXPECT_EQ(test, out.nr_blocks, 123456789ULL);
	KUNIT_EXPECT_EQ(test, out.slot_pages, 4000ULL);
	KUNIT_EXPECT_EQ(test, out.open_epoch, 3ULL);
	KUNIT_EXPECT_EQ(test, out.open_slot, l.open_slot);
	KUNIT_EXPECT_EQ(test, out.nr_closed, 1U);
	KUNIT_EXPECT_EQ(test, out.closed[0].epoch, 2ULL);
	KUNIT_EXPECT_EQ(test, out.closed[0].slot, l.closed[0].slot);
	KUNIT_EXPECT_EQ(test, out.dirty_slots, l.dirty_slots);
	KUNIT_EXPECT_EQ(test, out.last_committed, 1ULL);
	/* No region maps: written as version 2, which older modules load. */
	KUNIT_EXPECT_EQ(test, out.version, 2U);
}

/* Version 3 is version 2 plus the region maps' geometry. */
static void sb_v3_round_trip(struct kunit *test)
{
	struct cbt_ledger l, out;
	void *page = kunit_kzalloc(test, DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, page);
	cbt_ledger_init(&l, test_uuid, 4096, 123456789, 0);
	KUNIT_ASSERT_EQ(test, cbt_md_layout(&l, 2 + 4 * 3768 + 2 * 15), 0);
	KUNIT_EXPECT_EQ(test, l.version, 3U);
	KUNIT_EXPECT_EQ(test, l.slot_pages, 3768ULL);
	KUNIT_EXPECT_EQ(test, l.region_shift, 8U);
	KUNIT_EXPECT_EQ(test, l.region_pages, 15ULL);
	cbt_sb_encode(&l, page);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(((struct cbt_sb_disk *)page)->version), 3U);
	KUNIT_ASSERT_EQ(test, cbt_sb_decode(page, &out), 0);
	KUNIT_EXPECT_EQ(test, out.version, 3U);
	KUNIT_EXPECT_EQ(test, out.slot_pages, 3768ULL);
	KUNIT_EXPECT_EQ(test, out.region_shift, 8U);
	KUNIT_EXPECT_EQ(test, out.region_pages, 15ULL);
	KUNIT_EXPECT_EQ(test, cbt_region_map_page(&out, 0), 2ULL + 4 * 3768);
	KUNIT_EXPECT_EQ(test, cbt_region_map_page(&out, 1), 2ULL + 4 * 3768 + 15);

	/* Maps too small for the slots, or regions of another size: not ours. */
	l.region_pages = 14;
	cbt_sb_encode(&l, page);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EUCLEAN);
	l.region_pages = 15;
	l.region_shift = 7;
	cbt_sb_encode(&l, page);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EUCLEAN);
}

/* Regions are 1 MiB, or one block for blocks of 1 MiB. */
static void region_shift_per_block_size(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, cbt_region_shift(4096), 8U);
	KUNIT_EXPECT_EQ(test, cbt_region_shift(65536), 4U);
	KUNIT_EXPECT_EQ(test, cbt_region_shift(SZ_1M), 0U);
}

/*
 * The layout: version 3 takes the most slot pages that leave room for both
 * maps and still hold every block; else version 2 fills the device.
 */
static void md_layout_picks_version(struct kunit *test)
{
	static const u32 sizes[] = { 4096, 65536, SZ_1M };
	static const u64 pages[] = { 2 + 4, 2 + 4 + 2, 2 + 6, 2 + 4 * 1000 + 7, 2 + 4 * 1000 + 8,
				     1 << 20, (1ULL << 30) + 3 };
	struct cbt_ledger l;
	u32 b, p;

	for (b = 0; b < ARRAY_SIZE(sizes); b++) {
		for (p = 0; p < ARRAY_SIZE(pages); p++) {
			u64 avail = pages[p] - 2, sp, rp;
			u32 bpr = 1U << cbt_region_shift(sizes[b]);

			cbt_ledger_init(&l, test_uuid, sizes[b], 32768, 0);
			KUNIT_ASSERT_EQ(test, cbt_md_layout(&l, pages[p]), 0);
			sp = l.slot_pages;
			rp = l.region_pages;
			if (l.version == 2) {
				KUNIT_EXPECT_EQ(test, rp, 0ULL);
				KUNIT_EXPECT_EQ(test, sp, avail / 4);
				/* Version 3 with one slot page would not fit. */
				KUNIT_EXPECT_LT(test, avail, 4ULL + 2);
				continue;
			}
			KUNIT_EXPECT_EQ(test, l.version, 3U);
			KUNIT_EXPECT_EQ(test, rp, DIV_ROUND_UP_ULL(sp, bpr));
			KUNIT_EXPECT_LE(test, 4 * sp + 2 * rp, avail);
			/* Maximal: one more slot page would not fit. */
			KUNIT_EXPECT_GT(test, 4 * (sp + 1) + 2 * DIV_ROUND_UP_ULL(sp + 1, bpr),
					avail);
			KUNIT_EXPECT_EQ(test, cbt_region_map_page(&l, 2), 2 + 4 * sp + 2 * rp);
		}
	}
	/* Exactly the version 2 minimum for 40000 blocks (2 leaves): version 2. */
	cbt_ledger_init(&l, test_uuid, 4096, 40000, 0);
	KUNIT_ASSERT_EQ(test, cbt_md_layout(&l, 2 + 4 * 2), 0);
	KUNIT_EXPECT_EQ(test, l.version, 2U);
	KUNIT_EXPECT_EQ(test, l.slot_pages, 2ULL);
	KUNIT_ASSERT_EQ(test, cbt_md_layout(&l, 2 + 4 * 2 + 2), 0);
	KUNIT_EXPECT_EQ(test, l.version, 3U);
	KUNIT_EXPECT_EQ(test, l.slot_pages, 2ULL);
	KUNIT_EXPECT_EQ(test, l.region_pages, 1ULL);
	KUNIT_EXPECT_EQ(test, cbt_md_layout(&l, 2 + 4 * 2 - 1), -ENOSPC);
	KUNIT_EXPECT_EQ(test, cbt_md_layout(&l, 1), -ENOSPC);
}

/* Every version 2 evidence field comes back as written. */
static void sb_v2_round_trip(struct kunit *test)
{
	struct cbt_ledger l, out;
	void *page = kunit_kzalloc(test, DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, page);
	cbt_ledger_init(&l, test_uuid, 65536, 1000, 1);
	l.origin_sectors = 999 * 128 + 5;
	l.fp_sectors = 999 * 128 - 3;
	l.fingerprint = 0xfedcba9876543210ULL;
	l.fp_valid = true;
	l.detach = CBT_DETACH_REPLACED;
	l.io_known = true;
	l.io_writes = 0x123456789aULL;
	l.io_discards = 77;
	l.md_nonce = 0xa5a5a5a55a5a5a5aULL;
	l.md_diskseq = 4242;
	l.md_devt = 0x0fe00003;
	cbt_sb_encode(&l, page);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(((struct cbt_sb_disk *)page)->version), 2U);
	KUNIT_ASSERT_EQ(test, cbt_sb_decode(page, &out), 0);
	KUNIT_EXPECT_EQ(test, out.version, 2U);
	KUNIT_EXPECT_EQ(test, out.origin_sectors, l.origin_sectors);
	KUNIT_EXPECT_EQ(test, out.fp_sectors, l.fp_sectors);
	KUNIT_EXPECT_EQ(test, out.fingerprint, l.fingerprint);
	KUNIT_EXPECT_TRUE(test, out.fp_valid);
	KUNIT_EXPECT_EQ(test, out.detach, (u32)CBT_DETACH_REPLACED);
	KUNIT_EXPECT_TRUE(test, out.io_known);
	KUNIT_EXPECT_EQ(test, out.io_writes, l.io_writes);
	KUNIT_EXPECT_EQ(test, out.io_discards, 77ULL);
	KUNIT_EXPECT_EQ(test, out.md_nonce, l.md_nonce);
	KUNIT_EXPECT_EQ(test, out.md_diskseq, 4242ULL);
	KUNIT_EXPECT_EQ(test, out.md_devt, 0x0fe00003U);

	l.fp_valid = false;
	l.io_known = false;
	cbt_sb_encode(&l, page);
	KUNIT_ASSERT_EQ(test, cbt_sb_decode(page, &out), 0);
	KUNIT_EXPECT_FALSE(test, out.fp_valid);
	KUNIT_EXPECT_FALSE(test, out.io_known);
}

/* Recompute a page's checksum after a test edited it, as a writer would. */
static void resum(void *page)
{
	struct cbt_sb_disk *sb = page;

	sb->csum = cpu_to_le32(crc32c(~0U, (u8 *)page + sizeof(__le32),
				      DM_CBT_MD_PAGE_SIZE - sizeof(__le32)));
}

/* A version 1 superblock, as the module before version 2 wrote it. */
static void make_v1(struct cbt_ledger *l, u8 *page)
{
	cbt_sb_encode(l, page);
	((struct cbt_sb_disk *)page)->version = cpu_to_le32(1);
	memset(page + CBT_SB_V1_SIZE, 0, DM_CBT_MD_PAGE_SIZE - CBT_SB_V1_SIZE);
	resum(page);
}

/* Version 1 still decodes, and says so: its load starts a new identity. */
static void sb_v1_decodes_as_version_1(struct kunit *test)
{
	u8 *page = kunit_kzalloc(test, DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);
	struct cbt_ledger l, out;
	u32 slot;

	KUNIT_ASSERT_NOT_NULL(test, page);
	fresh(&l);
	KUNIT_ASSERT_EQ(test, cbt_ledger_close(&l, &slot), 0);
	l.seq = 9;
	make_v1(&l, page);
	KUNIT_ASSERT_EQ(test, cbt_sb_decode(page, &out), 0);
	KUNIT_EXPECT_EQ(test, out.version, 1U);
	KUNIT_EXPECT_EQ(test, out.seq, 9ULL);
	KUNIT_EXPECT_EQ(test, out.open_epoch, 2ULL);
	KUNIT_EXPECT_EQ(test, out.nr_closed, 1U);
	KUNIT_EXPECT_FALSE(test, out.fp_valid);
	KUNIT_EXPECT_EQ(test, out.origin_sectors, 0ULL);
	/* Version 1 never wrote past last_committed. */
	page[CBT_SB_V1_SIZE + 3] = 1;
	resum(page);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EUCLEAN);
}

/* A newer format is refused, never taken for damage to reformat. */
static void sb_newer_version_refused(struct kunit *test)
{
	u8 *page = kunit_kzalloc(test, DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);
	struct cbt_ledger l, out;

	KUNIT_ASSERT_NOT_NULL(test, page);
	fresh(&l);
	cbt_sb_encode(&l, page);
	((struct cbt_sb_disk *)page)->version = cpu_to_le32(DM_CBT_MD_VERSION + 1);
	/* Unsummed, it is a damaged copy: the other one may still be good. */
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EBADMSG);
	resum(page);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EPROTO);
	((struct cbt_sb_disk *)page)->version = cpu_to_le32(0);
	resum(page);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EUCLEAN);
}

/* The stale magic a boot without tracking writes at offset 8 of a page. */
static void sb_stale_magic(struct kunit *test)
{
	u8 *page = kunit_kzalloc(test, DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);
	__le64 stale = cpu_to_le64(DM_CBT_MD_STALE_MAGIC);
	struct cbt_ledger l, out;

	KUNIT_ASSERT_NOT_NULL(test, page);
	fresh(&l);
	cbt_sb_encode(&l, page);
	memcpy(page + DM_CBT_MD_MAGIC_OFFSET, &stale, sizeof(stale));
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -ESTALE);
	/* On a version 1 superblock too, and whatever the checksum says. */
	make_v1(&l, page);
	memcpy(page + DM_CBT_MD_MAGIC_OFFSET, &stale, sizeof(stale));
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -ESTALE);
	resum(page);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -ESTALE);
	/* The bytes are the ones the header documents ("cbtStale"). */
	KUNIT_EXPECT_EQ(test, memcmp(page + DM_CBT_MD_MAGIC_OFFSET, "cbtStale", 8), 0);
}

/* Unknown flag bits or a detach state this code does not know are refused. */
static void sb_rejects_bad_evidence(struct kunit *test)
{
	u8 *page = kunit_kzalloc(test, DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);
	struct cbt_sb_disk *sb = (struct cbt_sb_disk *)page;
	struct cbt_ledger l, out;

	KUNIT_ASSERT_NOT_NULL(test, page);
	fresh(&l);
	cbt_sb_encode(&l, page);
	sb->flags = cpu_to_le32(1U << 7);
	resum(page);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EUCLEAN);
	cbt_sb_encode(&l, page);
	sb->detach = cpu_to_le32(__CBT_DETACH_MAX);
	resum(page);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EUCLEAN);
}

static void fp_regions_small_and_large(struct kunit *test)
{
	struct cbt_fp_regions r;

	/* Under 4 KiB: nothing to hash but the size. */
	cbt_fp_regions(7, &r);
	KUNIT_EXPECT_EQ(test, r.len[0], 0ULL);
	KUNIT_EXPECT_EQ(test, r.len[1], 0ULL);
	KUNIT_EXPECT_FALSE(test, cbt_fp_overlaps(&r, 0, 7));
	/* 2 MiB minus 1 KiB: one region, cut to whole 4 KiB. */
	cbt_fp_regions(2 * 2048 - 2, &r);
	KUNIT_EXPECT_EQ(test, r.start[0], 0ULL);
	KUNIT_EXPECT_EQ(test, r.len[0], 4096ULL - 8);
	KUNIT_EXPECT_EQ(test, r.len[1], 0ULL);
	/* 64 MiB + 1 KiB: the first MiB and the last whole-4 KiB MiB. */
	cbt_fp_regions(131072 + 2, &r);
	KUNIT_EXPECT_EQ(test, r.start[0], 0ULL);
	KUNIT_EXPECT_EQ(test, r.len[0], 2048ULL);
	KUNIT_EXPECT_EQ(test, r.start[1], 131072ULL - 2048);
	KUNIT_EXPECT_EQ(test, r.len[1], 2048ULL);
	KUNIT_EXPECT_TRUE(test, cbt_fp_overlaps(&r, 0, 1));
	KUNIT_EXPECT_TRUE(test, cbt_fp_overlaps(&r, 2047, 8));
	KUNIT_EXPECT_FALSE(test, cbt_fp_overlaps(&r, 2048, 8));
	KUNIT_EXPECT_FALSE(test, cbt_fp_overlaps(&r, 4096, 131072 - 2048 - 4096));
	KUNIT_EXPECT_TRUE(test, cbt_fp_overlaps(&r, 4096, 131072 - 2048 - 4096 + 1));
	KUNIT_EXPECT_FALSE(test, cbt_fp_overlaps(&r, 131072, 2));
}

static void sb_rejects_damage(struct kunit *test)
{
	u8 *page = kunit_kzalloc(test, DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);
	struct cbt_ledger l, out;
	unsigned int byte;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -ENODATA);
	memset(page, 0xa5, DM_CBT_MD_PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EILSEQ);

	fresh(&l);
	/* Every flipped byte past the magic is caught by the checksum. */
	for (byte = 0; byte < 160; byte++) {
		int r;

		cbt_sb_encode(&l, page);
		page[byte] ^= 0x40;
		r = cbt_sb_decode(page, &out);
		KUNIT_EXPECT_TRUE_MSG(test, r == -EBADMSG || r == -EILSEQ,
				      "byte %u flipped decoded as %d", byte, r);
	}
	/* A byte far into the page too. */
	cbt_sb_encode(&l, page);
	page[DM_CBT_MD_PAGE_SIZE - 1] ^= 1;
	KUNIT_EXPECT_EQ(test, cbt_sb_decode(page, &out), -EBADMSG);
}

/* Checksummed but contradictory ledgers are refused. */
static void spoil_block_size(struct cbt_ledger *l)
{
	l->block_size = 12288;
}

static void spoil_small_block(struct cbt_ledger *l)
{
	l->block_size = 2048;
}

static void spoil_open_slot(struct cbt_ledger *l)
{
	l->open_slot = DM_CBT_MD_SLOTS;
}

static void spoil_epoch_zero(struct cbt_ledger *l)
{
	l->open_epoch = 0;
}

static void spoil_closed_after_open(struct cbt_ledger *l)
{
	l->nr_closed = 1;
	l->closed[0].epoch = l->open_epoch;
	l->closed[0].slot = (l->open_slot + 1) % DM_CBT_MD_SLOTS;
}

static void spoil_shared_slot(struct cbt_ledger *l)
{
	l->open_epoch = 5;
	l->nr_closed = 1;
	l->closed[0].epoch = 4;
	l->closed[0].slot = l->open_slot;
}

static void spoil_dirty_in_use(struct cbt_ledger *l)
{
	l->dirty_slots = 1U << l->open_slot;
}

static void spoil_capacity(struct cbt_ledger *l)
{
	l->slot_pages = 1;
	l->nr_blocks = 32769;
}

static void spoil_committed_not_older(struct cbt_ledger *l)
{
	l->last_committed = l->open_epoch;
}

static void spoil_no_blocks(struct cbt_ledger *l)
{
	l->nr_blocks = 0;
}

static void spoil_origin_larger(struct cbt_ledger *l)
{
	l->origin_sectors = l->nr_blocks * (l->block_size >> 9) + 1;
}

static void spoil_origin_smaller(struct cbt_ledger *l)
{
	l->origin_sectors = (l->nr_blocks - 1) * (l->block_size >> 9);
}

static void spoil_fp_past_origin(struct cbt_ledger *l)
{
	l->fp_sectors = l->origin_sectors + 1;
}

static void spoil_detach(struct cbt_ledger *l)
{
	l->detach = __CBT_DETACH_MAX;
}

static const struct spoil_case {
	const char *what;
	void (*spoil)(struct cbt_ledger *l);
} spoil_cases[] = {
	{ "block size not a power of two", spoil_block_size },
	{ "block size under 4 KiB", spoil_small_block },
	{ "open slot out of range", spoil_open_slot },
	{ "open epoch zero", spoil_epoch_zero },
	{ "closed epoch not older than the open one", spoil_closed_after_open },
	{ "two epochs in one slot", spoil_shared_slot },
	{ "a dirty slot in use", spoil_dirty_in_use },
	{ "more blocks than a slot holds", spoil_capacity },
	{ "no blocks", spoil_no_blocks },
	{ "committed epoch not older than the open one", spoil_committed_not_older },
	{ "origin size past the last block", spoil_origin_larger },
	{ "origin size short of the last block", spoil_origin_smaller },
	{ "unknown detach state", spoil_detach },
	{ "fingerprint taken past the origin's end", spoil_fp_past_origin },
};

static void spoil_desc(const struct spoil_case *c, char *desc)
{
	strscpy(desc, c->what, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(spoil, spoil_cases, spoil_desc);

static void sb_rejects_inconsistent_param(struct kunit *test)
{
	const struct spoil_case *c = test->param_value;
	void *page = kunit_kzalloc(test, DM_CBT_MD_PAGE_SIZE, GFP_KERNEL);
	struct cbt_ledger l, out;

	KUNIT_ASSERT_NOT_NULL(test, page);
	cbt_ledger_init(&l, test_uuid, 65536, 1000, 1);
	c->spoil(&l);
	cbt_sb_encode(&l, page);
	KUNIT_EXPECT_EQ_MSG(test, cbt_sb_decode(page, &out), -EUCLEAN, "%s", c->what);
}

static struct kunit_case dm_cbt_format_cases[] = {
	KUNIT_CASE(ledger_init_opens_epoch_one),
	KUNIT_CASE(ledger_close_until_busy),
	KUNIT_CASE(ledger_commit_in_order),
	KUNIT_CASE(ledger_abort_any_order),
	KUNIT_CASE(ledger_dirty_slot_not_reused),
	KUNIT_CASE(sb_round_trip),
	KUNIT_CASE(sb_rejects_damage),
	KUNIT_CASE(sb_v2_round_trip),
	KUNIT_CASE(sb_v3_round_trip),
	KUNIT_CASE(region_shift_per_block_size),
	KUNIT_CASE(md_layout_picks_version),
	KUNIT_CASE(sb_v1_decodes_as_version_1),
	KUNIT_CASE(sb_newer_version_refused),
	KUNIT_CASE(sb_stale_magic),
	KUNIT_CASE(sb_rejects_bad_evidence),
	KUNIT_CASE(fp_regions_small_and_large),
	KUNIT_CASE_PARAM(sb_rejects_inconsistent_param, spoil_gen_params),
	{}
};

static struct kunit_suite dm_cbt_format_suite = {
	.name = "dm_cbt_format",
	.test_cases = dm_cbt_format_cases,
};

kunit_test_suite(dm_cbt_format_suite);

MODULE_LICENSE("GPL");
