/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decoding the CBT_A_CHUNK nests of a CBT_CMD_GET_BITMAP dump into an
 * extent list. The two encodings (raw little-endian u64 words, or an array
 * of little-endian struct cbt_extent) give the same list.
 *
 * The kernel's data is checked, not trusted: a chunk that is out of order,
 * reaches past nr_blocks, has a words attribute of the wrong length, bits
 * set past its end, or extents that are empty, unsorted, overlapping or
 * past its end, is -EPROTO with a detail naming the chunk (cbt_err()).
 */
#ifndef CBT_CHUNK_H
#define CBT_CHUNK_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/extents.h"

/* One CBT_A_CHUNK nest, as pointers into the message. */
struct cbt_chunk {
	uint64_t start;		/* CBT_A_CHUNK_START */
	uint32_t blocks;	/* CBT_A_CHUNK_BLOCKS */
	const void *words;	/* CBT_A_CHUNK_WORDS payload, NULL when absent */
	size_t words_len;
	const void *extents;	/* CBT_A_CHUNK_EXTENTS payload, NULL when absent */
	size_t extents_len;
};

/* What the chunks of one dump must agree with, and where the last ended. */
struct cbt_chunk_ctx {
	uint64_t nr_blocks;	/* blocks covering the device */
	uint64_t next;		/* a following chunk starts here or later */
};

static inline void cbt_chunk_ctx_init(struct cbt_chunk_ctx *ctx, uint64_t nr_blocks)
{
	ctx->nr_blocks = nr_blocks;
	ctx->next = 0;
}

/*
 * Check @c against @ctx and append its set blocks (absolute block numbers)
 * to @out, coalescing with what is already there. On -EPROTO nothing is
 * appended and @ctx is unchanged; -ENOMEM may leave a partial append.
 */
int cbt_chunk_decode(struct cbt_chunk_ctx *ctx, const struct cbt_chunk *c, struct cbt_extents *out);

/*
 * Totals of a dump without its extent list: set blocks, and runs (what
 * cbt_chunk_decode() would give as extents: touching runs across chunks
 * count once). end is where the last run counted ends. Zero it to start.
 */
struct cbt_bitmap_count {
	uint64_t blocks;
	uint64_t runs;
	uint64_t end;
};

/*
 * The same checks as cbt_chunk_decode(), then @c's blocks and runs added
 * to @n; words are counted with popcount, never walked bit by bit, so a
 * dense 1 TiB bitmap of 4 KiB blocks costs about what its dump does.
 */
int cbt_chunk_count(struct cbt_chunk_ctx *ctx, const struct cbt_chunk *c, struct cbt_bitmap_count *n);

#ifdef CBT_TEST_HOOKS
/*
 * Test builds: count words without the popcnt instruction even where the
 * CPU has it (the path of CPUs without it, and of qemu64 guests), and how
 * many chunks of words were counted so.
 */
extern bool cbt_chunk_no_popcnt;
extern unsigned long cbt_chunk_generic_words;
#endif

#endif /* CBT_CHUNK_H */
