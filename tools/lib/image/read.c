// SPDX-License-Identifier: GPL-2.0
/*
 * The image reader: reads an image front to back with read() only (stdin
 * works) and checks every byte: the header's checksum and fields, each
 * frame's header checksum, extents (in order, inside the device, adding up
 * to the frame's length) and payload checksum, the decompressed length,
 * the trailer's checksum, that its block map is exactly the frames' blocks,
 * the digest of the logical content, the footer, and that nothing follows.
 * Any mismatch is -EBADMSG with a detail naming the offset. This file
 * reads on the caller's thread alone; image/read_pool.c on several.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "image/crypt.h"
#include "image/image.h"
#include "image/read_priv.h"
#include "store/safefile.h"
#include "util/util.h"

#define RBUF 65536

static int read_threads_default = 1;

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
	r->one = img_slot_new(r);
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
	/* with a pool, the reading thread is ahead (and owns r->off) */
	return r->pool && !r->done ? r->handed : r->off;
}

/* Feed @len trailer bytes to the MAC of an encrypted image. */
static void trailer_mac(const struct cbt_img_reader *r, crypto_generichash_state *mac,
			const uint8_t *p, size_t len)
{
	if (r->crypt_on)
		crypto_generichash_update(mac, p, len);
}

int img_read_trailer(struct cbt_img_reader *r, const uint8_t *first8, uint64_t start)
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

#define HUGE (2U << 20)

/*
 * Make *@p (of *@cap bytes) a frame buffer of at least @len bytes: 0 or
 * -ENOMEM. Its whole 2 MiB are huge pages where the kernel gives them
 * (transparent huge pages on madvise): their first use then costs a page
 * fault per 2 MiB, not per 4 KiB. With --threads 2 the page faults of
 * the frame buffers took a third of the decoding threads' CPU (perf). The
 * size is rounded up to 256 KiB, so a slightly larger frame does not
 * take a new buffer; every buffer is page-aligned, so a restore can write
 * it with O_DIRECT (image/apply.c).
 */
static int frame_buf(uint8_t **p, size_t *cap, size_t len)
{
	void *b = NULL;

	if (len <= *cap)
		return 0;
	free(*p);
	*p = NULL;
	*cap = 0;
	len = (len + (256U << 10) - 1) / (256U << 10) * (256U << 10);
	if (posix_memalign(&b, len < HUGE ? 4096 : HUGE, len))
		return -ENOMEM;
	if (len >= HUGE)
		madvise(b, len / HUGE * HUGE, MADV_HUGEPAGE);
	*p = b;
	*cap = len;
	return 0;
}

/* image/read_priv.h: one frame from the stream, in order. */
int img_frame_parse(struct cbt_img_reader *r, struct frame_slot *s)
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

	if (frame_buf(&s->raw, &s->raw_cap, raw_len) ||
	    frame_buf(&s->payload, &s->payload_cap, stored))
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
	s->end = r->off;
	return 0;
}

/* image/read_priv.h: on any thread, several frames at once. */
int img_frame_decode(const struct cbt_img_reader *r, struct frame_slot *s)
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

/* image/read_priv.h: the caller's thread, in stream order; not the digest. */
int img_frame_commit(struct cbt_img_reader *r, struct frame_slot *s, struct cbt_img_frame *f)
{
	uint32_t nr = s->nr;
	int ret;

	for (uint32_t i = 0; i < nr; i++) {
		ret = cbt_extents_append(&r->map, s->ext[i].start, s->ext[i].len);
		if (ret)
			return ret;
		r->blocks += s->ext[i].len;
	}
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
	r->handed = s->end;
	f->ext = s->ext;
	f->nr = nr;
	f->data = s->raw;
	f->len = s->raw_len;
	return 1;
}

struct frame_slot *img_slot_new(const struct cbt_img_reader *r)
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

void img_slot_free(struct frame_slot *s)
{
	if (!s)
		return;
	free(s->payload);
	free(s->raw);
	ZSTD_freeDCtx(s->dctx);
	free(s->ad);
	free(s);
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
		return img_pool_next(r, f);
	ret = img_frame_parse(r, s);
	if (ret == 1)
		return img_read_trailer(r, s->h, s->start);
	if (!ret)
		ret = img_frame_decode(r, s);
	if (ret)
		return ret;
	XXH3_128bits_update(r->digest, s->raw, s->raw_len);
	return img_frame_commit(r, s, f);
}

void cbt_img_reader_free(struct cbt_img_reader *r)
{
	if (!r)
		return;
	if (r->pool)
		img_pool_free(r->pool);
	img_slot_free(r->one);
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
