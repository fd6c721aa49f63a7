/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stamped-block format shared by the guest helpers stamp (writes and
 * checks), stamppair (writes pairs) and stampscan (lists): one definition,
 * so a block one of them writes is what the others read.
 *
 * A stamped block starts with struct stamp_hdr: where it was written (the
 * byte offset the writer addressed), a generation number and a checksum of
 * the whole block; the rest is pseudo-random data derived from
 * (offset, generation).
 */
#ifndef STAMPFMT_H
#define STAMPFMT_H

#include <stdint.h>

#define STAMP_MAGIC "CBTSTAMP"

struct stamp_hdr {
	char magic[8];
	uint64_t offset;	/* byte offset the writer addressed */
	uint64_t gen;		/* generation */
	uint32_t bs;		/* block size */
	uint32_t pad;
	uint64_t sum;		/* FNV-1a 64 of the block with sum = 0 */
};

/* What stamp_classify() found in a block, in the order it looks. */
enum stamp_verdict {
	STAMP_OK,		/* a valid stamp of this size for this offset */
	STAMP_ZERO,		/* all zero: never written */
	STAMP_NOSTAMP,		/* no magic, not zero: garbage */
	STAMP_CHECKSUM,		/* torn or corrupted */
	STAMP_BS,		/* written with another block size */
	STAMP_OFFSET,		/* written for another offset (misplaced) */
};

/* splitmix64: the writers' pseudo-random sequence (offsets and data). */
uint64_t stamp_rand(uint64_t *x);

/* Fills @buf (@bs bytes) with the stamp of generation @gen for @offset. */
void stamp_fill(unsigned char *buf, uint64_t bs, uint64_t gen, uint64_t offset);

/*
 * Classifies the @bs bytes at @buf, read from byte offset @want. Clears the
 * header's sum field (the checksum covers the block with sum = 0); the
 * header's other fields (gen, offset, bs) stay for the caller to report.
 */
enum stamp_verdict stamp_classify(unsigned char *buf, uint64_t bs, uint64_t want);

/* Parses a number with an optional K, M or G suffix (powers of 1024). */
int stamp_num(const char *s, uint64_t *v);

#endif
