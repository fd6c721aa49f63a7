// SPDX-License-Identifier: GPL-2.0
/*
 * libcbt: chain directories, read only (chain.h, apply.h, image.h). The
 * handle holds the index read at open and is never changed afterwards, so
 * threads may share it; every call opens the image files it needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "image/apply.h"
#include "image/chain.h"
#include "util/util.h"

struct cbt_image_chain {
	struct cbt_chain c;
};

int cbt_image_chain_open(const char *dir, struct cbt_image_chain **chainp, struct cbt_error *err)
{
	struct cbt_image_chain *ch;
	int ret;

	cbt_api_begin();
	*chainp = NULL;
	if (!dir)
		return cbt_api_fail(err, -EINVAL, "no chain directory named");
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return cbt_api_end(err, -ENOMEM);
	ret = cbt_chain_open(&ch->c, dir, false, false);
	if (ret) {
		/* what it read before the failure is the caller's to free */
		cbt_chain_close(&ch->c);
		free(ch);
		return cbt_api_end(err, ret);
	}
	*chainp = ch;
	return cbt_api_end(err, 0);
}

void cbt_image_chain_close(struct cbt_image_chain *chain)
{
	if (!chain)
		return;
	cbt_chain_close(&chain->c);
	free(chain);
}

size_t cbt_image_chain_count(const struct cbt_image_chain *chain)
{
	return chain ? chain->c.nr : 0;
}

static int check_index(const struct cbt_image_chain *chain, size_t i)
{
	if (!chain)
		return cbt_err(-EINVAL, "no chain handle");
	if (i >= chain->c.nr)
		return cbt_err(-ERANGE, "%s: no image %zu (it holds %zu)", chain->c.dir, i,
			       chain->c.nr);
	return 0;
}

/* Image @i's header and trailer, checked against what the index says of it. */
static int read_ends(const struct cbt_image_chain *chain, size_t i, struct cbt_img_header *h,
		     struct cbt_img_trailer *t)
{
	const struct cbt_chain_entry *e = &chain->c.v[i];
	int ret = cbt_chain_read_ends(&chain->c, i, h, t);

	if (ret == -ENOENT)
		ret = cbt_err(-EBADMSG, "%s: image %s is missing", chain->c.dir, e->file);
	if (!ret && (memcmp(h->uuid, e->uuid, 16) || h->type != e->type ||
		     memcmp(h->parent, e->parent, 16)))
		ret = cbt_err(-EBADMSG, "%s/%s is not the image the chain index lists (it was"
			      " replaced)", chain->c.dir, e->file);
	if (ret)
		cbt_extents_free(&t->map);
	return ret;
}

int cbt_image_chain_info(const struct cbt_image_chain *chain, size_t i,
			 struct cbt_image_info *info, struct cbt_error *err)
{
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	int ret;

	cbt_api_begin();
	ret = check_index(chain, i);
	if (!ret)
		ret = read_ends(chain, i, &h, &t);
	if (ret)
		return cbt_api_end(err, ret);
	memset(info, 0, sizeof(*info));
	info->type = h.type;
	snprintf(info->file, sizeof(info->file), "%s", chain->c.v[i].file);
	memcpy(info->uuid, h.uuid, 16);
	memcpy(info->parent, h.parent, 16);
	memcpy(info->base, h.base, 16);
	memcpy(info->dev_uuid, h.dev_uuid, 16);
	info->epoch_first = h.epoch_first;
	info->epoch_last = h.epoch_last;
	info->created_ns = h.created_ns;
	info->dev_bytes = h.dev_bytes;
	info->block_size = h.block_size;
	info->blocks = t.blocks;
	info->stored_bytes = t.stored_bytes;
	cbt_extents_free(&t.map);
	return cbt_api_end(err, 0);
}

/* The images of point @i, newest first, into a new array (c->nr at most). */
static int resolve(const struct cbt_image_chain *chain, size_t i, size_t **path, size_t *n)
{
	int ret = check_index(chain, i);

	*path = NULL;
	*n = 0;
	if (ret)
		return ret;
	*path = calloc(chain->c.nr, sizeof(**path));
	if (!*path)
		return -ENOMEM;
	ret = cbt_chain_resolve(&chain->c, i, *path, n);
	if (ret) {
		free(*path);
		*path = NULL;
	}
	return ret;
}

int cbt_image_chain_path(const struct cbt_image_chain *chain, size_t i, size_t *images,
			 size_t max, size_t *n, struct cbt_error *err)
{
	size_t *path;
	int ret;

	cbt_api_begin();
	ret = resolve(chain, i, &path, n);
	if (!ret && *n > max)
		ret = cbt_err(-ENOSPC, "restore point %zu needs %zu images, room for %zu", i, *n,
			      max);
	if (!ret)
		memcpy(images, path, *n * sizeof(*path));
	free(path);
	return cbt_api_end(err, ret);
}

/*
 * The images of point @i open for reading, newest first, each link's
 * header, trailer and parent link checked (with @full_check: every image
 * read whole, every checksum checked).
 */
static int open_point(const struct cbt_image_chain *chain, size_t i, bool full_check,
		      struct cbt_point *pt)
{
	char id[32];
	int ret = check_index(chain, i);

	memset(pt, 0, sizeof(*pt));
	if (ret)
		return ret;
	snprintf(id, sizeof(id), "%llu", (unsigned long long)chain->c.v[i].seq);
	return cbt_open_point(chain->c.dir, id, full_check, NULL, pt);
}

int cbt_image_chain_verify(const struct cbt_image_chain *chain, size_t i,
			   struct cbt_error *err)
{
	struct cbt_point pt;
	int ret;

	cbt_api_begin();
	ret = open_point(chain, i, true, &pt);
	cbt_point_free(&pt);
	return cbt_api_end(err, ret);
}

int cbt_image_chain_blocks(const struct cbt_image_chain *chain, size_t i, unsigned int flags,
			   struct cbt_extent_iter **it, struct cbt_error *err)
{
	struct cbt_img_header h, newest = { 0 };
	struct cbt_img_trailer t;
	struct cbt_extents acc, u;
	size_t *path = NULL, n = 1;
	int ret = 0;

	cbt_api_begin();
	*it = NULL;
	if (flags & ~CBT_CHAIN_POINT)
		return cbt_api_fail(err, -EINVAL, "unknown flags %#x", flags & ~CBT_CHAIN_POINT);
	if (flags & CBT_CHAIN_POINT)
		ret = resolve(chain, i, &path, &n);
	else
		ret = check_index(chain, i);
	cbt_extents_init(&acc);
	for (size_t k = 0; !ret && k < n; k++) {
		ret = read_ends(chain, path ? path[k] : i, &h, &t);
		if (ret)
			break;
		if (!k)
			newest = h;
		ret = cbt_extents_union(&acc, &t.map, &u);
		cbt_extents_free(&t.map);
		cbt_extents_free(&acc);
		acc = u;
	}
	free(path);
	if (!ret)
		ret = cbt_api_iter_new(&acc, newest.block_size, newest.dev_bytes, it);
	else
		cbt_extents_free(&acc);
	return cbt_api_end(err, ret);
}

static bool map_has(const struct cbt_extents *m, uint64_t b)
{
	size_t lo = 0, hi = m->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b < m->v[mid].start)
			hi = mid;
		else if (b - m->v[mid].start >= m->v[mid].len)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

int cbt_image_chain_resolve(const struct cbt_image_chain *chain, size_t i, uint64_t block,
			    size_t *image, struct cbt_error *err)
{
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	size_t *path, n;
	int ret;

	cbt_api_begin();
	ret = resolve(chain, i, &path, &n);
	for (size_t k = 0; !ret && k < n; k++) {
		ret = read_ends(chain, path[k], &h, &t);
		if (ret)
			break;
		/* each point has the size of its newest image */
		if (!k && block >= cbt_img_nr_blocks(&h))
			ret = cbt_err(-ERANGE, "%s: block %llu is beyond the %llu blocks of restore"
				      " point %zu", chain->c.dir, (unsigned long long)block,
				      (unsigned long long)cbt_img_nr_blocks(&h), i);
		else if (map_has(&t.map, block)) {
			*image = path[k];
			ret = 1;
		}
		cbt_extents_free(&t.map);
	}
	free(path);
	if (ret == 1) {
		cbt_api_end(err, 0);
		return 1;
	}
	return cbt_api_end(err, ret);
}

/* What one read of a restore point still needs: blocks [first, end) of @h's size. */
struct read_req {
	uint64_t offset, len;
	uint8_t *buf;
	uint32_t bs;
	uint64_t first, end;
	uint64_t *done;		/* bit b - first: a newer image gave block b */
	uint64_t left;		/* blocks not yet given */
};

static void take_block(struct read_req *q, uint64_t b, const uint8_t *d, uint64_t blen)
{
	uint64_t bit = b - q->first, from = b * q->bs, to = from + blen;

	if (q->done[bit / 64] >> (bit % 64) & 1)
		return;
	q->done[bit / 64] |= 1ULL << (bit % 64);
	q->left--;
	if (from < q->offset)
		from = q->offset;
	if (to > q->offset + q->len)
		to = q->offset + q->len;
	if (from < to)
		memcpy(q->buf + (from - q->offset), d + (from - b * q->bs), to - from);
}

/* Copy what image @fd holds of the range into @q; frames are checksummed as read. */
static int read_image(struct read_req *q, int fd, const char *name, bool newest)
{
	struct cbt_img_reader *r;
	struct cbt_img_frame f;
	const struct cbt_img_header *h;
	int ret = cbt_img_reader_open(&r, fd, name);

	if (ret)
		return ret;
	h = cbt_img_reader_header(r);
	if (newest && (q->offset > h->dev_bytes || q->len > h->dev_bytes - q->offset)) {
		ret = cbt_err(-ERANGE, "%s: bytes %llu..%llu lie beyond the restore point's %llu",
			      name, (unsigned long long)q->offset,
			      (unsigned long long)(q->offset + q->len), (unsigned long long)h->dev_bytes);
		goto out;
	}
	if (newest) {
		q->bs = h->block_size;
		q->first = q->offset / q->bs;
		q->end = (q->offset + q->len + q->bs - 1) / q->bs;
		q->left = q->end - q->first;
		q->done = calloc((size_t)((q->left + 63) / 64) + 1, 8);
		if (!q->done) {
			ret = -ENOMEM;
			goto out;
		}
	}
	while (q->left && (ret = cbt_img_next(r, &f)) == 1) {
		const uint8_t *d = f.data;

		ret = 0;
		for (size_t i = 0; i < f.nr; i++) {
			for (uint64_t b = f.ext[i].start; b < f.ext[i].start + f.ext[i].len; b++) {
				uint64_t blen = cbt_img_block_len(h, b);

				if (b >= q->first && b < q->end)
					take_block(q, b, d, blen);
				d += blen;
			}
		}
		/* frames come in block order: none after this one reaches the range */
		if (f.ext[f.nr - 1].start + f.ext[f.nr - 1].len >= q->end)
			break;
	}
out:
	cbt_img_reader_free(r);
	return ret < 0 ? ret : 0;
}

int cbt_image_chain_read(const struct cbt_image_chain *chain, size_t i, uint64_t offset,
			 void *buf, size_t len, struct cbt_error *err)
{
	struct read_req q = { .offset = offset, .len = len, .buf = buf };
	struct cbt_point pt;
	int ret;

	cbt_api_begin();
	if (!buf && len)
		return cbt_api_fail(err, -EINVAL, "no buffer");
	ret = open_point(chain, i, false, &pt);
	if (!ret && len)
		memset(buf, 0, len);
	for (size_t k = 0; !ret && k < pt.n && (!k || q.left); k++)
		ret = read_image(&q, pt.fds[k], pt.names[k], !k);
	free(q.done);
	cbt_point_free(&pt);
	return cbt_api_end(err, ret);
}
