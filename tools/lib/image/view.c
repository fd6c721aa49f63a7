// SPDX-License-Identifier: GPL-2.0
/*
 * Random access to a restore point (image/view.h).
 *
 * At open: cbt_name_point() checks the chain's links as `cbt restore'
 * does; each image's frame index (image/index.c) and block map give, per
 * image, the block ranges each frame holds; these are laid over each
 * other from the full image up, the newer image winning, into one sorted
 * array of segments (block range, image, frame). Memory follows the
 * number of extents and frames, never the device size.
 *
 * A read looks the segments up by binary search and copies from
 * decompressed frames, which come from an LRU cache bounded in bytes; a
 * frame is read from disk and checked (header and data checksums, its
 * extents, its decompressed length) each time it enters the cache.
 *
 * A split image or one in S3 is read through its store object
 * (store/segment.h): a frame is a byte range of the segments, or a ranged
 * GET. Its header, trailer and frame index come from a memory copy of
 * those ranges (image/stored.h), so the checks are those of a plain file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "image/apply.h"
#include "image/crypt.h"
#include "image/image.h"
#include "image/s3chain.h"
#include "image/stored.h"
#include "image/view.h"
#include "store/safefile.h"
#include "store/segment.h"
#include "util/util.h"

#define DEFAULT_CACHE (64ULL << 20)
#define HASH_BUCKETS 1024

struct vimg {
	int fd;			/* a plain image file, or -1 */
	struct cbt_store_obj obj;	/* else: segments, an S3 object (obj.pread set) */
	char *name;
	struct cbt_img_header h;
	struct cbt_img_frame_ent *fr;
	uint64_t nfr;
};

/* Blocks [start, start + len) read from frame @frame of image @img. */
struct seg {
	uint64_t start, len;
	uint64_t frame;
	uint32_t img;
};

/* A decompressed frame. */
struct fent {
	uint32_t img;
	uint64_t frame;
	uint8_t *data;
	size_t len;
	uint32_t nr;
	struct cbt_range *ext;
	uint64_t *pre;		/* blocks before ext[i] in the frame */
	int ref;		/* readers using it */
	bool cached;		/* on the hash chain and the LRU list */
	struct fent *hnext, *prev, *next;
};

struct cbt_view {
	struct vimg *img;	/* 0 = the full image, the point last */
	uint32_t nimg;
	uint64_t size;
	uint32_t bs;
	struct seg *seg;
	size_t nseg;

	pthread_mutex_t lock;	/* protects everything below */
	struct fent *hash[HASH_BUCKETS];
	struct fent *lru_head, *lru_tail;	/* head: most recently used */
	uint64_t budget, bytes;
	struct cbt_view_stats st;
};

static void default_log(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "cbt: %s\n", line);
}

/* Set before views are opened (view.h): not locked. */
static void (*log_fn)(void *, const char *) = default_log;
static void *log_arg;

void cbt_view_set_log(void (*log)(void *arg, const char *line), void *arg)
{
	log_fn = log ? log : default_log;
	log_arg = log ? arg : NULL;
}

__attribute__((format(printf, 1, 2)))
static void vlog(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fn(log_arg, line);
}

/* ---- Building the segments ------------------------------------------------ */

struct segv {
	struct seg *v;
	size_t nr, cap;
};

static int seg_add(struct segv *s, uint64_t start, uint64_t len, uint32_t img, uint64_t frame)
{
	if (!len)
		return 0;
	if (s->nr == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct seg *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->nr++] = (struct seg){ .start = start, .len = len, .frame = frame, .img = img };
	return 0;
}

/* Image @k's segments: the block map cut at its frames' [first, last]. */
static int image_segs(const struct vimg *im, const struct cbt_extents *map, uint32_t k,
		      struct segv *out)
{
	size_t j = 0;
	int ret = 0;

	for (uint64_t i = 0; !ret && i < im->nfr; i++) {
		uint64_t lo = im->fr[i].first, hi = im->fr[i].last + 1;

		while (j < map->nr && map->v[j].start + map->v[j].len <= lo)
			j++;
		for (size_t m = j; !ret && m < map->nr && map->v[m].start < hi; m++) {
			uint64_t s = map->v[m].start > lo ? map->v[m].start : lo;
			uint64_t e = map->v[m].start + map->v[m].len;

			ret = seg_add(out, s, (e < hi ? e : hi) - s, k, i);
		}
	}
	return ret;
}

/* @a with @b laid over it (b wins), into @out; both sorted, non-overlapping. */
static int overlay(struct segv *a, const struct segv *b, struct segv *out)
{
	size_t i = 0;
	int ret = 0;

	for (size_t k = 0; !ret && k < b->nr; k++) {
		const struct seg *y = &b->v[k];
		uint64_t ye = y->start + y->len;

		for (; !ret && i < a->nr && a->v[i].start < y->start; i++) {
			struct seg *x = &a->v[i];
			uint64_t xe = x->start + x->len;

			if (xe <= y->start) {
				ret = seg_add(out, x->start, x->len, x->img, x->frame);
				continue;
			}
			ret = seg_add(out, x->start, y->start - x->start, x->img, x->frame);
			/* the rest of x starts under y */
			x->len = xe - y->start;
			x->start = y->start;
			break;
		}
		if (!ret)
			ret = seg_add(out, y->start, y->len, y->img, y->frame);
		while (!ret && i < a->nr && a->v[i].start < ye) {
			struct seg *x = &a->v[i];
			uint64_t xe = x->start + x->len;

			if (xe <= ye) {
				i++;
				continue;
			}
			x->len = xe - ye;
			x->start = ye;
			break;
		}
	}
	for (; !ret && i < a->nr; i++)
		ret = seg_add(out, a->v[i].start, a->v[i].len, a->v[i].img, a->v[i].frame);
	return ret;
}

/* Image @k's frames and its segments laid over @acc. */
static int add_image(struct cbt_view *v, uint32_t k, struct segv *acc)
{
	struct vimg *im = &v->img[k];
	struct cbt_img_trailer t = { 0 };
	struct segv mine = { 0 }, out = { 0 };
	int fd = im->obj.pread ? cbt_img_ends_memfd(&im->obj, im->name) : im->fd, ret = 0;

	if (fd < 0)
		return fd;
	ret = cbt_img_read_ends_fd(fd, im->name, &im->h, &t);
	/* a version 1 image has no frame index: finding its frames reads it all */
	if (!ret && im->obj.pread && im->h.version < 2)
		ret = cbt_err(-EINVAL, "%s: random access to a split image or one in S3 needs"
			      " image format version 2 or later (this is version %u)", im->name,
			      (unsigned int)im->h.version);
	if (!ret)
		ret = cbt_img_frame_index(fd, im->name, &im->h, &t, &im->fr);
	if (fd != im->fd)
		close(fd);
	if (!ret) {
		im->nfr = t.frames;
		ret = image_segs(im, &t.map, k, &mine);
	}
	if (!ret)
		ret = overlay(acc, &mine, &out);
	cbt_extents_free(&t.map);
	free(mine.v);
	if (ret) {
		free(out.v);
		return ret;
	}
	free(acc->v);
	*acc = out;
	return 0;
}

/*
 * Open the images cbt_name_point() named: a plain file as a file, a split
 * image or an S3 stub as its store object. @in_dir: the images are a chain
 * directory's, whose entries are not followed when they are symbolic links.
 */
static int open_images(struct cbt_view *v, bool in_dir)
{
	for (uint32_t k = 0; k < v->nimg; k++) {
		struct vimg *im = &v->img[k];
		int ret;

		if (im->fd >= 0)
			continue;
		ret = cbt_store_obj_open(AT_FDCWD, im->name, im->name, in_dir, &im->obj);
		if (ret < 0)
			return ret;
		if (!ret) {
			im->fd = cbt_open_regular(AT_FDCWD, im->name, im->name, in_dir);
			if (im->fd < 0)
				return im->fd;
		}
	}
	return 0;
}

int cbt_view_open(struct cbt_view **vp, const char *chain_dir, const char *id,
		  const struct cbt_view_opts *o)
{
	struct cbt_view *v = calloc(1, sizeof(*v));
	struct cbt_point pt;
	struct stat st;
	struct segv acc = { 0 };
	int ret;

	*vp = NULL;
	if (!v)
		return -ENOMEM;
	pthread_mutex_init(&v->lock, NULL);
	v->budget = o && o->cache_bytes ? o->cache_bytes : DEFAULT_CACHE;
	if (!strcmp(chain_dir, "-")) {
		ret = cbt_err(-EINVAL, "random access needs an image file or chain directory,"
			      " not standard input");
		goto fail;
	}
	ret = cbt_s3chain_src(chain_dir, o ? o->s3_config : NULL, false, &chain_dir, NULL);
	if (ret)
		goto fail;
	/* a full check reads each image whole anyway: a stored one is spooled to a file */
	if (o && o->full_check)
		ret = cbt_open_point(chain_dir, id, true, NULL, &pt);
	else
		ret = cbt_name_point(chain_dir, id, &pt);
	if (ret)
		goto fail;
	v->img = calloc(pt.n, sizeof(*v->img));
	if (!v->img) {
		cbt_point_free(&pt);
		ret = -ENOMEM;
		goto fail;
	}
	/* The point's images come newest first: take them over, the full image first. */
	for (size_t i = 0; i < pt.n; i++) {
		struct vimg *im = &v->img[pt.n - 1 - i];

		im->fd = pt.fds[i];
		im->name = pt.names[i];
		pt.fds[i] = -1;
		pt.names[i] = NULL;
	}
	v->nimg = (uint32_t)pt.n;
	cbt_point_free(&pt);
	ret = open_images(v, !stat(chain_dir, &st) && S_ISDIR(st.st_mode));
	if (ret)
		goto fail;
	for (uint32_t k = 0; k < v->nimg; k++) {
		if (v->img[k].obj.pread)
			continue;
		if (fstat(v->img[k].fd, &st) || !S_ISREG(st.st_mode)) {
			ret = cbt_err(-EINVAL, "%s: random access needs a regular file (not a pipe)",
				      v->img[k].name);
			goto fail;
		}
	}
	for (uint32_t k = 0; k < v->nimg; k++) {
		ret = add_image(v, k, &acc);
		if (ret)
			goto fail;
	}
	v->seg = acc.v;
	v->nseg = acc.nr;
	v->size = v->img[v->nimg - 1].h.dev_bytes;
	v->bs = v->img[v->nimg - 1].h.block_size;
	*vp = v;
	return 0;
fail:
	free(acc.v);
	cbt_view_close(v);
	return ret;
}

uint64_t cbt_view_size(const struct cbt_view *v)
{
	return v->size;
}

uint32_t cbt_view_block_size(const struct cbt_view *v)
{
	return v->bs;
}

/* The first segment ending after block @b (nseg if none). */
static size_t seg_find(const struct cbt_view *v, uint64_t b)
{
	size_t a = 0, z = v->nseg;

	while (a < z) {
		size_t m = a + (z - a) / 2;

		if (v->seg[m].start + v->seg[m].len <= b)
			a = m + 1;
		else
			z = m;
	}
	return a;
}

int cbt_view_owner(const struct cbt_view *v, uint64_t block)
{
	size_t i = seg_find(v, block);

	return i < v->nseg && v->seg[i].start <= block ? (int)v->seg[i].img : -1;
}

/* ---- The frame cache -------------------------------------------------------- */

static void fent_free(struct fent *e)
{
	if (!e)
		return;
	free(e->data);
	free(e->ext);
	free(e->pre);
	free(e);
}

/*
 * Read frame @fi of image @k from disk and check it. A damaged frame is
 * logged (image file, frame offset) and is -EIO.
 */
static int load_frame(struct cbt_view *v, uint32_t k, uint64_t fi, struct fent **ep)
{
	const struct vimg *im = &v->img[k];
	const struct cbt_img_frame_ent *fe = &im->fr[fi];
	uint64_t disk = cbt_img_frame_disk_len(fe), hl = disk - fe->stored, total = 0, next = 0;
	uint64_t nr_blocks = cbt_img_nr_blocks(&im->h);
	uint8_t *buf = malloc(disk), *payload;
	struct fent *e = calloc(1, sizeof(*e));
	const char *why = NULL;
	uint32_t raw_len = 0, comp, data_len = fe->stored;
	int ret;

	*ep = NULL;
	if (!buf || !e) {
		ret = -ENOMEM;
		goto out;
	}
	if (im->obj.pread)
		ret = cbt_store_obj_pread(&im->obj, buf, disk, fe->off);
	else
		ret = cbt_pread_full(im->fd, buf, disk, fe->off);
	if (ret == -ENODATA || (im->obj.pread && ret == -EPIPE)) {
		why = "truncated";
		goto out;
	}
	if (ret) {
		const char *d = im->obj.pread ? cbt_err_detail() : NULL;

		vlog("%s: reading the frame at byte %llu: %s", im->name,
		     (unsigned long long)fe->off, d ? d : strerror(-ret));
		ret = -EIO;
		goto out;
	}
	payload = buf + hl;
	raw_len = cbt_get_le32(buf + 16);
	comp = cbt_get_le32(buf + 24);
	if (cbt_get_le32(buf) != CBT_IMG_FRAME_MAGIC || cbt_get_le32(buf + 4) != fe->nr_ext ||
	    cbt_get_le64(buf + 8) != fi || cbt_get_le32(buf + 20) != fe->stored ||
	    !raw_len || raw_len > CBT_IMG_FRAME_BYTES || cbt_get_le32(buf + 28) ||
	    !cbt_img_frame_len_ok(&im->h, comp, raw_len, fe->stored)) {
		why = "bad frame header";
		goto out;
	}
	if (cbt_get_le64(buf + hl - 8) != cbt_img_sum(im->h.uuid, buf, hl - 8)) {
		why = "frame header checksum mismatch";
		goto out;
	}
	if (cbt_get_le64(buf + 32) != cbt_img_sum(im->h.uuid, payload, fe->stored)) {
		why = "frame data checksum mismatch";
		goto out;
	}
	if (cbt_img_encrypted(&im->h)) {
		struct cbt_img_crypt c;

		/* The AD is the header and extents with the data checksum zero. */
		memset(buf + 32, 0, 8);
		ret = cbt_img_crypt_init(&c, im->h.salt);
		if (!ret)
			ret = cbt_img_unseal(&c, fi, buf, hl - 8, payload, fe->stored);
		cbt_img_crypt_wipe(&c);
		if (ret) {
			ret = 0;
			why = "frame authentication failed (modified, or from another image)";
			goto out;
		}
		data_len -= CBT_IMG_TAG_BYTES;
	}
	e->nr = fe->nr_ext;
	e->ext = calloc(e->nr, sizeof(*e->ext));
	e->pre = calloc(e->nr, sizeof(*e->pre));
	e->data = malloc(raw_len);
	if (!e->ext || !e->pre || !e->data) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < e->nr; i++) {
		uint64_t s = cbt_get_le64(buf + CBT_IMG_FRAME_HDR_SIZE + 16 * i);
		uint64_t n = cbt_get_le64(buf + CBT_IMG_FRAME_HDR_SIZE + 16 * i + 8);

		if (!n || (i && s <= next) || s < fe->first || s > fe->last ||
		    n > fe->last + 1 - s || s >= nr_blocks || n > nr_blocks - s) {
			why = "frame extents differ from the frame index";
			goto out;
		}
		e->ext[i] = (struct cbt_range){ s, n };
		e->pre[i] = i ? e->pre[i - 1] + e->ext[i - 1].len : 0;
		next = s + n;
		for (uint64_t b = s; b < s + n && total <= CBT_IMG_FRAME_BYTES; b++)
			total += cbt_img_block_len(&im->h, b);
	}
	if (total != raw_len || e->ext[0].start != fe->first || next != fe->last + 1) {
		why = "frame extents differ from the frame index";
		goto out;
	}
	if (comp == CBT_IMG_COMP_ZSTD) {
		size_t n = ZSTD_decompress(e->data, raw_len, payload, data_len);

		if (ZSTD_isError(n) || n != raw_len) {
			why = "frame does not decompress to its length";
			goto out;
		}
	} else {
		memcpy(e->data, payload, raw_len);
	}
	e->len = raw_len;
	e->img = k;
	e->frame = fi;
	*ep = e;
	e = NULL;
	ret = 0;
out:
	if (why) {
		vlog("%s: damaged frame at byte %llu: %s", im->name, (unsigned long long)fe->off,
		     why);
		ret = -EIO;
	}
	free(buf);
	fent_free(e);
	return ret;
}

static size_t bucket(uint32_t k, uint64_t fi)
{
	return (size_t)((fi * 0x9e3779b97f4a7c15ULL + k) >> 40) % HASH_BUCKETS;
}

static void lru_unlink(struct cbt_view *v, struct fent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		v->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		v->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct cbt_view *v, struct fent *e)
{
	e->prev = NULL;
	e->next = v->lru_head;
	if (v->lru_head)
		v->lru_head->prev = e;
	v->lru_head = e;
	if (!v->lru_tail)
		v->lru_tail = e;
}

/* Drop @e from the cache (it is not in use). Called with the lock held. */
static void evict(struct cbt_view *v, struct fent *e)
{
	struct fent **pp = &v->hash[bucket(e->img, e->frame)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(v, e);
	v->bytes -= e->len;
	fent_free(e);
}

static struct fent *lookup(struct cbt_view *v, uint32_t k, uint64_t fi)
{
	for (struct fent *e = v->hash[bucket(k, fi)]; e; e = e->hnext)
		if (e->img == k && e->frame == fi)
			return e;
	return NULL;
}

/*
 * Frame @fi of image @k, decompressed and held (frame_put() releases it):
 * from the cache, or from disk and then kept in the cache if it fits in
 * the budget once frames nobody uses are evicted, oldest first.
 */
static int frame_get(struct cbt_view *v, uint32_t k, uint64_t fi, struct fent **ep)
{
	struct fent *e, *mine;
	int ret;

	pthread_mutex_lock(&v->lock);
	e = lookup(v, k, fi);
	if (e) {
		e->ref++;
		lru_unlink(v, e);
		lru_push(v, e);
		v->st.hits++;
		pthread_mutex_unlock(&v->lock);
		*ep = e;
		return 0;
	}
	pthread_mutex_unlock(&v->lock);
	/* Outside the lock: other readers go on while this one reads and decompresses. */
	ret = load_frame(v, k, fi, &mine);
	if (ret)
		return ret;
	pthread_mutex_lock(&v->lock);
	v->st.loads++;
	e = lookup(v, k, fi);
	if (e) {
		/* another reader loaded it meanwhile */
		fent_free(mine);
		e->ref++;
	} else {
		e = mine;
		e->ref = 1;
		for (struct fent *x = v->lru_tail, *p; x && v->bytes + e->len > v->budget; x = p) {
			p = x->prev;
			if (!x->ref)
				evict(v, x);
		}
		if (v->bytes + e->len <= v->budget) {
			size_t b = bucket(k, fi);

			e->cached = true;
			e->hnext = v->hash[b];
			v->hash[b] = e;
			lru_push(v, e);
			v->bytes += e->len;
			if (v->bytes > v->st.peak_bytes)
				v->st.peak_bytes = v->bytes;
		}
	}
	pthread_mutex_unlock(&v->lock);
	*ep = e;
	return 0;
}

static void frame_put(struct cbt_view *v, struct fent *e)
{
	bool drop;

	pthread_mutex_lock(&v->lock);
	drop = !--e->ref && !e->cached;
	pthread_mutex_unlock(&v->lock);
	if (drop)
		fent_free(e);
}

void cbt_view_stats(struct cbt_view *v, struct cbt_view_stats *st)
{
	pthread_mutex_lock(&v->lock);
	*st = v->st;
	st->bytes = v->bytes;
	pthread_mutex_unlock(&v->lock);
}

/* ---- Reading ---------------------------------------------------------------- */

/*
 * Copy bytes [off, off + len) of the device, all inside segment @s (so in
 * one frame), into @buf.
 */
static int copy_seg(struct cbt_view *v, const struct seg *s, uint8_t *buf, uint64_t len,
		    uint64_t off)
{
	struct fent *e = NULL;
	int ret = frame_get(v, s->img, s->frame, &e);

	while (!ret && len) {
		uint64_t b = off / v->bs, in = off % v->bs, n, doff;
		/* the frame's extent holding b */
		size_t a = cbt_ranges_find(e->ext, e->nr, b);

		if (a == e->nr || e->ext[a].start > b) {
			vlog("%s: damaged frame at byte %llu: it does not hold block %llu",
			     v->img[s->img].name, (unsigned long long)v->img[s->img].fr[s->frame].off,
			     (unsigned long long)b);
			ret = -EIO;
			break;
		}
		doff = (e->pre[a] + (b - e->ext[a].start)) * v->bs + in;
		/* up to the end of the extent (contiguous in the frame) */
		n = (e->ext[a].start + e->ext[a].len) * v->bs - off;
		if (n > len)
			n = len;
		if (doff >= e->len) {
			/* an older, smaller device's short last block: the rest reads as zeros */
			n = v->bs - in < n ? v->bs - in : n;
			memset(buf, 0, n);
		} else {
			uint64_t have = e->len - doff < n ? e->len - doff : n;

			memcpy(buf, e->data + doff, have);
			memset(buf + have, 0, n - have);
		}
		buf += n;
		off += n;
		len -= n;
	}
	if (e)
		frame_put(v, e);
	return ret;
}

int cbt_view_pread(struct cbt_view *v, void *p, size_t len, uint64_t off)
{
	uint8_t *buf = p;
	size_t i;
	int ret = 0;

	if (off > v->size || len > v->size - off)
		return -EINVAL;
	i = seg_find(v, off / v->bs);
	while (len) {
		uint64_t n, s_off, s_end;

		if (i == v->nseg) {
			memset(buf, 0, len);
			break;
		}
		s_off = v->seg[i].start * v->bs;
		s_end = (v->seg[i].start + v->seg[i].len) * v->bs;
		if (off < s_off) {
			n = s_off - off < len ? s_off - off : len;
			memset(buf, 0, n);
		} else {
			n = s_end - off < len ? s_end - off : len;
			ret = copy_seg(v, &v->seg[i], buf, n, off);
			if (ret)
				return ret;
			i++;
		}
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

int cbt_view_extents(struct cbt_view *v, uint64_t off, uint64_t len,
		     int (*cb)(void *arg, uint64_t off, uint64_t len, bool data), void *arg)
{
	uint64_t end;
	size_t i;

	if (off > v->size || len > v->size - off)
		return -EINVAL;
	end = off + len;
	i = seg_find(v, off / v->bs);
	while (off < end) {
		uint64_t s_off = i < v->nseg ? v->seg[i].start * v->bs : end, n;
		bool data = off >= s_off;
		int ret;

		if (data) {
			/* the run of touching segments, whatever image holds them */
			uint64_t e = v->seg[i].start + v->seg[i].len;

			while (i + 1 < v->nseg && v->seg[i + 1].start == e) {
				i++;
				e += v->seg[i].len;
			}
			i++;
			n = (e * v->bs < end ? e * v->bs : end) - off;
		} else {
			n = (s_off < end ? s_off : end) - off;
		}
		ret = cb(arg, off, n, data);
		if (ret)
			return ret;
		off += n;
	}
	return 0;
}

void cbt_view_close(struct cbt_view *v)
{
	if (!v)
		return;
	for (struct fent *e = v->lru_head, *n; e; e = n) {
		n = e->next;
		fent_free(e);
	}
	for (uint32_t k = 0; v->img && k < v->nimg; k++) {
		if (v->img[k].fd >= 0)
			close(v->img[k].fd);
		if (v->img[k].obj.pread)
			cbt_store_obj_close(&v->img[k].obj);
		free(v->img[k].name);
		free(v->img[k].fr);
	}
	free(v->img);
	free(v->seg);
	pthread_mutex_destroy(&v->lock);
	free(v);
}
