// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for dm-cbt's sparse bitmaps and their extent encoding,
 * against the contract in kmod/dm-cbt-bitmap.h. Most checks compare the
 * bitmap with a plain model bitmap, bit by bit, through cbt_bitmap_read_leaf()
 * (so the little-endian layout is checked on the way) and cbt_bitmap_test().
 *
 * Run with tests/kunit/run, or from a kernel tree that has it linked in:
 *   tools/testing/kunit/kunit.py run --kunitconfig=<dm-cbt>/tests/kunit
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <asm/byteorder.h>

#include "dm-cbt-bitmap.h"

#define LEAF ((u64)CBT_BITS_PER_LEAF)
#define TABLE_BYTES(bm) ((size_t)(bm)->nr_leaves * sizeof(unsigned long *))
#define SEED 0xdb7cb7ULL

/* A bitmap destroyed when the test ends, however it ends. */
static int bitmap_res_init(struct kunit_resource *res, void *context)
{
	struct cbt_bitmap *bm = kzalloc(sizeof(*bm), GFP_KERNEL);

	if (!bm)
		return -ENOMEM;
	if (cbt_bitmap_init(bm, *(u64 *)context, GFP_KERNEL)) {
		kfree(bm);
		return -ENOMEM;
	}
	res->data = bm;
	return 0;
}

static void bitmap_res_free(struct kunit_resource *res)
{
	cbt_bitmap_destroy(res->data);
	kfree(res->data);
}

static struct cbt_bitmap *new_bitmap(struct kunit *test, u64 nr_bits)
{
	struct cbt_bitmap *bm;

	bm = kunit_alloc_resource(test, bitmap_res_init, bitmap_res_free,
				  GFP_KERNEL, &nr_bits);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, bm);
	KUNIT_ASSERT_EQ(test, bm->nr_bits, nr_bits);
	KUNIT_ASSERT_EQ(test, bm->nr_leaves, (u32)DIV_ROUND_UP_ULL(nr_bits, LEAF));
	return bm;
}

/* Stands in for a leaf that could not be allocated. @leaf must be NULL. */
static void make_full(struct kunit *test, struct cbt_bitmap *bm, u32 leaf)
{
	KUNIT_ASSERT_LT(test, leaf, bm->nr_leaves);
	KUNIT_ASSERT_NULL(test, bm->leaves[leaf]);
	bm->leaves[leaf] = CBT_LEAF_FULL;
}

static unsigned long *new_model(struct kunit *test, u64 nr_bits)
{
	unsigned long *ref;

	ref = kunit_kcalloc(test, BITS_TO_LONGS(nr_bits), sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ref);
	return ref;
}

/* What cbt_bitmap_set_range() does to the model: clip, then set. */
static void model_set(unsigned long *ref, u64 nr_bits, u64 start, u64 len)
{
	if (start >= nr_bits || !len)
		return;
	if (len > nr_bits - start)
		len = nr_bits - start;
	bitmap_set(ref, start, len);
}

static bool le_bit(const void *buf, u64 bit)
{
	return ((const u8 *)buf)[bit / 8] & BIT(bit % 8);
}

/*
 * Every leaf reads back as the model (bit i of a leaf is bit i % 8 of byte
 * i / 8, the little-endian u64 layout), bits past nr_bits read clear, test()
 * agrees, and the weight is the model's.
 */
static void expect_model(struct kunit *test, const struct cbt_bitmap *bm,
			 const unsigned long *ref)
{
	u8 *buf = kunit_kmalloc(test, CBT_LEAF_BYTES, GFP_KERNEL);
	u64 nr = bm->nr_bits, first, bit;
	u32 leaf, i, bad = 0;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (leaf = 0; leaf < bm->nr_leaves; leaf++) {
		first = leaf * LEAF;
		KUNIT_EXPECT_EQ_MSG(test, cbt_bitmap_read_leaf(bm, leaf, buf),
				    !!cbt_bitmap_leaf_present(bm, leaf), "leaf %u", leaf);
		for (i = 0; i < LEAF; i++) {
			bit = first + i;
			if (le_bit(buf, i) != (bit < nr && test_bit(bit, ref)) && !bad++)
				KUNIT_FAIL(test, "bit %llu (leaf %u) reads %d, nr_bits %llu",
					   bit, leaf, le_bit(buf, i), nr);
			if (bit < nr && cbt_bitmap_test(bm, bit) != test_bit(bit, ref) && !bad++)
				KUNIT_FAIL(test, "cbt_bitmap_test(%llu) is %d", bit,
					   cbt_bitmap_test(bm, bit));
		}
	}
	KUNIT_EXPECT_EQ(test, bad, 0U);
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, nr));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), (u64)bitmap_weight(ref, nr));
}

/* Tracking geometries that matter: word, leaf and their neighbours. */
static const u64 geometries[] = {
	1, 63, 64, 65, 100, LEAF - 1, LEAF, LEAF + 1, 3 * LEAF + 77, 4 * LEAF,
};

static void geometry_desc(const u64 *nr_bits, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "nr_bits=%llu", *nr_bits);
}

KUNIT_ARRAY_PARAM(geometry, geometries, geometry_desc);

static void cbt_bitmap_geometry(struct kunit *test)
{
	u64 nr = *(const u64 *)test->param_value;
	struct cbt_bitmap *bm = new_bitmap(test, nr);
	unsigned long *ref = new_model(test, nr);
	u32 leaf;

	/* Untouched: all clear, every leaf absent, only the table paid for. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), TABLE_BYTES(bm));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), 0ULL);
	for (leaf = 0; leaf < bm->nr_leaves; leaf++)
		KUNIT_EXPECT_FALSE_MSG(test, cbt_bitmap_leaf_present(bm, leaf), "leaf %u", leaf);
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_leaf_present(bm, bm->nr_leaves));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_range_all_set(bm, 0, nr));
	expect_model(test, bm, ref);

	/* The last bit, twice; nothing past it. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, nr - 1, 1, GFP_KERNEL), 1ULL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, nr - 1, 1, GFP_KERNEL), 0ULL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, nr, 1, GFP_KERNEL), 0ULL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, U64_MAX, 1, GFP_KERNEL), 0ULL);
	model_set(ref, nr, nr - 1, 1);
	expect_model(test, bm, ref);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), TABLE_BYTES(bm) + CBT_LEAF_BYTES);

	/* Everything, through a length that overflows start + len. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, 0, U64_MAX, GFP_KERNEL), nr - 1);
	model_set(ref, nr, 0, nr);
	expect_model(test, bm, ref);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, 0, nr));
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, 0, U64_MAX));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm),
			TABLE_BYTES(bm) + bm->nr_leaves * CBT_LEAF_BYTES);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, 0, nr, GFP_KERNEL), 0ULL);
}

struct range_case {
	const char *name;
	u64 nr_bits;
	u64 pre_start, pre_len;	/* set first; pre_len 0 for none */
	u64 start, len;
	u64 newly;		/* what set_range(start, len) returns */
};

static const struct range_case range_cases[] = {
	{ "first bit", 100, 0, 0, 0, 1, 1 },
	{ "inside one word", 100, 0, 0, 3, 10, 10 },
	{ "one whole word", 200, 0, 0, 64, 64, 64 },
	{ "straddles a word", 200, 0, 0, 60, 8, 8 },
	{ "spans three words", 300, 0, 0, 63, 130, 130 },
	{ "straddles a leaf", 2 * LEAF + 10, 0, 0, LEAF - 3, 6, 6 },
	{ "exactly one leaf", 3 * LEAF + 77, 0, 0, LEAF, LEAF, LEAF },
	{ "spans two leaf boundaries", 3 * LEAF + 77, 0, 0, LEAF - 1, LEAF + 2, LEAF + 2 },
	{ "clipped at nr_bits", 100, 0, 0, 90, 50, 10 },
	{ "clipped in a short last leaf", 3 * LEAF + 77, 0, 0, 3 * LEAF + 70, 100, 7 },
	{ "clipped at a leaf end", LEAF, 0, 0, LEAF - 1, 2, 1 },
	{ "starts at nr_bits", 100, 0, 0, 100, 1, 0 },
	{ "starts far past nr_bits", 100, 0, 0, U64_MAX, 1, 0 },
	{ "start + len overflows", LEAF + 1, 0, 0, 5, U64_MAX, LEAF - 4 },
	{ "zero length", 100, 0, 0, 5, 0, 0 },
	{ "single-bit bitmap", 1, 0, 0, 0, 5, 1 },
	{ "leaf + 1 bitmap, its last bit", LEAF + 1, 0, 0, LEAF, 1, 1 },
	{ "overlaps set bits", 200, 64, 4, 60, 10, 6 },
	{ "all set already", 200, 0, 200, 10, 100, 0 },
	{ "overlaps set bits across a leaf", 2 * LEAF, LEAF - 10, 20, LEAF - 20, 40, 20 },
	{ "same range twice", 2 * LEAF, LEAF - 3, 6, LEAF - 3, 6, 0 },
};

static void range_desc(const struct range_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(range, range_cases, range_desc);

static void cbt_bitmap_set_range_cases(struct kunit *test)
{
	const struct range_case *c = test->param_value;
	struct cbt_bitmap *bm = new_bitmap(test, c->nr_bits);
	unsigned long *ref = new_model(test, c->nr_bits);
	u64 pre;

	pre = cbt_bitmap_set_range(bm, c->pre_start, c->pre_len, GFP_KERNEL);
	model_set(ref, c->nr_bits, c->pre_start, c->pre_len);
	KUNIT_EXPECT_EQ_MSG(test, pre, (u64)bitmap_weight(ref, c->nr_bits), "%s: pre-set", c->name);

	KUNIT_EXPECT_EQ_MSG(test, cbt_bitmap_set_range(bm, c->start, c->len, GFP_KERNEL),
			    c->newly, "%s", c->name);
	model_set(ref, c->nr_bits, c->start, c->len);
	KUNIT_EXPECT_TRUE_MSG(test, cbt_bitmap_range_all_set(bm, c->start, c->len),
			      "%s", c->name);
	expect_model(test, bm, ref);
	/* Setting twice newly sets nothing. */
	KUNIT_EXPECT_EQ_MSG(test, cbt_bitmap_set_range(bm, c->start, c->len, GFP_KERNEL),
			    0ULL, "%s: again", c->name);
}

static void cbt_bitmap_range_all_set_cases(struct kunit *test)
{
	static const struct {
		u64 start, len;
		bool want;
	} cases[] = {
		{ 0, 50, true },
		{ 0, 51, false },		/* bit 50 is the hole */
		{ 50, 1, false },
		{ 51, 49, true },
		{ 49, 3, false },
		{ 0, 100, false },
		{ 10, 0, true },		/* empty */
		{ LEAF, LEAF, true },		/* one whole leaf */
		{ LEAF - 1, 2, false },		/* straddles into a clear bit */
		{ LEAF, LEAF + 1, false },	/* into an absent leaf */
		{ 2 * LEAF, 1, false },		/* absent leaf */
		{ 3 * LEAF + 67, 10, true },	/* the set tail */
		{ 3 * LEAF + 67, U64_MAX, true },	/* clipped */
		{ 3 * LEAF + 66, 11, false },
		{ 3 * LEAF + 77, 5, true },	/* nothing left after clipping */
	};
	struct cbt_bitmap *bm = new_bitmap(test, 3 * LEAF + 77);
	unsigned int i;

	cbt_bitmap_set_range(bm, 0, 50, GFP_KERNEL);
	cbt_bitmap_set_range(bm, 51, 49, GFP_KERNEL);
	cbt_bitmap_set_range(bm, LEAF, LEAF, GFP_KERNEL);
	cbt_bitmap_set_range(bm, 3 * LEAF + 67, 10, GFP_KERNEL);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		u64 start = cases[i].start, len = cases[i].len;

		KUNIT_EXPECT_EQ_MSG(test, cbt_bitmap_range_all_set(bm, start, len),
				    cases[i].want, "range_all_set(%llu, %llu)", start, len);
	}
}

/*
 * The write path's inline answer (one word, no call) agrees with the model
 * and with the out-of-line walk for every short range around word and leaf
 * edges: a set word, a partly set one, an absent leaf, a FULL one, the end.
 */
static void cbt_bitmap_range_all_set_inline(struct kunit *test)
{
	const u64 nr = 3 * LEAF + 77;
	struct cbt_bitmap *bm = new_bitmap(test, nr);
	unsigned long *ref = new_model(test, nr);
	u64 start, len, end;

	cbt_bitmap_set_range(bm, 0, 64, GFP_KERNEL);
	cbt_bitmap_set_range(bm, 70, 100, GFP_KERNEL);
	cbt_bitmap_set_range(bm, LEAF - 3, 3, GFP_KERNEL);
	cbt_bitmap_set_range(bm, 3 * LEAF + 60, 17, GFP_KERNEL);
	model_set(ref, nr, 0, 64);
	model_set(ref, nr, 70, 100);
	model_set(ref, nr, LEAF - 3, 3);
	model_set(ref, nr, 3 * LEAF + 60, 17);
	make_full(test, bm, 2);
	model_set(ref, nr, 2 * LEAF, LEAF);
	for (start = 0; start < nr + 2; start++) {
		/* Only around the edges: every start would take minutes on UML. */
		if (start % 64 > 3 && start % 64 < 60 && start > 200 && start < nr - 70)
			continue;
		for (len = 0; len <= 70; len++) {
			bool want = true;

			end = min(start + len, nr);
			if (start < nr && len)
				want = find_next_zero_bit(ref, end, start) >= end;
			KUNIT_EXPECT_EQ_MSG(test, cbt_bitmap_range_all_set(bm, start, len), want,
					    "inline (%llu, %llu)", start, len);
			KUNIT_EXPECT_EQ_MSG(test, __cbt_bitmap_range_all_set(bm, start, len), want,
					    "walk (%llu, %llu)", start, len);
		}
	}
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, U64_MAX, 1));
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, 3 * LEAF + 60, U64_MAX));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_range_all_set(bm, 1, U64_MAX));
}

static void cbt_bitmap_grow_keeps_bits(struct kunit *test)
{
	static const u64 sizes[] = { 100, 200, 64 * 5, LEAF, LEAF + 1, 3 * LEAF + 77 };
	struct cbt_bitmap *bm = new_bitmap(test, 100);
	unsigned long *ref = new_model(test, 3 * LEAF + 77);
	u8 *buf = kunit_kmalloc(test, CBT_LEAF_BYTES, GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	cbt_bitmap_set_range(bm, 0, 1, GFP_KERNEL);
	/* Clipped: 100..139 must not show up after growing. */
	cbt_bitmap_set_range(bm, 90, 50, GFP_KERNEL);
	model_set(ref, 100, 0, 1);
	model_set(ref, 100, 90, 50);
	/* Bits past nr_bits in an OR'd leaf are ignored, and stay so. */
	memset(buf, 0, CBT_LEAF_BYTES);
	memset(buf + 100 / 8 + 1, 0xff, 8);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_or_leaf(bm, 0, buf, GFP_KERNEL), 0L);

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		KUNIT_EXPECT_EQ_MSG(test, cbt_bitmap_grow(bm, sizes[i], GFP_KERNEL), 0,
				    "grow to %llu", sizes[i]);
		KUNIT_EXPECT_EQ(test, bm->nr_bits, sizes[i]);
		KUNIT_EXPECT_EQ(test, bm->nr_leaves, (u32)DIV_ROUND_UP_ULL(sizes[i], LEAF));
		expect_model(test, bm, ref);
	}
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), TABLE_BYTES(bm) + CBT_LEAF_BYTES);
	/* The new bits work like the old ones. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, 3 * LEAF + 70, 10, GFP_KERNEL), 7ULL);
	model_set(ref, bm->nr_bits, 3 * LEAF + 70, 10);
	expect_model(test, bm, ref);
}

static void cbt_bitmap_grow_refuses_shrink(struct kunit *test)
{
	struct cbt_bitmap *bm = new_bitmap(test, LEAF + 1);
	unsigned long *ref = new_model(test, LEAF + 1);

	cbt_bitmap_set_range(bm, LEAF - 1, 2, GFP_KERNEL);
	model_set(ref, LEAF + 1, LEAF - 1, 2);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_grow(bm, LEAF, GFP_KERNEL), -EINVAL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_grow(bm, 0, GFP_KERNEL), -EINVAL);
	KUNIT_EXPECT_EQ(test, bm->nr_bits, LEAF + 1);
	KUNIT_EXPECT_EQ(test, bm->nr_leaves, 2U);
	expect_model(test, bm, ref);
	/* The same size is not a shrink. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_grow(bm, LEAF + 1, GFP_KERNEL), 0);
	expect_model(test, bm, ref);
}

/*
 * "New bits are clear" holds for a short last leaf that is FULL too: only
 * the old bits of that leaf were ever reported as set.
 */
static void cbt_bitmap_grow_full_last_leaf(struct kunit *test)
{
	struct cbt_bitmap *bm = new_bitmap(test, 100);

	make_full(test, bm, 0);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), 100ULL);
	KUNIT_ASSERT_EQ(test, cbt_bitmap_grow(bm, 200, GFP_KERNEL), 0);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_test(bm, 99));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, 100));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, 199));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), 100ULL);
}

static void cbt_bitmap_leaf_layout(struct kunit *test)
{
	static const u32 bits[] = { 0, 7, 8, 63, 64, 65, 127, LEAF - 1 };
	static const struct {
		u32 byte;
		u8 val;
	} bytes[] = {
		{ 0, 0x81 }, { 1, 0x01 }, { 7, 0x80 }, { 8, 0x03 }, { 15, 0x80 },
		{ CBT_LEAF_BYTES - 1, 0x80 },
	};
	struct cbt_bitmap *bm = new_bitmap(test, 3 * LEAF + 77);
	u8 *buf = kunit_kmalloc(test, CBT_LEAF_BYTES, GFP_KERNEL);
	__le64 *words = (__le64 *)buf;
	unsigned int i, nonzero = 0;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < ARRAY_SIZE(bits); i++)
		cbt_bitmap_set_range(bm, bits[i], 1, GFP_KERNEL);
	cbt_bitmap_set_range(bm, LEAF, 1, GFP_KERNEL);	/* not in leaf 0 */

	KUNIT_ASSERT_TRUE(test, cbt_bitmap_read_leaf(bm, 0, buf));
	for (i = 0; i < ARRAY_SIZE(bytes); i++)
		KUNIT_EXPECT_EQ_MSG(test, buf[bytes[i].byte], bytes[i].val,
				    "byte %u", bytes[i].byte);
	for (i = 0; i < CBT_LEAF_BYTES; i++)
		nonzero += !!buf[i];
	KUNIT_EXPECT_EQ(test, nonzero, (unsigned int)ARRAY_SIZE(bytes));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(words[0]),
			BIT_ULL(0) | BIT_ULL(7) | BIT_ULL(8) | BIT_ULL(63));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(words[1]), BIT_ULL(0) | BIT_ULL(1) | BIT_ULL(63));

	/* Absent and out-of-range leaves: false, and the buffer zeroed. */
	memset(buf, 0xa5, CBT_LEAF_BYTES);
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_read_leaf(bm, 2, buf));
	KUNIT_EXPECT_NULL(test, memchr_inv(buf, 0, CBT_LEAF_BYTES));
	memset(buf, 0xa5, CBT_LEAF_BYTES);
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_read_leaf(bm, bm->nr_leaves, buf));
	KUNIT_EXPECT_NULL(test, memchr_inv(buf, 0, CBT_LEAF_BYTES));
}

/* Random leaves OR'd in and read back, the short last leaf included. */
static void cbt_bitmap_leaf_round_trip(struct kunit *test)
{
	const u64 nr = 3 * LEAF + 77;
	struct cbt_bitmap *bm = new_bitmap(test, nr);
	unsigned long *ref = new_model(test, nr);
	u8 *in = kunit_kmalloc(test, CBT_LEAF_BYTES, GFP_KERNEL);
	u8 *out = kunit_kmalloc(test, CBT_LEAF_BYTES, GFP_KERNEL);
	struct rnd_state rnd;
	u32 leaf, i;

	KUNIT_ASSERT_NOT_NULL(test, in);
	KUNIT_ASSERT_NOT_NULL(test, out);
	prandom_seed_state(&rnd, SEED);
	/* Some bits set before, so the count is of newly set bits only. */
	cbt_bitmap_set_range(bm, LEAF - 100, 200, GFP_KERNEL);
	model_set(ref, nr, LEAF - 100, 200);

	for (leaf = 0; leaf < bm->nr_leaves; leaf++) {
		u64 first = leaf * LEAF;
		long newly = 0;

		prandom_bytes_state(&rnd, in, CBT_LEAF_BYTES);
		for (i = 0; i < LEAF && first + i < nr; i++) {
			if (le_bit(in, i) && !test_bit(first + i, ref)) {
				newly++;
				__set_bit(first + i, ref);
			}
		}
		KUNIT_EXPECT_EQ_MSG(test, cbt_bitmap_or_leaf(bm, leaf, in, GFP_KERNEL), newly,
				    "leaf %u", leaf);
		KUNIT_EXPECT_EQ_MSG(test, cbt_bitmap_or_leaf(bm, leaf, in, GFP_KERNEL), 0L,
				    "leaf %u again", leaf);
		/* Reads back as what went in, past nr_bits clear. */
		KUNIT_ASSERT_TRUE(test, cbt_bitmap_read_leaf(bm, leaf, out));
		for (i = 0; i < LEAF; i++) {
			bool want = first + i < nr && test_bit(first + i, ref);

			if (le_bit(out, i) != want) {
				KUNIT_FAIL(test, "leaf %u bit %u reads %d", leaf, i, !want);
				break;
			}
		}
	}
	expect_model(test, bm, ref);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_or_leaf(bm, bm->nr_leaves, in, GFP_KERNEL),
			(long)-EINVAL);
}

/* A zero leaf OR'd in adds nothing. */
static void cbt_bitmap_or_leaf_zero(struct kunit *test)
{
	struct cbt_bitmap *bm = new_bitmap(test, LEAF);
	u8 *buf = kunit_kzalloc(test, CBT_LEAF_BYTES, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_or_leaf(bm, 0, buf, GFP_KERNEL), 0L);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), 0ULL);
}

/* dst |= src over the smaller size, whichever of the two that is. */
static void cbt_bitmap_or_sizes(struct kunit *test)
{
	static const struct {
		u64 dst_bits, src_bits;
	} cases[] = {
		{ 2 * LEAF + 10, LEAF + 40 },
		{ LEAF + 40, 2 * LEAF + 10 },
		{ 100, LEAF + 5 },
		{ LEAF + 5, 100 },
		{ 3 * LEAF, 3 * LEAF },
	};
	struct rnd_state rnd;
	unsigned int i;

	prandom_seed_state(&rnd, SEED);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		u64 dn = cases[i].dst_bits, sn = cases[i].src_bits;
		struct cbt_bitmap *dst = new_bitmap(test, dn);
		struct cbt_bitmap *src = new_bitmap(test, sn);
		unsigned long *dref = new_model(test, dn);
		unsigned long *sref = new_model(test, sn);
		u64 b;

		/* A few random runs in each, leaving some leaves absent. */
		for (b = 0; b < 40; b++) {
			u64 s = prandom_u32_state(&rnd) % (sn + 10);
			u64 len = prandom_u32_state(&rnd) % 3000;

			cbt_bitmap_set_range(src, s, len, GFP_KERNEL);
			model_set(sref, sn, s, len);
			s = prandom_u32_state(&rnd) % (dn + 10);
			len = prandom_u32_state(&rnd) % 70;
			cbt_bitmap_set_range(dst, s, len, GFP_KERNEL);
			model_set(dref, dn, s, len);
		}
		for (b = 0; b < min(dn, sn); b++)
			if (test_bit(b, sref))
				__set_bit(b, dref);
		KUNIT_EXPECT_EQ_MSG(test, cbt_bitmap_or(dst, src, GFP_KERNEL), 0,
				    "dst %llu bits, src %llu", dn, sn);
		expect_model(test, dst, dref);
		expect_model(test, src, sref);	/* untouched */
	}
}

/* A FULL source leaf expands to ones, clipped to both bitmaps. */
static void cbt_bitmap_or_full(struct kunit *test)
{
	struct cbt_bitmap *src = new_bitmap(test, 2 * LEAF + 10);
	struct cbt_bitmap *dst = new_bitmap(test, 2 * LEAF + 10);
	struct cbt_bitmap *small = new_bitmap(test, 100);
	struct cbt_bitmap *big = new_bitmap(test, 200);

	make_full(test, src, 1);
	cbt_bitmap_set_range(dst, LEAF - 1, 1, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_or(dst, src, GFP_KERNEL), 0);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(dst, LEAF - 1, LEAF + 1));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(dst, LEAF - 2));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(dst, 2 * LEAF));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(dst), LEAF + 1);

	/* FULL destination: stays all set. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_or(src, dst, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(src), LEAF + 1);

	/* A FULL short leaf of 100 bits into a 200-bit bitmap: 100 bits. */
	make_full(test, small, 0);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_or(big, small, GFP_KERNEL), 0);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(big, 0, 100));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(big, 100));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(big), 100ULL);
}

/* The fallback for a leaf that could not be allocated: reads as all ones. */
static void cbt_bitmap_full_leaf(struct kunit *test)
{
	const u64 nr = 3 * LEAF + 77;
	struct cbt_bitmap *bm = new_bitmap(test, nr);
	u8 *buf = kunit_kmalloc(test, CBT_LEAF_BYTES, GFP_KERNEL);
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	make_full(test, bm, 1);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_leaf_present(bm, 1));
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_test(bm, LEAF));
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_test(bm, 2 * LEAF - 1));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, LEAF - 1));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, 2 * LEAF));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), LEAF);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, LEAF, LEAF));
	/* FULL costs no page. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), TABLE_BYTES(bm));

	/* Setting bits in it is a no-op that newly sets nothing. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, LEAF + 5, 10, GFP_KERNEL), 0ULL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, LEAF, LEAF, GFP_KERNEL), 0ULL);
	KUNIT_EXPECT_PTR_EQ(test, bm->leaves[1], CBT_LEAF_FULL);
	/* Straddling into it: only leaf 0's part is new. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, LEAF - 5, 10, GFP_KERNEL), 5ULL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), LEAF + 5);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, LEAF - 5, LEAF + 5));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), TABLE_BYTES(bm) + CBT_LEAF_BYTES);

	/* OR into it: nothing new. */
	memset(buf, 0xff, CBT_LEAF_BYTES);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_or_leaf(bm, 1, buf, GFP_KERNEL), 0L);

	KUNIT_ASSERT_TRUE(test, cbt_bitmap_read_leaf(bm, 1, buf));
	KUNIT_EXPECT_NULL(test, memchr_inv(buf, 0xff, CBT_LEAF_BYTES));

	/* A FULL short last leaf: 77 bits, no more. */
	make_full(test, bm, 3);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), LEAF + 5 + 77);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_test(bm, nr - 1));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, nr));
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, 3 * LEAF, U64_MAX));
	KUNIT_ASSERT_TRUE(test, cbt_bitmap_read_leaf(bm, 3, buf));
	for (i = 0; i < 9; i++)
		KUNIT_EXPECT_EQ_MSG(test, buf[i], 0xff, "byte %u", i);
	KUNIT_EXPECT_EQ(test, buf[9], 0x1f);	/* bits 72..76 */
	KUNIT_EXPECT_NULL(test, memchr_inv(buf + 10, 0, CBT_LEAF_BYTES - 10));
}

/*
 * Memory exhaustion, to reach the paths where a leaf cannot be had: every
 * page GFP_NOWAIT can get is taken, so the next GFP_NOWAIT allocation fails
 * too (UML has one CPU and no preemption: nothing frees a page before the
 * test sleeps). While the pages are held nothing else may allocate, not
 * even KUnit reporting a failure: results are checked after release.
 */
struct page_hog {
	struct list_head pages;
	unsigned long nr;
};

static int page_hog_init(struct kunit_resource *res, void *context)
{
	struct page_hog *hog = context;
	struct page *page;

	while ((page = alloc_page(GFP_NOWAIT | __GFP_NOWARN))) {
		list_add(&page->lru, &hog->pages);
		hog->nr++;
	}
	res->data = hog;
	return 0;
}

static void page_hog_free(struct kunit_resource *res)
{
	struct page_hog *hog = res->data;
	struct page *page, *tmp;

	list_for_each_entry_safe(page, tmp, &hog->pages, lru) {
		list_del(&page->lru);
		__free_page(page);
	}
}

/* A leaf that cannot be allocated: FULL, counted as newly set; prepare fails. */
static void cbt_bitmap_alloc_failure(struct kunit *test)
{
	struct cbt_bitmap *bm = new_bitmap(test, 3 * LEAF);
	struct cbt_bitmap *src = new_bitmap(test, 3 * LEAF);
	struct page_hog *hog = kunit_kzalloc(test, sizeof(*hog), GFP_KERNEL);
	struct kunit_resource *res = kunit_kzalloc(test, sizeof(*res), GFP_KERNEL);
	const gfp_t gfp = GFP_NOWAIT | __GFP_NOWARN;
	u64 newly;
	int prep, merged;

	KUNIT_ASSERT_NOT_NULL(test, hog);
	KUNIT_ASSERT_NOT_NULL(test, res);
	INIT_LIST_HEAD(&hog->pages);
	cbt_bitmap_set_range(bm, 0, 1, GFP_KERNEL);	/* leaf 0 is a page */
	cbt_bitmap_set_range(src, 3 * LEAF - 3, 3, GFP_KERNEL);

	KUNIT_ASSERT_EQ(test, kunit_add_resource(test, page_hog_init, page_hog_free,
						 res, hog), 0);
	/* Five bits in leaf 0, five in leaf 1, which gets no page. */
	newly = cbt_bitmap_set_range(bm, LEAF - 5, 10, gfp);
	prep = cbt_bitmap_prepare(bm, 2 * LEAF, 1, gfp);
	/* Either no bounce buffer (nothing merged) or leaf 2 goes FULL. */
	merged = cbt_bitmap_or(bm, src, gfp);
	kunit_remove_resource(test, res);	/* frees the pages */

	KUNIT_ASSERT_GT_MSG(test, hog->nr, 0UL, "no page to hog");
	KUNIT_EXPECT_PTR_EQ(test, bm->leaves[1], CBT_LEAF_FULL);
	KUNIT_EXPECT_EQ_MSG(test, newly, 10ULL,
			    "a leaf that could not be allocated counts its range as newly set");
	KUNIT_EXPECT_EQ(test, prep, -ENOMEM);
	if (merged) {
		KUNIT_EXPECT_EQ(test, merged, -ENOMEM);
		KUNIT_EXPECT_NULL(test, bm->leaves[2]);
	} else {
		KUNIT_EXPECT_PTR_EQ(test, bm->leaves[2], CBT_LEAF_FULL);
		KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, 3 * LEAF - 3, 3));
	}
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, LEAF - 5, LEAF + 5));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, LEAF - 6));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), TABLE_BYTES(bm) + CBT_LEAF_BYTES);
}

/*
 * try_set_range: the bits of set_range in one walk; a leaf it cannot have
 * stops it with -ENOMEM and stays absent (never FULL), the leaves before
 * it keep their bits.
 */
static void cbt_bitmap_try_set_range_cases(struct kunit *test)
{
	struct cbt_bitmap *bm = new_bitmap(test, 3 * LEAF);
	struct page_hog *hog = kunit_kzalloc(test, sizeof(*hog), GFP_KERNEL);
	struct kunit_resource *res = kunit_kzalloc(test, sizeof(*res), GFP_KERNEL);
	int r;

	KUNIT_ASSERT_NOT_NULL(test, hog);
	KUNIT_ASSERT_NOT_NULL(test, res);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_try_set_range(bm, LEAF - 3, 6, GFP_KERNEL), 0);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, LEAF - 3, 6));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, LEAF - 4));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, LEAF + 3));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), 6ULL);
	/* Again: nothing changes, and out of range is a no-op. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_try_set_range(bm, LEAF - 3, 6, GFP_NOWAIT), 0);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_try_set_range(bm, 3 * LEAF, 1, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_try_set_range(bm, 0, 0, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), 6ULL);

	INIT_LIST_HEAD(&hog->pages);
	KUNIT_ASSERT_EQ(test, kunit_add_resource(test, page_hog_init, page_hog_free,
						 res, hog), 0);
	/* Leaf 1 is a page already: set; leaf 2 gets none: stop there. */
	r = cbt_bitmap_try_set_range(bm, LEAF + 10, 2 * LEAF, GFP_NOWAIT | __GFP_NOWARN);
	kunit_remove_resource(test, res);	/* frees the pages */

	KUNIT_ASSERT_GT_MSG(test, hog->nr, 0UL, "no page to hog");
	KUNIT_EXPECT_EQ(test, r, -ENOMEM);
	KUNIT_EXPECT_NULL_MSG(test, bm->leaves[2], "a leaf it could not have was made FULL");
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_range_all_set(bm, LEAF + 10, LEAF - 10));
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_test(bm, 2 * LEAF));
}

/* Memory: the table, plus a page per touched leaf. */
static void cbt_bitmap_bytes_accounting(struct kunit *test)
{
	struct cbt_bitmap *bm = new_bitmap(test, 4 * LEAF);
	const size_t table = 4 * sizeof(unsigned long *);

	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), table);
	cbt_bitmap_set_range(bm, 0, 1, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), table + CBT_LEAF_BYTES);
	cbt_bitmap_set_range(bm, 1, 100, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), table + CBT_LEAF_BYTES);
	cbt_bitmap_set_range(bm, 3 * LEAF, 1, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), table + 2 * CBT_LEAF_BYTES);
	KUNIT_EXPECT_FALSE(test, cbt_bitmap_leaf_present(bm, 1));

	/* prepare() allocates leaves without setting anything. */
	KUNIT_EXPECT_EQ(test, cbt_bitmap_prepare(bm, LEAF, LEAF + 1, GFP_KERNEL), 0);
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_leaf_present(bm, 1));
	KUNIT_EXPECT_TRUE(test, cbt_bitmap_leaf_present(bm, 2));
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), table + 4 * CBT_LEAF_BYTES);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_weight(bm), 102ULL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_prepare(bm, 0, 0, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_prepare(bm, 4 * LEAF, 1, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_prepare(bm, 0, U64_MAX, GFP_KERNEL), 0);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), table + 4 * CBT_LEAF_BYTES);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_set_range(bm, LEAF, 5, GFP_KERNEL), 5ULL);
	KUNIT_EXPECT_EQ(test, cbt_bitmap_bytes(bm), table + 4 * CBT_LEAF_BYTES);
}

static struct kunit_case cbt_bitmap_cases[] = {
	KUNIT_CASE_PARAM(cbt_bitmap_geometry, geometry_gen_params),
	KUNIT_CASE_PARAM(cbt_bitmap_set_range_cases, range_gen_params),
	KUNIT_CASE(cbt_bitmap_range_all_set_cases),
	KUNIT_CASE(cbt_bitmap_range_all_set_inline),
	KUNIT_CASE(cbt_bitmap_grow_keeps_bits),
	KUNIT_CASE(cbt_bitmap_grow_refuses_shrink),
	KUNIT_CASE(cbt_bitmap_grow_full_last_leaf),
	KUNIT_CASE(cbt_bitmap_leaf_layout),
	KUNIT_CASE(cbt_bitmap_leaf_round_trip),
	KUNIT_CASE(cbt_bitmap_or_leaf_zero),
	KUNIT_CASE(cbt_bitmap_or_sizes),
	KUNIT_CASE(cbt_bitmap_or_full),
	KUNIT_CASE(cbt_bitmap_full_leaf),
	KUNIT_CASE(cbt_bitmap_bytes_accounting),
	KUNIT_CASE(cbt_bitmap_alloc_failure),
	KUNIT_CASE(cbt_bitmap_try_set_range_cases),
	{}
};

static struct kunit_suite cbt_bitmap_suite = {
	.name = "dm_cbt_bitmap",
	.test_cases = cbt_bitmap_cases,
};

/* Extents: sorted runs of set bits, in little-endian. */

static struct cbt_extent ext(u32 start, u32 len)
{
	return (struct cbt_extent){
		.start = (__force u32)cpu_to_le32(start),
		.len = (__force u32)cpu_to_le32(len),
	};
}

static u32 ext_start(const struct cbt_extent *e)
{
	return le32_to_cpu((__force __le32)e->start);
}

static u32 ext_len(const struct cbt_extent *e)
{
	return le32_to_cpu((__force __le32)e->len);
}

static void set_le(void *words, u32 bit)
{
	((u8 *)words)[bit / 8] |= BIT(bit % 8);
}

/* Exactly DIV_ROUND_UP(nbits, 64) words, so KASAN sees any overrun. */
static void *new_words(struct kunit *test, u32 nbits)
{
	void *w = kunit_kzalloc(test, DIV_ROUND_UP(nbits, 64) * sizeof(u64), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, w);
	return w;
}

/* The maximal runs of set bits below nbits, as the encoder must give them. */
static u32 model_runs(const void *words, u32 nbits, struct cbt_extent *out)
{
	u32 i = 0, n = 0, start;

	while (i < nbits) {
		if (!le_bit(words, i)) {
			i++;
			continue;
		}
		start = i;
		while (i < nbits && le_bit(words, i))
			i++;
		out[n++] = ext(start, i - start);
	}
	return n;
}

/* Encode, compare with the model's runs, decode, compare with the input. */
static void expect_round_trip(struct kunit *test, const void *words, u32 nbits,
			      const char *what)
{
	u32 max = nbits / 2 + 1;
	struct cbt_extent *got = kunit_kcalloc(test, max, sizeof(*got), GFP_KERNEL);
	struct cbt_extent *want = kunit_kcalloc(test, max, sizeof(*want), GFP_KERNEL);
	void *back = new_words(test, nbits);
	u32 nwant, i;
	int n;

	KUNIT_ASSERT_NOT_NULL(test, got);
	KUNIT_ASSERT_NOT_NULL(test, want);
	nwant = model_runs(words, nbits, want);
	n = cbt_extents_encode(words, nbits, got, max);
	KUNIT_ASSERT_EQ_MSG(test, n, (int)nwant, "%s: extents", what);
	for (i = 0; i < nwant; i++) {
		if (ext_start(&got[i]) != ext_start(&want[i]) ||
		    ext_len(&got[i]) != ext_len(&want[i])) {
			KUNIT_FAIL(test, "%s: extent %u is %u+%u, want %u+%u", what, i,
				   ext_start(&got[i]), ext_len(&got[i]),
				   ext_start(&want[i]), ext_len(&want[i]));
			break;
		}
	}
	/* Exactly enough room is enough; one less is -E2BIG. */
	KUNIT_EXPECT_EQ_MSG(test, cbt_extents_encode(words, nbits, got, nwant), (int)nwant,
			    "%s", what);
	if (nwant)
		KUNIT_EXPECT_EQ_MSG(test, cbt_extents_encode(words, nbits, got, nwant - 1),
				    -E2BIG, "%s", what);

	KUNIT_ASSERT_EQ_MSG(test, cbt_extents_decode(want, nwant, back, nbits), 0, "%s", what);
	for (i = 0; i < round_up(nbits, 64); i++) {
		bool w = i < nbits && le_bit(words, i);

		if (le_bit(back, i) != w) {
			KUNIT_FAIL(test, "%s: bit %u decodes as %d", what, i, !w);
			break;
		}
	}
}

struct pattern_case {
	const char *name;
	u32 nbits;
	u32 max_run, max_gap;	/* 0, 0: random words */
};

static const struct pattern_case pattern_cases[] = {
	{ "one bit", 1, 1, 1 },
	{ "63 bits, short runs", 63, 3, 3 },
	{ "64 bits, short runs", 64, 5, 5 },
	{ "65 bits, long runs", 65, 64, 2 },
	{ "isolated bits", 1000, 1, 1 },
	{ "runs across words", 1000, 200, 3 },
	{ "a leaf of runs near 64", CBT_BITS_PER_LEAF, 70, 70 },
	{ "a leaf of sparse bits", CBT_BITS_PER_LEAF, 1, 130 },
	{ "leaf - 1, long runs", CBT_BITS_PER_LEAF - 1, 500, 1 },
	{ "random words, 100 bits", 100, 0, 0 },
	{ "random words, a leaf", CBT_BITS_PER_LEAF, 0, 0 },
	{ "random words, leaf + 1", CBT_BITS_PER_LEAF + 1, 0, 0 },
};

static void pattern_desc(const struct pattern_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(pattern, pattern_cases, pattern_desc);

static void cbt_extents_random(struct kunit *test)
{
	const struct pattern_case *c = test->param_value;
	void *words = new_words(test, c->nbits);
	size_t size = DIV_ROUND_UP(c->nbits, 64) * sizeof(u64);
	struct rnd_state rnd;
	u32 i, run;

	prandom_seed_state(&rnd, SEED + c->nbits);
	if (!c->max_run) {
		/* Bits past nbits are set too: they must be ignored. */
		prandom_bytes_state(&rnd, words, size);
	} else {
		i = prandom_u32_state(&rnd) % (c->max_gap + 1);
		while (i < c->nbits) {
			run = 1 + prandom_u32_state(&rnd) % c->max_run;
			for (; run && i < c->nbits; run--)
				set_le(words, i++);
			i += 1 + prandom_u32_state(&rnd) % c->max_gap;
		}
	}
	expect_round_trip(test, words, c->nbits, c->name);
}

static void cbt_extents_all_ones(struct kunit *test)
{
	static const u32 sizes[] = { 1, 63, 64, 65, 100, CBT_BITS_PER_LEAF };
	struct cbt_extent e[2];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		u32 nbits = sizes[i];
		void *words = new_words(test, nbits);

		/* The whole last word, bits past nbits included. */
		memset(words, 0xff, DIV_ROUND_UP(nbits, 64) * sizeof(u64));
		KUNIT_EXPECT_EQ_MSG(test, cbt_extents_encode(words, nbits, e, 2), 1,
				    "nbits %u", nbits);
		KUNIT_EXPECT_EQ_MSG(test, ext_start(&e[0]), 0U, "nbits %u", nbits);
		KUNIT_EXPECT_EQ_MSG(test, ext_len(&e[0]), nbits, "nbits %u", nbits);
		KUNIT_EXPECT_EQ_MSG(test, cbt_extents_encode(words, nbits, e, 0), -E2BIG,
				    "nbits %u", nbits);
		memset(words, 0, DIV_ROUND_UP(nbits, 64) * sizeof(u64));
		KUNIT_EXPECT_EQ_MSG(test, cbt_extents_encode(words, nbits, e, 0), 0,
				    "nbits %u, no bit set", nbits);
	}
}

static void cbt_extents_alternating(struct kunit *test)
{
	const u32 nbits = CBT_BITS_PER_LEAF;
	static const u8 fills[] = { 0x55, 0xaa };
	unsigned int f;
	void *words = new_words(test, nbits);
	struct cbt_extent *e = kunit_kcalloc(test, nbits / 2, sizeof(*e), GFP_KERNEL);
	u32 i;

	KUNIT_ASSERT_NOT_NULL(test, e);
	for (f = 0; f < ARRAY_SIZE(fills); f++) {
		memset(words, fills[f], nbits / 8);
		KUNIT_ASSERT_EQ_MSG(test, cbt_extents_encode(words, nbits, e, nbits / 2),
				    (int)(nbits / 2), "fill %#x", fills[f]);
		for (i = 0; i < nbits / 2; i++) {
			if (ext_start(&e[i]) != 2 * i + f || ext_len(&e[i]) != 1) {
				KUNIT_FAIL(test, "fill %#x: extent %u is %u+%u", fills[f], i,
					   ext_start(&e[i]), ext_len(&e[i]));
				break;
			}
		}
		KUNIT_EXPECT_EQ_MSG(test, cbt_extents_encode(words, nbits, e, nbits / 2 - 1),
				    -E2BIG, "fill %#x", fills[f]);
		expect_round_trip(test, words, nbits, "alternating");
	}
}

struct decode_case {
	const char *name;
	u32 nbits;
	u32 nr;
	struct {
		u32 start, len;
	} ext[3];
	int ret;
};

static const struct decode_case decode_cases[] = {
	{ "no extent", 100, 0, {}, 0 },
	{ "the last bit", 100, 1, { { 99, 1 } }, 0 },
	{ "every bit", 100, 1, { { 0, 100 } }, 0 },
	{ "adjacent", 100, 2, { { 0, 5 }, { 5, 5 } }, 0 },
	{ "across words", 200, 3, { { 10, 60 }, { 127, 2 }, { 190, 10 } }, 0 },
	{ "unsorted", 100, 2, { { 10, 2 }, { 5, 2 } }, -EINVAL },
	{ "overlapping", 100, 2, { { 0, 10 }, { 5, 2 } }, -EINVAL },
	{ "duplicate", 100, 2, { { 5, 1 }, { 5, 1 } }, -EINVAL },
	{ "zero length", 100, 1, { { 3, 0 } }, -EINVAL },
	{ "zero length after a good one", 100, 2, { { 3, 1 }, { 50, 0 } }, -EINVAL },
	{ "past the end", 100, 1, { { 99, 2 } }, -EINVAL },
	{ "starts at nbits", 100, 1, { { 100, 1 } }, -EINVAL },
	{ "start + len wraps u32", 100, 1, { { U32_MAX, 2 } }, -EINVAL },
	{ "huge length", 100, 2, { { 0, 1 }, { 2, U32_MAX } }, -EINVAL },
};

static void decode_desc(const struct decode_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(decode, decode_cases, decode_desc);

static void cbt_extents_decode_cases(struct kunit *test)
{
	const struct decode_case *c = test->param_value;
	size_t size = DIV_ROUND_UP(c->nbits, 64) * sizeof(u64);
	void *words = new_words(test, c->nbits);
	struct cbt_extent e[3];
	u32 i, bit;
	int ret;

	for (i = 0; i < c->nr; i++)
		e[i] = ext(c->ext[i].start, c->ext[i].len);
	memset(words, 0xff, size);	/* zeroed first */
	ret = cbt_extents_decode(e, c->nr, words, c->nbits);
	KUNIT_EXPECT_EQ_MSG(test, ret, c->ret, "%s", c->name);
	if (ret || c->ret)
		return;
	for (bit = 0; bit < size * 8; bit++) {
		bool want = false;

		for (i = 0; i < c->nr; i++)
			want |= bit >= c->ext[i].start && bit - c->ext[i].start < c->ext[i].len;
		if (le_bit(words, bit) != want) {
			KUNIT_FAIL(test, "%s: bit %u decodes as %d", c->name, bit, !want);
			break;
		}
	}
}

static struct kunit_case cbt_extents_cases[] = {
	KUNIT_CASE_PARAM(cbt_extents_random, pattern_gen_params),
	KUNIT_CASE(cbt_extents_all_ones),
	KUNIT_CASE(cbt_extents_alternating),
	KUNIT_CASE_PARAM(cbt_extents_decode_cases, decode_gen_params),
	{}
};

static struct kunit_suite cbt_extents_suite = {
	.name = "dm_cbt_extents",
	.test_cases = cbt_extents_cases,
};

kunit_test_suites(&cbt_bitmap_suite, &cbt_extents_suite);

MODULE_DESCRIPTION("KUnit tests for dm-cbt's sparse bitmaps and extents");
MODULE_LICENSE("GPL");
