// SPDX-License-Identifier: GPL-2.0
/* libcbt: extent iterators over a block set read whole beforehand. */
#include <errno.h>
#include <stdlib.h>

#include "api/api.h"

int cbt_api_iter_new(struct cbt_extents *ext, uint32_t block_size, uint64_t dev_bytes,
		     struct cbt_extent_iter **itp)
{
	struct cbt_extent_iter *it = calloc(1, sizeof(*it));

	*itp = NULL;
	if (!it) {
		cbt_extents_free(ext);
		return -ENOMEM;
	}
	it->ext = *ext;
	cbt_extents_init(ext);
	it->block_size = block_size;
	it->dev_bytes = dev_bytes;
	*itp = it;
	return 0;
}

int cbt_extents_next(struct cbt_extent_iter *it, uint64_t *start, uint64_t *len)
{
	*start = 0;
	*len = 0;
	if (!it || it->pos >= it->ext.nr)
		return 0;
	*start = it->ext.v[it->pos].start;
	*len = it->ext.v[it->pos].len;
	it->pos++;
	return 1;
}

int cbt_extents_next_bytes(struct cbt_extent_iter *it, uint64_t *offset, uint64_t *len)
{
	uint64_t start, n, end;

	*offset = 0;
	*len = 0;
	/* a set whose blocks all lie past the device's end (it shrank) ends here */
	while (cbt_extents_next(it, &start, &n)) {
		if (start >= it->dev_bytes / it->block_size + !!(it->dev_bytes % it->block_size))
			continue;
		*offset = start * it->block_size;
		end = (start + n) * it->block_size;
		*len = (end > it->dev_bytes ? it->dev_bytes : end) - *offset;
		return 1;
	}
	return 0;
}

void cbt_extents_rewind(struct cbt_extent_iter *it)
{
	if (it)
		it->pos = 0;
}

size_t cbt_extents_count(const struct cbt_extent_iter *it)
{
	return it ? it->ext.nr : 0;
}

uint64_t cbt_extents_blocks(const struct cbt_extent_iter *it)
{
	uint64_t n = 0;

	for (size_t i = 0; it && i < it->ext.nr; i++)
		n += it->ext.v[i].len;
	return n;
}

uint32_t cbt_extents_block_size(const struct cbt_extent_iter *it)
{
	return it ? it->block_size : 0;
}

void cbt_extents_destroy(struct cbt_extent_iter *it)
{
	if (!it)
		return;
	cbt_extents_free(&it->ext);
	free(it);
}
