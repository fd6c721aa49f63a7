/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sparse changed-block bitmaps.
 *
 * A bitmap is a table of pointers to leaves of CBT_LEAF_BYTES (4 KiB, the
 * metadata page size), each covering CBT_BITS_PER_LEAF blocks. A NULL leaf
 * is all zero and costs nothing, so 4 KiB tracking of a multi-TiB disk
 * costs memory only where the disk was written. When a leaf cannot be
 * allocated the table slot is set to CBT_LEAF_FULL, which reads as all
 * ones: the bitmap then over-reports a region instead of missing a write.
 *
 * Concurrency: cbt_bitmap_set_range() and the readers may run at the same
 * time on any CPU without a lock (bits are set with atomic word ops, leaves
 * installed with cmpxchg). Everything else (init, grow, destroy, or, load)
 * needs the caller to exclude setters; the function comments say so.
 */
#ifndef DM_CBT_BITMAP_H
#define DM_CBT_BITMAP_H

#include <linux/types.h>
#include <linux/gfp.h>
#include <linux/dm-cbt.h>

#define CBT_LEAF_BYTES 4096U
#define CBT_BITS_PER_LEAF (CBT_LEAF_BYTES * 8U)
#define CBT_WORDS_PER_LEAF (CBT_LEAF_BYTES / sizeof(unsigned long))

/* The all-ones leaf stand-in; never dereferenced. */
#define CBT_LEAF_FULL ((unsigned long *)1UL)

struct cbt_bitmap {
	unsigned long **leaves;	/* nr_leaves slots: NULL, CBT_LEAF_FULL or a page */
	u64 nr_bits;
	u32 nr_leaves;
	atomic_long_t nr_allocated;	/* leaves that are real pages */
};

/* Sleeps if @gfp allows. Returns 0 or -ENOMEM. */
int cbt_bitmap_init(struct cbt_bitmap *bm, u64 nr_bits, gfp_t gfp);
/* No setters may run. */
void cbt_bitmap_destroy(struct cbt_bitmap *bm);
/*
 * Grow to @nr_bits (never shrinks: a smaller value is -EINVAL). New bits
 * are clear. No setters or readers may run. Returns 0 or -errno and leaves
 * the bitmap unchanged on failure.
 */
int cbt_bitmap_grow(struct cbt_bitmap *bm, u64 nr_bits, gfp_t gfp);

/*
 * Set bits [start, start + len), clipped to nr_bits. Lock-free, safe from
 * any context that @gfp allows (GFP_NOWAIT in the I/O path). Returns the
 * number of bits that were clear before; a leaf that could not be
 * allocated becomes CBT_LEAF_FULL and counts its range as newly set.
 */
u64 cbt_bitmap_set_range(struct cbt_bitmap *bm, u64 start, u64 len, gfp_t gfp);

/*
 * Allocate the leaves covering [start, start + len) without setting bits,
 * so that later cbt_bitmap_set_range() calls on the range need no memory.
 * Unlike set_range it never falls back to FULL: for bitmaps where a set
 * bit must never be invented (a snapshot's copied chunks). -ENOMEM if a
 * leaf cannot be had.
 */
int cbt_bitmap_prepare(struct cbt_bitmap *bm, u64 start, u64 len, gfp_t gfp);

/*
 * Set bits [start, start + len), clipped to nr_bits, in one walk of the
 * leaves: a leaf already there (the common rewrite) costs its word tests
 * only. Like cbt_bitmap_prepare(), never makes a leaf FULL: -ENOMEM at the
 * first leaf that cannot be had, with the bits of the leaves before it set
 * (for a caller that then sets the whole range with a @gfp that may
 * sleep). Lock-free, as cbt_bitmap_set_range().
 */
int cbt_bitmap_try_set_range(struct cbt_bitmap *bm, u64 start, u64 len, gfp_t gfp);

/* Clear leaf @leaf (its page is kept for reuse). No setters may run. */
void cbt_bitmap_clear_leaf(struct cbt_bitmap *bm, u32 leaf);

bool cbt_bitmap_test(const struct cbt_bitmap *bm, u64 bit);
/* True if every bit of [start, start + len) (clipped) is set. */
bool __cbt_bitmap_range_all_set(const struct cbt_bitmap *bm, u64 start, u64 len);

/*
 * The same, without a call when the range lies in one word of a leaf, as
 * a write of one block (or of a few, at small blocks) does: the write
 * path asks it of every write, once for the tracking bitmap and once for
 * a snapshot's copied chunks. A leaf holds whole words, so one word is in
 * one leaf.
 */
static inline bool cbt_bitmap_range_all_set(const struct cbt_bitmap *bm, u64 start, u64 len)
{
	u64 last = start + len - 1;
	const unsigned long *leaf;
	unsigned long mask, word;

	if (!len || last < start || last >= bm->nr_bits ||
	    start / BITS_PER_LONG != last / BITS_PER_LONG)
		return __cbt_bitmap_range_all_set(bm, start, len);
	leaf = READ_ONCE(bm->leaves[start / CBT_BITS_PER_LEAF]);
	if (!leaf)
		return false;
	if (leaf == CBT_LEAF_FULL)
		return true;
	mask = GENMASK(last % BITS_PER_LONG, start % BITS_PER_LONG);
	word = READ_ONCE(leaf[(start % CBT_BITS_PER_LEAF) / BITS_PER_LONG]);
	return (word & mask) == mask;
}

/* Bits set; nr_bits for FULL leaves' range. */
u64 cbt_bitmap_weight(const struct cbt_bitmap *bm);
/* Memory the bitmap holds, table included. */
size_t cbt_bitmap_bytes(const struct cbt_bitmap *bm);
/* False when leaf @leaf was never touched (all clear, costs nothing). */
bool cbt_bitmap_leaf_present(const struct cbt_bitmap *bm, u32 leaf);

/* Counts over the union of bitmaps, built leaf by leaf. */
struct cbt_bitmap_count {
	u64 blocks;	/* bits set */
	u64 runs;	/* runs of set bits, each counted once wherever it crosses a word or leaf */
	u64 end;	/* one past the last bit set; 0 while none is */
};

/* Bitmaps one count may unite: every epoch slot of a device. */
#define CBT_COUNT_MAX_BITMAPS DM_CBT_MD_SLOTS

/*
 * Add leaf @leaf of the union of @bms[0 .. @nr) to @c, each bitmap clipped
 * to its own nr_bits (a FULL leaf counts as ones up to there). Start from a
 * zeroed @c and add leaves in increasing order; leaves may be skipped: a
 * run continues from one leaf into the next only when c->end is the
 * leaf's first bit. Returns false, and leaves @c alone, when no bitmap has
 * the leaf (it is all clear). @nr above CBT_COUNT_MAX_BITMAPS is clipped,
 * with a warning. Reads lock-free like
 * cbt_bitmap_test(): setters may run, each word is read once.
 */
bool cbt_bitmap_count_leaf(const struct cbt_bitmap *const *bms, u32 nr, u32 leaf,
			   struct cbt_bitmap_count *c);

/*
 * Copy leaf @leaf into @buf (CBT_LEAF_BYTES) as little-endian u64 words
 * (bit i = word i / 64, bit i % 64), bits past nr_bits clear. Returns false
 * (and zeroes @buf) when the leaf is NULL.
 */
bool cbt_bitmap_read_leaf(const struct cbt_bitmap *bm, u32 leaf, void *buf);
/*
 * OR little-endian words in @buf (CBT_LEAF_BYTES) into leaf @leaf. Bits past
 * nr_bits are ignored. Returns the number of newly set bits (0 when the
 * leaf is FULL, which already reads as all set), or -EINVAL for a leaf
 * index out of range. Safe against concurrent setters.
 */
long cbt_bitmap_or_leaf(struct cbt_bitmap *bm, u32 leaf, const void *buf, gfp_t gfp);
/*
 * dst |= src, over the smaller of the two sizes. Setters on @dst may run;
 * @src must be frozen. Returns 0, or -ENOMEM when no bounce buffer could
 * be had (then nothing was merged). A destination leaf that cannot be
 * allocated becomes FULL, so no bit is lost.
 */
int cbt_bitmap_or(struct cbt_bitmap *dst, const struct cbt_bitmap *src, gfp_t gfp);

/*
 * Encode @nbits bits of little-endian words @words as sorted runs of set
 * bits. Returns the number of extents written to @out, or -E2BIG when more
 * than @max would be needed (the caller then sends words).
 */
int cbt_extents_encode(const void *words, u32 nbits, struct cbt_extent *out, u32 max);
/*
 * Decode extents into little-endian words (@nbits bits, zeroed first).
 * Returns 0, or -EINVAL for unsorted, overlapping, empty or out-of-range
 * extents.
 */
int cbt_extents_decode(const struct cbt_extent *ext, u32 nr, void *words, u32 nbits);

#endif /* DM_CBT_BITMAP_H */
