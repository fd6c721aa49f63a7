// SPDX-License-Identifier: GPL-2.0
/*
 * Encrypted images (image/crypt.c, format version 3): round trips; every
 * byte of an image changed by someone who also recomputes every XXH64
 * checksum (what anyone with write access to the store can do) is refused;
 * a frame from another image, frames reordered, a header field changed, a
 * wrong key, no key, a plain image under a key: all refused by name. Key
 * files: formats, modes, never inside the chain directory, keygen.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "image/crypt.h"
#include "image/image.h"
#include "unit.h"
#include "unit_image.h"
#include "util/util.h"

static const uint8_t KEY[CBT_KEY_BYTES] = "0123456789abcdef0123456789abcde";
static const uint8_t KEY2[CBT_KEY_BYTES] = "another key, 31 bytes and a NUL";
/* Image @h of blocks @ext (unit_image.h's content), as bytes (*@len), under the process key if any. */
static uint8_t *image(const struct cbt_img_header *h, const struct cbt_range *ext, size_t nr,
		      size_t *len)
{
	int fd = write_image(h, ext, nr, 2);
	uint8_t *out = NULL;
	struct stat st;

	if (fd < 0)
		return NULL;
	if (!fstat(fd, &st)) {
		*len = (size_t)st.st_size;
		out = malloc(*len);
		if (out && cbt_pread_full(fd, out, *len, 0)) {
			free(out);
			out = NULL;
		}
	}
	close(fd);
	return out;
}

static int verify(const uint8_t *b, size_t len)
{
	int fd = memfd_create("img", 0), ret;

	if (write(fd, b, len) != (ssize_t)len)
		return -EIO;
	lseek(fd, 0, SEEK_SET);
	cbt_err_clear();
	ret = cbt_img_verify_fd(fd, "img", NULL, NULL);
	close(fd);
	return ret;
}

/* Where an image's frames and trailer are, from a pristine copy. */
#define MAXF 8
struct layout {
	size_t nf, off[MAXF], hl[MAXF], stored[MAXF], toff;
};

static void parse(const uint8_t *b, struct layout *l)
{
	size_t o = CBT_IMG_HEADER_SIZE;

	l->nf = 0;
	while (cbt_get_le32(b + o) == CBT_IMG_FRAME_MAGIC && l->nf < MAXF) {
		l->off[l->nf] = o;
		l->hl[l->nf] = CBT_IMG_FRAME_HDR_SIZE + 16 * (size_t)cbt_get_le32(b + o + 4) + 8;
		l->stored[l->nf] = cbt_get_le32(b + o + 20);
		o += l->hl[l->nf] + l->stored[l->nf];
		l->nf++;
	}
	l->toff = o;
}

/* Recompute every XXH64 of @b as a forger would (seeded by the UUID it now holds). */
static void reseal(uint8_t *b, size_t len, const struct layout *l)
{
	const uint8_t *seed = b + 48;

	for (size_t i = 0; i < l->nf; i++) {
		uint8_t *f = b + l->off[i];

		cbt_put_le64(f + 32, cbt_img_sum(seed, f + l->hl[i], l->stored[i]));
		cbt_put_le64(f + l->hl[i] - 8, cbt_img_sum(seed, f, l->hl[i] - 8));
	}
	cbt_put_le64(b + len - 24, cbt_img_sum(seed, b + l->toff, len - 24 - l->toff));
	cbt_put_le64(b + 248, cbt_img_sum(NULL, b, 248));
}

/* Is byte @k one of the XXH64 checksums reseal() rewrites? */
static bool sum_byte(size_t k, size_t len, const struct layout *l)
{
	if ((k >= 248 && k < 256) || (k >= len - 24 && k < len - 16))
		return true;
	for (size_t i = 0; i < l->nf; i++)
		if ((k >= l->off[i] + 32 && k < l->off[i] + 40) ||
		    (k >= l->off[i] + l->hl[i] - 8 && k < l->off[i] + l->hl[i]))
			return true;
	return false;
}

static void round_trip(void)
{
	struct cbt_range ext[] = { { 0, 3 }, { 10, 1500 }, { 2000, 1 } };
	struct cbt_img_header h, g;
	struct cbt_img_trailer t;
	struct layout l;
	size_t len;
	uint8_t *b;

	CHECK_EQ(cbt_key_set(KEY), 0);
	mkheader(&h, 2001 * 4096, 4096, CBT_IMG_COMP_ZSTD);
	b = image(&h, ext, ARRAY_SIZE(ext), &len);
	CHECK(b);
	CHECK_EQ(cbt_get_le32(b + 8), CBT_IMG_VERSION_CRYPT);
	parse(b, &l);
	CHECK_EQ(l.nf, 2);
	/*
	 * compressed before it was sealed: zstd, and smaller than the data
	 * (half of fill()'s bytes are constant; sealed bytes would not shrink)
	 */
	CHECK_EQ(cbt_get_le32(b + l.off[0] + 24), CBT_IMG_COMP_ZSTD);
	CHECK(l.stored[0] < cbt_get_le32(b + l.off[0] + 16) / 4 * 3);
	/* nothing of the content in the clear: its constant bytes would show */
	size_t run = 0, best = 0;

	for (size_t k = CBT_IMG_HEADER_SIZE; k < l.toff; k++) {
		run = b[k] == b[k - 1] ? run + 1 : 0;
		best = run > best ? run : best;
	}
	CHECK(best < 16);
	int fd = memfd_create("img", 0);

	CHECK_EQ(write(fd, b, len), (ssize_t)len);
	lseek(fd, 0, SEEK_SET);
	CHECK_EQ(cbt_img_verify_fd(fd, "img", &g, &t), 0);
	CHECK_EQ(g.version, 3);
	CHECK(!memcmp(g.key_id, cbt_key_id(), 16));
	CHECK_EQ(t.blocks, 1504);
	cbt_extents_free(&t.map);
	/* the random-access path: ends and frame index agree with the stream */
	struct cbt_img_frame_ent *v;
	struct cbt_img_trailer t2;

	CHECK_EQ(cbt_img_read_ends_fd(fd, "img", &g, &t2), 0);
	CHECK_EQ(cbt_img_frame_index(fd, "img", &g, &t2, &v), 0);
	CHECK_EQ(v[1].off, l.off[1]);
	CHECK_EQ(v[1].stored, l.stored[1]);
	free(v);
	cbt_extents_free(&t2.map);
	close(fd);
	free(b);
	cbt_key_clear();
}

/*
 * Every byte changed, and every XXH64 recomputed: refused. The same forgery
 * of a plain image passes, which is why the checksums alone are integrity,
 * not authenticity (and shows the forger is a real one).
 */
static void every_byte_forged(void)
{
	struct cbt_range ext[] = { { 1, 2 }, { 7, 1 } };
	struct cbt_img_header h;
	struct layout l;
	size_t len;

	for (uint32_t comp = 0; comp <= 1; comp++) {
		CHECK_EQ(cbt_key_set(KEY), 0);
		mkheader(&h, 16 * 512, 512, comp);
		uint8_t *b = image(&h, ext, ARRAY_SIZE(ext), &len), *c = malloc(len);

		CHECK(b && c);
		parse(b, &l);
		CHECK_EQ(verify(b, len), 0);
		for (size_t k = 0; k < len; k++) {
			memcpy(c, b, len);
			c[k] ^= 0x01;
			if (!sum_byte(k, len, &l))
				reseal(c, len, &l);
			if (verify(c, len) >= 0) {
				free(b);
				free(c);
				UT_FAIL("byte %zu of %zu forged (comp %u) went unnoticed", k, len, comp);
			}
		}
		free(b);
		free(c);
		cbt_key_clear();
		/* the control: a plain image forged (its epochs) verifies */
		mkheader(&h, 16 * 512, 512, comp);
		b = image(&h, ext, ARRAY_SIZE(ext), &len);
		CHECK(b);
		parse(b, &l);
		b[104] ^= 0x01;
		reseal(b, len, &l);
		int ret = verify(b, len);

		free(b);
		CHECK_EQ(ret, 0);
	}
}

/* A frame copied from another image under the same key, checksums redone. */
static void frame_from_another_image(void)
{
	struct cbt_range ext[] = { { 0, 8 } };
	struct cbt_img_header h;
	struct layout la, lb;
	size_t na, nb;

	CHECK_EQ(cbt_key_set(KEY), 0);
	mkheader(&h, 64 * 4096, 4096, CBT_IMG_COMP_ZSTD);
	uint8_t *a = image(&h, ext, 1, &na);
	uint8_t *b = image(&h, ext, 1, &nb);	/* the same UUID even: only the salt differs */

	CHECK(a && b);
	parse(a, &la);
	parse(b, &lb);
	CHECK_EQ(la.stored[0], lb.stored[0]);
	CHECK(memcmp(a + 168, b + 168, CBT_IMG_SALT_BYTES));
	memcpy(a + la.off[0], b + lb.off[0], la.hl[0] + la.stored[0]);
	reseal(a, na, &la);
	CHECK_ERR(verify(a, na), -EBADMSG, "frame authentication failed");
	free(a);
	free(b);
	cbt_key_clear();
}

/* Two frames swapped, their sequence numbers and checksums made to fit. */
static void frames_reordered(void)
{
	struct cbt_range ext[] = { { 0, 2048 } };	/* two 4 MiB frames */
	struct cbt_img_header h;
	struct layout l;
	size_t len;

	CHECK_EQ(cbt_key_set(KEY), 0);
	mkheader(&h, 2048 * 4096, 4096, CBT_IMG_COMP_NONE);
	uint8_t *b = image(&h, ext, 1, &len), *c;

	CHECK(b);
	parse(b, &l);
	CHECK_EQ(l.nf, 2);
	size_t fl = l.hl[0] + l.stored[0];

	CHECK_EQ(l.hl[1] + l.stored[1], fl);
	c = malloc(fl);
	memcpy(c, b + l.off[0], fl);
	memmove(b + l.off[0], b + l.off[1], fl);
	memcpy(b + l.off[1], c, fl);
	reseal(b, len, &l);
	CHECK_ERR(verify(b, len), -EBADMSG, "out of sequence");
	cbt_put_le64(b + l.off[0] + 8, 0);
	cbt_put_le64(b + l.off[1] + 8, 1);
	reseal(b, len, &l);
	CHECK_ERR(verify(b, len), -EBADMSG, "frame authentication failed");
	free(c);
	free(b);
	cbt_key_clear();
}

/* The parent link rewritten (an image moved into another chain), checksum redone. */
static void header_link_forged(void)
{
	struct cbt_img_header h, g;
	uint8_t buf[CBT_IMG_HEADER_SIZE];

	CHECK_EQ(cbt_key_set(KEY), 0);
	mkheader(&h, 1 << 20, 4096, CBT_IMG_COMP_ZSTD);
	h.version = CBT_IMG_VERSION_CRYPT;
	h.type = CBT_IMG_INCREMENTAL;
	h.parent[0] = 1;
	memcpy(h.key_id, cbt_key_id(), 16);
	CHECK_EQ(cbt_img_salt(h.salt), 0);
	cbt_img_header_encode(&h, buf);
	CHECK_EQ(cbt_img_header_decode(buf, &g), 0);
	CHECK_EQ(g.parent[0], 1);
	buf[64] = 2;
	cbt_put_le64(buf + 248, cbt_img_sum(NULL, buf, 248));
	CHECK_ERR(cbt_img_header_decode(buf, &g), -EBADMSG, "header authentication failed");
	/*
	 * The version lowered to 2 (a plain image): the salt, key id and MAC are
	 * then reserved bytes that must be zero, with a key or without.
	 */
	buf[64] = 1;
	cbt_put_le32(buf + 8, 2);
	cbt_put_le64(buf + 248, cbt_img_sum(NULL, buf, 248));
	CHECK_ERR(cbt_img_header_decode(buf, &g), -EBADMSG, "reserved header bytes");
	cbt_key_clear();
	CHECK_ERR(cbt_img_header_decode(buf, &g), -EBADMSG, "reserved header bytes");
}

static void wrong_or_missing_key(void)
{
	struct cbt_range ext[] = { { 2, 5 } };
	struct cbt_img_header h;
	size_t len;
	uint8_t *b;

	CHECK_EQ(cbt_key_set(KEY), 0);
	mkheader(&h, 64 * 4096, 4096, CBT_IMG_COMP_ZSTD);
	b = image(&h, ext, 1, &len);
	CHECK(b);
	CHECK_EQ(cbt_key_set(KEY2), 0);
	CHECK_ERR(verify(b, len), -EKEYREJECTED, "encrypted with another key");
	cbt_key_clear();
	CHECK_ERR(verify(b, len), -ENOKEY, "give its key file with --key");
	CHECK_EQ(cbt_exit_status(-ENOKEY), CBT_EXIT_USAGE);
	CHECK_EQ(cbt_exit_status(-EKEYREJECTED), CBT_EXIT_USAGE);
	free(b);
	/* a plain image under a key: a chain is all encrypted or all plain */
	mkheader(&h, 64 * 4096, 4096, CBT_IMG_COMP_ZSTD);
	b = image(&h, ext, 1, &len);
	CHECK(b);
	CHECK_EQ(cbt_get_le32(b + 8), CBT_IMG_VERSION);
	CHECK_EQ(cbt_key_set(KEY), 0);
	CHECK_ERR(verify(b, len), -EKEYREJECTED, "not encrypted");
	cbt_key_clear();
	CHECK_EQ(verify(b, len), 0);
	free(b);
}

static int put_file(const char *path, const void *p, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode), ret;

	if (fd < 0)
		return -errno;
	ret = write(fd, p, len) == (ssize_t)len && !fchmod(fd, mode) ? 0 : -EIO;
	close(fd);
	return ret;
}

static void key_files(void)
{
	char dir[] = "/tmp/cbt-test-key-XXXXXX", p[128], q[128], chain[128], hex[80];
	uint8_t id[CBT_KEY_ID_BYTES];
	struct stat st;

	CHECK(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/raw", dir);
	CHECK_EQ(put_file(p, KEY, sizeof(KEY), 0600), 0);
	CHECK_EQ(cbt_key_use(p), 0);
	memcpy(id, cbt_key_id(), sizeof(id));
	CHECK(cbt_key_path() && strstr(cbt_key_path(), "/raw"));
	/* the same key as hex: the same id */
	for (size_t i = 0; i < sizeof(KEY); i++)
		snprintf(hex + 2 * i, 3, "%02X", KEY[i]);
	strcat(hex, "\n");
	snprintf(q, sizeof(q), "%s/hex", dir);
	CHECK_EQ(put_file(q, hex, strlen(hex), 0400), 0);
	CHECK_EQ(cbt_key_use(q), 0);
	CHECK(!memcmp(id, cbt_key_id(), sizeof(id)));
	/* open to the group: refused, and the old key is kept */
	CHECK_EQ(chmod(q, 0640), 0);
	CHECK_ERR(cbt_key_use(q), -EKEYREJECTED, "chmod 600");
	CHECK_EQ(put_file(q, hex, 63, 0600), 0);
	CHECK_ERR(cbt_key_use(q), -EKEYREJECTED, "not a key");
	CHECK_ERR(cbt_key_use(dir), -EKEYREJECTED, "not a regular file");
	/* a key inside the chain directory (or below it) is refused; beside it, fine */
	CHECK_EQ(cbt_key_use(p), 0);
	CHECK_ERR(cbt_key_check_dir(dir), -EKEYREJECTED, "inside the chain directory");
	snprintf(chain, sizeof(chain), "%s/chain", dir);
	CHECK_EQ(mkdir(chain, 0700), 0);
	CHECK_EQ(cbt_key_check_dir(chain), 0);
	snprintf(q, sizeof(q), "%s/chain/key", dir);
	CHECK_EQ(put_file(q, KEY, sizeof(KEY), 0600), 0);
	CHECK_EQ(cbt_key_use(q), 0);
	CHECK_ERR(cbt_key_check_dir(chain), -EKEYREJECTED, "keep keys away");
	cbt_key_clear();
	CHECK_EQ(cbt_key_check_dir(chain), 0);
	/* keygen: 0600, 64 hex digits, never over a file */
	snprintf(q, sizeof(q), "%s/new", dir);
	CHECK_EQ(cbt_key_generate(q), 0);
	CHECK_EQ(stat(q, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	CHECK_EQ(st.st_size, 65);
	CHECK_EQ(cbt_key_use(q), 0);
	CHECK(memcmp(id, cbt_key_id(), sizeof(id)));
	cbt_key_clear();
	CHECK_ERR(cbt_key_generate(q), -EEXIST, "never overwritten");
	snprintf(hex, sizeof(hex), "rm -rf '%s'", dir);
	CHECK_EQ(system(hex), 0);
}

/*
 * A command may take a key twice (--key, then a job file's encrypt=): the
 * first key file's realpath must not be lost. Checked with LeakSanitizer
 * now, not at exit, where the last path is still reachable from the key.
 */
static void key_use_twice(void)
{
	char dir[] = "/tmp/cbt-test-key-XXXXXX", p[128], q[128], cmd[160];

	CHECK(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/a", dir);
	snprintf(q, sizeof(q), "%s/b", dir);
	CHECK_EQ(put_file(p, KEY, sizeof(KEY), 0600), 0);
	CHECK_EQ(put_file(q, KEY, sizeof(KEY), 0600), 0);
	CHECK_EQ(cbt_key_use(p), 0);
	CHECK_EQ(cbt_key_use(p), 0);
	CHECK_EQ(cbt_key_use(q), 0);
	CHECK(cbt_key_path() && strstr(cbt_key_path(), "/b"));
	/* a refused second key keeps the first, path and all */
	CHECK_EQ(chmod(q, 0644), 0);
	CHECK_ERR(cbt_key_use(q), -EKEYREJECTED, "chmod 600");
	CHECK(cbt_key_path() && strstr(cbt_key_path(), "/b"));
#ifdef __SANITIZE_ADDRESS__
	CHECK_EQ(__lsan_do_recoverable_leak_check(), 0);
#endif
	cbt_key_clear();
	CHECK(!cbt_key_path());
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ(system(cmd), 0);
}

UT_MAIN("crypt",
	UT_CASE(round_trip),
	UT_CASE(every_byte_forged),
	UT_CASE(frame_from_another_image),
	UT_CASE(frames_reordered),
	UT_CASE(header_link_forged),
	UT_CASE(wrong_or_missing_key),
	UT_CASE(key_files),
	UT_CASE(key_use_twice))
