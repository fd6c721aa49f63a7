// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the epoch ledger and its superblock (kmod/dm-cbt-format.c).
 */
#include <kunit/test.h>
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
	KUNIT_CASE_PARAM(sb_rejects_inconsistent_param, spoil_gen_params),
	{}
};

static struct kunit_suite dm_cbt_format_suite = {
	.name = "dm_cbt_format",
	.test_cases = dm_cbt_format_cases,
};

kunit_test_suite(dm_cbt_format_suite);

MODULE_LICENSE("GPL");
