/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encrypted images (format version 3, docs/format.md "Encryption"): every
 * frame sealed with XChaCha20-Poly1305 (libsodium), the header and the
 * trailer authenticated with keyed BLAKE2b, under keys derived from one
 * 32-byte key file and a random salt in each image's header.
 *
 * The key is process-wide: a command that takes --key (or backup's
 * --encrypt) installs it once, before any image is opened, and every image
 * read or written after that is encrypted with it. A process with a key
 * writes only encrypted images and reads only encrypted images (a plain
 * image in its chain is refused: a store that could swap an encrypted
 * chain for a plain one would otherwise choose what is restored).
 */
#ifndef CBT_IMG_CRYPT_H
#define CBT_IMG_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CBT_KEY_BYTES 32
#define CBT_KEY_ID_BYTES 16
#define CBT_IMG_SALT_BYTES 24
#define CBT_IMG_TAG_BYTES 16
/* The first version that is encrypted (versions 1 and 2 never are). */
#define CBT_IMG_VERSION_CRYPT 3

/* The keys of one image, derived from the process key and its salt. */
struct cbt_img_crypt {
	uint8_t aead[32];	/* XChaCha20-Poly1305 key of the frames */
	uint8_t mac[32];	/* BLAKE2b key of the header, the trailer and the digest mask */
};

/*
 * Read key file @path (32 bytes, or 64 hex digits and an optional newline)
 * and make it the process key. Refused (-EKEYREJECTED with a detail) when
 * it is not a regular file, is readable or writable by group or others,
 * or does not hold a key. -ENOENT etc. when it cannot be opened.
 */
int cbt_key_use(const char *path);
/* The key file's real path, when the key came from cbt_key_use(); else NULL. */
const char *cbt_key_path(void);
/* Make @key the process key (tests, libcbt callers). */
int cbt_key_set(const uint8_t key[CBT_KEY_BYTES]);
/* Forget the process key (wiped). */
void cbt_key_clear(void);
bool cbt_key_isset(void);
/* The process key's id (BLAKE2b of the key: names a key without revealing it). */
const uint8_t *cbt_key_id(void);
/* A key id as 32 hex digits, how messages and `cbt info' name a key. */
#define CBT_KEY_ID_STR_LEN 33
const char *cbt_key_id_str(const uint8_t id[CBT_KEY_ID_BYTES], char out[CBT_KEY_ID_STR_LEN]);
/*
 * -EKEYREJECTED when the key file cbt_key_use() read lies inside directory
 * @dir (a chain directory): keys never sit next to the images.
 */
int cbt_key_check_dir(const char *dir);
/* Write a new random key to @path as hex (created 0600, never over a file). */
int cbt_key_generate(const char *path);

/* The keys of an image with @salt, under the process key (-ENOKEY without one). */
int cbt_img_crypt_init(struct cbt_img_crypt *c, const uint8_t salt[CBT_IMG_SALT_BYTES]);
void cbt_img_crypt_wipe(struct cbt_img_crypt *c);
/* Random salt for a new image. */
int cbt_img_salt(uint8_t salt[CBT_IMG_SALT_BYTES]);

/*
 * Seal @len bytes of @in into @out (@in may be @out), appending the 16-byte
 * tag at @out + @len; frame @seq is the nonce, @ad (the frame header and
 * extents) is authenticated with it.
 */
void cbt_img_seal(const struct cbt_img_crypt *c, uint64_t seq, const uint8_t *ad, size_t adlen,
		  uint8_t *out, const uint8_t *in, size_t len);
/* Open @stored bytes (ciphertext and tag) in place: 0, or -EBADMSG when forged or damaged. */
int cbt_img_unseal(const struct cbt_img_crypt *c, uint64_t seq, const uint8_t *ad, size_t adlen,
		   uint8_t *p, size_t stored);
/* Keyed BLAKE2b-128 of @len bytes (header, trailer). */
void cbt_img_mac(const struct cbt_img_crypt *c, const void *p, size_t len,
		 uint8_t tag[CBT_IMG_TAG_BYTES]);
/* XOR the content digest with the image's digest mask (encrypts and decrypts it). */
void cbt_img_mask_digest(const struct cbt_img_crypt *c, uint8_t digest[16]);

#endif /* CBT_IMG_CRYPT_H */
