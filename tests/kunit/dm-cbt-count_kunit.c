// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for cbt_bitmap_count_leaf(): the counts the kernel answers
 * CBT_CMD_COUNT_BITMAP with (blocks set, runs of set blocks, the end of the
 * last run) over the union of several bitmaps. Every case is checked
 * against a model that walks the union bit by bit through
 * cbt_bitmap_test(), and most also against the numbers worked out by hand.
 *
 * Run with tests/kunit/run (KUNIT_ARGS="--filter_glob=dm_cbt_count.*").
 */
#include <kunit/test.h>
#include <linux/prandom.h>
#include <linux/slab.h>

#include "dm-cbt-bitmap.h"

#define LEAF ((u64)CBT_BITS_PER_LEAF)
#define SEED 0xc0a7ULL

/* The bitmaps of one case, destroyed when it ends (the suite's exit). */
struct count_ctx {
	struct cbt_bitmap bm[CBT_COUNT_MAX_BITMAPS];
	u32 nr;
};

static int count_init(struct kunit *test)
{
	struct count_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	test->priv = ctx;
	return 0;
}

static void count_exit(struct kunit *test)
{
	struct count_ctx *ctx = test->priv;
	u32 i;

	for (i = 0; i < ctx->nr; i++)
		cbt_bitmap_destroy(&ctx->bm[i]);
	kfree(ctx);
}

static struct cbt_bitmap *add_bitmap(struct kunit *test, u64 nr_bits)
{
	struct count_ctx *ctx = test->priv;
	struct cbt_bitmap *bm;

	KUNIT_ASSERT_LT(test, ctx->nr, (u32)CBT_COUNT_MAX_BITMAPS);
	bm = &ctx->bm[ctx->nr];
	KUNIT_ASSERT_EQ(test, cbt_bitmap_init(bm, nr_bits, GFP_KERNEL), 0);
	ctx->nr++;
	return bm;
}

static void set(struct kunit *test, struct cbt_bitmap *bm, u64 start, u64 len)
{
	KUNIT_ASSERT_EQ(test, cbt_bitmap_set_range(bm, start, len, GFP_KERNEL), len);
}

/* Stands in for a leaf that could not be allocated. */
static void make_full(struct kunit *test, struct cbt_bitmap *bm, u32 leaf)
{
	KUNIT_ASSERT_LT(test, leaf, bm->nr_leaves);
	KUNIT_ASSERT_NULL(test, bm->leaves[leaf]);
	bm->leaves[leaf] = CBT_LEAF_FULL;
}

/* The count of every bitmap of the case, leaf by leaf, as the module counts. */
static struct cbt_bitmap_count count_all(struct kunit *test)
{
	struct count_ctx *ctx = test->priv;
	const struct cbt_bitmap *bms[CBT_COUNT_MAX_BITMAPS];
	struct cbt_bitmap_count c = {};
	u32 i, leaves = 0, leaf;

	for (i = 0; i < ctx->nr; i++) {
		bms[i] = &ctx->bm[i];
		leaves = max(leaves, ctx->bm[i].nr_leaves);
	}
	for (leaf = 0; leaf < leaves; leaf++)
		cbt_bitmap_count_leaf(bms, ctx->nr, leaf, &c);
	return c;
}

/* The same counts, bit by bit over the union. */
static struct cbt_bitmap_count model(struct kunit *test)
{
	struct count_ctx *ctx = test->priv;
	struct cbt_bitmap_count c = {};
	bool prev = false;
	u64 bits = 0, b;
	u32 i;

	for (i = 0; i < ctx->nr; i++)
		bits = max(bits, ctx->bm[i].nr_bits);
	for (b = 0; b < bits; b++) {
		bool on = false;

		for (i = 0; i < ctx->nr && !on; i++)
			on = cbt_bitmap_test(&ctx->bm[i], b);
		if (on) {
			c.blocks++;
			c.runs += !prev;
			c.end = b + 1;
		}
		prev = on;
	}
	return c;
}

static void expect_counts(struct kunit *test, u64 blocks, u64 runs, u64 end)
{
	struct cbt_bitmap_count got = count_all(test), want = model(test);

	KUNIT_EXPECT_EQ(test, got.blocks, want.blocks);
	KUNIT_EXPECT_EQ(test, got.runs, want.runs);
	KUNIT_EXPECT_EQ(test, got.end, want.end);
	KUNIT_EXPECT_EQ(test, got.blocks, blocks);
	KUNIT_EXPECT_EQ(test, got.runs, runs);
	KUNIT_EXPECT_EQ(test, got.end, end);
}

static void count_empty(struct kunit *test)
{
	struct cbt_bitmap *bm = add_bitmap(test, 3 * LEAF + 5);
	const struct cbt_bitmap *bms[1] = { bm };
	struct cbt_bitmap_count c = {};

	/* No leaf is allocated: every one says so and leaves the counts alone. */
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_count_leaf(bms, 1, 0, &c));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_count_leaf(bms, 1, 3, &c));
	expect_counts(test, 0, 0, 0);
	/* An allocated leaf with no bit set counts nothing either. */
	KUNIT_ASSERT_EQ(test, cbt_bitmap_prepare(bm, LEAF, 1, GFP_KERNEL), 0);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_count_leaf(bms, 1, 1, &c));
	KUNIT_EXPECT_EQ(test, c.blocks, 0ULL);
	expect_counts(test, 0, 0, 0);
}

static void count_full(struct kunit *test)
{
	u64 n = 2 * LEAF + 100;	/* a short last leaf, its last word partial */
	struct cbt_bitmap *bm = add_bitmap(test, n);

	set(test, bm, 0, n);
	expect_counts(test, n, 1, n);
}

static void count_word_boundaries(struct kunit *test)
{
	struct cbt_bitmap *bm = add_bitmap(test, LEAF);

	set(test, bm, 60, 10);		/* across words 0 and 1 */
	set(test, bm, 127, 1);		/* the last bit of word 1 ... */
	set(test, bm, 128, 1);		/* ... and the first of word 2: one run */
	set(test, bm, 192, 64);		/* a whole word, alone */
	set(test, bm, 320, 1);		/* word 5 bit 0, after a clear bit 319 */
	set(test, bm, 383, 2);		/* bits 63 of word 5 and 0 of word 6 */
	expect_counts(test, 10 + 2 + 64 + 1 + 2, 5, 385);
}

static void count_leaf_boundaries(struct kunit *test)
{
	struct cbt_bitmap *bm = add_bitmap(test, 5 * LEAF);

	set(test, bm, LEAF - 5, 10);		/* across leaves 0 and 1: one run */
	set(test, bm, 2 * LEAF - 1, 1);		/* the end of leaf 1 ... */
	set(test, bm, 2 * LEAF + 1, 1);		/* ... a gap of one bit in leaf 2 */
	/* Leaf 3 never allocated: the end of leaf 2 and the start of 4 do not join. */
	set(test, bm, 3 * LEAF - 1, 1);
	set(test, bm, 4 * LEAF, 3);
	expect_counts(test, 10 + 1 + 1 + 1 + 3, 5, 4 * LEAF + 3);
}

static void count_run_through_leaves(struct kunit *test)
{
	struct cbt_bitmap *bm = add_bitmap(test, 4 * LEAF);

	/* One run over two whole leaves, from the middle of one to another's. */
	set(test, bm, LEAF / 2, 2 * LEAF + 7);
	expect_counts(test, 2 * LEAF + 7, 1, LEAF / 2 + 2 * LEAF + 7);
}

static void count_partial_last_word(struct kunit *test)
{
	u64 n = LEAF + 70;
	struct cbt_bitmap *bm = add_bitmap(test, n);

	set(test, bm, LEAF + 60, 10);	/* up to the very last bit */
	expect_counts(test, 10, 1, n);
}

static void count_full_leaves(struct kunit *test)
{
	u64 n = 3 * LEAF + 33;
	struct cbt_bitmap *a = add_bitmap(test, n), *b = add_bitmap(test, n);

	/* FULL leaves read as ones up to the bitmap's end, and join runs. */
	make_full(test, a, 1);
	set(test, b, LEAF - 3, 3);	/* joins leaf 1's ones */
	make_full(test, a, 3);		/* the short last leaf: 33 bits */
	set(test, b, 3 * LEAF - 1, 1);	/* joins the last leaf's ones */
	/* Leaf 2 is clear but for its last bit: two runs. */
	expect_counts(test, 3 + LEAF + 1 + 33, 2, n);
}

static void count_union(struct kunit *test)
{
	u64 n = 3 * LEAF + 1000;
	struct cbt_bitmap *a = add_bitmap(test, n), *b = add_bitmap(test, n);
	struct cbt_bitmap *c = add_bitmap(test, n), *d = add_bitmap(test, n);

	/* Overlaps count once, touching runs of different epochs join. */
	set(test, a, 100, 50);
	set(test, b, 120, 50);		/* [100, 170) */
	set(test, c, 170, 1);		/* [100, 171) */
	set(test, d, LEAF - 1, 1);	/* alone at leaf 0's end ... */
	set(test, a, LEAF, 2);		/* ... joined by leaf 1's start in another */
	set(test, c, n - 1, 1);
	expect_counts(test, 71 + 3 + 1, 3, n);
}

static void count_union_random(struct kunit *test)
{
	u64 n = 4 * LEAF + 4321;
	struct rnd_state rnd;
	struct cbt_bitmap_count got, want;
	struct cbt_bitmap *bm[3];
	u32 i, k;

	prandom_seed_state(&rnd, SEED);
	for (i = 0; i < 3; i++)
		bm[i] = add_bitmap(test, n);
	/* Short runs near word and leaf edges, and leaf 3 of one bitmap FULL. */
	make_full(test, bm[2], 3);
	for (k = 0; k < 3000; k++) {
		u64 at = prandom_u32_state(&rnd) % n;

		if (k % 3 == 0)
			at = round_down(at, BITS_PER_LONG) + BITS_PER_LONG - 1 -
			     prandom_u32_state(&rnd) % 3;
		cbt_bitmap_set_range(bm[k % 3], at, 1 + prandom_u32_state(&rnd) % 90, GFP_KERNEL);
	}
	got = count_all(test);
	want = model(test);
	KUNIT_EXPECT_GT(test, want.runs, 500ULL);	/* 827 with this seed */
	KUNIT_EXPECT_EQ(test, got.blocks, want.blocks);
	KUNIT_EXPECT_EQ(test, got.runs, want.runs);
	KUNIT_EXPECT_EQ(test, got.end, want.end);
}

static void count_different_sizes(struct kunit *test)
{
	/* A union with a shorter bitmap whose last leaf is FULL: its ones stop at its end. */
	struct cbt_bitmap *a = add_bitmap(test, LEAF + 10), *b = add_bitmap(test, 2 * LEAF);

	make_full(test, a, 1);
	set(test, b, LEAF + 20, 5);
	expect_counts(test, 10 + 5, 2, LEAF + 25);
}

static struct kunit_case cbt_count_cases[] = {
	KUNIT_CASE(count_empty),
	KUNIT_CASE(count_full),
	KUNIT_CASE(count_word_boundaries),
	KUNIT_CASE(count_leaf_boundaries),
	KUNIT_CASE(count_run_through_leaves),
	KUNIT_CASE(count_partial_last_word),
	KUNIT_CASE(count_full_leaves),
	KUNIT_CASE(count_union),
	KUNIT_CASE(count_union_random),
	KUNIT_CASE(count_different_sizes),
	{}
};

static struct kunit_suite cbt_count_suite = {
	.name = "dm_cbt_count",
	.init = count_init,
	.exit = count_exit,
	.test_cases = cbt_count_cases,
};

kunit_test_suites(&cbt_count_suite);

MODULE_LICENSE("GPL");
