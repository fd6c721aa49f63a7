// SPDX-License-Identifier: GPL-2.0
/*
 * The image reader: reads an image front to back with read() only (stdin
 * works) and checks every byte: the header's checksum and fields, each
 * frame's header checksum, extents (in order, inside the device, adding up
 * to the frame's length) and payload checksum, the decompressed length,
 * the trailer's checksum, that its block map is exactly the frames' blocks,
 * the digest of the logical content, the footer, and that nothing follows.
 * Any mismatch is -EBADMSG with a detail naming the offset.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>
#include <sodium.h>

#include "image/crypt.h"
#include "image/image.h"
#include "store/safefile.h"
#include "util/util.h"

#define RBUF 65536

static int read_threads_default = 1;

struct cbt_img_reader {
	int fd;
	const char *name;
	struct cbt_img_header h;
	uint64_t nr_blocks;
	uint64_t off;		/* bytes consumed */
	uint8_t *rbuf;
	size_t rpos, rlen;
	bool eof;

	uint64_t parse_seq;	/* frames read from the stream */
	uint64_t seq;		/* frames handed out */
	uint64_t next_block;	/* frames' extents start at or after this */
	struct cbt_extents map;
	uint64_t blocks;
	XXH3_state_t *digest;
	/* Version 2: XXH64 of the frame index entries the frames read call for. */
	XXH64_state_t fidx_want;
	struct frame_slot *one;	/* the frame, when decoded on the caller's thread */
	struct read_pool *pool;	/* decoding threads (cbt_img_reader_threads()), or NULL */
	int failed;		/* with a pool: the error returned, returned again */
	bool done;
	struct cbt_img_trailer t;
	/* Version 3: the image's keys. */
	bool crypt_on;
	struct cbt_img_crypt crypt;
};

/* One frame on its way from the stream to the caller. */
struct frame_slot {
	uint64_t start;		/* file offset of its magic */
	uint64_t seq;
	uint8_t h[CBT_IMG_FRAME_HDR_SIZE];
	uint32_t nr, raw_len, stored, comp;
	bool direct;		/* read straight into raw (plain, uncompressed) */
	struct cbt_range ext[CBT_IMG_FRAME_MAX_EXTENTS];
	uint8_t *payload;	/* grown to the largest frame seen */
	size_t payload_cap;
	uint8_t *raw;
	size_t raw_cap;
	ZSTD_DCtx *dctx;
	uint8_t *ad;		/* version 3: the frame's header and extents as AD */
	/* decoding threads: where the frame is, and its outcome */
	int state;		/* enum slot_state */
	bool trailer;		/* the trailer starts here, not a frame */
	int err;
	char msg[1024];
};

static struct frame_slot *slot_new(const struct cbt_img_reader *r);
static void slot_free(struct frame_slot *s);

static int bad(const struct cbt_img_reader *r, uint64_t off, const char *what)
{
	return cbt_err(-EBADMSG, "%s: %s at byte %llu", r->name, what, (unsigned long long)off);
}

/* Read exactly @len bytes; a short image is -EBADMSG ("truncated"). */
static int rd(struct cbt_img_reader *r, void *p, size_t len)
{
	uint8_t *b = p;

	while (len) {
		if (r->rpos == r->rlen) {
			ssize_t n;

			if (r->eof)
				return cbt_err(-EBADMSG, "%s: truncated at byte %llu: the image"
					       " ends early (an interrupted backup?)", r->name,
					       (unsigned long long)r->off);
			/* A frame's data goes straight into place: one copy less per byte. */
			if (len >= RBUF) {
				n = read(r->fd, b, len);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0)
					return cbt_err(-errno, "%s: reading: %s", r->name,
						       strerror(errno));
				if (!n)
					r->eof = true;
				r->off += (size_t)n;
				b += n;
				len -= (size_t)n;
				continue;
			}
			n = read(r->fd, r->rbuf, RBUF);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return cbt_err(-errno, "%s: reading: %s", r->name, strerror(errno));
			if (!n)
				r->eof = true;
			r->rpos = 0;
			r->rlen = (size_t)n;
			continue;
		}
		size_t k = r->rlen - r->rpos < len ? r->rlen - r->rpos : len;

		memcpy(b, r->rbuf + r->rpos, k);
		r->rpos += k;
		r->off += k;
		b += k;
		len -= k;
	}
	return 0;
}

int cbt_img_reader_open(struct cbt_img_reader **rp, int fd, const char *name)
{
	struct cbt_img_reader *r = calloc(1, sizeof(*r));
	uint8_t buf[CBT_IMG_HEADER_SIZE];
	int ret;

	*rp = r;
	if (!r)
		return -ENOMEM;
	r->fd = fd;
	r->name = name;
	cbt_extents_init(&r->map);
	cbt_extents_init(&r->t.map);
	r->rbuf = malloc(RBUF);
	r->digest = XXH3_createState();
	if (!r->rbuf || !r->digest)
		return -ENOMEM;
	XXH3_128bits_reset(r->digest);
	XXH64_reset(&r->fidx_want, 0);
	ret = rd(r, buf, sizeof(buf));
	if (ret)
		return ret;
	ret = cbt_img_header_decode(buf, &r->h);
	if (ret)
		return cbt_err_prefix(ret, "%s", name);
	r->nr_blocks = cbt_img_nr_blocks(&r->h);
	if (cbt_img_encrypted(&r->h)) {
		r->crypt_on = true;
		ret = cbt_img_crypt_init(&r->crypt, r->h.salt);
		if (ret)
			return ret;
	}
	r->one = slot_new(r);
	if (!r->one)
		return -ENOMEM;
	return cbt_img_reader_threads(r, read_threads_default);
}

const struct cbt_img_header *cbt_img_reader_header(const struct cbt_img_reader *r)
{
	return &r->h;
}

const struct cbt_img_trailer *cbt_img_reader_trailer(const struct cbt_img_reader *r)
{
	return r->done ? &r->t : NULL;
}

uint64_t cbt_img_reader_bytes(const struct cbt_img_reader *r)
{
	return r->off;
}

/* Feed @len trailer bytes to the MAC of an encrypted image. */
static void trailer_mac(const struct cbt_img_reader *r, crypto_generichash_state *mac,
			const uint8_t *p, size_t len)
{
	if (r->crypt_on)
		crypto_generichash_update(mac, p, len);
}

static int read_trailer(struct cbt_img_reader *r, const uint8_t *first8, uint64_t start)
{
	uint8_t hdr[CBT_IMG_TRAILER_HDR_SIZE], tail[8 + 16], probe, tag[CBT_IMG_TAG_BYTES];
	uint8_t want[CBT_IMG_TAG_BYTES], digest[16];
	crypto_generichash_state mac;
	XXH64_state_t *sum;
	uint64_t nr, v;
	int ret;

	memcpy(hdr, first8, 8);
	ret = rd(r, hdr + 8, sizeof(hdr) - 8);
	if (ret)
		return ret;
	if (cbt_get_le32(hdr + 4) || cbt_get_le64(hdr + 56))
		return bad(r, start, "reserved trailer field set");
	if (cbt_get_le64(hdr + 8) != r->seq)
		return bad(r, start, "trailer frame count differs from the frames read");
	if (cbt_get_le64(hdr + 16) != r->blocks)
		return bad(r, start, "trailer block count differs from the frames read");
	nr = cbt_get_le64(hdr + 24);
	if (nr != r->map.nr)
		return bad(r, start, "trailer block map differs from the frames read");
	if (cbt_get_le64(hdr + 48) != start)
		return bad(r, start, "trailer offset field is wrong");

	sum = XXH64_createState();
	if (!sum)
		return -ENOMEM;
	XXH64_reset(sum, cbt_get_le64(r->h.uuid));
	XXH64_update(sum, hdr, sizeof(hdr));
	/* plain images never touch libsodium (nothing may have initialised it) */
	if (r->crypt_on)
		crypto_generichash_init(&mac, r->crypt.mac, sizeof(r->crypt.mac), sizeof(want));
	trailer_mac(r, &mac, hdr, sizeof(hdr));
	for (uint64_t i = 0; i < nr; i++) {
		uint8_t e[16];

		ret = rd(r, e, sizeof(e));
		if (ret)
			goto out;
		XXH64_update(sum, e, sizeof(e));
		trailer_mac(r, &mac, e, sizeof(e));
		XXH3_128bits_update(r->digest, e, sizeof(e));
		if (cbt_get_le64(e) != r->map.v[i].start || cbt_get_le64(e + 8) != r->map.v[i].len) {
			ret = bad(r, r->off - 16, "trailer block map differs from the frames read");
			goto out;
		}
	}
	if (r->h.version >= 2) {
		XXH64_state_t got;

		XXH64_reset(&got, 0);
		for (uint64_t i = 0; i < r->seq; i++) {
			uint8_t e[CBT_IMG_FIDX_ENTRY_SIZE];

			ret = rd(r, e, sizeof(e));
			if (ret)
				goto out;
			XXH64_update(sum, e, sizeof(e));
			trailer_mac(r, &mac, e, sizeof(e));
			XXH64_update(&got, e, sizeof(e));
		}
		if (XXH64_digest(&got) != XXH64_digest(&r->fidx_want)) {
			ret = bad(r, r->off - r->seq * CBT_IMG_FIDX_ENTRY_SIZE,
				  "trailer frame index differs from the frames read");
			goto out;
		}
	}
	if (r->crypt_on) {
		ret = rd(r, tag, sizeof(tag));
		if (ret)
			goto out;
		XXH64_update(sum, tag, sizeof(tag));
	}
	ret = rd(r, tail, sizeof(tail));
	if (ret)
		goto out;
	v = XXH64_digest(sum);
	if (SUM_DIFFERS(cbt_get_le64(tail), v)) {
		ret = bad(r, r->off - 24, "trailer checksum mismatch");
		goto out;
	}
	if (cbt_get_le64(tail + 8) != start || memcmp(tail + 16, CBT_IMG_END_MAGIC, 8)) {
		ret = bad(r, r->off - 16, "bad footer");
		goto out;
	}
	memcpy(digest, hdr + 32, 16);
	if (r->crypt_on) {
		crypto_generichash_final(&mac, want, sizeof(want));
		if (SUM_DIFFERS(sodium_memcmp(want, tag, sizeof(tag)), 0)) {
			ret = bad(r, r->off - 40, "trailer authentication failed (modified)");
			goto out;
		}
		cbt_img_mask_digest(&r->crypt, digest);
	}
	XXH128_canonical_t dc;

	XXH128_canonicalFromHash(&dc, XXH3_128bits_digest(r->digest));
	if (SUM_DIFFERS(memcmp(dc.digest, digest, 16), 0)) {
		ret = bad(r, start + 32, "digest of the content does not match");
		goto out;
	}
	/* Nothing may follow. */
	if (rd(r, &probe, 1) == 0) {
		ret = bad(r, r->off - 1, "data after the end of the image");
		goto out;
	}
	cbt_err_clear();
	r->done = true;
	r->t.frames = r->seq;
	r->t.blocks = r->blocks;
	r->t.stored_bytes = r->off;
	memcpy(r->t.digest, dc.digest, 16);
	r->t.map = r->map;
	cbt_extents_init(&r->map);
	ret = 0;
out:
	XXH64_freeState(sum);
	return ret;
}

/*
 * Read frame @s's header, extents and stored data from the stream and
 * check what needs no decoding: 0, 1 when the trailer starts here instead
 * (its first 8 bytes in @s->h), or -errno. Runs on the caller's thread,
 * in stream order.
 */
static int frame_parse(struct cbt_img_reader *r, struct frame_slot *s)
{
	uint8_t *h = s->h, e[16], cs[8];
	uint64_t start = r->off, seed = cbt_get_le64(r->h.uuid), total = 0;
	uint32_t nr, raw_len, stored, comp;
	XXH64_state_t sum;
	int ret;

	s->start = start;
	ret = rd(r, h, 8);
	if (ret)
		return ret;
	if (cbt_get_le32(h) == CBT_IMG_TRAILER_MAGIC)
		return 1;
	if (cbt_get_le32(h) != CBT_IMG_FRAME_MAGIC)
		return bad(r, start, "no frame or trailer magic");
	ret = rd(r, h + 8, CBT_IMG_FRAME_HDR_SIZE - 8);
	if (ret)
		return ret;
	nr = cbt_get_le32(h + 4);
	raw_len = cbt_get_le32(h + 16);
	stored = cbt_get_le32(h + 20);
	comp = cbt_get_le32(h + 24);
	if (!nr || nr > CBT_IMG_FRAME_MAX_EXTENTS)
		return bad(r, start, "bad frame extent count");
	if (cbt_get_le64(h + 8) != r->parse_seq)
		return bad(r, start, "frame out of sequence (a frame is missing or repeated)");
	if (!raw_len || raw_len > CBT_IMG_FRAME_BYTES || cbt_get_le32(h + 28))
		return bad(r, start, "bad frame length or reserved field");
	if (!cbt_img_frame_len_ok(&r->h, comp, raw_len, stored))
		return bad(r, start, "bad frame compression or stored length");

	XXH64_reset(&sum, seed);
	XXH64_update(&sum, h, CBT_IMG_FRAME_HDR_SIZE);
	for (uint32_t i = 0; i < nr; i++) {
		ret = rd(r, e, sizeof(e));
		if (ret)
			return ret;
		XXH64_update(&sum, e, sizeof(e));
		s->ext[i].start = cbt_get_le64(e);
		s->ext[i].len = cbt_get_le64(e + 8);
	}
	ret = rd(r, cs, sizeof(cs));
	if (ret)
		return ret;
	if (SUM_DIFFERS(cbt_get_le64(cs), XXH64_digest(&sum)))
		return bad(r, start, "frame header checksum mismatch");
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t b = s->ext[i].start, n = s->ext[i].len;

		if (!n || b < r->next_block || (i && b == r->next_block) || b >= r->nr_blocks ||
		    n > r->nr_blocks - b)
			return bad(r, start, "frame extents out of order or past the device end");
		r->next_block = b + n;
		for (uint64_t k = b; k < b + n && total <= CBT_IMG_FRAME_BYTES; k++)
			total += cbt_img_block_len(&r->h, k);
	}
	if (total != raw_len)
		return bad(r, start, "frame length differs from its extents");

	if (raw_len > s->raw_cap) {
		free(s->raw);
		s->raw = malloc(raw_len);
		s->raw_cap = s->raw ? raw_len : 0;
	}
	if (stored > s->payload_cap) {
		free(s->payload);
		s->payload = malloc(stored);
		s->payload_cap = s->payload ? stored : 0;
	}
	if (!s->raw || !s->payload)
		return -ENOMEM;
	/* A plain uncompressed frame is read straight into place. */
	s->direct = comp == CBT_IMG_COMP_NONE && !r->crypt_on;
	ret = rd(r, s->direct ? s->raw : s->payload, stored);
	if (ret)
		return ret;
	s->nr = nr;
	s->raw_len = raw_len;
	s->stored = stored;
	s->comp = comp;
	s->seq = r->parse_seq++;
	return 0;
}

/*
 * Check frame @s's data checksum, authenticate and decompress it into
 * @s->raw. Reads only what the reader's header and keys hold, never
 * changes @r: the decoding threads run it on several frames at once.
 */
static int frame_decode(const struct cbt_img_reader *r, struct frame_slot *s)
{
	uint32_t nr = s->nr, stored = s->stored;
	const uint8_t *h = s->h;

	if (SUM_DIFFERS(cbt_get_le64(h + 32), cbt_img_sum(r->h.uuid, s->direct ? s->raw :
							      s->payload, stored)))
		return bad(r, s->start, "frame data checksum mismatch");
	if (r->crypt_on) {
		memcpy(s->ad, h, CBT_IMG_FRAME_HDR_SIZE);
		memset(s->ad + 32, 0, 8);
		for (uint32_t i = 0; i < nr; i++) {
			cbt_put_le64(s->ad + CBT_IMG_FRAME_HDR_SIZE + 16 * i, s->ext[i].start);
			cbt_put_le64(s->ad + CBT_IMG_FRAME_HDR_SIZE + 16 * i + 8, s->ext[i].len);
		}
		if (SUM_DIFFERS(cbt_img_unseal(&r->crypt, s->seq, s->ad,
					       CBT_IMG_FRAME_HDR_SIZE + 16 * (size_t)nr,
					       s->payload, stored), 0))
			return bad(r, s->start, "frame authentication failed (modified, or from"
				   " another image)");
		stored -= CBT_IMG_TAG_BYTES;
		if (s->comp == CBT_IMG_COMP_NONE)
			memcpy(s->raw, s->payload, s->raw_len);
	}
	if (s->comp == CBT_IMG_COMP_ZSTD) {
		size_t n = ZSTD_decompressDCtx(s->dctx, s->raw, s->raw_len, s->payload, stored);

		if (ZSTD_isError(n) || n != s->raw_len)
			return bad(r, s->start, "frame does not decompress to its length");
	}
	return 0;
}

/* Account decoded frame @s, in stream order, and hand it out as @f: 1 or -errno. */
static int frame_commit(struct cbt_img_reader *r, struct frame_slot *s, struct cbt_img_frame *f)
{
	uint32_t nr = s->nr;
	int ret;

	for (uint32_t i = 0; i < nr; i++) {
		ret = cbt_extents_append(&r->map, s->ext[i].start, s->ext[i].len);
		if (ret)
			return ret;
		r->blocks += s->ext[i].len;
	}
	XXH3_128bits_update(r->digest, s->raw, s->raw_len);
	if (r->h.version >= 2) {
		uint8_t ent[CBT_IMG_FIDX_ENTRY_SIZE];

		cbt_put_le64(ent, s->start);
		cbt_put_le64(ent + 8, s->ext[0].start);
		cbt_put_le64(ent + 16, s->ext[nr - 1].start + s->ext[nr - 1].len - 1);
		cbt_put_le32(ent + 24, nr);
		cbt_put_le32(ent + 28, s->stored);
		XXH64_update(&r->fidx_want, ent, sizeof(ent));
	}
	r->seq++;
	f->ext = s->ext;
	f->nr = nr;
	f->data = s->raw;
	f->len = s->raw_len;
	return 1;
}

/* ---- Decoding on several threads ---------------------------------------- */

/*
 * The caller's thread reads frames ahead into a ring of slots and queues
 * them; the workers decode them in any order; the caller hands them out in
 * stream order. A frame's error (or the trailer) stops the reading ahead
 * and is returned when its turn comes, after every frame before it, with
 * its detail: the caller sees exactly what the single-threaded reader shows.
 */
enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE };

struct read_pool {
	struct cbt_img_reader *r;
	/* protects every slot's state, err and msg, job, tail and quit */
	pthread_mutex_t lock;
	pthread_cond_t work;	/* a frame was queued, or quit */
	pthread_cond_t done;	/* a frame was decoded */
	size_t nslots;
	struct frame_slot **slots;
	uint64_t head;		/* the next frame to hand out (caller only) */
	uint64_t job;		/* the next frame a worker takes */
	uint64_t tail;		/* the next frame to read */
	bool held;		/* frame head - 1 is the caller's (caller only) */
	bool stop;		/* reading stopped at the trailer or an error (caller only) */
	bool quit;
	int nthreads;
	pthread_t *tid;
};

static struct frame_slot *pool_slot(const struct read_pool *p, uint64_t seq)
{
	return p->slots[seq % p->nslots];
}

static void slot_result(struct frame_slot *s, int err)
{
	const char *d = err < 0 ? cbt_err_detail() : NULL;

	s->err = err;
	snprintf(s->msg, sizeof(s->msg), "%s", d ? d : "");
}

static void *pool_worker(void *arg)
{
	struct read_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct frame_slot *s;
		int ret;

		while (!p->quit && p->job == p->tail)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->quit)
			break;
		s = pool_slot(p, p->job++);
		if (s->state != SLOT_QUEUED)
			continue;	/* the trailer or an error, settled when read */
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&p->lock);
		ret = frame_decode(p->r, s);
		pthread_mutex_lock(&p->lock);
		slot_result(s, ret);
		cbt_err_clear();
		s->state = SLOT_DONE;
		pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static struct frame_slot *slot_new(const struct cbt_img_reader *r)
{
	struct frame_slot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->dctx = ZSTD_createDCtx();
	if (r->crypt_on)
		s->ad = malloc(CBT_IMG_FRAME_HDR_SIZE + 16 * CBT_IMG_FRAME_MAX_EXTENTS);
	if (!s->dctx || (r->crypt_on && !s->ad)) {
		ZSTD_freeDCtx(s->dctx);
		free(s);
		return NULL;
	}
	return s;
}

static void slot_free(struct frame_slot *s)
{
	if (!s)
		return;
	free(s->payload);
	free(s->raw);
	ZSTD_freeDCtx(s->dctx);
	free(s->ad);
	free(s);
}

static void pool_free(struct read_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->tid[i], NULL);
	for (size_t i = 0; p->slots && i < p->nslots; i++)
		slot_free(p->slots[i]);
	free(p->slots);
	free(p->tid);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int cbt_img_reader_threads(struct cbt_img_reader *r, int n)
{
	struct read_pool *p;
	int ret = 0;

	if (n <= 1 || r->pool)
		return 0;
	if (r->parse_seq || r->done)
		return -EINVAL;
	if (n > CBT_IMG_READ_THREADS_MAX)
		n = CBT_IMG_READ_THREADS_MAX;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->r = r;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	/* one frame with the caller, one being read, the rest decoding */
	p->nslots = (size_t)n + 2;
	p->slots = calloc(p->nslots, sizeof(*p->slots));
	p->tid = calloc((size_t)n, sizeof(*p->tid));
	if (!p->slots || !p->tid)
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < p->nslots; i++)
		if (!(p->slots[i] = slot_new(r)))
			ret = -ENOMEM;
	for (; !ret && p->nthreads < n; p->nthreads++) {
		int e = pthread_create(&p->tid[p->nthreads], NULL, pool_worker, p);

		if (e)
			ret = cbt_err(-e, "starting %d decoding threads: %s", n, strerror(e));
	}
	if (ret) {
		pool_free(p);
		return ret;
	}
	r->pool = p;
	return 0;
}

static int next_parallel(struct cbt_img_reader *r, struct cbt_img_frame *f)
{
	struct read_pool *p = r->pool;
	struct frame_slot *s;
	int ret;

	if (r->failed)
		return r->failed;
	pthread_mutex_lock(&p->lock);
	if (p->held)
		pool_slot(p, p->head - 1)->state = SLOT_FREE;
	pthread_mutex_unlock(&p->lock);
	p->held = false;
	/* Read ahead while slots are free; the workers decode meanwhile. */
	while (!p->stop && p->tail - p->head < p->nslots) {
		s = pool_slot(p, p->tail);
		ret = frame_parse(r, s);
		pthread_mutex_lock(&p->lock);
		if (ret) {
			s->trailer = ret == 1;
			slot_result(s, ret);
			s->state = SLOT_DONE;
			p->stop = true;
		} else {
			s->state = SLOT_QUEUED;
		}
		p->tail++;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->lock);
	}
	s = pool_slot(p, p->head++);
	pthread_mutex_lock(&p->lock);
	while (s->state != SLOT_DONE)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
	if (s->trailer)
		ret = read_trailer(r, s->h, s->start);
	else if (s->err && s->msg[0])
		ret = cbt_err(s->err, "%s", s->msg);
	else if (s->err)
		ret = s->err;
	else
		ret = frame_commit(r, s, f);
	p->held = ret == 1;
	if (ret < 0)
		r->failed = ret;
	return ret;
}

void cbt_img_set_read_threads(int n)
{
	read_threads_default = n;
}

int cbt_img_next(struct cbt_img_reader *r, struct cbt_img_frame *f)
{
	struct frame_slot *s = r->one;
	int ret;

	if (r->done)
		return 0;
	if (r->pool)
		return next_parallel(r, f);
	ret = frame_parse(r, s);
	if (ret == 1)
		return read_trailer(r, s->h, s->start);
	if (!ret)
		ret = frame_decode(r, s);
	return ret ? ret : frame_commit(r, s, f);
}

void cbt_img_reader_free(struct cbt_img_reader *r)
{
	if (!r)
		return;
	if (r->pool)
		pool_free(r->pool);
	slot_free(r->one);
	free(r->rbuf);
	if (r->digest)
		XXH3_freeState(r->digest);
	cbt_img_crypt_wipe(&r->crypt);
	cbt_extents_free(&r->map);
	cbt_extents_free(&r->t.map);
	free(r);
}

int cbt_img_verify_fd(int fd, const char *name, struct cbt_img_header *hdr,
		      struct cbt_img_trailer *t)
{
	struct cbt_img_reader *r;
	struct cbt_img_frame f;
	int ret = cbt_img_reader_open(&r, fd, name);

	if (!ret)
		while ((ret = cbt_img_next(r, &f)) == 1)
			;
	if (!ret) {
		if (hdr)
			*hdr = r->h;
		if (t) {
			*t = r->t;
			cbt_extents_init(&r->t.map);
		}
	}
	cbt_img_reader_free(r);
	return ret;
}
