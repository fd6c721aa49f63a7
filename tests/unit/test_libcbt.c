// SPDX-License-Identifier: GPL-2.0
/*
 * libcbt's image and chain API (include/cbt/cbt.h), through that header
 * only: chains, paths, verify, resolve, block sets as extent iterators,
 * reads of restore points byte for byte, damaged and missing images, bad
 * handles and arguments. The chain is made with the backup engine on a
 * file (backup_core.h), the one internal call here: the public writer
 * needs a kernel snapshot (tests/vm/cases/libcbt_example.sh runs it).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cbt/cbt.h>

#include "unit_backup.h"
#include "libcbt_check.h"
#include "unit.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BS 4096U
/* 40 whole blocks and a half one: the last block of the device is short */
#define DEV_BYTES (40ULL * BS + BS / 2)
#define NR_BLOCKS 41
#define POINTS 4

static const uint8_t DEV_UUID[16] = { 9, 8, 7, 6, 5, 4, 0x43, 2, 0x81, 1, 2, 3, 4, 5, 6, 7 };

static char dir[64], devpath[128];
/* The device as each restore point holds it. */
static uint8_t expect[POINTS][DEV_BYTES];
static struct cbt_error err;

/* Block @b gets content that differs per block and per generation @g. */
static void write_block(uint64_t b, uint8_t g)
{
	uint8_t buf[BS];
	size_t len = b == NR_BLOCKS - 1 ? BS / 2 : BS;
	int fd = open(devpath, O_WRONLY);

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(b * 31 + i * 7 + g);
	if (fd < 0 || pwrite(fd, buf, len, (off_t)(b * BS)) != (ssize_t)len)
		abort();
	close(fd);
}

/* An image of the device file into the chain: @first/@n the epoch's changes. */
static int backup(uint32_t type, uint64_t epoch, uint64_t first, uint64_t n, uint64_t first2,
		  uint64_t n2)
{
	struct cbt_extents ch;
	int ret;

	cbt_extents_init(&ch);
	if (n)
		cbt_extents_append(&ch, first, n);
	if (n2)
		cbt_extents_append(&ch, first2, n2);
	ret = unit_backup(dir, devpath, DEV_BYTES, BS, DEV_UUID, type, epoch, &ch);
	cbt_extents_free(&ch);
	return ret;
}

static void snap_expect(int point)
{
	int fd = open(devpath, O_RDONLY);

	if (fd < 0 || pread(fd, expect[point], DEV_BYTES, 0) != (ssize_t)DEV_BYTES)
		abort();
	close(fd);
}

/*
 * 0 full (blocks 3, 10..12, 40 hold data), 1 incremental (4, 11),
 * 2 incremental (20..22), 3 differential (30; with 4, 11, 20..22 since the full).
 */
static int make_chain(void)
{
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/cbt-test-libcbt-XXXXXX");
	if (!mkdtemp(dir))
		return -errno;
	snprintf(devpath, sizeof(devpath), "%s.dev", dir);
	fd = open(devpath, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, DEV_BYTES))
		return -errno;
	close(fd);
	write_block(3, 1);
	for (uint64_t b = 10; b <= 12; b++)
		write_block(b, 1);
	write_block(40, 1);
	snap_expect(0);
	if (backup(CBT_IMAGE_FULL, 1, 0, 0, 0, 0))
		return -EIO;
	write_block(4, 2);
	write_block(11, 2);
	snap_expect(1);
	if (backup(CBT_IMAGE_INCREMENTAL, 2, 4, 1, 11, 1))
		return -EIO;
	for (uint64_t b = 20; b <= 22; b++)
		write_block(b, 3);
	snap_expect(2);
	if (backup(CBT_IMAGE_INCREMENTAL, 3, 20, 3, 0, 0))
		return -EIO;
	write_block(30, 4);
	snap_expect(3);
	return backup(CBT_IMAGE_DIFFERENTIAL, 4, 30, 1, 0, 0) ? -EIO : 0;
}

static void rm_chain(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, devpath);
	if (system(cmd))
		return;
}

static struct cbt_image_chain *open_chain(void)
{
	struct cbt_image_chain *c = NULL;

	if (make_chain() || cbt_image_chain_open(dir, &c, &err))
		return NULL;
	return c;
}

/* Flip one byte of image @file at @off. */
static int damage(const char *file, off_t off)
{
	char p[256];
	uint8_t v;
	int fd, ret = -1;

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_RDWR);
	if (fd >= 0 && pread(fd, &v, 1, off) == 1) {
		v ^= 0x40;
		ret = pwrite(fd, &v, 1, off) == 1 ? 0 : -1;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

#define CHECK_API_ERR(expr, want, needle) CHECK_API_ERR_IN(err, expr, want, needle)

static void chain_images_and_paths(void)
{
	static const uint32_t types[POINTS] = { CBT_IMAGE_FULL, CBT_IMAGE_INCREMENTAL,
						CBT_IMAGE_INCREMENTAL, CBT_IMAGE_DIFFERENTIAL };
	static const uint64_t blocks[POINTS] = { 5, 2, 3, 6 };
	struct cbt_image_chain *c = open_chain();
	struct cbt_image_info info[POINTS];
	size_t path[POINTS], n;

	CHECK(c);
	CHECK_EQ(cbt_image_chain_count(c), POINTS);
	for (size_t i = 0; i < POINTS; i++) {
		memset(&err, 0x5a, sizeof(err));
		CHECK_EQ(cbt_image_chain_info(c, i, &info[i], &err), 0);
		CHECK_EQ(err.code, 0);
		CHECK_STR(err.message, "");
		CHECK_EQ(info[i].type, types[i]);
		CHECK_EQ(info[i].blocks, blocks[i]);
		CHECK_EQ(info[i].dev_bytes, DEV_BYTES);
		CHECK_EQ(info[i].block_size, BS);
		CHECK_EQ(info[i].epoch_last, i + 1);
		CHECK(!memcmp(info[i].dev_uuid, DEV_UUID, 16));
		CHECK(!memcmp(info[i].base, info[0].uuid, 16));
		struct stat st;
		char p[256];

		snprintf(p, sizeof(p), "%s/%s", dir, info[i].file);
		CHECK_EQ(stat(p, &st), 0);
		CHECK_EQ(info[i].stored_bytes, st.st_size);
	}
	CHECK_STR(info[1].file, "000002-incr.cbti");
	CHECK(!memcmp(info[2].parent, info[1].uuid, 16));
	CHECK(!memcmp(info[3].parent, info[0].uuid, 16));
	CHECK_EQ(info[3].epoch_first, 2);	/* the differential covers all since the full */

	CHECK_EQ(cbt_image_chain_path(c, 2, path, POINTS, &n, &err), 0);
	CHECK_EQ(n, 3);
	CHECK(path[0] == 2 && path[1] == 1 && path[2] == 0);
	CHECK_EQ(cbt_image_chain_path(c, 3, path, POINTS, &n, NULL), 0);
	CHECK(n == 2 && path[0] == 3 && path[1] == 0);
	CHECK_API_ERR(cbt_image_chain_path(c, 2, path, 2, &n, &err), -ENOSPC, "needs 3 images");
	CHECK_EQ(n, 3);
	for (size_t i = 0; i < POINTS; i++)
		CHECK_EQ(cbt_image_chain_verify(c, i, &err), 0);
	cbt_image_chain_close(c);
	rm_chain();
}

static void chain_block_sets(void)
{
	struct cbt_image_chain *c = open_chain();
	struct cbt_extent_iter *it = NULL;
	uint64_t off, len;
	char buf[256];

	CHECK(c);
	CHECK_EQ(cbt_image_chain_blocks(c, 1, 0, &it, &err), 0);
	CHECK_STR(extents_str(it, buf, sizeof(buf)), "4+1 11+1 ");
	CHECK_EQ(cbt_extents_count(it), 2);
	CHECK_EQ(cbt_extents_blocks(it), 2);
	CHECK_EQ(cbt_extents_block_size(it), BS);
	/* at the end it stays at the end, and says so with zeros */
	off = len = 7;
	CHECK_EQ(cbt_extents_next(it, &off, &len), 0);
	CHECK(off == 0 && len == 0);
	cbt_extents_destroy(it);

	/* the full image holds the blocks with data, the differential everything since */
	CHECK_EQ(cbt_image_chain_blocks(c, 0, 0, &it, &err), 0);
	CHECK_STR(extents_str(it, buf, sizeof(buf)), "3+1 10+3 40+1 ");
	cbt_extents_destroy(it);
	CHECK_EQ(cbt_image_chain_blocks(c, 3, 0, &it, &err), 0);
	CHECK_STR(extents_str(it, buf, sizeof(buf)), "4+1 11+1 20+3 30+1 ");
	cbt_extents_destroy(it);

	CHECK_EQ(cbt_image_chain_blocks(c, 2, CBT_CHAIN_POINT, &it, &err), 0);
	CHECK_STR(extents_str(it, buf, sizeof(buf)), "3+2 10+3 20+3 40+1 ");
	CHECK_EQ(cbt_extents_blocks(it), 9);
	/* in bytes: the last block is cut at the device's end */
	cbt_extents_rewind(it);
	CHECK_EQ(cbt_extents_next_bytes(it, &off, &len), 1);
	CHECK(off == 3 * BS && len == 2 * BS);
	CHECK_EQ(cbt_extents_next_bytes(it, &off, &len), 1);
	CHECK_EQ(cbt_extents_next_bytes(it, &off, &len), 1);
	CHECK_EQ(cbt_extents_next_bytes(it, &off, &len), 1);
	CHECK(off == 40 * BS && len == BS / 2);
	CHECK_EQ(cbt_extents_next_bytes(it, &off, &len), 0);
	cbt_extents_destroy(it);
	CHECK_API_ERR(cbt_image_chain_blocks(c, 0, 0x10, &it, &err), -EINVAL, "unknown flags");
	CHECK(!it);
	cbt_image_chain_close(c);
	rm_chain();
}

/* An extent iterator is a copy: it outlives the chain it came from (docs/libcbt.md). */
static void extents_outlive_chain(void)
{
	struct cbt_image_chain *c = open_chain();
	struct cbt_extent_iter *it = NULL;
	char buf[256];

	CHECK(c);
	CHECK_EQ(cbt_image_chain_blocks(c, 2, CBT_CHAIN_POINT, &it, &err), 0);
	cbt_image_chain_close(c);
	rm_chain();
	CHECK_STR(extents_str(it, buf, sizeof(buf)), "3+2 10+3 20+3 40+1 ");
	CHECK_EQ(cbt_extents_blocks(it), 9);
	CHECK_EQ(cbt_extents_block_size(it), BS);
	cbt_extents_destroy(it);
}

static void chain_resolve(void)
{
	struct cbt_image_chain *c = open_chain();
	size_t img = 99;

	CHECK(c);
	CHECK_EQ(cbt_image_chain_resolve(c, 2, 11, &img, &err), 1);
	CHECK_EQ(img, 1);	/* the newest image that has it */
	CHECK_EQ(cbt_image_chain_resolve(c, 2, 21, &img, &err), 1);
	CHECK_EQ(img, 2);
	CHECK_EQ(cbt_image_chain_resolve(c, 2, 12, &img, &err), 1);
	CHECK_EQ(img, 0);
	CHECK_EQ(cbt_image_chain_resolve(c, 3, 11, &img, &err), 1);
	CHECK_EQ(img, 3);
	CHECK_EQ(cbt_image_chain_resolve(c, 0, 11, &img, &err), 1);
	CHECK_EQ(img, 0);
	CHECK_EQ(cbt_image_chain_resolve(c, 1, 40, &img, &err), 1);
	CHECK_EQ(img, 0);
	img = 99;
	CHECK_EQ(cbt_image_chain_resolve(c, 2, 5, &img, &err), 0);	/* zeros */
	CHECK_EQ(img, 99);
	CHECK_EQ(cbt_image_chain_resolve(c, 1, 30, &img, &err), 0);	/* not yet written */
	CHECK_API_ERR(cbt_image_chain_resolve(c, 2, NR_BLOCKS, &img, &err), -ERANGE,
		      "beyond the 41 blocks");
	CHECK_API_ERR(cbt_image_chain_resolve(c, POINTS, 1, &img, &err), -ERANGE, "no image 4");
	cbt_image_chain_close(c);
	rm_chain();
}

static void chain_reads_every_point(void)
{
	static const struct { uint64_t off, len; } ranges[] = {
		{ 0, DEV_BYTES }, { 1000, 50000 }, { 11 * BS + 5, 1 }, { 39 * BS + 7, BS + BS / 2 - 7 },
		{ DEV_BYTES - 1, 1 }, { 20 * BS, 3 * BS }, { 5, 0 },
	};
	struct cbt_image_chain *c = open_chain();
	static uint8_t got[DEV_BYTES + 1];

	CHECK(c);
	for (size_t p = 0; p < POINTS; p++) {
		for (size_t r = 0; r < ARRAY_SIZE(ranges); r++) {
			memset(got, 0xee, sizeof(got));
			CHECK_EQ(cbt_image_chain_read(c, p, ranges[r].off, got, ranges[r].len, &err),
				 0);
			if (memcmp(got, expect[p] + ranges[r].off, ranges[r].len))
				UT_FAIL("point %zu, bytes %llu+%llu differ", p,
					(unsigned long long)ranges[r].off,
					(unsigned long long)ranges[r].len);
			/* nothing written past the length */
			CHECK_EQ(got[ranges[r].len], 0xee);
		}
	}
	CHECK_API_ERR(cbt_image_chain_read(c, 1, DEV_BYTES - 10, got, 11, &err), -ERANGE,
		      "beyond the restore point");
	CHECK_API_ERR(cbt_image_chain_read(c, 1, DEV_BYTES + 1, got, 0, &err), -ERANGE,
		      "beyond the restore point");
	CHECK_API_ERR(cbt_image_chain_read(c, 1, 0, NULL, 1, &err), -EINVAL, "no buffer");
	cbt_image_chain_close(c);
	rm_chain();
}

/* review: a damaged image is a clear -EBADMSG naming it, for the points that need it only */
static void chain_damaged_image(void)
{
	struct cbt_image_chain *c = open_chain();
	struct cbt_image_info info;
	uint8_t buf[BS];

	CHECK(c);
	CHECK_EQ(damage("000002-incr.cbti", 300), 0);	/* inside the first frame */
	CHECK_API_ERR(cbt_image_chain_verify(c, 2, &err), -EBADMSG, "000002-incr.cbti");
	CHECK_API_ERR(cbt_image_chain_verify(c, 1, &err), -EBADMSG, "000002-incr.cbti");
	CHECK_API_ERR(cbt_image_chain_read(c, 2, 11 * BS, buf, BS, &err), -EBADMSG,
		      "000002-incr.cbti");
	CHECK_EQ(cbt_image_chain_verify(c, 3, &err), 0);	/* the differential skips it */
	CHECK_EQ(cbt_image_chain_verify(c, 0, &err), 0);
	CHECK_EQ(cbt_image_chain_read(c, 3, 11 * BS, buf, BS, &err), 0);
	CHECK(!memcmp(buf, expect[3] + 11 * BS, BS));
	/* the frames are not read for the header and trailer */
	CHECK_EQ(cbt_image_chain_info(c, 1, &info, &err), 0);
	/* a damaged trailer is seen there */
	CHECK_EQ(damage("000003-incr.cbti", (off_t)info.stored_bytes - 40), 0);
	CHECK_API_ERR(cbt_image_chain_info(c, 2, &info, &err), -EBADMSG, "000003-incr.cbti");
	cbt_image_chain_close(c);
	rm_chain();
}

static void chain_missing_image(void)
{
	struct cbt_image_chain *c = open_chain();
	struct cbt_extent_iter *it = NULL;
	struct cbt_image_info info;
	size_t img;
	uint8_t buf[16];
	char p[256];

	CHECK(c);
	snprintf(p, sizeof(p), "%s/000002-incr.cbti", dir);
	CHECK_EQ(unlink(p), 0);
	CHECK_API_ERR(cbt_image_chain_info(c, 1, &info, &err), -EBADMSG, "missing");
	CHECK_API_ERR(cbt_image_chain_verify(c, 2, &err), -EBADMSG, "missing");
	CHECK_API_ERR(cbt_image_chain_resolve(c, 2, 3, &img, &err), -EBADMSG, "missing");
	CHECK_API_ERR(cbt_image_chain_blocks(c, 2, CBT_CHAIN_POINT, &it, &err), -EBADMSG,
		      "missing");
	CHECK(!it);
	CHECK_API_ERR(cbt_image_chain_read(c, 2, 0, buf, sizeof(buf), &err), -EBADMSG, "missing");
	CHECK_EQ(cbt_image_chain_verify(c, 3, &err), 0);
	cbt_image_chain_close(c);
	rm_chain();
}

/* Another image in place of one the index lists. */
static void chain_replaced_image(void)
{
	struct cbt_image_chain *c = open_chain();
	struct cbt_image_info info;
	char a[256], b[256];

	CHECK(c);
	snprintf(a, sizeof(a), "%s/000003-incr.cbti", dir);
	snprintf(b, sizeof(b), "%s/000002-incr.cbti", dir);
	CHECK_EQ(rename(a, b), 0);
	CHECK_API_ERR(cbt_image_chain_info(c, 1, &info, &err), -EBADMSG,
		      "not the image the chain index lists");
	CHECK_API_ERR(cbt_image_chain_verify(c, 1, &err), -EBADMSG,
		      "not the image the chain index lists");
	cbt_image_chain_close(c);
	rm_chain();
}

static void chain_damaged_index(void)
{
	struct cbt_image_chain *c = NULL;
	char p[256];
	FILE *f;

	CHECK_EQ(make_chain(), 0);
	snprintf(p, sizeof(p), "%s/chain.idx", dir);
	f = fopen(p, "a");
	CHECK(f);
	fprintf(f, "this is no index line\n");
	fclose(f);
	CHECK_API_ERR(cbt_image_chain_open(dir, &c, &err), -EBADMSG, "chain.idx");
	CHECK(!c);
	rm_chain();
	CHECK_API_ERR(cbt_image_chain_open("/nonexistent/cbt-chain", &c, &err), -ENOENT,
		      "/nonexistent/cbt-chain");
	CHECK(!c);
}

/*
 * A chain handle is shared by threads: each reads every point whole and
 * checks a damaged image's error, at the same time, through one handle.
 */
#define THREADS 4

struct reader {
	struct cbt_image_chain *c;
	int bad;	/* what went wrong, 0: nothing */
};

static void *read_all(void *data)
{
	struct reader *r = data;
	struct cbt_error e;
	uint8_t *buf = malloc(DEV_BYTES);

	for (int round = 0; buf && round < 3 && !r->bad; round++) {
		for (size_t p = 0; p < POINTS - 1 && !r->bad; p++) {
			if (cbt_image_chain_read(r->c, p, 0, buf, DEV_BYTES, &e) ||
			    memcmp(buf, expect[p], DEV_BYTES))
				r->bad = 1;
		}
		/* image 3 is damaged at its end: every thread gets its own message */
		if (cbt_image_chain_info(r->c, 3, &(struct cbt_image_info){ 0 }, &e) != -EBADMSG ||
		    !strstr(e.message, "000004-diff.cbti"))
			r->bad = 2;
	}
	if (!buf)
		r->bad = 3;
	free(buf);
	return NULL;
}

static void chain_shared_by_threads(void)
{
	struct cbt_image_chain *c = open_chain();
	struct reader r[THREADS];
	pthread_t t[THREADS];
	char p[256];

	CHECK(c);
	/* bytes appended after the footer: the reader looks for where it ended */
	snprintf(p, sizeof(p), "%s/000004-diff.cbti", dir);
	FILE *f = fopen(p, "a");

	CHECK(f);
	fputs("appended", f);
	fclose(f);
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct reader){ .c = c };
		CHECK_EQ(pthread_create(&t[i], NULL, read_all, &r[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++)
		CHECK_EQ(r[i].bad, 0);
	cbt_image_chain_close(c);
	rm_chain();
}

/* NULL handles, out-of-range indexes, unknown values: errors, never crashes. */
static void bad_handles(void)
{
	struct cbt_image_chain *c = NULL;
	struct cbt_extent_iter *it = NULL;
	struct cbt_image_info info;
	uint64_t s = 1, l = 1;
	size_t n, path[1];
	uint8_t buf[1];

	CHECK_EQ(cbt_image_chain_count(NULL), 0);
	CHECK_API_ERR(cbt_image_chain_info(NULL, 0, &info, &err), -EINVAL, "no chain handle");
	CHECK_API_ERR(cbt_image_chain_verify(NULL, 0, &err), -EINVAL, "no chain handle");
	CHECK_API_ERR(cbt_image_chain_path(NULL, 0, path, 1, &n, &err), -EINVAL, "no chain handle");
	CHECK_API_ERR(cbt_image_chain_read(NULL, 0, 0, buf, 1, &err), -EINVAL, "no chain handle");
	CHECK_API_ERR(cbt_image_chain_blocks(NULL, 0, 0, &it, &err), -EINVAL, "no chain handle");
	CHECK_API_ERR(cbt_image_chain_open(NULL, &c, &err), -EINVAL, "no chain directory");
	CHECK_API_ERR(cbt_device_open(NULL, NULL, &err), -EINVAL, "no device named");
	CHECK_API_ERR(cbt_device_status(NULL, NULL, &err), -EINVAL, "no device handle");
	CHECK_API_ERR(cbt_device_epoch_commit(NULL, 1, &err), -EINVAL, "no device handle");
	CHECK_API_ERR(cbt_device_changes(NULL, 1, 1, &it, &err), -EINVAL, "no device handle");
	CHECK_API_ERR(cbt_snapshot_drop(NULL, &err), -EINVAL, "no snapshot handle");
	CHECK_API_ERR(cbt_events_next(NULL, NULL, &err), -EINVAL, "no events handle");
	CHECK_API_ERR(cbt_image_write(NULL, NULL, CBT_IMAGE_FULL, NULL, NULL, 1, NULL, &err),
		      -EINVAL, "no device handle");
	/* an error without a struct cbt_error */
	CHECK_EQ(cbt_image_chain_info(NULL, 0, &info, NULL), -EINVAL);
	CHECK_EQ(cbt_extents_next(NULL, &s, &l), 0);
	CHECK(s == 0 && l == 0);
	CHECK_EQ(cbt_extents_count(NULL), 0);
	CHECK_EQ(cbt_extents_blocks(NULL), 0);
	CHECK_EQ(cbt_snapshot_count(NULL), 0);
	CHECK(!cbt_snapshot_path(NULL, 0));
	CHECK_EQ(cbt_snapshot_epoch(NULL, 0), 0);
	CHECK_EQ(cbt_events_fd(NULL), -1);
	/* every destructor takes NULL */
	cbt_extents_rewind(NULL);
	cbt_extents_destroy(NULL);
	cbt_image_chain_close(NULL);
	cbt_device_close(NULL);
	cbt_snapshot_release(NULL);
	cbt_events_close(NULL);
}

/*
 * An encrypted chain (API 1.1): written under a key given as bytes, read
 * under the same key loaded from a file byte for byte; refused without a
 * key, under another key, and with a key file others may read or one
 * inside the chain directory.
 */
static void encrypted_chain_keys(void)
{
	static const uint8_t key[CBT_IMAGE_KEY_BYTES] = "libcbt test key, 32 bytes long!";
	static const uint8_t other[CBT_IMAGE_KEY_BYTES] = "another key, also 32 bytes long";
	static uint8_t got[DEV_BYTES];
	struct cbt_image_chain *c = NULL;
	struct cbt_image_info info;
	char kf[128], inside[192];
	FILE *f;

	CHECK_EQ(cbt_image_key_set(key, &err), 0);
	CHECK_EQ(make_chain(), 0);
	cbt_image_key_clear();
	snprintf(kf, sizeof(kf), "%s.key", dir);
	f = fopen(kf, "w");
	CHECK(f);
	for (size_t i = 0; i < sizeof(key); i++)
		fprintf(f, "%02x", key[i]);
	fputc('\n', f);
	fclose(f);
	/* no key: the chain's index opens, its images do not */
	CHECK_EQ(cbt_image_chain_open(dir, &c, &err), 0);
	CHECK_API_ERR(cbt_image_chain_info(c, 0, &info, &err), -ENOKEY, "key");
	cbt_image_chain_close(c);
	CHECK_EQ(chmod(kf, 0644), 0);
	CHECK_API_ERR(cbt_image_key_load(kf, &err), -EKEYREJECTED, "group or others");
	CHECK_EQ(chmod(kf, 0600), 0);
	CHECK_EQ(cbt_image_key_load(kf, &err), 0);
	CHECK_EQ(cbt_image_chain_open(dir, &c, &err), 0);
	for (size_t p = 0; p < POINTS; p++) {
		CHECK_EQ(cbt_image_chain_read(c, p, 0, got, DEV_BYTES, &err), 0);
		if (memcmp(got, expect[p], DEV_BYTES))
			UT_FAIL("encrypted point %zu differs", p);
		CHECK_EQ(cbt_image_chain_verify(c, p, &err), 0);
	}
	cbt_image_chain_close(c);
	/* another key: refused, nothing read */
	CHECK_EQ(cbt_image_key_set(other, &err), 0);
	CHECK_EQ(cbt_image_chain_open(dir, &c, &err), 0);
	CHECK_API_ERR(cbt_image_chain_read(c, 1, 0, got, BS, &err), -EKEYREJECTED,
		      "another key");
	cbt_image_chain_close(c);
	/* a key file inside the chain directory */
	snprintf(inside, sizeof(inside), "%s/k", dir);
	CHECK_EQ(rename(kf, inside), 0);
	CHECK_EQ(cbt_image_key_load(inside, &err), 0);
	CHECK_API_ERR(cbt_image_chain_open(dir, &c, &err), -EKEYREJECTED, "key");
	cbt_image_key_clear();
	CHECK_API_ERR(cbt_image_key_load(NULL, &err), -EINVAL, "no key file");
	CHECK_API_ERR(cbt_image_key_set(NULL, &err), -EINVAL, "no key");
	rm_chain();
}

/*
 * A failed cbt_image_key_load() leaves no key set, not the one set before
 * (docs/libcbt.md): whatever made it fail, reading the chain after it is
 * -ENOKEY, never a read under a key the caller meant to replace.
 */
static void failed_key_load_leaves_no_key(void)
{
	static const uint8_t key[CBT_IMAGE_KEY_BYTES] = "libcbt test key, 32 bytes long!";
	struct cbt_image_chain *c = NULL;
	struct cbt_image_info info;
	char kf[128], missing[128];
	FILE *f;

	CHECK_EQ(cbt_image_key_set(key, &err), 0);
	CHECK_EQ(make_chain(), 0);
	snprintf(kf, sizeof(kf), "%s.key", dir);
	snprintf(missing, sizeof(missing), "%s.nokey", dir);
	f = fopen(kf, "w");
	CHECK(f);
	if (f) {
		fwrite(key, 1, sizeof(key), f);
		fclose(f);
	}
	CHECK_EQ(chmod(kf, 0644), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(cbt_image_key_set(key, &err), 0);
		if (i == 0)	/* a key file group and others can read */
			CHECK_API_ERR(cbt_image_key_load(kf, &err), -EKEYREJECTED, "group or others");
		else if (i == 1)	/* no such file */
			CHECK_API_ERR(cbt_image_key_load(missing, &err), -ENOENT, "nokey");
		else	/* no file named */
			CHECK_API_ERR(cbt_image_key_load(NULL, &err), -EINVAL, "no key file");
		CHECK_EQ(cbt_image_chain_open(dir, &c, &err), 0);
		CHECK_API_ERR(cbt_image_chain_info(c, 0, &info, &err), -ENOKEY, "key");
		cbt_image_chain_close(c);
		c = NULL;
	}
	cbt_image_key_clear();
	unlink(kf);
	rm_chain();
}

static void names_and_versions(void)
{
	CHECK_EQ(cbt_api_version(), CBT_API_VERSION);
	CHECK_EQ(CBT_API_VERSION / 1000, CBT_API_VERSION_MAJOR);
	CHECK(strlen(cbt_library_version()) > 0);
	CHECK_STR(cbt_reason_str(CBT_REASON_CONTINUED), "continued");
	CHECK_STR(cbt_reason_str(CBT_REASON_TABLE_REPLACED), "table-replaced");
	CHECK_STR(cbt_reason_str(CBT_REASON_UNKNOWN), "unknown");
	CHECK_STR(cbt_reason_str(4000), "unknown");
	CHECK_STR(cbt_persistence_str(CBT_PERSISTENCE_METADATA), "metadata");
	CHECK_STR(cbt_persistence_str(99), "unknown");
	CHECK_STR(cbt_snapshot_state_str(CBT_SNAPSHOT_INVALID), "invalid");
	CHECK_STR(cbt_event_str(CBT_EV_TRACKING_LOST), "tracking-lost");
	CHECK_STR(cbt_event_str(CBT_EV_COW_LOW), "cow-low");
	CHECK_STR(cbt_event_str(CBT_EV_LOST), "events-lost");
	CHECK_STR(cbt_event_str(0), "unknown");
	CHECK_STR(cbt_event_str(99), "unknown");
	CHECK_STR(cbt_image_type_str(CBT_IMAGE_DIFFERENTIAL), "differential");
	CHECK_STR(cbt_image_type_str(0), "unknown");
}

UT_MAIN("libcbt",
	UT_CASE(chain_images_and_paths),
	UT_CASE(chain_block_sets),
	UT_CASE(extents_outlive_chain),
	UT_CASE(chain_resolve),
	UT_CASE(chain_reads_every_point),
	UT_CASE(chain_damaged_image),
	UT_CASE(chain_missing_image),
	UT_CASE(chain_replaced_image),
	UT_CASE(chain_damaged_index),
	UT_CASE(chain_shared_by_threads),
	UT_CASE(bad_handles),
	UT_CASE(encrypted_chain_keys),
	UT_CASE(failed_key_load_leaves_no_key),
	UT_CASE(names_and_versions))
