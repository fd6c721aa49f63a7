// SPDX-License-Identifier: GPL-2.0
/* chunk.c: decoding both chunk encodings, and refusing every malformed form. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>

#include <linux/dm-cbt.h>

#include "kernel/chunk.h"
#include "unit.h"
#include "util/util.h"

/* Little-endian words as the wire has them. */
static void le_words(uint64_t *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w[i] = htole64(w[i]);
}

static void le_extents(struct cbt_extent *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		e[i].start = htole32(e[i].start);
		e[i].len = htole32(e[i].len);
	}
}

static struct cbt_chunk words_chunk(uint64_t start, uint32_t blocks, const uint64_t *w, size_t n)
{
	return (struct cbt_chunk){ .start = start, .blocks = blocks, .words = w,
				   .words_len = n * sizeof(*w) };
}

static struct cbt_chunk ext_chunk(uint64_t start, uint32_t blocks, const struct cbt_extent *e,
				  size_t n)
{
	/* an empty attribute still has a payload pointer */
	return (struct cbt_chunk){ .start = start, .blocks = blocks, .extents = e ? (const void *)e : "",
				   .extents_len = n * sizeof(*e) };
}

#define CHECK_RANGE(l, i, s, n) do {						\
	CHECK((l).nr > (i));							\
	CHECK_EQ((l).v[i].start, (s));						\
	CHECK_EQ((l).v[i].len, (n));						\
} while (0)

static void words_valid(void)
{
	/* 200 blocks at block 64: bits 0-2, 63-64 (across a word), 130-199 (to the end) */
	uint64_t w[4] = { 0x7 | 1ULL << 63, 0x1, ~0ULL << 2, 0xff };
	struct cbt_chunk_ctx ctx;
	struct cbt_extents l;
	struct cbt_chunk c = words_chunk(64, 200, w, 4);

	le_words(w, 4);
	cbt_chunk_ctx_init(&ctx, 1000);
	cbt_extents_init(&l);
	CHECK_EQ(cbt_chunk_decode(&ctx, &c, &l), 0);
	CHECK_EQ(l.nr, 3);
	CHECK_RANGE(l, 0, 64, 3);
	CHECK_RANGE(l, 1, 127, 2);
	CHECK_RANGE(l, 2, 194, 70);
	CHECK_EQ(l.total, 75);
	CHECK_EQ(ctx.next, 264);
	cbt_extents_free(&l);
}

static void words_all_ones(void)
{
	uint64_t w[3] = { ~0ULL, ~0ULL, 0x8000000000000001ULL };
	struct cbt_chunk_ctx ctx;
	struct cbt_extents l;
	struct cbt_chunk c = words_chunk(0, 192, w, 3);

	le_words(w, 3);
	cbt_chunk_ctx_init(&ctx, 192);
	cbt_extents_init(&l);
	CHECK_EQ(cbt_chunk_decode(&ctx, &c, &l), 0);
	CHECK_EQ(l.nr, 2);
	CHECK_RANGE(l, 0, 0, 129);
	CHECK_RANGE(l, 1, 191, 1);
	cbt_extents_free(&l);
}

static void extents_valid(void)
{
	struct cbt_extent e[] = { { 0, 5 }, { 5, 3 }, { 100, 1 }, { 8000, 192 } };
	struct cbt_chunk_ctx ctx;
	struct cbt_extents l;
	struct cbt_chunk c = ext_chunk(8192, 8192, e, 4);

	le_extents(e, 4);
	cbt_chunk_ctx_init(&ctx, 100000);
	cbt_extents_init(&l);
	CHECK_EQ(cbt_chunk_decode(&ctx, &c, &l), 0);
	CHECK_EQ(l.nr, 3);	/* adjacent extents come out as one */
	CHECK_RANGE(l, 0, 8192, 8);
	CHECK_RANGE(l, 1, 8292, 1);
	CHECK_RANGE(l, 2, 16192, 192);
	CHECK_EQ(ctx.next, 16384);
	cbt_extents_free(&l);
}

static void empty_chunks_accepted(void)
{
	uint64_t w[2] = { 0, 0 };
	struct cbt_chunk_ctx ctx;
	struct cbt_extents l;
	struct cbt_chunk a = words_chunk(0, 128, w, 2), b = ext_chunk(128, 64, NULL, 0);

	cbt_chunk_ctx_init(&ctx, 192);
	cbt_extents_init(&l);
	CHECK_EQ(cbt_chunk_decode(&ctx, &a, &l), 0);
	CHECK_EQ(cbt_chunk_decode(&ctx, &b, &l), 0);
	CHECK_EQ(l.nr, 0);
	CHECK_EQ(ctx.next, 192);
}

/* A run to the end of a words chunk and one from the start of an extents chunk are one extent. */
static void coalesce_across_chunks(void)
{
	uint64_t w[2] = { 0, 0xc000000000000000ULL };
	struct cbt_extent e[] = { { 0, 10 }, { 20, 1 } };
	uint64_t w2[1] = { 1 };
	struct cbt_chunk_ctx ctx;
	struct cbt_extents l;
	struct cbt_chunk a = words_chunk(0, 128, w, 2), b = ext_chunk(128, 21, e, 2),
			 c = words_chunk(149, 64, w2, 1);

	le_words(w, 2);
	le_words(w2, 1);
	le_extents(e, 2);
	cbt_chunk_ctx_init(&ctx, 1000);
	cbt_extents_init(&l);
	CHECK_EQ(cbt_chunk_decode(&ctx, &a, &l), 0);
	CHECK_EQ(cbt_chunk_decode(&ctx, &b, &l), 0);
	CHECK_EQ(cbt_chunk_decode(&ctx, &c, &l), 0);	/* block 148 then 149: adjacent */
	CHECK_EQ(l.nr, 2);
	CHECK_RANGE(l, 0, 126, 12);
	CHECK_RANGE(l, 1, 148, 2);
	cbt_extents_free(&l);
}

/* Any bitmap gives the same list whichever encoding carries it. */
static void encodings_agree(void)
{
	enum { BLOCKS = 8192 - 37, WORDS = (BLOCKS + 63) / 64 };
	static uint64_t w[WORDS], wl[WORDS];
	static struct cbt_extent e[BLOCKS];
	struct cbt_extents a, b;
	struct cbt_chunk_ctx ca, cb;
	size_t ne = 0;
	uint32_t seed = 12345;

	for (int round = 0; round < 20; round++) {
		memset(w, 0, sizeof(w));
		for (uint32_t i = 0; i < BLOCKS; i++) {
			seed = seed * 1103515245 + 12345;
			/* runs of various lengths: density changes by round */
			if ((seed >> 16) % 20 < (uint32_t)round)
				w[i / 64] |= 1ULL << (i % 64);
		}
		ne = 0;
		for (uint32_t i = 0; i < BLOCKS;) {
			uint32_t j = i;

			if (!(w[i / 64] >> (i % 64) & 1)) {
				i++;
				continue;
			}
			while (j < BLOCKS && (w[j / 64] >> (j % 64) & 1))
				j++;
			e[ne].start = htole32(i);
			e[ne].len = htole32(j - i);
			ne++;
			i = j;
		}
		memcpy(wl, w, sizeof(w));
		le_words(wl, WORDS);
		struct cbt_chunk x = words_chunk(4096, BLOCKS, wl, WORDS), y = ext_chunk(4096, BLOCKS, e, ne);

		cbt_chunk_ctx_init(&ca, 4096 + BLOCKS);
		cbt_chunk_ctx_init(&cb, 4096 + BLOCKS);
		cbt_extents_init(&a);
		cbt_extents_init(&b);
		CHECK_EQ(cbt_chunk_decode(&ca, &x, &a), 0);
		CHECK_EQ(cbt_chunk_decode(&cb, &y, &b), 0);
		CHECK_EQ(a.nr, ne);
		CHECK_EQ(b.nr, ne);
		CHECK_EQ(a.total, b.total);
		CHECK(!a.nr || !memcmp(a.v, b.v, a.nr * sizeof(*a.v)));
		cbt_extents_free(&a);
		cbt_extents_free(&b);
	}
}

/*
 * cbt_chunk_count() against cbt_chunk_decode() on the same dump: sizes at
 * and around word and chunk edges, chunk sizes that are and are not a
 * multiple of 64, both encodings alternating, empty chunks left out as
 * the kernel does, runs across chunk boundaries, densities from none to all.
 */
enum { MAXB = 3 * 8192 + 5 };

static int bit(const uint64_t *bm, uint64_t i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

static void count_case(const uint64_t *bm, uint64_t nr_blocks, uint32_t chunk)
{
	static uint64_t w[8192 / 64];
	static struct cbt_extent e[8192];
	struct cbt_chunk_ctx cd, cc;
	struct cbt_bitmap_count n = { 0 };
	struct cbt_extents l;
	uint64_t set = 0;

	cbt_chunk_ctx_init(&cd, nr_blocks);
	cbt_chunk_ctx_init(&cc, nr_blocks);
	cbt_extents_init(&l);
	for (uint64_t s = 0, k = 0; s < nr_blocks; s += chunk, k++) {
		uint32_t blocks = (uint32_t)(nr_blocks - s < chunk ? nr_blocks - s : chunk);
		size_t ne = 0;
		bool any = false;
		struct cbt_chunk c;

		memset(w, 0, sizeof(w));
		for (uint32_t i = 0; i < blocks; i++) {
			if (!bit(bm, s + i))
				continue;
			any = true;
			set++;
			w[i / 64] |= 1ULL << (i % 64);
			/* extents of at most 5 blocks: a run is split into touching extents */
			if (ne && e[ne - 1].start + e[ne - 1].len == i && e[ne - 1].len < 5) {
				e[ne - 1].len++;
			} else {
				e[ne].start = i;
				e[ne].len = 1;
				ne++;
			}
		}
		if (!any && k % 3)
			continue;
		le_words(w, (blocks + 63) / 64);
		le_extents(e, ne);
		c = k % 2 ? ext_chunk(s, blocks, e, ne) : words_chunk(s, blocks, w, (blocks + 63) / 64);
		CHECK_EQ(cbt_chunk_decode(&cd, &c, &l), 0);
		CHECK_EQ(cbt_chunk_count(&cc, &c, &n), 0);
		CHECK_EQ(cc.next, cd.next);
	}
	CHECK_EQ(n.blocks, set);
	CHECK_EQ(n.blocks, l.total);
	CHECK_EQ(n.runs, (uint64_t)l.nr);
	CHECK_EQ(n.runs && n.end == nr_blocks, bit(bm, nr_blocks - 1));
	cbt_extents_free(&l);
}

static void count_matches_decode(void)
{
	static const uint64_t sizes[] = { 1, 2, 63, 64, 65, 127, 128, 129, 8191, 8192, 8193,
					  2 * 8192, MAXB };
	static const uint32_t chunks[] = { 64, 100, 8192 };
	static uint64_t bm[(MAXB + 63) / 64];
	uint32_t seed = 777;

	/* density in 1/8: 0 none, 8 all, and every other block as the densest for runs */
	for (int d = -1; d <= 8; d++) {
		for (uint64_t i = 0; i < MAXB; i++) {
			seed = seed * 1103515245 + 12345;
			if (d < 0 ? i % 2 == 0 : (int)((seed >> 16) % 8) < d)
				bm[i / 64] |= 1ULL << (i % 64);
			else
				bm[i / 64] &= ~(1ULL << (i % 64));
		}
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			/* clear the bits past the end, as the kernel does */
			static uint64_t c[(MAXB + 63) / 64];

			memcpy(c, bm, sizeof(c));
			for (uint64_t i = sizes[s]; i < (MAXB + 63) / 64 * 64; i++)
				c[i / 64] &= ~(1ULL << (i % 64));
			for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++)
				count_case(c, sizes[s], chunks[k]);
		}
	}
}

/*
 * The count without the popcnt instruction (CPUs without it: qemu64
 * guests) gives what the popcnt path gives, on the same dumps: densities
 * from none to all, every other block, sizes around word and chunk edges.
 * This host has popcnt, so the generic path is forced through the seam.
 */
static void count_words_with(bool no_popcnt, const uint64_t *w, uint64_t nr_blocks,
			     struct cbt_bitmap_count *n)
{
	struct cbt_chunk_ctx ctx;
	unsigned long before = cbt_chunk_generic_words;
	uint64_t nr_chunks = 0;

	memset(n, 0, sizeof(*n));
	cbt_chunk_no_popcnt = no_popcnt;
	cbt_chunk_ctx_init(&ctx, nr_blocks);
	for (uint64_t s = 0; s < nr_blocks; s += 8192, nr_chunks++) {
		uint32_t blocks = (uint32_t)(nr_blocks - s < 8192 ? nr_blocks - s : 8192);
		struct cbt_chunk c = words_chunk(s, blocks, w + s / 64, (blocks + 63) / 64);

		CHECK_EQ(cbt_chunk_count(&ctx, &c, n), 0);
	}
	cbt_chunk_no_popcnt = false;
	/* The path asked for is the one taken (the popcnt one where the CPU has it). */
	if (no_popcnt || !__builtin_cpu_supports("popcnt"))
		CHECK_EQ(cbt_chunk_generic_words - before, nr_chunks);
	else
		CHECK_EQ(cbt_chunk_generic_words - before, 0);
}

static void count_without_popcnt(void)
{
	static const uint64_t sizes[] = { 1, 63, 64, 65, 8191, 8192, 8193, MAXB };
	static uint64_t bm[(MAXB + 63) / 64];
	uint32_t seed = 4242;

	for (int d = -1; d <= 8; d++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			struct cbt_bitmap_count a, b;
			uint64_t set = 0;

			memset(bm, 0, sizeof(bm));
			for (uint64_t i = 0; i < sizes[s]; i++) {
				seed = seed * 1103515245 + 12345;
				if (d < 0 ? i % 2 == 0 : (int)((seed >> 16) % 8) < d) {
					bm[i / 64] |= 1ULL << (i % 64);
					set++;
				}
			}
			le_words(bm, (sizes[s] + 63) / 64);
			count_words_with(false, bm, sizes[s], &a);
			count_words_with(true, bm, sizes[s], &b);
			CHECK_EQ(a.blocks, set);
			CHECK_EQ(b.blocks, a.blocks);
			CHECK_EQ(b.runs, a.runs);
			CHECK_EQ(b.end, a.end);
			if (d < 0)	/* every other block: each set block is a run of its own */
				CHECK_EQ(b.runs, set);
			if (d == 8)
				CHECK_EQ(b.runs, 1);
		}
	}
}

/* A whole word of ones, and runs continuing from one chunk into the next, count once. */
static void count_runs_across_chunks(void)
{
	uint64_t a[2] = { 0, 1ULL << 63 }, b[1] = { ~0ULL }, d[1] = { 3 };
	struct cbt_extent e[2] = { { 0, 2 }, { 2, 1 } };
	struct cbt_chunk_ctx ctx;
	struct cbt_bitmap_count n = { 0 };
	struct cbt_chunk c1 = words_chunk(0, 128, a, 2), c2 = words_chunk(128, 64, b, 1),
			 c3 = ext_chunk(192, 10, e, 2), c4 = words_chunk(203, 64, d, 1);

	le_words(a, 2);
	le_words(b, 1);
	le_words(d, 1);
	le_extents(e, 2);
	cbt_chunk_ctx_init(&ctx, 1000);
	CHECK_EQ(cbt_chunk_count(&ctx, &c1, &n), 0);
	CHECK_EQ(n.runs, 1);
	CHECK_EQ(n.end, 128);
	CHECK_EQ(cbt_chunk_count(&ctx, &c2, &n), 0);
	CHECK_EQ(cbt_chunk_count(&ctx, &c3, &n), 0);
	CHECK_EQ(n.runs, 1);	/* 127 .. 194: one run over three chunks */
	CHECK_EQ(n.blocks, 68);
	CHECK_EQ(cbt_chunk_count(&ctx, &c4, &n), 0);	/* 203-204: a gap after 202 */
	CHECK_EQ(n.runs, 2);
	CHECK_EQ(n.blocks, 70);
}

/* Each malformed chunk is -EPROTO, says why, and changes nothing. */
static void check_bad(const struct cbt_chunk *c, uint64_t nr_blocks, uint64_t next, const char *why)
{
	struct cbt_chunk_ctx ctx;
	struct cbt_extents l;

	cbt_chunk_ctx_init(&ctx, nr_blocks);
	ctx.next = next;
	cbt_extents_init(&l);
	CHECK_EQ(cbt_extents_append(&l, 0, 1), 0);
	cbt_err_clear();
	CHECK_ERR(cbt_chunk_decode(&ctx, c, &l), -EPROTO, why);
	CHECK_EQ(l.nr, 1);
	CHECK_EQ(l.total, 1);
	CHECK_EQ(ctx.next, next);
	cbt_extents_free(&l);

	/* Counting refuses the same chunk and counts nothing of it. */
	struct cbt_bitmap_count n = { .blocks = 1, .runs = 1, .end = 1 };

	cbt_chunk_ctx_init(&ctx, nr_blocks);
	ctx.next = next;
	cbt_err_clear();
	CHECK_ERR(cbt_chunk_count(&ctx, c, &n), -EPROTO, why);
	CHECK_EQ(n.blocks, 1);
	CHECK_EQ(n.runs, 1);
	CHECK_EQ(n.end, 1);
	CHECK_EQ(ctx.next, next);
}

static uint64_t ones[4] = { 1, 1, 1, 1 };

static void bad_words_short(void)
{
	struct cbt_chunk c = words_chunk(64, 200, ones, 3);	/* 200 blocks need 4 words */

	check_bad(&c, 1000, 0, "24 bytes of words for 200 blocks, 32 expected");
}

static void bad_words_long(void)
{
	struct cbt_chunk c = words_chunk(64, 128, ones, 3);

	check_bad(&c, 1000, 0, "24 bytes of words for 128 blocks, 16 expected");
}

static void bad_words_not_whole(void)
{
	struct cbt_chunk c = words_chunk(64, 8, ones, 1);

	c.words_len = 5;
	check_bad(&c, 1000, 0, "5 bytes of words");
}

static void bad_words_bits_past_end(void)
{
	uint64_t w[2] = { 0, htole64(1ULL << 8) };
	struct cbt_chunk c = words_chunk(64, 72, w, 2);

	check_bad(&c, 1000, 0, "bits set past its 72 blocks");
}

static void bad_extents_not_whole(void)
{
	struct cbt_extent e[] = { { 0, 1 } };
	struct cbt_chunk c = ext_chunk(64, 100, e, 1);

	c.extents_len = 12;
	check_bad(&c, 1000, 0, "not a multiple of 8");
}

static void bad_extents_empty(void)
{
	struct cbt_extent e[] = { { 0, 1 }, { 5, 0 } };
	struct cbt_chunk c = ext_chunk(64, 100, e, 2);

	le_extents(e, 2);
	check_bad(&c, 1000, 0, "extent 1 is empty");
}

static void bad_extents_unsorted(void)
{
	struct cbt_extent e[] = { { 10, 1 }, { 5, 1 } };
	struct cbt_chunk c = ext_chunk(64, 100, e, 2);

	le_extents(e, 2);
	check_bad(&c, 1000, 0, "extent 1 (+5, 1 blocks) is out of order or overlaps");
}

static void bad_extents_overlapping(void)
{
	struct cbt_extent e[] = { { 10, 5 }, { 14, 3 } };
	struct cbt_chunk c = ext_chunk(64, 100, e, 2);

	le_extents(e, 2);
	check_bad(&c, 1000, 0, "extent 1 (+14, 3 blocks) is out of order or overlaps");
}

static void bad_extents_past_chunk(void)
{
	struct cbt_extent e[] = { { 90, 11 } };
	struct cbt_chunk c = ext_chunk(64, 100, e, 1);

	le_extents(e, 1);
	check_bad(&c, 1000, 0, "reaches past the chunk's 100 blocks");
}

static void bad_extents_wrap_u32(void)
{
	struct cbt_extent e[] = { { 0xffffffffU, 2 } };
	struct cbt_chunk c = ext_chunk(0, 100, e, 1);

	le_extents(e, 1);
	check_bad(&c, 1000, 0, "reaches past the chunk's 100 blocks");
}

static void bad_chunk_past_nr_blocks(void)
{
	struct cbt_extent e[] = { { 0, 1 } };
	struct cbt_chunk c = ext_chunk(900, 101, e, 1);

	le_extents(e, 1);
	check_bad(&c, 1000, 0, "reaches past the device's 1000 blocks");
}

static void bad_chunk_start_past_nr_blocks(void)
{
	struct cbt_chunk c = words_chunk(UINT64_MAX - 10, 64, ones, 1);

	check_bad(&c, 1000, 0, "reaches past the device's 1000 blocks");
}

static void bad_chunk_out_of_order(void)
{
	struct cbt_chunk c = words_chunk(64, 64, ones, 1);

	check_bad(&c, 1000, 128, "out of order or overlaps the one before (which ended at block 128)");
}

static void bad_chunk_overlaps_previous(void)
{
	struct cbt_chunk c = words_chunk(100, 64, ones, 1);

	check_bad(&c, 1000, 101, "out of order or overlaps");
}

static void bad_chunk_no_blocks(void)
{
	struct cbt_chunk c = words_chunk(64, 0, ones, 0);

	check_bad(&c, 1000, 0, "covers no blocks");
}

static void bad_chunk_both_encodings(void)
{
	struct cbt_chunk c = words_chunk(64, 64, ones, 1);

	c.extents = ones;
	c.extents_len = 8;
	check_bad(&c, 1000, 0, "has both words and extents");
}

static void bad_chunk_no_encoding(void)
{
	struct cbt_chunk c = { .start = 64, .blocks = 64 };

	check_bad(&c, 1000, 0, "has neither words nor extents");
}

UT_MAIN("chunk",
	UT_CASE(words_valid),
	UT_CASE(words_all_ones),
	UT_CASE(extents_valid),
	UT_CASE(empty_chunks_accepted),
	UT_CASE(coalesce_across_chunks),
	UT_CASE(encodings_agree),
	UT_CASE(count_matches_decode),
	UT_CASE(count_runs_across_chunks),
	UT_CASE(count_without_popcnt),
	UT_CASE(bad_words_short),
	UT_CASE(bad_words_long),
	UT_CASE(bad_words_not_whole),
	UT_CASE(bad_words_bits_past_end),
	UT_CASE(bad_extents_not_whole),
	UT_CASE(bad_extents_empty),
	UT_CASE(bad_extents_unsorted),
	UT_CASE(bad_extents_overlapping),
	UT_CASE(bad_extents_past_chunk),
	UT_CASE(bad_extents_wrap_u32),
	UT_CASE(bad_chunk_past_nr_blocks),
	UT_CASE(bad_chunk_start_past_nr_blocks),
	UT_CASE(bad_chunk_out_of_order),
	UT_CASE(bad_chunk_overlaps_previous),
	UT_CASE(bad_chunk_no_blocks),
	UT_CASE(bad_chunk_both_encodings),
	UT_CASE(bad_chunk_no_encoding))
