// SPDX-License-Identifier: GPL-2.0
/*
 * Reading only the two ends of a seekable image file: the header, and the
 * trailer the footer points at, with every checksum of both checked and the
 * frames left unread (cbt info, chain links, the frame index, mount). The
 * stream reader, which reads everything front to back, is image/read.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "image/crypt.h"
#include "image/image.h"
#include "store/safefile.h"
#include "util/util.h"

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
