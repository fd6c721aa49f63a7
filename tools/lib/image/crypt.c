// SPDX-License-Identifier: GPL-2.0
/*
 * Keys and sealing of encrypted images (crypt.h, docs/format.md
 * "Encryption"). XChaCha20-Poly1305 and BLAKE2b come from libsodium: its
 * XChaCha nonces are long enough to be random, it needs no AES hardware to
 * be fast and constant-time, and its API has no modes or paddings to get
 * wrong.
 *
 * Key derivation, all keyed BLAKE2b (crypto_generichash) under the 32-byte
 * key K:
 *   key id     = BLAKE2b-128(K, "cbt key id v1")
 *   aead || mac = BLAKE2b-512(K, "cbt image keys v3" || salt)
 * The salt is 24 random bytes in each image's header, so every image, a
 * merged one that keeps an older image's UUID included, has its own keys,
 * and the frame sequence number can be the nonce: it never repeats under
 * one image's key.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "image/crypt.h"
#include "image/image.h"
#include "util/util.h"

/* Set once by a command before any image is opened; read-only after that. */
static struct {
	bool set;
	uint8_t key[CBT_KEY_BYTES];
	uint8_t id[CBT_KEY_ID_BYTES];
	char *path;		/* realpath() of the key file, or NULL */
} pk;

static const char ID_CTX[] = "cbt key id v1";
static const char KEYS_CTX[] = "cbt image keys v3";
static const char MASK_CTX[] = "cbt digest mask v3";

int cbt_key_set(const uint8_t key[CBT_KEY_BYTES])
{
	if (sodium_init() < 0)
		return cbt_err(-EIO, "libsodium failed to initialise");
	cbt_key_clear();
	memcpy(pk.key, key, CBT_KEY_BYTES);
	crypto_generichash(pk.id, sizeof(pk.id), (const uint8_t *)ID_CTX, sizeof(ID_CTX) - 1,
			   pk.key, sizeof(pk.key));
	pk.set = true;
	return 0;
}

void cbt_key_clear(void)
{
	sodium_memzero(pk.key, sizeof(pk.key));
	memset(pk.id, 0, sizeof(pk.id));
	free(pk.path);
	pk.path = NULL;
	pk.set = false;
}

bool cbt_key_isset(void)
{
	return pk.set;
}

const char *cbt_key_path(void)
{
	return pk.set ? pk.path : NULL;
}

const uint8_t *cbt_key_id(void)
{
	return pk.set ? pk.id : NULL;
}

const char *cbt_key_id_str(const uint8_t id[CBT_KEY_ID_BYTES], char out[CBT_KEY_ID_STR_LEN])
{
	sodium_bin2hex(out, CBT_KEY_ID_STR_LEN, id, CBT_KEY_ID_BYTES);
	return out;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 32 raw bytes, or 64 hex digits with an optional newline. */
static int parse_key(const uint8_t *buf, size_t n, uint8_t key[CBT_KEY_BYTES])
{
	if (n == CBT_KEY_BYTES) {
		memcpy(key, buf, CBT_KEY_BYTES);
		return 0;
	}
	if (n == 2 * CBT_KEY_BYTES + 1 && buf[n - 1] == '\n')
		n--;
	if (n != 2 * CBT_KEY_BYTES)
		return -EINVAL;
	for (size_t i = 0; i < CBT_KEY_BYTES; i++) {
		int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int cbt_key_use(const char *path)
{
	uint8_t buf[2 * CBT_KEY_BYTES + 2], key[CBT_KEY_BYTES];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), ret;
	struct stat st;
	ssize_t n;
	char *real;

	if (fd < 0)
		return cbt_err(-errno, "key file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return cbt_err(-EKEYREJECTED, "key file %s: not a regular file", path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return cbt_err(-EKEYREJECTED, "key file %s: mode %04o lets group or others at"
			       " the key: chmod 600 it (and check who has read it)", path,
			       (unsigned int)(st.st_mode & 07777));
	}
	for (n = 0; (size_t)n < sizeof(buf);) {
		ssize_t k = read(fd, buf + n, sizeof(buf) - (size_t)n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			ret = -errno;
			close(fd);
			return cbt_err(ret, "key file %s: %s", path, strerror(-ret));
		}
		if (!k)
			break;
		n += k;
	}
	close(fd);
	if (parse_key(buf, (size_t)n, key)) {
		sodium_memzero(buf, sizeof(buf));
		return cbt_err(-EKEYREJECTED, "key file %s: not a key (32 bytes, or 64 hex"
			       " digits: `cbt keygen FILE' makes one)", path);
	}
	sodium_memzero(buf, sizeof(buf));
	real = realpath(path, NULL);
	ret = real ? cbt_key_set(key) : cbt_err(-errno, "key file %s: %s", path, strerror(errno));
	sodium_memzero(key, sizeof(key));
	if (ret) {
		free(real);
		return ret;
	}
	pk.path = real;
	return 0;
}

int cbt_key_check_dir(const char *dir)
{
	char *real;
	size_t n;
	int ret = 0;

	if (!pk.set || !pk.path)
		return 0;
	real = realpath(dir, NULL);
	if (!real)
		return 0;	/* not there yet: the chain's open says why */
	n = strlen(real);
	if (!strncmp(pk.path, real, n) && (pk.path[n] == '/' || n == 1))
		ret = cbt_err(-EKEYREJECTED, "the key file %s is inside the chain directory %s:"
			      " keep keys away from the images they protect", pk.path, real);
	free(real);
	return ret;
}

int cbt_key_generate(const char *path)
{
	uint8_t key[CBT_KEY_BYTES];
	char hex[2 * CBT_KEY_BYTES + 2];
	int fd, ret = 0;

	if (sodium_init() < 0)
		return cbt_err(-EIO, "libsodium failed to initialise");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cbt_err(-errno, "%s: %s%s", path, strerror(errno),
			       errno == EEXIST ? " (a key is never overwritten)" : "");
	randombytes_buf(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex) - 1, key, sizeof(key));
	hex[2 * CBT_KEY_BYTES] = '\n';
	sodium_memzero(key, sizeof(key));
	if (fchmod(fd, 0600) || cbt_pwrite_full(fd, hex, 2 * CBT_KEY_BYTES + 1, 0) || fsync(fd))
		ret = cbt_err(errno ? -errno : -EIO, "%s: %s", path, strerror(errno ? errno : EIO));
	sodium_memzero(hex, sizeof(hex));
	if (close(fd) && !ret)
		ret = cbt_err(-errno, "%s: %s", path, strerror(errno));
	if (ret)
		unlink(path);
	return ret;
}

int cbt_img_crypt_init(struct cbt_img_crypt *c, const uint8_t salt[CBT_IMG_SALT_BYTES])
{
	uint8_t in[sizeof(KEYS_CTX) - 1 + CBT_IMG_SALT_BYTES], out[64];

	if (!pk.set)
		return -ENOKEY;
	memcpy(in, KEYS_CTX, sizeof(KEYS_CTX) - 1);
	memcpy(in + sizeof(KEYS_CTX) - 1, salt, CBT_IMG_SALT_BYTES);
	crypto_generichash(out, sizeof(out), in, sizeof(in), pk.key, sizeof(pk.key));
	memcpy(c->aead, out, 32);
	memcpy(c->mac, out + 32, 32);
	sodium_memzero(out, sizeof(out));
	return 0;
}

void cbt_img_crypt_wipe(struct cbt_img_crypt *c)
{
	sodium_memzero(c, sizeof(*c));
}

int cbt_img_salt(uint8_t salt[CBT_IMG_SALT_BYTES])
{
	if (sodium_init() < 0)
		return cbt_err(-EIO, "libsodium failed to initialise");
	randombytes_buf(salt, CBT_IMG_SALT_BYTES);
	return 0;
}

static void nonce(uint64_t seq, uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES])
{
	memset(n, 0, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	cbt_put_le64(n, seq);
}

void cbt_img_seal(const struct cbt_img_crypt *c, uint64_t seq, const uint8_t *ad, size_t adlen,
		  uint8_t *out, const uint8_t *in, size_t len)
{
	uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];

	nonce(seq, n);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out, out + len, NULL, in, len, ad,
							   adlen, NULL, n, c->aead);
}

int cbt_img_unseal(const struct cbt_img_crypt *c, uint64_t seq, const uint8_t *ad, size_t adlen,
		   uint8_t *p, size_t stored)
{
	uint8_t n[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];

	if (stored < CBT_IMG_TAG_BYTES)
		return -EBADMSG;
	nonce(seq, n);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(p, NULL, p,
								stored - CBT_IMG_TAG_BYTES,
								p + stored - CBT_IMG_TAG_BYTES,
								ad, adlen, n, c->aead))
		return -EBADMSG;
	return 0;
}

void cbt_img_mac(const struct cbt_img_crypt *c, const void *p, size_t len,
		 uint8_t tag[CBT_IMG_TAG_BYTES])
{
	crypto_generichash(tag, CBT_IMG_TAG_BYTES, p, len, c->mac, sizeof(c->mac));
}

void cbt_img_mask_digest(const struct cbt_img_crypt *c, uint8_t digest[16])
{
	uint8_t m[16];

	crypto_generichash(m, sizeof(m), (const uint8_t *)MASK_CTX, sizeof(MASK_CTX) - 1,
			   c->mac, sizeof(c->mac));
	for (int i = 0; i < 16; i++)
		digest[i] ^= m[i];
	sodium_memzero(m, sizeof(m));
}
