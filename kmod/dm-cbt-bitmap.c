// SPDX-License-Identifier: GPL-2.0
/*
 * Sparse changed-block bitmaps: see dm-cbt-bitmap.h for the contract.
 */
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <asm/byteorder.h>

#include "dm-cbt-bitmap.h"

static u32 leaves_for(u64 nr_bits)
{
	return DIV_ROUND_UP_ULL(nr_bits, CBT_BITS_PER_LEAF);
}

static bool leaf_is_page(const unsigned long *leaf)
{
	return leaf && leaf != CBT_LEAF_FULL;
}

int cbt_bitmap_init(struct cbt_bitmap *bm, u64 nr_bits, gfp_t gfp)
{
	u64 nr_leaves = leaves_for(nr_bits);

	if (nr_leaves > U32_MAX)
		return -EINVAL;
	bm->nr_bits = nr_bits;
	bm->nr_leaves = nr_leaves;
	atomic_long_set(&bm->nr_allocated, 0);
	bm->leaves = kvcalloc(max_t(u32, nr_leaves, 1), sizeof(*bm->leaves), gfp);
	return bm->leaves ? 0 : -ENOMEM;
}

void cbt_bitmap_destroy(struct cbt_bitmap *bm)
{
	u32 i;

	if (!bm->leaves)
		return;
	for (i = 0; i < bm->nr_leaves; i++)
		if (leaf_is_page(bm->leaves[i]))
			free_page((unsigned long)bm->leaves[i]);
	kvfree(bm->leaves);
	bm->leaves = NULL;
	bm->nr_leaves = 0;
	bm->nr_bits = 0;
	atomic_long_set(&bm->nr_allocated, 0);
}

int cbt_bitmap_grow(struct cbt_bitmap *bm, u64 nr_bits, gfp_t gfp)
{
	u64 nr_leaves = leaves_for(nr_bits);
	unsigned long **leaves, *last, *page = NULL;

	if (nr_bits < bm->nr_bits || nr_leaves > U32_MAX)
		return -EINVAL;
	last = bm->nr_leaves ? bm->leaves[bm->nr_leaves - 1] : NULL;
	if (last == CBT_LEAF_FULL && bm->nr_bits % CBT_BITS_PER_LEAF &&
	    nr_bits > bm->nr_bits) {
		/* A short FULL leaf would turn the new bits on: make it real. */
		page = (unsigned long *)get_zeroed_page(gfp | __GFP_NOWARN);
		if (!page)
			return -ENOMEM;
		bitmap_set(page, 0, bm->nr_bits % CBT_BITS_PER_LEAF);
	}
	if (nr_leaves > bm->nr_leaves) {
		leaves = kvcalloc(nr_leaves, sizeof(*leaves), gfp);
		if (!leaves) {
			if (page)
				free_page((unsigned long)page);
			return -ENOMEM;
		}
		memcpy(leaves, bm->leaves, bm->nr_leaves * sizeof(*leaves));
		kvfree(bm->leaves);
		bm->leaves = leaves;
		bm->nr_leaves = nr_leaves;
	}
	if (page) {
		bm->leaves[leaves_for(bm->nr_bits) - 1] = page;
		atomic_long_inc(&bm->nr_allocated);
	}
	/*
	 * Bits between the old end and the end of its last leaf were never
	 * set (setters clip to nr_bits), so the new range starts clear.
	 */
	bm->nr_bits = nr_bits;
	return 0;
}

/*
 * The end of [start, start + len) clipped to the bitmap (a length that
 * overflows runs to the end) into @end; false when nothing of it is inside.
 */
static bool clip_range(const struct cbt_bitmap *bm, u64 start, u64 len, u64 *end)
{
	if (start >= bm->nr_bits || !len)
		return false;
	*end = min(start + len, bm->nr_bits);
	if (*end < start)	/* overflow */
		*end = bm->nr_bits;
	return true;
}

/* Leaf @idx, allocated if it is not there; NULL if it cannot be had. Never FULL. */
static unsigned long *alloc_leaf(struct cbt_bitmap *bm, u32 idx, gfp_t gfp)
{
	unsigned long *leaf = READ_ONCE(bm->leaves[idx]);
	unsigned long *page;

	if (leaf)
		return leaf;
	page = (unsigned long *)get_zeroed_page(gfp | __GFP_NOWARN);
	if (!page)
		return NULL;
	leaf = cmpxchg(&bm->leaves[idx], NULL, page);
	if (leaf) {
		free_page((unsigned long)page);
		return leaf;
	}
	atomic_long_inc(&bm->nr_allocated);
	return page;
}

/*
 * Returns the leaf for @idx, allocating it if needed. A leaf that cannot be
 * allocated is replaced by CBT_LEAF_FULL, so the caller always gets either
 * a page or FULL, never NULL.
 */
static unsigned long *get_leaf(struct cbt_bitmap *bm, u32 idx, gfp_t gfp)
{
	unsigned long *leaf = alloc_leaf(bm, idx, gfp);

	if (leaf)
		return leaf;
	/* Over-report rather than miss: the whole leaf reads as changed. */
	leaf = cmpxchg(&bm->leaves[idx], NULL, CBT_LEAF_FULL);
	return leaf ? leaf : CBT_LEAF_FULL;
}

/* Sets bits [first, first + n) inside one leaf; returns how many were clear. */
static u32 leaf_set(unsigned long *leaf, u32 first, u32 n)
{
	u32 newly = 0;

	while (n) {
		u32 word = first / BITS_PER_LONG, shift = first % BITS_PER_LONG;
		u32 span = min_t(u32, n, BITS_PER_LONG - shift);
		unsigned long mask = (span == BITS_PER_LONG) ? ~0UL :
				     ((1UL << span) - 1) << shift;
		unsigned long old;

		/* Fast path: a block written again finds its bits set already. */
		old = READ_ONCE(leaf[word]);
		if ((old & mask) != mask)
			old = atomic_long_fetch_or(mask, (atomic_long_t *)&leaf[word]);
		newly += hweight_long(mask & ~old);
		first += span;
		n -= span;
	}
	return newly;
}

u64 cbt_bitmap_set_range(struct cbt_bitmap *bm, u64 start, u64 len, gfp_t gfp)
{
	u64 end, newly = 0;

	if (!clip_range(bm, start, len, &end))
		return 0;
	while (start < end) {
		u32 idx = start / CBT_BITS_PER_LEAF;
		u32 first = start % CBT_BITS_PER_LEAF;
		u32 n = min_t(u64, end - start, CBT_BITS_PER_LEAF - first);
		bool was_clear = !READ_ONCE(bm->leaves[idx]);
		unsigned long *leaf = get_leaf(bm, idx, gfp);

		/* A leaf that just went FULL counts as newly set; an old one not. */
		if (leaf != CBT_LEAF_FULL)
			newly += leaf_set(leaf, first, n);
		else if (was_clear)
			newly += n;
		start += n;
	}
	return newly;
}

int cbt_bitmap_prepare(struct cbt_bitmap *bm, u64 start, u64 len, gfp_t gfp)
{
	u64 end;
	u32 idx;

	if (!clip_range(bm, start, len, &end))
		return 0;
	for (idx = start / CBT_BITS_PER_LEAF; idx <= (end - 1) / CBT_BITS_PER_LEAF; idx++)
		if (!alloc_leaf(bm, idx, gfp))
			return -ENOMEM;
	return 0;
}

int cbt_bitmap_try_set_range(struct cbt_bitmap *bm, u64 start, u64 len, gfp_t gfp)
{
	u64 end;

	if (!clip_range(bm, start, len, &end))
		return 0;
	while (start < end) {
		u32 first = start % CBT_BITS_PER_LEAF;
		u32 n = min_t(u64, end - start, CBT_BITS_PER_LEAF - first);
		unsigned long *leaf = alloc_leaf(bm, start / CBT_BITS_PER_LEAF, gfp);

		if (!leaf)
			return -ENOMEM;
		if (leaf != CBT_LEAF_FULL)
			leaf_set(leaf, first, n);
		start += n;
	}
	return 0;
}

void cbt_bitmap_clear_leaf(struct cbt_bitmap *bm, u32 leaf)
{
	unsigned long *page;

	if (leaf >= bm->nr_leaves)
		return;
	page = bm->leaves[leaf];
	if (page == CBT_LEAF_FULL)
		bm->leaves[leaf] = NULL;
	else if (page)
		memset(page, 0, CBT_LEAF_BYTES);
}

bool cbt_bitmap_test(const struct cbt_bitmap *bm, u64 bit)
{
	const unsigned long *leaf;

	if (bit >= bm->nr_bits)
		return false;
	leaf = READ_ONCE(bm->leaves[bit / CBT_BITS_PER_LEAF]);
	if (!leaf)
		return false;
	if (leaf == CBT_LEAF_FULL)
		return true;
	return test_bit(bit % CBT_BITS_PER_LEAF, leaf);
}

bool __cbt_bitmap_range_all_set(const struct cbt_bitmap *bm, u64 start, u64 len)
{
	u64 end;

	if (!clip_range(bm, start, len, &end))
		return true;
	while (start < end) {
		u32 idx = start / CBT_BITS_PER_LEAF;
		u32 first = start % CBT_BITS_PER_LEAF;
		u32 n = min_t(u64, end - start, CBT_BITS_PER_LEAF - first);
		const unsigned long *leaf = READ_ONCE(bm->leaves[idx]);

		if (!leaf)
			return false;
		if (leaf != CBT_LEAF_FULL &&
		    find_next_zero_bit(leaf, first + n, first) < first + n)
			return false;
		start += n;
	}
	return true;
}

/* Valid bits in leaf @idx: CBT_BITS_PER_LEAF except for a short last leaf. */
static u32 leaf_bits(const struct cbt_bitmap *bm, u32 idx)
{
	u64 first = (u64)idx * CBT_BITS_PER_LEAF;

	return min_t(u64, bm->nr_bits - first, CBT_BITS_PER_LEAF);
}

u64 cbt_bitmap_weight(const struct cbt_bitmap *bm)
{
	u64 weight = 0;
	u32 i;

	for (i = 0; i < bm->nr_leaves; i++) {
		const unsigned long *leaf = READ_ONCE(bm->leaves[i]);

		if (!leaf)
			continue;
		if (leaf == CBT_LEAF_FULL)
			weight += leaf_bits(bm, i);
		else
			weight += bitmap_weight(leaf, leaf_bits(bm, i));
	}
	return weight;
}

size_t cbt_bitmap_bytes(const struct cbt_bitmap *bm)
{
	return (size_t)bm->nr_leaves * sizeof(*bm->leaves) +
	       (size_t)atomic_long_read(&bm->nr_allocated) * CBT_LEAF_BYTES;
}

bool cbt_bitmap_leaf_present(const struct cbt_bitmap *bm, u32 leaf)
{
	return leaf < bm->nr_leaves && READ_ONCE(bm->leaves[leaf]);
}

bool cbt_bitmap_read_leaf(const struct cbt_bitmap *bm, u32 idx, void *buf)
{
	__le64 *out = buf;
	const unsigned long *leaf;
	u32 nbits, i;

	memset(buf, 0, CBT_LEAF_BYTES);
	if (idx >= bm->nr_leaves)
		return false;
	leaf = READ_ONCE(bm->leaves[idx]);
	if (!leaf)
		return false;
	nbits = leaf_bits(bm, idx);
	if (leaf == CBT_LEAF_FULL) {
		for (i = 0; i < nbits / 64; i++)
			out[i] = cpu_to_le64(~0ULL);
		if (nbits % 64)
			out[i] = cpu_to_le64((1ULL << (nbits % 64)) - 1);
		return true;
	}
	for (i = 0; i < DIV_ROUND_UP(nbits, 64); i++) {
		u64 w;
#if BITS_PER_LONG == 64
		w = READ_ONCE(leaf[i]);
#else
		w = READ_ONCE(leaf[2 * i]) | ((u64)READ_ONCE(leaf[2 * i + 1]) << 32);
#endif
		if (i == nbits / 64 && nbits % 64)
			w &= (1ULL << (nbits % 64)) - 1;
		out[i] = cpu_to_le64(w);
	}
	return true;
}

/* ORs a 64-bit little-endian-ordered word into the leaf; returns bits newly set. */
static u32 leaf_or_u64(unsigned long *leaf, u32 word64, u64 val)
{
#if BITS_PER_LONG == 64
	unsigned long old = READ_ONCE(leaf[word64]);

	if ((old & val) != val)
		old = atomic_long_fetch_or(val, (atomic_long_t *)&leaf[word64]);
	return hweight64(val & ~(u64)old);
#else
	u32 newly = 0, half;

	for (half = 0; half < 2; half++) {
		unsigned long v = val >> (32 * half);
		atomic_long_t *word = (atomic_long_t *)&leaf[2 * word64 + half];
		unsigned long old = atomic_long_fetch_or(v, word);

		newly += hweight32(v & ~old);
	}
	return newly;
#endif
}

long cbt_bitmap_or_leaf(struct cbt_bitmap *bm, u32 idx, const void *buf, gfp_t gfp)
{
	const __le64 *in = buf;
	unsigned long *leaf = NULL;
	u32 nbits, i;
	long newly = 0;

	if (idx >= bm->nr_leaves)
		return -EINVAL;
	nbits = leaf_bits(bm, idx);
	for (i = 0; i < DIV_ROUND_UP(nbits, 64); i++) {
		u64 w = le64_to_cpu(in[i]);

		if (i == nbits / 64 && nbits % 64)
			w &= (1ULL << (nbits % 64)) - 1;
		if (!w)
			continue;
		if (!leaf)
			leaf = get_leaf(bm, idx, gfp);
		/* A FULL leaf already reads as all set. */
		if (leaf == CBT_LEAF_FULL)
			return newly;
		newly += leaf_or_u64(leaf, i, w);
	}
	return newly;
}

int cbt_bitmap_or(struct cbt_bitmap *dst, const struct cbt_bitmap *src, gfp_t gfp)
{
	u32 n = min(dst->nr_leaves, src->nr_leaves), i;
	void *buf;

	buf = kmalloc(CBT_LEAF_BYTES, gfp);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		/* read_leaf clips to src, or_leaf to dst; FULL expands to ones. */
		if (cbt_bitmap_read_leaf(src, i, buf))
			cbt_bitmap_or_leaf(dst, i, buf, gfp);
	}
	kfree(buf);
	return 0;
}

int cbt_extents_encode(const void *words, u32 nbits, struct cbt_extent *out, u32 max)
{
	const __le64 *w = words;
	u32 i = 0, n = 0;

	while (i < nbits) {
		u64 word = le64_to_cpu(w[i / 64]) >> (i % 64);
		u32 start;

		if (!word) {
			i = round_up(i + 1, 64);
			continue;
		}
		i += __ffs64(word);
		if (i >= nbits)
			break;
		start = i;
		while (i < nbits) {
			u32 shift = i % 64;
			u64 inv = ~(le64_to_cpu(w[i / 64]) >> shift);
			/* inv is 0 only for a whole word of ones at shift 0. */
			u32 ones = inv ? __ffs64(inv) : 64;

			i += ones;
			if (shift + ones < 64)
				break;
		}
		if (i > nbits)
			i = nbits;
		if (n == max)
			return -E2BIG;
		out[n].start = cpu_to_le32(start);
		out[n].len = cpu_to_le32(i - start);
		n++;
	}
	return n;
}

int cbt_extents_decode(const struct cbt_extent *ext, u32 nr, void *words, u32 nbits)
{
	__le64 *w = words;
	u64 next_free = 0;
	u32 i, b;

	memset(words, 0, DIV_ROUND_UP(nbits, 64) * sizeof(u64));
	for (i = 0; i < nr; i++) {
		u64 start = le32_to_cpu(ext[i].start);
		u64 len = le32_to_cpu(ext[i].len);

		if (!len || start < next_free || start + len > nbits)
			return -EINVAL;
		for (b = start; b < start + len; b++)
			w[b / 64] |= cpu_to_le64(1ULL << (b % 64));
		next_free = start + len;
	}
	return 0;
}

/* The bits of word @i of a leaf that lie below @nbits. */
static unsigned long word_mask(u32 nbits, u32 i)
{
	u32 first = i * BITS_PER_LONG;

	if (nbits <= first)
		return 0;
	if (nbits - first >= BITS_PER_LONG)
		return ~0UL;
	return BIT(nbits - first) - 1;
}

/* Running state of one leaf's count. */
struct leaf_count {
	u64 blocks, runs;
	unsigned long carry;	/* 1: the bit below the next word is set */
	u32 last_i;		/* index of the last non-zero word */
};

/*
 * A run starts at every set bit whose lower neighbour is clear: for bit 0
 * of a word that neighbour is bit BITS_PER_LONG - 1 of the word before.
 * No branch for a word of ones: with POPCNT (every x86 server) the two
 * counts cost less than the test on every other word (bench_dump on an
 * instruction clock, tests/bench/README.md). Zero words are skipped: they
 * are most of a sparse leaf, and without POPCNT hweight_long() is a call.
 */
static __always_inline void count_word(struct leaf_count *lc, unsigned long w, u32 i)
{
	if (!w) {
		lc->carry = 0;
		return;
	}
	lc->blocks += hweight_long(w);
	lc->runs += hweight_long(w & ~((w << 1) | lc->carry));
	lc->carry = w >> (BITS_PER_LONG - 1);
	lc->last_i = i;
}

/* Word @i of the union of @pages and of a FULL leaf's first @full_bits bits. */
static __always_inline unsigned long union_word(const unsigned long *const *pages, u32 npages,
						u32 full_bits, u32 i)
{
	unsigned long w = word_mask(full_bits, i);
	u32 j;

	for (j = 0; j < npages; j++)
		w |= READ_ONCE(pages[j][i]);
	return w;
}

bool cbt_bitmap_count_leaf(const struct cbt_bitmap *const *bms, u32 nr, u32 idx,
			   struct cbt_bitmap_count *c)
{
	const unsigned long *pages[CBT_COUNT_MAX_BITMAPS];
	u64 base = (u64)idx * CBT_BITS_PER_LEAF;
	u32 nbits = 0, full_bits = 0, npages = 0, nwords, i;
	struct leaf_count lc = { .carry = c->blocks && c->end == base };

	if (WARN_ON_ONCE(nr > CBT_COUNT_MAX_BITMAPS))
		nr = CBT_COUNT_MAX_BITMAPS;
	for (i = 0; i < nr; i++) {
		const unsigned long *leaf;
		u32 bits;

		if (idx >= bms[i]->nr_leaves)
			continue;
		leaf = READ_ONCE(bms[i]->leaves[idx]);
		if (!leaf)
			continue;
		bits = leaf_bits(bms[i], idx);
		nbits = max(nbits, bits);
		if (leaf == CBT_LEAF_FULL)
			full_bits = max(full_bits, bits);
		else
			pages[npages++] = leaf;
	}
	if (!nbits)
		return false;
	if (!npages) {
		/* Only FULL leaves: their union is one run of @nbits ones. */
		c->blocks += nbits;
		c->runs += !lc.carry;
		c->end = base + nbits;
		return true;
	}
	nwords = DIV_ROUND_UP(nbits, BITS_PER_LONG);
	if (npages == 1 && !full_bits) {
		/* One bitmap has the leaf, as a page: the common case, kept tight. */
		for (i = 0; i < nwords - 1; i++)
			count_word(&lc, READ_ONCE(pages[0][i]), i);
	} else {
		for (i = 0; i < nwords - 1; i++)
			count_word(&lc, union_word(pages, npages, full_bits, i), i);
	}
	/* The last word: bits past every bitmap's end are never counted. */
	count_word(&lc, union_word(pages, npages, full_bits, i) & word_mask(nbits, i), i);
	c->blocks += lc.blocks;
	c->runs += lc.runs;
	if (lc.blocks) {
		unsigned long last = union_word(pages, npages, full_bits, lc.last_i) &
				     word_mask(nbits, lc.last_i);

		c->end = base + (u64)lc.last_i * BITS_PER_LONG + __fls(last) + 1;
	}
	return true;
}
