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

/*
 * Fuzzing builds (tests/unit/fuzz_image.c) go on past a checksum mismatch,
 * so the fuzzer reaches the checks behind the checksums.
 */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define SUM_DIFFERS(a, b) ((void)(a), (void)(b), false)
#else
#define SUM_DIFFERS(a, b) ((a) != (b))
#endif

struct cbt_img_reader {
	int fd;
	const char *name;
	struct cbt_img_header h;
	uint64_t nr_blocks;
	uint64_t off;		/* bytes consumed */
	uint8_t *rbuf;
	size_t rpos, rlen;
	bool eof;

	uint64_t seq;
	uint64_t next_block;	/* frames' extents start at or after this */
	struct cbt_extents map;
	uint64_t blocks;
	XXH3_state_t *digest;
	/* Version 2: XXH64 of the frame index entries the frames read call for. */
	XXH64_state_t fidx_want;
	struct cbt_range ext[CBT_IMG_FRAME_MAX_EXTENTS];
	uint8_t *payload;	/* grown to the largest frame seen */
	size_t payload_cap;
	uint8_t *raw;
	size_t raw_cap;
	ZSTD_DCtx *dctx;
	bool done;
	struct cbt_img_trailer t;
	/* Version 3: the image's keys, and a frame's header and extents as AD. */
	bool crypt_on;
	struct cbt_img_crypt crypt;
	uint8_t *ad;
};

static int bad(struct cbt_img_reader *r, uint64_t off, const char *what)
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
	r->dctx = ZSTD_createDCtx();
	if (!r->rbuf || !r->digest || !r->dctx)
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
		r->ad = malloc(CBT_IMG_FRAME_HDR_SIZE + 16 * CBT_IMG_FRAME_MAX_EXTENTS);
		if (!r->ad)
			return -ENOMEM;
		ret = cbt_img_crypt_init(&r->crypt, r->h.salt);
	}
	return ret;
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

int cbt_img_next(struct cbt_img_reader *r, struct cbt_img_frame *f)
{
	uint8_t h[CBT_IMG_FRAME_HDR_SIZE], e[16], cs[8];
	uint64_t start = r->off, seed = cbt_get_le64(r->h.uuid), total = 0;
	uint32_t nr, raw_len, stored, comp;
	XXH64_state_t sum;
	int ret;

	if (r->done)
		return 0;
	ret = rd(r, h, 8);
	if (ret)
		return ret;
	if (cbt_get_le32(h) == CBT_IMG_TRAILER_MAGIC)
		return read_trailer(r, h, start);
	if (cbt_get_le32(h) != CBT_IMG_FRAME_MAGIC)
		return bad(r, start, "no frame or trailer magic");
	ret = rd(r, h + 8, sizeof(h) - 8);
	if (ret)
		return ret;
	nr = cbt_get_le32(h + 4);
	raw_len = cbt_get_le32(h + 16);
	stored = cbt_get_le32(h + 20);
	comp = cbt_get_le32(h + 24);
	if (!nr || nr > CBT_IMG_FRAME_MAX_EXTENTS)
		return bad(r, start, "bad frame extent count");
	if (cbt_get_le64(h + 8) != r->seq)
		return bad(r, start, "frame out of sequence (a frame is missing or repeated)");
	if (!raw_len || raw_len > CBT_IMG_FRAME_BYTES || cbt_get_le32(h + 28))
		return bad(r, start, "bad frame length or reserved field");
	if (!cbt_img_frame_len_ok(&r->h, comp, raw_len, stored))
		return bad(r, start, "bad frame compression or stored length");

	XXH64_reset(&sum, seed);
	XXH64_update(&sum, h, sizeof(h));
	for (uint32_t i = 0; i < nr; i++) {
		ret = rd(r, e, sizeof(e));
		if (ret)
			return ret;
		XXH64_update(&sum, e, sizeof(e));
		r->ext[i].start = cbt_get_le64(e);
		r->ext[i].len = cbt_get_le64(e + 8);
	}
	ret = rd(r, cs, sizeof(cs));
	if (ret)
		return ret;
	if (SUM_DIFFERS(cbt_get_le64(cs), XXH64_digest(&sum)))
		return bad(r, start, "frame header checksum mismatch");
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t s = r->ext[i].start, n = r->ext[i].len;

		if (!n || s < r->next_block || (i && s == r->next_block) || s >= r->nr_blocks ||
		    n > r->nr_blocks - s)
			return bad(r, start, "frame extents out of order or past the device end");
		r->next_block = s + n;
		for (uint64_t b = s; b < s + n && total <= CBT_IMG_FRAME_BYTES; b++)
			total += cbt_img_block_len(&r->h, b);
	}
	if (total != raw_len)
		return bad(r, start, "frame length differs from its extents");

	if (raw_len > r->raw_cap) {
		free(r->raw);
		r->raw = malloc(raw_len);
		r->raw_cap = r->raw ? raw_len : 0;
	}
	if (stored > r->payload_cap) {
		free(r->payload);
		r->payload = malloc(stored);
		r->payload_cap = r->payload ? stored : 0;
	}
	if (!r->raw || !r->payload)
		return -ENOMEM;
	/* A plain uncompressed frame is read straight into place. */
	bool direct = comp == CBT_IMG_COMP_NONE && !r->crypt_on;

	ret = rd(r, direct ? r->raw : r->payload, stored);
	if (ret)
		return ret;
	if (SUM_DIFFERS(cbt_get_le64(h + 32), cbt_img_sum(r->h.uuid, direct ? r->raw : r->payload,
							      stored)))
		return bad(r, start, "frame data checksum mismatch");
	if (r->crypt_on) {
		memcpy(r->ad, h, sizeof(h));
		memset(r->ad + 32, 0, 8);
		for (uint32_t i = 0; i < nr; i++) {
			cbt_put_le64(r->ad + CBT_IMG_FRAME_HDR_SIZE + 16 * i, r->ext[i].start);
			cbt_put_le64(r->ad + CBT_IMG_FRAME_HDR_SIZE + 16 * i + 8, r->ext[i].len);
		}
		if (SUM_DIFFERS(cbt_img_unseal(&r->crypt, r->seq, r->ad,
					       CBT_IMG_FRAME_HDR_SIZE + 16 * (size_t)nr,
					       r->payload, stored), 0))
			return bad(r, start, "frame authentication failed (modified, or from"
				   " another image)");
		stored -= CBT_IMG_TAG_BYTES;
		if (comp == CBT_IMG_COMP_NONE)
			memcpy(r->raw, r->payload, raw_len);
	}
	if (comp == CBT_IMG_COMP_ZSTD) {
		size_t n = ZSTD_decompressDCtx(r->dctx, r->raw, raw_len, r->payload, stored);

		if (ZSTD_isError(n) || n != raw_len)
			return bad(r, start, "frame does not decompress to its length");
	}
	for (uint32_t i = 0; i < nr; i++) {
		ret = cbt_extents_append(&r->map, r->ext[i].start, r->ext[i].len);
		if (ret)
			return ret;
		r->blocks += r->ext[i].len;
	}
	XXH3_128bits_update(r->digest, r->raw, raw_len);
	if (r->h.version >= 2) {
		uint8_t ent[CBT_IMG_FIDX_ENTRY_SIZE];

		cbt_put_le64(ent, start);
		cbt_put_le64(ent + 8, r->ext[0].start);
		cbt_put_le64(ent + 16, r->ext[nr - 1].start + r->ext[nr - 1].len - 1);
		cbt_put_le32(ent + 24, nr);
		cbt_put_le32(ent + 28, stored + (r->crypt_on ? CBT_IMG_TAG_BYTES : 0));
		XXH64_update(&r->fidx_want, ent, sizeof(ent));
	}
	r->seq++;
	f->ext = r->ext;
	f->nr = nr;
	f->data = r->raw;
	f->len = raw_len;
	return 1;
}

void cbt_img_reader_free(struct cbt_img_reader *r)
{
	if (!r)
		return;
	free(r->rbuf);
	free(r->payload);
	free(r->raw);
	if (r->digest)
		XXH3_freeState(r->digest);
	ZSTD_freeDCtx(r->dctx);
	free(r->ad);
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

static int pread_all(int fd, void *p, size_t len, uint64_t off, const char *path)
{
	ssize_t n = pread(fd, p, len, (off_t)off);

	if (n < 0)
		return cbt_err(-errno, "%s: %s", path, strerror(errno));
	if ((size_t)n != len)
		return cbt_err(-EBADMSG, "%s: truncated at byte %llu", path,
			       (unsigned long long)(off + (uint64_t)n));
	return 0;
}

/*
 * Where an image whose last bytes are no footer ends after all: the offset
 * just past a footer in the last 64 KiB (something was appended), or 0.
 * Only for the message: the image stays refused either way.
 */
#define FIND_END_SPAN 65536

static uint64_t find_end(int fd, uint64_t size)
{
	size_t len = size < FIND_END_SPAN ? (size_t)size : FIND_END_SPAN;
	uint64_t start = size - len, end = 0;
	/* not static: threads read images at once (libcbt's chain handles) */
	uint8_t *buf = malloc(FIND_END_SPAN);

	if (!buf || len < 8 || cbt_pread_full(fd, buf, len, start))
		goto out;
	for (size_t i = len - 8 + 1; i-- > 8;) {
		uint64_t t = cbt_get_le64(buf + i - 8);
		uint8_t m[4];

		/* A footer: the end magic after the offset of a trailer. */
		if (!memcmp(buf + i, CBT_IMG_END_MAGIC, 8) && t >= CBT_IMG_HEADER_SIZE &&
		    t < start + i && !cbt_pread_full(fd, m, 4, t) &&
		    cbt_get_le32(m) == CBT_IMG_TRAILER_MAGIC) {
			end = start + i + 8;
			break;
		}
	}
out:
	free(buf);
	return end;
}

int cbt_img_trailer_auth(const struct cbt_img_header *hdr, const uint8_t *buf, size_t len,
			 uint8_t digest[16])
{
	struct cbt_img_crypt c;
	uint8_t tag[CBT_IMG_TAG_BYTES];
	size_t at = len - 8 - CBT_IMG_TAG_BYTES;
	int ret = cbt_img_crypt_init(&c, hdr->salt);

	if (ret)
		return cbt_err(ret, "the image is encrypted: give its key file with --key FILE");
	cbt_img_mac(&c, buf, at, tag);
	if (SUM_DIFFERS(sodium_memcmp(tag, buf + at, sizeof(tag)), 0))
		ret = cbt_err(-EBADMSG, "trailer authentication failed (modified)");
	else if (digest)
		cbt_img_mask_digest(&c, digest);
	cbt_img_crypt_wipe(&c);
	return ret;
}

int cbt_img_read_ends(const char *path, struct cbt_img_header *hdr, struct cbt_img_trailer *t)
{
	return cbt_img_read_ends_at(AT_FDCWD, path, path, hdr, t);
}

int cbt_img_read_ends_at(int dfd, const char *file, const char *path, struct cbt_img_header *hdr,
			 struct cbt_img_trailer *t)
{
	int fd = cbt_open_regular(dfd, file, path, dfd != AT_FDCWD), ret;

	memset(t, 0, sizeof(*t));
	if (fd < 0)
		return fd;
	ret = cbt_img_read_ends_fd(fd, path, hdr, t);
	close(fd);
	return ret;
}

int cbt_img_read_ends_fd(int fd, const char *path, struct cbt_img_header *hdr,
			 struct cbt_img_trailer *t)
{
	uint8_t hb[CBT_IMG_HEADER_SIZE], foot[16], th[CBT_IMG_TRAILER_HDR_SIZE];
	uint8_t *buf = NULL;
	struct stat st;
	uint64_t off, nr, size, len, nf;
	int ret;

	memset(t, 0, sizeof(*t));
	ret = fstat(fd, &st) ? -errno : 0;
	size = (uint64_t)st.st_size;
	if (!ret)
		ret = pread_all(fd, hb, sizeof(hb), 0, path);
	if (!ret && (ret = cbt_img_header_decode(hb, hdr)))
		cbt_err_prefix(ret, "%s", path);
	if (!ret && size < CBT_IMG_HEADER_SIZE + CBT_IMG_TRAILER_HDR_SIZE + 24)
		ret = cbt_err(-EBADMSG, "%s: truncated (%llu bytes)", path, (unsigned long long)size);
	if (!ret)
		ret = pread_all(fd, foot, sizeof(foot), size - 16, path);
	if (ret)
		goto out;
	off = cbt_get_le64(foot);
	if (memcmp(foot + 8, CBT_IMG_END_MAGIC, 8) || off < CBT_IMG_HEADER_SIZE ||
	    off > size - CBT_IMG_TRAILER_HDR_SIZE - 24) {
		uint64_t end = find_end(fd, size);

		if (end)
			ret = cbt_err(-EBADMSG, "%s: data after the end of the image at byte %llu",
				      path, (unsigned long long)end);
		else
			ret = cbt_err(-EBADMSG, "%s: no valid footer: the image is truncated or"
				      " was not finished", path);
		goto out;
	}
	ret = pread_all(fd, th, sizeof(th), off, path);
	if (ret)
		goto out;
	nr = cbt_get_le64(th + 24);
	nf = hdr->version >= 2 ? cbt_get_le64(th + 8) : 0;
	len = CBT_IMG_TRAILER_HDR_SIZE + nr * 16 + nf * CBT_IMG_FIDX_ENTRY_SIZE +
	      cbt_img_trailer_tail(hdr);
	if (cbt_get_le32(th) != CBT_IMG_TRAILER_MAGIC || nr > (size - off) / 16 ||
	    nf > (size - off) / CBT_IMG_FIDX_ENTRY_SIZE || off + len + 16 != size) {
		ret = cbt_err(-EBADMSG, "%s: bad trailer at byte %llu", path, (unsigned long long)off);
		goto out;
	}
	buf = malloc(len);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	ret = pread_all(fd, buf, len, off, path);
	if (ret)
		goto out;
	if (SUM_DIFFERS(cbt_get_le64(buf + len - 8), cbt_img_sum(hdr->uuid, buf, len - 8)) ||
	    cbt_get_le64(buf + 48) != off) {
		ret = cbt_err(-EBADMSG, "%s: trailer checksum mismatch", path);
		goto out;
	}
	t->frames = cbt_get_le64(buf + 8);
	t->blocks = cbt_get_le64(buf + 16);
	t->stored_bytes = size;
	memcpy(t->digest, buf + 32, 16);
	if (cbt_img_encrypted(hdr)) {
		ret = cbt_img_trailer_auth(hdr, buf, len, t->digest);
		if (ret) {
			cbt_err_prefix(ret, "%s", path);
			goto out;
		}
	}
	cbt_extents_init(&t->map);
	for (uint64_t i = 0; i < nr && !ret; i++) {
		uint64_t s = cbt_get_le64(buf + CBT_IMG_TRAILER_HDR_SIZE + 16 * i);
		uint64_t n = cbt_get_le64(buf + CBT_IMG_TRAILER_HDR_SIZE + 16 * i + 8);

		if (s < cbt_extents_end(&t->map) || (i && s == cbt_extents_end(&t->map)) ||
		    s >= cbt_img_nr_blocks(hdr) || !n || n > cbt_img_nr_blocks(hdr) - s)
			ret = cbt_err(-EBADMSG, "%s: bad block map in the trailer", path);
		else
			ret = cbt_extents_append(&t->map, s, n);
	}
	if (ret)
		cbt_extents_free(&t->map);
out:
	free(buf);
	return ret;
}
