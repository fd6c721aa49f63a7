// SPDX-License-Identifier: GPL-2.0
/*
 * The image writer. The caller adds blocks in increasing order; they are
 * packed into frames of at most CBT_IMG_FRAME_BYTES, each frame is
 * compressed and checksummed by a pool of worker threads, and the frames
 * are written in order with write() only (a pipe works).
 *
 * Slots: the main thread fills one slot at a time (FILLING), hands it to
 * the workers (QUEUED), a worker compresses it (BUSY, then DONE), and the
 * main thread writes DONE slots in sequence order and frees them. All slot
 * states, and the queue, are under @lock; a slot's buffers belong to whoever
 * holds it in its current state.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
/* ZSTD_estimateCCtxSize_usingCParams(): exported, but in the "experimental" part. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "image/crypt.h"
#include "image/image.h"
#include "util/util.h"

enum slot_state { S_FREE, S_FILLING, S_QUEUED, S_BUSY, S_DONE };

struct slot {
	enum slot_state state;
	uint64_t seq;
	struct cbt_range ext[CBT_IMG_FRAME_MAX_EXTENTS];
	size_t nr;
	uint8_t *raw;		/* CBT_IMG_FRAME_BYTES */
	size_t raw_len;
	uint8_t *out;		/* frame header, extents, checksum, payload */
	size_t out_len;
	int err;
	const char *zerr;	/* zstd's error name: the worker cannot set the detail */
};

struct cbt_img_writer {
	int fd;
	struct cbt_img_header h;
	uint8_t seed[16];
	size_t out_cap;
	bool crypt_on;		/* version 3: frames sealed, trailer MACed */
	struct cbt_img_crypt crypt;

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* any slot changed state; stop set */
	bool stop;
	pthread_t *thr;
	int nthr;
	struct slot *slots;
	int nslots;
	struct slot *cur;	/* FILLING, or NULL */
	uint64_t next_seq;	/* given to the next slot filled */
	uint64_t write_seq;	/* the next to write */

	XXH3_state_t *digest;
	/* Version 2: the frame index, one entry per frame written (32 B per 4 MiB). */
	struct cbt_img_frame_ent *fidx;
	size_t fidx_cap;
	struct cbt_extents map;
	uint64_t blocks;
	uint64_t bytes;		/* written so far */
	int err;
	bool finished;
};

static int write_all(struct cbt_img_writer *w, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = write(w->fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cbt_err(-errno, "writing the image: %s%s", strerror(errno),
				       errno == ENOSPC ? " (the destination is full)" : "");
		b += n;
		len -= (size_t)n;
		w->bytes += (uint64_t)n;
	}
	return 0;
}

/* Compress and frame @s: runs in a worker, without the lock. */
static void encode_frame(struct cbt_img_writer *w, struct slot *s, ZSTD_CCtx *cctx)
{
	size_t hdr = CBT_IMG_FRAME_HDR_SIZE + s->nr * 16 + 8;
	uint8_t *payload = s->out + hdr;
	size_t stored = s->raw_len;
	uint32_t comp = CBT_IMG_COMP_NONE;

	if (w->h.compression == CBT_IMG_COMP_ZSTD) {
		size_t n = ZSTD_compressCCtx(cctx, payload, w->out_cap - hdr - CBT_IMG_TAG_BYTES, s->raw, s->raw_len,
					     (int)w->h.level);

		if (ZSTD_isError(n)) {
			s->err = -EIO;
			s->zerr = ZSTD_getErrorName(n);
			return;
		}
		if (n < s->raw_len) {
			stored = n;
			comp = CBT_IMG_COMP_ZSTD;
		}
	}
	/* an uncompressed frame is sealed straight from the raw buffer, not copied first */
	if (comp == CBT_IMG_COMP_NONE && !w->crypt_on)
		memcpy(payload, s->raw, s->raw_len);

	uint8_t *p = s->out;
	size_t data = stored;

	if (w->crypt_on)
		stored += CBT_IMG_TAG_BYTES;
	memset(p, 0, CBT_IMG_FRAME_HDR_SIZE);
	cbt_put_le32(p, CBT_IMG_FRAME_MAGIC);
	cbt_put_le32(p + 4, (uint32_t)s->nr);
	cbt_put_le64(p + 8, s->seq);
	cbt_put_le32(p + 16, (uint32_t)s->raw_len);
	cbt_put_le32(p + 20, (uint32_t)stored);
	cbt_put_le32(p + 24, comp);
	for (size_t i = 0; i < s->nr; i++) {
		cbt_put_le64(p + CBT_IMG_FRAME_HDR_SIZE + 16 * i, s->ext[i].start);
		cbt_put_le64(p + CBT_IMG_FRAME_HDR_SIZE + 16 * i + 8, s->ext[i].len);
	}
	/* Compressed, then sealed; the header and extents (sum field zero) are the AD. */
	if (w->crypt_on)
		cbt_img_seal(&w->crypt, s->seq, p, hdr - 8, payload,
			     comp == CBT_IMG_COMP_NONE ? s->raw : payload, data);
	cbt_put_le64(p + 32, cbt_img_sum(w->seed, payload, stored));
	cbt_put_le64(p + hdr - 8, cbt_img_sum(w->seed, p, hdr - 8));
	s->out_len = hdr + stored;
	s->err = 0;
}

static struct slot *queued_slot(struct cbt_img_writer *w)
{
	struct slot *best = NULL;

	for (int i = 0; i < w->nslots; i++)
		if (w->slots[i].state == S_QUEUED && (!best || w->slots[i].seq < best->seq))
			best = &w->slots[i];
	return best;
}

static void *worker(void *arg)
{
	struct cbt_img_writer *w = arg;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct slot *s;

		while (!w->stop && !(s = queued_slot(w)))
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		s->state = S_BUSY;
		pthread_mutex_unlock(&w->lock);
		if (cctx)
			encode_frame(w, s, cctx);
		else
			s->err = -ENOMEM;
		pthread_mutex_lock(&w->lock);
		s->state = S_DONE;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	ZSTD_freeCCtx(cctx);
	return NULL;
}

/* Note where frame @s goes (it is written next), for a version 2 trailer. */
static int index_frame(struct cbt_img_writer *w, const struct slot *s)
{
	struct cbt_img_frame_ent *e;

	if (w->h.version < 2)
		return 0;
	if (s->seq == w->fidx_cap) {
		size_t cap = w->fidx_cap ? 2 * w->fidx_cap : 64;

		e = realloc(w->fidx, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		w->fidx = e;
		w->fidx_cap = cap;
	}
	e = &w->fidx[s->seq];
	e->off = w->bytes;
	e->first = s->ext[0].start;
	e->last = s->ext[s->nr - 1].start + s->ext[s->nr - 1].len - 1;
	e->nr_ext = (uint32_t)s->nr;
	e->stored = (uint32_t)(s->out_len - (CBT_IMG_FRAME_HDR_SIZE + s->nr * 16 + 8));
	return 0;
}

/* The slot with sequence @seq, or NULL. Called with the lock held. */
static struct slot *slot_seq(struct cbt_img_writer *w, uint64_t seq)
{
	for (int i = 0; i < w->nslots; i++)
		if (w->slots[i].state != S_FREE && w->slots[i].state != S_FILLING &&
		    w->slots[i].seq == seq)
			return &w->slots[i];
	return NULL;
}

/*
 * Write every DONE slot in order; with @wait, first wait until the oldest
 * in-flight slot is done (so one frees up). Called without the lock.
 */
static int drain(struct cbt_img_writer *w, bool wait, bool all)
{
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct slot *s = slot_seq(w, w->write_seq);

		if (!s)
			break;
		if (s->state != S_DONE) {
			if (!wait && !all)
				break;
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		pthread_mutex_unlock(&w->lock);
		int ret = s->err && s->zerr ? cbt_err(s->err, "zstd: %s", s->zerr) :
			  s->err ? s->err : index_frame(w, s);

		if (!ret)
			ret = write_all(w, s->out, s->out_len);

		pthread_mutex_lock(&w->lock);
		if (ret) {
			pthread_mutex_unlock(&w->lock);
			return ret;
		}
		s->state = S_FREE;
		w->write_seq++;
		wait = false;
	}
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static int submit(struct cbt_img_writer *w)
{
	struct slot *s = w->cur;

	if (!s)
		return 0;
	w->cur = NULL;
	pthread_mutex_lock(&w->lock);
	s->state = S_QUEUED;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return drain(w, false, false);
}

static int take_slot(struct cbt_img_writer *w)
{
	for (;;) {
		pthread_mutex_lock(&w->lock);
		for (int i = 0; i < w->nslots; i++) {
			if (w->slots[i].state == S_FREE) {
				struct slot *s = &w->slots[i];

				s->state = S_FILLING;
				s->seq = w->next_seq++;
				s->nr = 0;
				s->raw_len = 0;
				w->cur = s;
				pthread_mutex_unlock(&w->lock);
				return 0;
			}
		}
		pthread_mutex_unlock(&w->lock);
		int ret = drain(w, true, false);

		if (ret)
			return ret;
	}
}

int cbt_img_writer_threads(int want, uint32_t compression, uint32_t level, uint64_t budget)
{
	uint64_t each = 2ULL * CBT_IMG_FRAME_BYTES + CBT_IMG_FRAME_MAX_EXTENTS * 16 + 4096;

	if (compression == CBT_IMG_COMP_ZSTD)
		each += ZSTD_estimateCCtxSize_usingCParams(ZSTD_getCParams((int)level,
									   CBT_IMG_FRAME_BYTES, 0));
	if (want < 1)
		want = 1;
	if ((uint64_t)want * each > budget)
		want = budget / each > 1 ? (int)(budget / each) : 1;
	return want;
}

int cbt_img_writer_open(struct cbt_img_writer **wp, int fd, const struct cbt_img_header *h,
			const struct cbt_img_write_opts *o)
{
	struct cbt_img_writer *w = calloc(1, sizeof(*w));
	uint8_t buf[CBT_IMG_HEADER_SIZE];
	/* One per CPU up to 8 by default: each slot holds ~8 MiB. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nthr = o && o->threads > 0 ? o->threads : cpus > 8 ? 8 : (int)cpus;
	int ret;

	*wp = NULL;
	if (h->block_size < 512 || h->block_size > (1U << 20) || (h->block_size & (h->block_size - 1)) ||
	    !h->dev_bytes || h->dev_bytes % 512 || h->compression > CBT_IMG_COMP_ZSTD) {
		free(w);
		return cbt_err(-EINVAL, "bad image parameters: block size %u, device size %llu",
			       h->block_size, (unsigned long long)h->dev_bytes);
	}
	if (!w)
		return -ENOMEM;
	if (nthr > 64)
		nthr = 64;
	{
		long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

		/* zstd:19 costs ~58 MiB a thread: --threads 64 would want 3.7 GiB. */
		if (pages > 0 && psz > 0)
			nthr = cbt_img_writer_threads(nthr, h->compression, h->level,
						      (uint64_t)pages * (uint64_t)psz / 4);
		else if (nthr < 1)
			nthr = 1;
	}
	w->fd = fd;
	w->h = *h;
	w->h.version = o && o->version ? o->version : CBT_IMG_VERSION;
	if (!o || !o->keep_salt || !cbt_key_isset())
		memset(w->h.salt, 0, sizeof(w->h.salt));
	memset(w->h.key_id, 0, sizeof(w->h.key_id));
	/* A process with a key writes encrypted images only (crypt.h). */
	if (cbt_key_isset()) {
		w->h.version = CBT_IMG_VERSION_CRYPT;
		w->crypt_on = true;
		memcpy(w->h.key_id, cbt_key_id(), sizeof(w->h.key_id));
		if ((!o || !o->keep_salt ? cbt_img_salt(w->h.salt) : 0) ||
		    cbt_img_crypt_init(&w->crypt, w->h.salt)) {
			free(w);
			return cbt_err(-EIO, "cannot derive the image's keys");
		}
	}
	memcpy(w->seed, h->uuid, 16);
	cbt_extents_init(&w->map);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	*wp = w;

	w->out_cap = CBT_IMG_FRAME_HDR_SIZE + CBT_IMG_FRAME_MAX_EXTENTS * 16 + 8 +
		     ZSTD_compressBound(CBT_IMG_FRAME_BYTES) + CBT_IMG_TAG_BYTES;
	w->nslots = nthr + 2;
	w->slots = calloc((size_t)w->nslots, sizeof(*w->slots));
	w->thr = calloc((size_t)nthr, sizeof(*w->thr));
	w->digest = XXH3_createState();
	if (!w->slots || !w->thr || !w->digest)
		return -ENOMEM;
	XXH3_128bits_reset(w->digest);
	for (int i = 0; i < w->nslots; i++) {
		w->slots[i].raw = malloc(CBT_IMG_FRAME_BYTES);
		w->slots[i].out = malloc(w->out_cap);
		if (!w->slots[i].raw || !w->slots[i].out)
			return -ENOMEM;
	}
	for (; w->nthr < nthr; w->nthr++) {
		ret = -pthread_create(&w->thr[w->nthr], NULL, worker, w);
		if (ret)
			return cbt_err(ret, "starting a compression thread: %s", strerror(-ret));
	}
	cbt_img_header_encode(&w->h, buf);
	return write_all(w, buf, sizeof(buf));
}

int cbt_img_writer_add(struct cbt_img_writer *w, uint64_t start, uint64_t n, const void *data)
{
	const uint8_t *p = data;
	uint64_t nr_blocks = cbt_img_nr_blocks(&w->h);
	int ret;

	if (w->err)
		return w->err;
	if (!n || start >= nr_blocks || n > nr_blocks - start || start < cbt_extents_end(&w->map) ||
	    (w->map.nr && start == 0))
		return cbt_err(-EINVAL, "blocks %llu+%llu added out of order or past the device end",
			       (unsigned long long)start, (unsigned long long)n);
	ret = cbt_extents_append(&w->map, start, n);
	if (ret)
		return w->err = ret;
	w->blocks += n;
	for (uint64_t b = start; b < start + n; b++) {
		size_t len = (size_t)cbt_img_block_len(&w->h, b);
		struct slot *s;

		if (w->cur && (w->cur->raw_len + len > CBT_IMG_FRAME_BYTES ||
			       (w->cur->nr == CBT_IMG_FRAME_MAX_EXTENTS &&
				w->cur->ext[w->cur->nr - 1].start + w->cur->ext[w->cur->nr - 1].len != b))) {
			ret = submit(w);
			if (ret)
				return w->err = ret;
		}
		if (!w->cur && (ret = take_slot(w)))
			return w->err = ret;
		s = w->cur;
		if (s->nr && s->ext[s->nr - 1].start + s->ext[s->nr - 1].len == b) {
			s->ext[s->nr - 1].len++;
		} else {
			s->ext[s->nr].start = b;
			s->ext[s->nr].len = 1;
			s->nr++;
		}
		memcpy(s->raw + s->raw_len, p, len);
		XXH3_128bits_update(w->digest, p, len);
		s->raw_len += len;
		p += len;
	}
	return 0;
}

uint64_t cbt_img_writer_bytes(const struct cbt_img_writer *w)
{
	return w->bytes;
}

int cbt_img_writer_finish(struct cbt_img_writer *w, struct cbt_img_trailer *t)
{
	int ret = w->err;
	uint8_t *buf, *fx;
	size_t len, nfidx;
	uint64_t off;

	if (!ret)
		ret = submit(w);
	if (!ret)
		ret = drain(w, true, true);
	if (ret)
		return w->err = ret;

	/* The digest ends with the block map, so the same data elsewhere differs. */
	nfidx = w->h.version >= 2 ? w->next_seq : 0;
	len = CBT_IMG_TRAILER_HDR_SIZE + w->map.nr * 16 + nfidx * CBT_IMG_FIDX_ENTRY_SIZE +
	      cbt_img_trailer_tail(&w->h) + 16;
	buf = calloc(1, len);
	if (!buf)
		return w->err = -ENOMEM;
	fx = buf + CBT_IMG_TRAILER_HDR_SIZE + w->map.nr * 16;
	for (size_t i = 0; i < nfidx; i++, fx += CBT_IMG_FIDX_ENTRY_SIZE) {
		cbt_put_le64(fx, w->fidx[i].off);
		cbt_put_le64(fx + 8, w->fidx[i].first);
		cbt_put_le64(fx + 16, w->fidx[i].last);
		cbt_put_le32(fx + 24, w->fidx[i].nr_ext);
		cbt_put_le32(fx + 28, w->fidx[i].stored);
	}
	for (size_t i = 0; i < w->map.nr; i++) {
		cbt_put_le64(buf + CBT_IMG_TRAILER_HDR_SIZE + 16 * i, w->map.v[i].start);
		cbt_put_le64(buf + CBT_IMG_TRAILER_HDR_SIZE + 16 * i + 8, w->map.v[i].len);
	}
	XXH3_128bits_update(w->digest, buf + CBT_IMG_TRAILER_HDR_SIZE, w->map.nr * 16);
	XXH128_hash_t d = XXH3_128bits_digest(w->digest);
	XXH128_canonical_t dc;

	XXH128_canonicalFromHash(&dc, d);
	off = w->bytes;
	cbt_put_le32(buf, CBT_IMG_TRAILER_MAGIC);
	cbt_put_le64(buf + 8, w->next_seq);
	cbt_put_le64(buf + 16, w->blocks);
	cbt_put_le64(buf + 24, w->map.nr);
	memcpy(buf + 32, dc.digest, 16);
	cbt_put_le64(buf + 48, off);
	if (w->crypt_on) {
		/* The digest of the plain content would confirm a guess of it: masked. */
		cbt_img_mask_digest(&w->crypt, buf + 32);
		cbt_img_mac(&w->crypt, buf, len - 24 - CBT_IMG_TAG_BYTES,
			    buf + len - 24 - CBT_IMG_TAG_BYTES);
	}
	cbt_put_le64(buf + len - 24, cbt_img_sum(w->seed, buf, len - 24));
	cbt_put_le64(buf + len - 16, off);
	memcpy(buf + len - 8, CBT_IMG_END_MAGIC, 8);
	ret = write_all(w, buf, len);
	free(buf);
	if (ret)
		return w->err = ret;
	w->finished = true;
	if (t) {
		memset(t, 0, sizeof(*t));
		t->frames = w->next_seq;
		t->blocks = w->blocks;
		t->stored_bytes = w->bytes;
		memcpy(t->digest, dc.digest, 16);
		t->map = w->map;
		cbt_extents_init(&w->map);
	}
	return 0;
}

void cbt_img_writer_free(struct cbt_img_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->nthr; i++)
		pthread_join(w->thr[i], NULL);
	for (int i = 0; w->slots && i < w->nslots; i++) {
		free(w->slots[i].raw);
		free(w->slots[i].out);
	}
	free(w->slots);
	free(w->thr);
	if (w->digest)
		XXH3_freeState(w->digest);
	cbt_extents_free(&w->map);
	free(w->fidx);
	cbt_img_crypt_wipe(&w->crypt);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}
