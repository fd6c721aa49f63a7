// SPDX-License-Identifier: GPL-2.0
/*
 * clone/copy.c and clone/qio.c: scattered extents copied with many
 * requests in flight, by io_uring and by the thread pool, land exactly
 * where they belong; errors say which side failed; the written prefix is
 * what resuming may trust. A comparison (read ahead on both sides,
 * hashed on a thread of its own) digests exactly the compared bytes in
 * order, and finds the first difference.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>
#include <xxhash.h>

#include "clone/copy.h"
#include "clone/plan.h"
#include "clone/qio.h"
#include "unit.h"
#include "util/util.h"

#define BS 4096U
#define NBLK 1024U	/* 4 MiB; the last block is cut short */
#define DEV_BYTES (NBLK * BS - 1000U)

static char dir[] = "/tmp/cbt-copy-XXXXXX";
static char src_path[64], dst_path[64];
static unsigned char *src_data;

static void setup(void)
{
	int fd;
	uint32_t seed = 99;

	if (!mkdtemp(dir))
		abort();
	snprintf(src_path, sizeof(src_path), "%s/src", dir);
	snprintf(dst_path, sizeof(dst_path), "%s/dst", dir);
	src_data = malloc(DEV_BYTES);
	for (uint32_t i = 0; i < DEV_BYTES; i++) {
		seed = seed * 1103515245 + 12345;
		src_data[i] = (unsigned char)(seed >> 16);
	}
	fd = open(src_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0 || write(fd, src_data, DEV_BYTES) != DEV_BYTES || close(fd))
		abort();
}

static void fresh_target(void)
{
	int fd = open(dst_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	if (fd < 0 || ftruncate(fd, DEV_BYTES) || close(fd))
		abort();
}

/* Every 3rd block, a 2 MiB run (several I/Os), and the short last block. */
static void extents(struct cbt_extents *l)
{
	cbt_extents_init(l);
	for (uint64_t b = 0; b < 200; b += 3)
		CHECK_EQ(cbt_extents_append(l, b, 1), 0);
	CHECK_EQ(cbt_extents_append(l, 300, 512), 0);
	CHECK_EQ(cbt_extents_append(l, NBLK - 1, 1), 0);
}

/* Copy extents() from the source to a fresh target, each opened with these flags. */
static int copy(const char *engine, int sflags, int dflags, struct clone_copy_result *r)
{
	struct clone_copy_opts o = { .block_size = BS, .dev_bytes = DEV_BYTES };
	struct cbt_extents l;
	int s, d, ret;

	setenv("CBT_CLONE_IO", engine, 1);
	fresh_target();
	extents(&l);
	s = open(src_path, sflags);
	d = open(dst_path, dflags);
	cbt_err_clear();
	ret = clone_copy_extents(s, d, &l, &o, r);
	close(s);
	close(d);
	cbt_extents_free(&l);
	unsetenv("CBT_CLONE_IO");
	return ret;
}

static void copy_with(const char *engine)
{
	struct clone_copy_result r;
	struct cbt_extents l;
	unsigned char *got = malloc(DEV_BYTES);
	int d;

	CHECK_EQ(copy(engine, O_RDONLY, O_WRONLY, &r), 0);
	CHECK_EQ(r.err, 0);
	extents(&l);
	CHECK_EQ(r.bytes, clone_extents_bytes(&l, BS, DEV_BYTES));
	cbt_extents_free(&l);
	CHECK_EQ(r.bytes, 67ULL * BS + 512ULL * BS + BS - 1000);
	/* Scattered blocks: 64 copies in flight of up to 256 KiB, so the 2 MiB run is eight. */
	CHECK_EQ(r.depth, 64);
	CHECK_EQ(r.io_bytes, 256 * 1024);
	CHECK_EQ(r.ios, 67 + 8 + 1);
	CHECK_EQ(r.written_upto, DEV_BYTES);

	/* The copied blocks equal the source, every other byte is still zero. */
	d = open(dst_path, O_RDONLY);
	CHECK_EQ(read(d, got, DEV_BYTES), DEV_BYTES);
	close(d);
	for (uint32_t b = 0; b < NBLK; b++) {
		bool in = (b < 200 && b % 3 == 0) || (b >= 300 && b < 812) || b == NBLK - 1;
		uint32_t n = b == NBLK - 1 ? BS - 1000 : BS;
		bool same = !memcmp(got + (size_t)b * BS, src_data + (size_t)b * BS, n), zero = true;

		for (uint32_t i = 0; i < n; i++)
			zero &= got[(size_t)b * BS + i] == 0;
		if (in ? !same : !zero) {
			CHECK(!"block content");
			break;
		}
	}
	free(got);
}

static void copy_io_uring(void)
{
	copy_with("io_uring");
}

static void copy_threads(void)
{
	copy_with("threads");
}

/* A source that cannot be read is a read error, a target that cannot be written is not. */
static void errors_with(const char *engine)
{
	struct clone_copy_result r;

	CHECK_ERR(copy(engine, O_WRONLY, O_WRONLY, &r), -EBADF, "reading the snapshot at byte ");
	CHECK(r.read_err);
	CHECK_EQ(r.bytes, 0);
	CHECK_EQ(r.written_upto, 0);
	CHECK_ERR(copy(engine, O_RDONLY, O_RDONLY, &r), -EBADF, "writing the target at byte ");
	CHECK(!r.read_err);
	CHECK_EQ(r.written_upto, 0);
}

static void errors_io_uring(void)
{
	errors_with("io_uring");
}

static void errors_threads(void)
{
	errors_with("threads");
}

/* XXH3-128 of @n bytes at @p, as clone_verify() prints it. */
static void digest_of(const unsigned char *p, size_t n, char out[33])
{
	XXH128_hash_t h = XXH3_128bits(p, n);

	snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64,
		 (unsigned long long)h.low64);
}

static void verify_with(const char *engine)
{
	struct clone_copy_opts o = { .block_size = BS, .dev_bytes = DEV_BYTES };
	struct clone_copy_result r;
	struct cbt_extents l;
	unsigned char *cat = malloc(DEV_BYTES);
	char got[33], want[33];
	uint64_t compared = 0, mm = 0;
	size_t n = 0;
	int s, d;

	/* The whole device against an identical copy: the digest of all of it. */
	setenv("CBT_CLONE_IO", engine, 1);
	d = open(dst_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	CHECK_EQ(write(d, src_data, DEV_BYTES), DEV_BYTES);
	close(d);
	s = open(src_path, O_RDONLY);
	d = open(dst_path, O_RDONLY);
	CHECK_EQ(clone_verify(s, d, NULL, &o, got, &compared, &mm), 0);
	CHECK_EQ(compared, DEV_BYTES);
	digest_of(src_data, DEV_BYTES, want);
	CHECK_STR(got, want);
	close(s);
	close(d);

	/* Scattered extents after a copy of them: the digest of those bytes, in order. */
	CHECK_EQ(copy(engine, O_RDONLY, O_WRONLY, &r), 0);
	setenv("CBT_CLONE_IO", engine, 1);
	extents(&l);
	for (size_t i = 0; i < l.nr; i++) {
		uint64_t off = l.v[i].start * BS, len = l.v[i].len * BS;

		if (off + len > DEV_BYTES)
			len = DEV_BYTES - off;
		memcpy(cat + n, src_data + off, len);
		n += len;
	}
	s = open(src_path, O_RDONLY);
	d = open(dst_path, O_RDWR);
	CHECK_EQ(clone_verify(s, d, &l, &o, got, &compared, &mm), 0);
	CHECK_EQ(compared, n);
	digest_of(cat, n, want);
	CHECK_STR(got, want);

	/* Two bytes changed: the first one is reported. */
	CHECK_EQ(pwrite(d, "x", 1, 700 * BS + 5), 1);
	CHECK_EQ(pwrite(d, "x", 1, 3 * BS + 17), 1);
	if (src_data[3 * BS + 17] == 'x')
		abort();
	cbt_err_clear();
	CHECK_ERR(clone_verify(s, d, &l, &o, got, &compared, &mm), -EBADMSG,
		  "the target differs from the snapshot at byte 12305 ");
	CHECK_EQ(mm, 3 * BS + 17);

	/* Only the device's last byte differs (the short last block). */
	CHECK_EQ(pwrite(d, src_data + 3 * BS + 17, 1, 3 * BS + 17), 1);
	CHECK_EQ(pwrite(d, src_data + 700 * BS + 5, 1, 700 * BS + 5), 1);
	CHECK_EQ(clone_verify(s, d, &l, &o, got, &compared, &mm), 0);
	CHECK_EQ(pwrite(d, "x", 1, DEV_BYTES - 1), 1);
	if (src_data[DEV_BYTES - 1] == 'x')
		abort();
	cbt_err_clear();
	CHECK_EQ(clone_verify(s, d, &l, &o, got, &compared, &mm), -EBADMSG);
	CHECK_EQ(mm, DEV_BYTES - 1);
	close(s);
	close(d);

	/* A target that cannot be read says so. */
	s = open(src_path, O_RDONLY);
	d = open(dst_path, O_WRONLY);
	cbt_err_clear();
	CHECK_ERR(clone_verify(s, d, &l, &o, got, &compared, &mm), -EBADF,
		  "reading the target at byte ");
	close(s);
	close(d);
	cbt_extents_free(&l);
	unsetenv("CBT_CLONE_IO");
	free(cat);
}

static void verify_io_uring(void)
{
	verify_with("io_uring");
}

static void verify_threads(void)
{
	verify_with("threads");
}

/* io_uring wherever this kernel lets a ring be set up; the pool when asked for or refused. */
static void engine_choice(void)
{
	struct clone_qio *q;
	struct io_uring ring;
	bool uring = !io_uring_queue_init(8, &ring, 0);

	if (uring)
		io_uring_queue_exit(&ring);
	CHECK_EQ(clone_qio_open(0, 1, 4, &q), 0);
	CHECK_STR(clone_qio_engine(q), uring ? "io_uring" : "threads");
	clone_qio_close(q);
	setenv("CBT_CLONE_IO", "threads", 1);
	CHECK_EQ(clone_qio_open(0, 1, 4, &q), 0);
	CHECK_STR(clone_qio_engine(q), "threads");
	clone_qio_close(q);
	unsetenv("CBT_CLONE_IO");
}

/* --rate: steady copies are spaced by the rate; a stall earns at most 100 ms of burst. */
static void rate_due(void)
{
	const uint64_t ms = 1000000ULL, rate = 8 << 20;	/* 8 MiB/s: 1 MiB per 125 ms */
	uint64_t due = 1000 * ms;

	/* On time: each MiB is due 125 ms after the one before. */
	due = clone_rate_due(due, 1000 * ms, 1 << 20, rate);
	CHECK_EQ(due, 1125 * ms);
	due = clone_rate_due(due, 1125 * ms, 1 << 20, rate);
	CHECK_EQ(due, 1250 * ms);
	/* Slow copies within the slack keep their credit: 50 ms late, still due 1375 ms. */
	due = clone_rate_due(due, 1300 * ms, 1 << 20, rate);
	CHECK_EQ(due, 1375 * ms);
	/* A 10 s stall: the credit is 100 ms, not 10 s of copies at full speed. */
	due = clone_rate_due(due, 11375 * ms, 1 << 20, rate);
	CHECK_EQ(due, 11400 * ms);
	/* So the copy after the next one waits again. */
	due = clone_rate_due(due, 11375 * ms, 1 << 20, rate);
	CHECK_EQ(due, 11525 * ms);
	CHECK(due > 11375 * ms);
}

static void teardown(void)
{
	unlink(src_path);
	unlink(dst_path);
	rmdir(dir);
	free(src_data);
}

UT_MAIN("clone_copy",
	UT_CASE(setup),
	UT_CASE(copy_io_uring),
	UT_CASE(copy_threads),
	UT_CASE(errors_io_uring),
	UT_CASE(errors_threads),
	UT_CASE(verify_io_uring),
	UT_CASE(verify_threads),
	UT_CASE(engine_choice),
	UT_CASE(rate_due),
	UT_CASE(teardown))
