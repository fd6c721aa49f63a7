// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/extents.h"

void cbt_extents_init(struct cbt_extents *l)
{
	memset(l, 0, sizeof(*l));
}

void cbt_extents_free(struct cbt_extents *l)
{
	free(l->v);
	cbt_extents_init(l);
}

uint64_t cbt_extents_end(const struct cbt_extents *l)
{
	const struct cbt_range *last;

	if (!l->nr)
		return 0;
	last = &l->v[l->nr - 1];
	return last->start + last->len;
}

int cbt_extents_append(struct cbt_extents *l, uint64_t start, uint64_t len)
{
	if (!len)
		return -EINVAL;
	if (start + len < start)
		return -EOVERFLOW;
	if (l->nr) {
		struct cbt_range *last = &l->v[l->nr - 1];
		uint64_t end = last->start + last->len;

		if (start < end)
			return -EINVAL;
		if (start == end) {
			last->len += len;
			l->total += len;
			return 0;
		}
	}
	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct cbt_range *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return -ENOMEM;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->nr].start = start;
	l->v[l->nr].len = len;
	l->nr++;
	l->total += len;
	return 0;
}

void cbt_extents_keep_last(struct cbt_extents *l)
{
	if (l->nr > 1) {
		l->v[0] = l->v[l->nr - 1];
		l->nr = 1;
	}
}

size_t cbt_ranges_find(const struct cbt_range *v, size_t nr, uint64_t b)
{
	size_t a = 0, z = nr;

	while (a < z) {
		size_t m = a + (z - a) / 2;

		if (v[m].start + v[m].len <= b)
			a = m + 1;
		else
			z = m;
	}
	return a;
}
