// SPDX-License-Identifier: GPL-2.0
/*
 * What the image writer and reader share: the header's layout, checksums,
 * UUIDs. The byte layout is documented in docs/format.md; keep the two in
 * step.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "image/crypt.h"
#include "image/image.h"
#include "util/util.h"

/* Header offsets. */
#define H_MAGIC 0
#define H_VERSION 8
#define H_SIZE 12
#define H_DEV_UUID 16
#define H_DEV_BYTES 32
#define H_BLOCK_SIZE 40
#define H_TYPE 44
#define H_UUID 48
#define H_PARENT 64
#define H_BASE 80
#define H_EPOCH_FIRST 96
#define H_EPOCH_LAST 104
#define H_CREATED 112
#define H_COMPRESSION 120
#define H_LEVEL 124
#define H_FLAGS 128
#define H_TOOL 136
#define H_RESERVED 168
/* Version 3: the salt, the key id, a MAC of bytes 0..207; then reserved. */
#define H_SALT 168
#define H_KEY_ID 192
#define H_MAC 208
#define H_RESERVED3 224
#define H_CHECKSUM 248

uint64_t cbt_img_sum(const uint8_t uuid[16], const void *p, size_t len)
{
	return XXH64(p, len, uuid ? cbt_get_le64(uuid) : 0);
}

const char *cbt_img_type_name(uint32_t type)
{
	switch (type) {
	case CBT_IMG_FULL:
		return "full";
	case CBT_IMG_INCREMENTAL:
		return "incremental";
	case CBT_IMG_DIFFERENTIAL:
		return "differential";
	}
	return "unknown";
}

uint64_t cbt_img_nr_blocks(const struct cbt_img_header *h)
{
	return (h->dev_bytes + h->block_size - 1) / h->block_size;
}

uint64_t cbt_img_block_len(const struct cbt_img_header *h, uint64_t b)
{
	uint64_t off = b * h->block_size;

	if (off >= h->dev_bytes)
		return 0;
	return h->dev_bytes - off < h->block_size ? h->dev_bytes - off : h->block_size;
}

bool cbt_uuid_is_zero(const uint8_t u[16])
{
	for (int i = 0; i < 16; i++)
		if (u[i])
			return false;
	return true;
}

int cbt_uuid_generate(uint8_t u[16])
{
	if (getrandom(u, 16, 0) != 16)
		return cbt_err(-errno, "getrandom: %s", strerror(errno));
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	return 0;
}

int cbt_uuid_parse(const char *s, uint8_t u[16])
{
	int n = 0;

	for (const char *p = s; *p; p++) {
		int hi, lo;

		if (*p == '-' && (p - s == 8 || p - s == 13 || p - s == 18 || p - s == 23))
			continue;
		if (n == 16 || sscanf(p, "%1x%1x", &hi, &lo) != 2 || !p[1] || p[1] == '-')
			return -EINVAL;
		u[n++] = (uint8_t)(hi << 4 | lo);
		p++;
	}
	return n == 16 && strlen(s) == 36 ? 0 : -EINVAL;
}

void cbt_img_header_encode(const struct cbt_img_header *h, uint8_t b[CBT_IMG_HEADER_SIZE])
{
	memset(b, 0, CBT_IMG_HEADER_SIZE);
	memcpy(b + H_MAGIC, CBT_IMG_MAGIC, 8);
	cbt_put_le32(b + H_VERSION, h->version);
	cbt_put_le32(b + H_SIZE, CBT_IMG_HEADER_SIZE);
	memcpy(b + H_DEV_UUID, h->dev_uuid, 16);
	cbt_put_le64(b + H_DEV_BYTES, h->dev_bytes);
	cbt_put_le32(b + H_BLOCK_SIZE, h->block_size);
	cbt_put_le32(b + H_TYPE, h->type);
	memcpy(b + H_UUID, h->uuid, 16);
	memcpy(b + H_PARENT, h->parent, 16);
	memcpy(b + H_BASE, h->base, 16);
	cbt_put_le64(b + H_EPOCH_FIRST, h->epoch_first);
	cbt_put_le64(b + H_EPOCH_LAST, h->epoch_last);
	cbt_put_le64(b + H_CREATED, h->created_ns);
	cbt_put_le32(b + H_COMPRESSION, h->compression);
	cbt_put_le32(b + H_LEVEL, h->level);
	cbt_put_le32(b + H_FLAGS, h->flags);
	memcpy(b + H_TOOL, h->tool_version, strnlen(h->tool_version, sizeof(h->tool_version) - 1));
	if (cbt_img_encrypted(h)) {
		struct cbt_img_crypt c;

		memcpy(b + H_SALT, h->salt, sizeof(h->salt));
		memcpy(b + H_KEY_ID, h->key_id, sizeof(h->key_id));
		/* without the key the MAC stays zero, and no reader accepts it */
		if (!cbt_img_crypt_init(&c, h->salt)) {
			cbt_img_mac(&c, b, H_MAC, b + H_MAC);
			cbt_img_crypt_wipe(&c);
		}
	}
	cbt_put_le64(b + H_CHECKSUM, cbt_img_sum(NULL, b, H_CHECKSUM));
}

/*
 * An encrypted header: the process key must be the image's (its id), and
 * the MAC must match; only then are the fields, links included, trusted.
 */
static int header_auth(const uint8_t b[CBT_IMG_HEADER_SIZE], struct cbt_img_header *h)
{
	struct cbt_img_crypt c;
	uint8_t tag[CBT_IMG_TAG_BYTES];
	char want[CBT_KEY_ID_STR_LEN], have[CBT_KEY_ID_STR_LEN];
	int ret = 0;

	memcpy(h->salt, b + H_SALT, sizeof(h->salt));
	memcpy(h->key_id, b + H_KEY_ID, sizeof(h->key_id));
	cbt_key_id_str(h->key_id, want);
	if (!cbt_key_isset())
		return cbt_err(-ENOKEY, "the image is encrypted (key id %s): give its key"
			       " file with --key FILE", want);
	if (memcmp(cbt_key_id(), h->key_id, sizeof(h->key_id))) {
		cbt_key_id_str(cbt_key_id(), have);
		return cbt_err(-EKEYREJECTED, "the image is encrypted with another key (key id"
			       " %s; the key given has id %s)", want, have);
	}
	ret = cbt_img_crypt_init(&c, h->salt);
	if (ret)
		return ret;
	cbt_img_mac(&c, b, H_MAC, tag);
	cbt_img_crypt_wipe(&c);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	if (memcmp(tag, b + H_MAC, sizeof(tag)))
		return cbt_err(-EBADMSG, "header authentication failed: the header was modified"
			       " (or written by someone holding the key id's key)");
#endif
	return 0;
}

/* With a key, plain images are refused: a chain is all encrypted or all plain. */
static int plain_allowed(void)
{
	if (cbt_key_isset())
		return cbt_err(-EKEYREJECTED, "the image is not encrypted, but a key was given:"
			       " a chain is all encrypted or all plain (restore a plain chain"
			       " without --key; never trust a plain image in an encrypted chain)");
	return 0;
}

bool cbt_img_frame_len_ok(const struct cbt_img_header *h, uint32_t comp, uint32_t raw_len,
			  uint32_t stored)
{
	uint32_t tag = cbt_img_encrypted(h) ? CBT_IMG_TAG_BYTES : 0;

	if (stored < tag)
		return false;
	stored -= tag;
	return comp == CBT_IMG_COMP_NONE ? stored == raw_len :
	       comp == CBT_IMG_COMP_ZSTD && stored && stored < raw_len;
}

int cbt_img_header_decode(const uint8_t b[CBT_IMG_HEADER_SIZE], struct cbt_img_header *h)
{
	memset(h, 0, sizeof(*h));
	if (memcmp(b + H_MAGIC, CBT_IMG_MAGIC, 8))
		return cbt_err(-EBADMSG, "not a cbt image (no CBTIMAGE magic)");
	h->version = cbt_get_le32(b + H_VERSION);
	/* The checksum first: a damaged version field is damage, not a newer format. */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	if (cbt_get_le64(b + H_CHECKSUM) != cbt_img_sum(NULL, b, H_CHECKSUM))
		return cbt_err(-EBADMSG, "header checksum mismatch: the header is corrupted%s",
			       h->version == CBT_IMG_VERSION ? "" :
			       " (or the image has another format version, from a newer cbt)");
#endif
	if (h->version < CBT_IMG_VERSION_MIN || h->version > CBT_IMG_VERSION_MAX)
		return cbt_err(-EBADMSG, "image format version %u, this tool reads versions %d"
			       " to %d (a newer cbt may read it)", h->version, CBT_IMG_VERSION_MIN,
			       CBT_IMG_VERSION_MAX);
	if (cbt_get_le32(b + H_SIZE) != CBT_IMG_HEADER_SIZE)
		return cbt_err(-EBADMSG, "header size %u, want %d", cbt_get_le32(b + H_SIZE),
			       CBT_IMG_HEADER_SIZE);
	memcpy(h->dev_uuid, b + H_DEV_UUID, 16);
	h->dev_bytes = cbt_get_le64(b + H_DEV_BYTES);
	h->block_size = cbt_get_le32(b + H_BLOCK_SIZE);
	h->type = cbt_get_le32(b + H_TYPE);
	memcpy(h->uuid, b + H_UUID, 16);
	memcpy(h->parent, b + H_PARENT, 16);
	memcpy(h->base, b + H_BASE, 16);
	h->epoch_first = cbt_get_le64(b + H_EPOCH_FIRST);
	h->epoch_last = cbt_get_le64(b + H_EPOCH_LAST);
	h->created_ns = cbt_get_le64(b + H_CREATED);
	h->compression = cbt_get_le32(b + H_COMPRESSION);
	h->level = cbt_get_le32(b + H_LEVEL);
	h->flags = cbt_get_le32(b + H_FLAGS);
	memcpy(h->tool_version, b + H_TOOL, sizeof(h->tool_version));

	if (h->block_size < 512 || h->block_size > (1U << 20) || (h->block_size & (h->block_size - 1)))
		return cbt_err(-EBADMSG, "bad block size %u in the header", h->block_size);
	if (!h->dev_bytes || h->dev_bytes % 512 || h->dev_bytes > CBT_IMG_MAX_DEV_BYTES)
		return cbt_err(-EBADMSG, "bad device size %llu in the header (a multiple of 512"
			       " up to 128 PiB)", (unsigned long long)h->dev_bytes);
	if (h->type < CBT_IMG_FULL || h->type > CBT_IMG_DIFFERENTIAL)
		return cbt_err(-EBADMSG, "unknown image type %u in the header", h->type);
	if (cbt_uuid_is_zero(h->uuid) || cbt_uuid_is_zero(h->base))
		return cbt_err(-EBADMSG, "zero image or base UUID in the header");
	if ((h->type == CBT_IMG_FULL) != cbt_uuid_is_zero(h->parent))
		return cbt_err(-EBADMSG, "a %s image with%s parent", cbt_img_type_name(h->type),
			       h->type == CBT_IMG_FULL ? " a" : "out a");
	if (h->type == CBT_IMG_FULL && !(h->flags & CBT_IMG_F_MERGED) &&
	    memcmp(h->base, h->uuid, 16))
		return cbt_err(-EBADMSG, "a full image whose base is not itself");
	if (h->epoch_first > h->epoch_last)
		return cbt_err(-EBADMSG, "epoch range %llu..%llu runs backwards",
			       (unsigned long long)h->epoch_first, (unsigned long long)h->epoch_last);
	if (h->compression > CBT_IMG_COMP_ZSTD)
		return cbt_err(-EBADMSG, "unknown compression %u", h->compression);
	if (h->flags & ~CBT_IMG_F_ALL)
		return cbt_err(-EBADMSG, "unknown flags %#x", h->flags);
	if (h->tool_version[sizeof(h->tool_version) - 1])
		return cbt_err(-EBADMSG, "tool version not terminated");
	if (cbt_get_le32(b + 132))
		return cbt_err(-EBADMSG, "reserved header field set");
	for (int i = cbt_img_encrypted(h) ? H_RESERVED3 : H_RESERVED; i < H_CHECKSUM; i++)
		if (b[i])
			return cbt_err(-EBADMSG, "reserved header bytes set");
	return cbt_img_encrypted(h) ? header_auth(b, h) : plain_allowed();
}

int cbt_img_parse_compress(const char *s, uint32_t *comp, uint32_t *level)
{
	if (!strcmp(s, "none")) {
		*comp = CBT_IMG_COMP_NONE;
		*level = 0;
		return 0;
	}
	if (!strcmp(s, "zstd")) {
		*comp = CBT_IMG_COMP_ZSTD;
		*level = 3;
		return 0;
	}
	if (!strncmp(s, "zstd:", 5) && !cbt_parse_u32(s + 5, level) && *level >= 1 && *level <= 19) {
		*comp = CBT_IMG_COMP_ZSTD;
		return 0;
	}
	return -EINVAL;
}
