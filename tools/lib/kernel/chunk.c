// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <linux/dm-cbt.h>

#include "kernel/chunk.h"
#include "util/util.h"

static uint64_t get_word(const void *words, size_t i)
{
	uint64_t w;

	memcpy(&w, (const char *)words + i * sizeof(w), sizeof(w));
	return le64toh(w);
}

static void get_extent(const void *extents, size_t i, uint32_t *start, uint32_t *len)
{
	struct cbt_extent e;

	memcpy(&e, (const char *)extents + i * sizeof(e), sizeof(e));
	*start = le32toh(e.start);
	*len = le32toh(e.len);
}

static int check_words(const struct cbt_chunk *c)
{
	size_t nr_words = ((size_t)c->blocks + 63) / 64;
	unsigned int tail = c->blocks % 64;

	if (c->words_len != nr_words * sizeof(uint64_t))
		return cbt_err(-EPROTO,
			       "chunk at block %" PRIu64 ": %zu bytes of words for %" PRIu32
			       " blocks, %zu expected",
			       c->start, c->words_len, c->blocks, nr_words * sizeof(uint64_t));
	if (tail && get_word(c->words, nr_words - 1) >> tail)
		return cbt_err(-EPROTO, "chunk at block %" PRIu64 ": bits set past its %" PRIu32
			       " blocks", c->start, c->blocks);
	return 0;
}

static int decode_words(const struct cbt_chunk *c, struct cbt_extents *out)
{
	size_t nr_words = ((size_t)c->blocks + 63) / 64, i;
	int ret;

	for (i = 0; i < nr_words; i++) {
		uint64_t w = get_word(c->words, i);
		unsigned int bit = 0;

		while (w) {
			unsigned int skip = (unsigned int)__builtin_ctzll(w), run;

			w >>= skip;
			bit += skip;
			/* ones in a row from bit 0 of w; all 64 when w is ~0 */
			run = ~w ? (unsigned int)__builtin_ctzll(~w) : 64;
			ret = cbt_extents_append(out, c->start + i * 64 + bit, run);
			if (ret)
				return ret;
			w = run < 64 ? w >> run : 0;
			bit += run;
		}
	}
	return 0;
}

/*
 * A run starts at every set bit whose lower neighbour is clear: the
 * neighbour of bit 0 is the previous word's bit 63, or for the first word
 * whether the last run counted so far ends right at the chunk's start.
 */
static inline __attribute__((always_inline)) void
count_words_body(const struct cbt_chunk *c, struct cbt_bitmap_count *n)
{
	size_t nr_words = ((size_t)c->blocks + 63) / 64;
	uint64_t carry = n->runs && n->end == c->start, w = 0;

	for (size_t i = 0; i < nr_words; i++) {
		w = get_word(c->words, i);
		n->blocks += (uint64_t)__builtin_popcountll(w);
		n->runs += (uint64_t)__builtin_popcountll(w & ~(w << 1 | carry));
		carry = w >> 63;
	}
	/* Only a run reaching the chunk's last block can continue in the next chunk. */
	if (nr_words && w >> ((c->blocks - 1) % 64) & 1)
		n->end = c->start + c->blocks;
}

/*
 * Without -mpopcnt, __builtin_popcountll is a libgcc call: the popcnt
 * instruction counts a dense 1 TiB bitmap about 3 times faster, so x86-64
 * uses it where the CPU has it. Picked at the call, not by an ifunc
 * (target_clones): an ifunc resolver runs while the dynamic loader
 * relocates the program, before any sanitizer runtime is initialised, and
 * the compiler instruments the resolver it generates, so a ThreadSanitizer
 * build died there before main(). __builtin_cpu_init() makes the check
 * right even before libgcc's constructor ran; it returns at once after.
 */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target)
#define COUNT_POPCNT 1
__attribute__((target("popcnt")))
static void count_words_popcnt(const struct cbt_chunk *c, struct cbt_bitmap_count *n)
{
	count_words_body(c, n);
}
#endif
#endif

#ifdef CBT_TEST_HOOKS
bool cbt_chunk_no_popcnt;
unsigned long cbt_chunk_generic_words;
#else
#define cbt_chunk_no_popcnt false
#endif

static void count_words(const struct cbt_chunk *c, struct cbt_bitmap_count *n)
{
#ifdef COUNT_POPCNT
	__builtin_cpu_init();
	if (!cbt_chunk_no_popcnt && __builtin_cpu_supports("popcnt")) {
		count_words_popcnt(c, n);
		return;
	}
#endif
#ifdef CBT_TEST_HOOKS
	cbt_chunk_generic_words++;
#endif
	count_words_body(c, n);
}

static int check_extents(const struct cbt_chunk *c)
{
	size_t nr = c->extents_len / sizeof(struct cbt_extent), i;
	uint64_t next = 0;
	uint32_t start, len;

	if (c->extents_len % sizeof(struct cbt_extent))
		return cbt_err(-EPROTO,
			       "chunk at block %" PRIu64 ": extents attribute of %zu bytes is not"
			       " a multiple of %zu", c->start, c->extents_len,
			       sizeof(struct cbt_extent));
	for (i = 0; i < nr; i++) {
		get_extent(c->extents, i, &start, &len);
		if (!len)
			return cbt_err(-EPROTO, "chunk at block %" PRIu64 ": extent %zu is empty",
				       c->start, i);
		if (start < next)
			return cbt_err(-EPROTO,
				       "chunk at block %" PRIu64 ": extent %zu (+%" PRIu32 ", %" PRIu32
				       " blocks) is out of order or overlaps the one before",
				       c->start, i, start, len);
		next = (uint64_t)start + len;
		if (next > c->blocks)
			return cbt_err(-EPROTO,
				       "chunk at block %" PRIu64 ": extent %zu (+%" PRIu32 ", %" PRIu32
				       " blocks) reaches past the chunk's %" PRIu32 " blocks",
				       c->start, i, start, len, c->blocks);
	}
	return 0;
}

static int decode_extents(const struct cbt_chunk *c, struct cbt_extents *out)
{
	size_t nr = c->extents_len / sizeof(struct cbt_extent), i;
	uint32_t start, len;
	int ret;

	for (i = 0; i < nr; i++) {
		get_extent(c->extents, i, &start, &len);
		ret = cbt_extents_append(out, c->start + start, len);
		if (ret)
			return ret;
	}
	return 0;
}

static void count_extents(const struct cbt_chunk *c, struct cbt_bitmap_count *n)
{
	size_t nr = c->extents_len / sizeof(struct cbt_extent), i;
	uint32_t start, len;

	for (i = 0; i < nr; i++) {
		get_extent(c->extents, i, &start, &len);
		/* The kernel may split one run into touching extents: count it once. */
		if (!n->runs || n->end != c->start + start)
			n->runs++;
		n->blocks += len;
		n->end = c->start + start + len;
	}
}

/* Everything about @c that does not depend on the encoding; then the encoding's own checks. */
static int check_chunk(const struct cbt_chunk_ctx *ctx, const struct cbt_chunk *c)
{
	if (!c->words == !c->extents)
		return cbt_err(-EPROTO, "chunk at block %" PRIu64 ": %s", c->start,
			       c->words ? "has both words and extents" : "has neither words nor extents");
	if (!c->blocks)
		return cbt_err(-EPROTO, "chunk at block %" PRIu64 " covers no blocks", c->start);
	if (c->start < ctx->next)
		return cbt_err(-EPROTO,
			       "chunk at block %" PRIu64 " is out of order or overlaps the one before"
			       " (which ended at block %" PRIu64 ")", c->start, ctx->next);
	if (c->start > ctx->nr_blocks || c->blocks > ctx->nr_blocks - c->start)
		return cbt_err(-EPROTO,
			       "chunk at block %" PRIu64 " (%" PRIu32 " blocks) reaches past the"
			       " device's %" PRIu64 " blocks", c->start, c->blocks, ctx->nr_blocks);
	return c->words ? check_words(c) : check_extents(c);
}

int cbt_chunk_decode(struct cbt_chunk_ctx *ctx, const struct cbt_chunk *c, struct cbt_extents *out)
{
	int ret = check_chunk(ctx, c);

	if (!ret)
		ret = c->words ? decode_words(c, out) : decode_extents(c, out);
	if (ret)
		return ret;
	ctx->next = c->start + c->blocks;
	return 0;
}

int cbt_chunk_count(struct cbt_chunk_ctx *ctx, const struct cbt_chunk *c, struct cbt_bitmap_count *n)
{
	int ret = check_chunk(ctx, c);

	if (ret)
		return ret;
	if (c->words)
		count_words(c, n);
	else
		count_extents(c, n);
	ctx->next = c->start + c->blocks;
	return 0;
}
