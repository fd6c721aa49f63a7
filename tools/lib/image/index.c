// SPDX-License-Identifier: GPL-2.0
/*
 * Where an image's frames are (image.h, cbt_img_frame_index()): what random
 * access (image/view.c) needs to read one frame without reading the ones
 * before it. A version 2 trailer lists them; a version 1 image is scanned,
 * frame header by frame header, seeking over the data. No sidecar index is
 * kept for version 1: the scan costs one small read per 4 MiB frame (about
 * 4000 for a 16 GiB full image), and a file beside the image would be one
 * more thing to keep crash-safe and in step with it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/crypt.h"
#include "image/image.h"
#include "util/util.h"

static int bad(const char *path, uint64_t off, const char *what)
{
	return cbt_err(-EBADMSG, "%s: %s at byte %llu", path, what, (unsigned long long)off);
}

/* Does @map hold any block of [lo, hi]? */
static bool map_has(const struct cbt_extents *map, uint64_t lo, uint64_t hi)
{
	size_t a = cbt_ranges_find(map->v, map->nr, lo);

	return lo <= hi && a < map->nr && map->v[a].start <= hi;
}

/* One version 1 frame's header at @off, checked as the stream reader does. */
static int scan_frame(int fd, const char *path, const struct cbt_img_header *h, uint64_t seq,
		      uint64_t off, struct cbt_img_frame_ent *e, uint8_t *buf)
{
	uint64_t nr_blocks = cbt_img_nr_blocks(h), total = 0, next = 0;
	uint32_t nr, raw_len, stored, comp;
	size_t hl;
	int ret = cbt_pread_full(fd, buf, CBT_IMG_FRAME_HDR_SIZE, off);

	if (ret)
		return ret == -ENODATA ? bad(path, off, "truncated frame") :
		       cbt_err(ret, "%s: %s", path, strerror(-ret));
	nr = cbt_get_le32(buf + 4);
	raw_len = cbt_get_le32(buf + 16);
	stored = cbt_get_le32(buf + 20);
	comp = cbt_get_le32(buf + 24);
	if (cbt_get_le32(buf) != CBT_IMG_FRAME_MAGIC || !nr || nr > CBT_IMG_FRAME_MAX_EXTENTS ||
	    cbt_get_le64(buf + 8) != seq || !raw_len || raw_len > CBT_IMG_FRAME_BYTES ||
	    cbt_get_le32(buf + 28) ||
	    (comp == CBT_IMG_COMP_NONE ? stored != raw_len :
	     comp != CBT_IMG_COMP_ZSTD || !stored || stored >= raw_len))
		return bad(path, off, "bad frame header");
	hl = CBT_IMG_FRAME_HDR_SIZE + 16 * (size_t)nr + 8;
	ret = cbt_pread_full(fd, buf + CBT_IMG_FRAME_HDR_SIZE, hl - CBT_IMG_FRAME_HDR_SIZE,
			     off + CBT_IMG_FRAME_HDR_SIZE);
	if (ret)
		return ret == -ENODATA ? bad(path, off, "truncated frame") :
		       cbt_err(ret, "%s: %s", path, strerror(-ret));
	if (cbt_get_le64(buf + hl - 8) != cbt_img_sum(h->uuid, buf, hl - 8))
		return bad(path, off, "frame header checksum mismatch");
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t s = cbt_get_le64(buf + CBT_IMG_FRAME_HDR_SIZE + 16 * i);
		uint64_t n = cbt_get_le64(buf + CBT_IMG_FRAME_HDR_SIZE + 16 * i + 8);

		if (!n || (i && s <= next) || s >= nr_blocks || n > nr_blocks - s)
			return bad(path, off, "frame extents out of order or past the device end");
		if (!i)
			e->first = s;
		next = s + n;
		for (uint64_t b = s; b < s + n && total <= CBT_IMG_FRAME_BYTES; b++)
			total += cbt_img_block_len(h, b);
	}
	if (total != raw_len)
		return bad(path, off, "frame length differs from its extents");
	e->off = off;
	e->last = next - 1;
	e->nr_ext = nr;
	e->stored = stored;
	return 0;
}

/* The frame index of a version 2 trailer at @toff, @tlen bytes with its checksum. */
static int read_fidx(int fd, const char *path, const struct cbt_img_header *h,
		     const struct cbt_img_trailer *t, uint64_t toff, uint64_t tlen,
		     struct cbt_img_frame_ent *v)
{
	uint8_t *buf = malloc(tlen), *p;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = cbt_pread_full(fd, buf, tlen, toff);
	if (ret)
		ret = ret == -ENODATA ? bad(path, toff, "truncated trailer") :
		      cbt_err(ret, "%s: %s", path, strerror(-ret));
	else if (cbt_get_le64(buf + tlen - 8) != cbt_img_sum(h->uuid, buf, tlen - 8))
		ret = bad(path, toff, "trailer checksum mismatch");
	else if (cbt_img_encrypted(h) && (ret = cbt_img_trailer_auth(h, buf, tlen, NULL)))
		cbt_err_prefix(ret, "%s", path);
	p = buf + CBT_IMG_TRAILER_HDR_SIZE + 16 * t->map.nr;
	for (uint64_t i = 0; !ret && i < t->frames; i++, p += CBT_IMG_FIDX_ENTRY_SIZE) {
		v[i].off = cbt_get_le64(p);
		v[i].first = cbt_get_le64(p + 8);
		v[i].last = cbt_get_le64(p + 16);
		v[i].nr_ext = cbt_get_le32(p + 24);
		v[i].stored = cbt_get_le32(p + 28);
	}
	free(buf);
	return ret;
}

int cbt_img_frame_index(int fd, const char *path, const struct cbt_img_header *h,
			const struct cbt_img_trailer *t, struct cbt_img_frame_ent **vp)
{
	uint64_t nf = t->frames, nr_blocks = cbt_img_nr_blocks(h), toff, tlen, off;
	struct cbt_img_frame_ent *v;
	uint8_t *buf = NULL;
	struct stat st;
	int ret = 0;

	*vp = NULL;
	if (fstat(fd, &st))
		return cbt_err(-errno, "%s: %s", path, strerror(errno));
	tlen = CBT_IMG_TRAILER_HDR_SIZE + 16 * t->map.nr + cbt_img_trailer_tail(h) +
	       (h->version >= 2 ? nf * CBT_IMG_FIDX_ENTRY_SIZE : 0);
	/* read_ends checked these against the file; it may have changed since */
	if ((uint64_t)st.st_size != t->stored_bytes || tlen + 16 + CBT_IMG_HEADER_SIZE > t->stored_bytes ||
	    nf > t->stored_bytes / (CBT_IMG_FRAME_HDR_SIZE + 24))
		return cbt_err(-EBADMSG, "%s changed while it was being opened", path);
	toff = t->stored_bytes - 16 - tlen;
	v = calloc(nf ? nf : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (h->version >= 2) {
		ret = read_fidx(fd, path, h, t, toff, tlen, v);
	} else {
		buf = malloc(CBT_IMG_FRAME_HDR_SIZE + 16 * CBT_IMG_FRAME_MAX_EXTENTS + 8);
		if (!buf)
			ret = -ENOMEM;
		for (uint64_t i = 0, o = CBT_IMG_HEADER_SIZE; !ret && i < nf; i++) {
			if (o >= toff)
				ret = bad(path, o, "fewer frames than the trailer counts");
			else
				ret = scan_frame(fd, path, h, i, o, &v[i], buf);
			o += ret ? 0 : cbt_img_frame_disk_len(&v[i]);
		}
		free(buf);
	}
	/*
	 * The frames lie back to back from the header to the trailer, each
	 * after the last, and together hold exactly the trailer's block map.
	 */
	off = CBT_IMG_HEADER_SIZE;
	for (uint64_t i = 0; !ret && i < nf; i++) {
		const struct cbt_img_frame_ent *e = &v[i];

		if (e->off != off || !e->nr_ext || e->nr_ext > CBT_IMG_FRAME_MAX_EXTENTS ||
		    !e->stored || e->stored > CBT_IMG_FRAME_BYTES + CBT_IMG_TAG_BYTES || e->first > e->last ||
		    e->last >= nr_blocks || (i && e->first <= v[i - 1].last) ||
		    !map_has(&t->map, e->first, e->first) || !map_has(&t->map, e->last, e->last) ||
		    (i && e->first && map_has(&t->map, v[i - 1].last + 1, e->first - 1)) ||
		    (!i && e->first && map_has(&t->map, 0, e->first - 1)))
			ret = bad(path, toff, "frame index does not match the frames");
		else
			off += cbt_img_frame_disk_len(e);
	}
	if (!ret && (off != toff || (nf ? map_has(&t->map, v[nf - 1].last + 1, UINT64_MAX - 1) :
				     t->map.nr != 0)))
		ret = bad(path, toff, "frame index does not match the frames");
	if (ret) {
		free(v);
		return ret;
	}
	*vp = v;
	return 0;
}
