/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A sorted list of changed block ranges, built in increasing order.
 *
 * Appending a range that touches the last one extends it, so a run that
 * crosses a chunk (or message) boundary of the kernel's dump comes out as
 * one extent. Every later consumer (bitmap output, backup, clone) reads
 * this list, never the wire encoding.
 *
 * Streaming: the last extent may still grow until the input ends. A
 * consumer that wants bounded memory prints v[0 .. nr - 1) after each
 * batch and calls cbt_extents_keep_last().
 */
#ifndef CBT_EXTENTS_H
#define CBT_EXTENTS_H

#include <stddef.h>
#include <stdint.h>

/* Blocks [start, start + len); len is never 0. */
struct cbt_range {
	uint64_t start;
	uint64_t len;
};

struct cbt_extents {
	struct cbt_range *v;
	size_t nr;
	size_t cap;
	uint64_t total;	/* blocks ever appended, kept across keep_last */
};

void cbt_extents_init(struct cbt_extents *l);
void cbt_extents_free(struct cbt_extents *l);

/*
 * Append [start, start + len), merging it into the last extent when they
 * touch. -EINVAL when len is 0 or start lies before the end of the last
 * extent (the list only grows forwards), -EOVERFLOW when start + len
 * wraps, -ENOMEM.
 */
int cbt_extents_append(struct cbt_extents *l, uint64_t start, uint64_t len);

/* The first block after the last extent; 0 when the list is empty. */
uint64_t cbt_extents_end(const struct cbt_extents *l);

/*
 * In sorted, non-overlapping ranges @v[0 .. nr): the index of the first
 * one ending after block @b (so holding it, if any does), or @nr.
 */
size_t cbt_ranges_find(const struct cbt_range *v, size_t nr, uint64_t b);

/* Drop every extent but the last one (which may still grow). */
void cbt_extents_keep_last(struct cbt_extents *l);

#endif /* CBT_EXTENTS_H */
