// SPDX-License-Identifier: GPL-2.0
/*
 * Random access to a restore point (image/view.c, image/index.c): reads
 * through the view equal the bytes `cbt restore' writes, for version 2 and
 * version 1 images; a damaged frame fails only its own ranges and is
 * logged; a broken chain is refused at open; the cache keeps to its
 * budget; several threads read at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/apply.h"
#include "image/crypt.h"
#include "image/image.h"
#include "image/view.h"
#include "unit.h"
#include "unit_backup.h"
#include "util/util.h"

#define BS 4096U
/* Enough blocks for several 4 MiB frames per image; a short last block. */
#define NBLK1 3000ULL
#define DEV1 ((NBLK1 - 1) * BS + 1536)
/* The device grows before the fourth image. */
#define NBLK2 3400ULL
#define DEV2 (NBLK2 * BS)
#define NIMG 5

static const uint8_t DEV_UUID[16] = { 9, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15, 1 };
static const uint8_t OTHER_UUID[16] = { 7, 7, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15, 1 };

/* In memory: the chains are fsynced image by image, and a shared disk makes that slow. */
static char dir[64], devpath[128];
static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Half compressible content, different for each write. */
static void fill(uint8_t *p, size_t len)
{
	uint8_t c = (uint8_t)rnd();

	for (size_t i = 0; i < len; i++)
		p[i] = i % 64 < 32 ? (uint8_t)rnd() : c;
}

/* Write @n blocks from @b on the device file, add them to @ch. */
static void change(uint64_t b, uint64_t n, uint64_t dev_bytes, struct cbt_extents *ch)
{
	int fd = open(devpath, O_WRONLY);
	uint8_t *buf = malloc(n * BS);
	uint64_t len = n * BS;

	if (b * BS + len > dev_bytes)
		len = dev_bytes - b * BS;
	fill(buf, len);
	if (pwrite(fd, buf, len, (off_t)(b * BS)) != (ssize_t)len)
		abort();
	free(buf);
	close(fd);
	if (ch && cbt_extents_append(ch, b, n))
		abort();
}

/*
 * A chain of NIMG images in a new directory: a full image of a device with
 * holes, three incrementals (scattered single blocks, runs, a run across
 * frames), the device grown before the fourth; @v1: the first @v1 images
 * in format version 1.
 */
/* Images written as segments of this size when not 0 (store/segment.h). */
static uint64_t split_size;

static int make_chain(const char *d, const uint8_t *uuid, int v1)
{
	struct cbt_backup_req req = { .dev_bytes = DEV1, .block_size = BS,
				      .compression = CBT_IMG_COMP_ZSTD, .level = 1, .dir = d,
				      .threads = 2, .out_fd = -1, .split = split_size };
	struct cbt_backup_result res;
	struct cbt_extents ch;
	int fd, ret = 0;

	memcpy(req.dev_uuid, uuid, 16);
	fd = open(devpath, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, DEV1))
		return -errno;
	close(fd);
	/* data with holes: the full image leaves the zero blocks out */
	for (uint64_t b = 0; b < NBLK1; b += 100)
		change(b, 60, DEV1, NULL);
	change(NBLK1 - 1, 1, DEV1, NULL);
	for (int k = 0; k < NIMG && !ret; k++) {
		cbt_extents_init(&ch);
		req.type = k ? CBT_IMG_INCREMENTAL : CBT_IMG_FULL;
		req.epoch = (uint64_t)k + 1;
		req.format_version = k < v1 ? 1 : 0;
		if (k == 3) {
			/* grow: the old short last block and the new area are changed */
			if (truncate(devpath, DEV2))
				return -errno;
			req.dev_bytes = DEV2;
			change(NBLK1 - 1, NBLK2 - NBLK1 + 1, DEV2, &ch);
		} else if (k) {
			uint64_t at = 0;

			for (int i = 0; i < 40; i++) {
				at += 1 + rnd() % 60;
				if (at + 3 >= NBLK1 - 1)
					break;
				change(at, 1 + rnd() % 3, DEV1, &ch);
				at += 3;
			}
			/* a run of more than a frame */
			if (k == 2)
				change(NBLK1 - 1200, 1100, DEV1, &ch);
		}
		req.changed = &ch;
		fd = open(devpath, O_RDONLY);
		ret = cbt_backup_run(&req, fd, &res);
		close(fd);
		cbt_extents_free(&ch);
	}
	return ret;
}

static void new_chain(int v1)
{
	snprintf(dir, sizeof(dir), "/dev/shm/cbt-test-view-XXXXXX");
	CHECK(mkdtemp(dir));
	snprintf(devpath, sizeof(devpath), "%s.dev", dir);
	CHECK_EQ(make_chain(dir, DEV_UUID, v1), 0);
}

static bool shared;

static void rm_chain(void)
{
	char cmd[256];

	shared = false;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, devpath);
	if (system(cmd))
		return;
}

static void rm_shared(void)
{
	if (shared)
		rm_chain();
}

/*
 * The chain most cases read, made once (they leave it as they found it;
 * broken_chain_refused_at_open, the last, removes it).
 */
static void use_chain(void)
{
	static bool registered;

	if (shared)
		return;
	new_chain(0);
	shared = true;
	if (!registered)
		atexit(rm_shared);
	registered = true;
}

/* Point @id restored by the restore engine, in memory (*@len bytes). */
static uint8_t *restored(const char *id, uint64_t *len)
{
	struct cbt_apply_stats st;
	struct cbt_point pt;
	struct stat sb;
	uint8_t *p = NULL;
	int fd;

	if (cbt_open_point(dir, id, true, NULL, &pt))
		return NULL;
	fd = memfd_create("restore", 0);
	if (!cbt_apply_images(pt.fds, (const char *const *)pt.names, pt.n, fd, true, NULL, &st) &&
	    !fstat(fd, &sb)) {
		p = malloc((size_t)sb.st_size);
		*len = (uint64_t)sb.st_size;
		if (p && cbt_pread_full(fd, p, *len, 0)) {
			free(p);
			p = NULL;
		}
	}
	cbt_point_free(&pt);
	close(fd);
	return p;
}

/*
 * @n random reads compared with @ref: unaligned offsets and lengths, one in
 * four an aligned 4 KiB block, one in sixteen up to 3 frames long.
 */
static int random_reads(struct cbt_view *v, const uint8_t *ref, uint64_t size, int n,
			uint64_t *seed)
{
	uint8_t *buf = malloc(12U << 20);
	int bad = 0;

	for (int i = 0; i < n && !bad; i++) {
		uint64_t x = *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t off = (x >> 11) % size, max = size - off;
		uint64_t len = i % 16 == 0 ? (x >> 3) % (12U << 20) : i % 4 == 1 ? 4096 :
			       (x >> 7) % 70000 + 1;

		if (i % 4 == 1)
			off &= ~4095ULL;
		if (off >= size)
			off = 0;
		max = size - off;
		if (len > max)
			len = max;
		if (cbt_view_pread(v, buf, len, off) || memcmp(buf, ref + off, len))
			bad = 1;
	}
	free(buf);
	return bad;
}

static void check_point(const char *id, uint64_t size, int imgs)
{
	struct cbt_view_opts o = { 0 };
	struct cbt_view *v;
	uint64_t len = 0, seed = 1;
	uint8_t *ref = restored(id, &len), *buf = malloc(1 << 20);

	CHECK(ref);
	CHECK_EQ(len, size);
	CHECK_EQ(cbt_view_open(&v, dir, id, &o), 0);
	CHECK_EQ(cbt_view_size(v), size);
	CHECK_EQ(cbt_view_block_size(v), BS);
	/* the whole point, in 1 MiB reads */
	for (uint64_t off = 0; off < size; off += 1 << 20) {
		uint64_t n = size - off < (1 << 20) ? size - off : 1 << 20;

		CHECK_EQ(cbt_view_pread(v, buf, n, off), 0);
		if (memcmp(buf, ref + off, n))
			UT_FAIL("point %s differs from its restore in [%llu, +%llu)", id,
				(unsigned long long)off, (unsigned long long)n);
	}
	CHECK_EQ(random_reads(v, ref, size, 400, &seed), 0);
	CHECK_EQ(cbt_view_pread(v, buf, 2, size - 1), -EINVAL);
	/* owners: every image of the path owns something, nothing past it */
	for (int k = 0; k < imgs; k++) {
		bool found = false;

		for (uint64_t b = 0; b < size / BS && !found; b++)
			found = cbt_view_owner(v, b) == k;
		CHECK(found);
	}
	for (uint64_t b = 0; b < (size + BS - 1) / BS; b++)
		CHECK(cbt_view_owner(v, b) < imgs);
	cbt_view_close(v);
	free(ref);
	free(buf);
}

static void reads_equal_restore(void)
{
	use_chain();
	check_point(NULL, DEV2, NIMG);
	check_point("3", DEV1, 3);
	check_point("1", DEV1, 1);
}

/* Version 1 images (the first three), mixed with version 2 in one chain. */
static void v1_images_read_the_same(void)
{
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	char p[256];

	new_chain(3);
	snprintf(p, sizeof(p), "%s/000001-full.cbti", dir);
	CHECK_EQ(cbt_img_read_ends(p, &h, &t), 0);
	cbt_extents_free(&t.map);
	CHECK_EQ(h.version, 1);
	snprintf(p, sizeof(p), "%s/000005-incr.cbti", dir);
	CHECK_EQ(cbt_img_read_ends(p, &h, &t), 0);
	cbt_extents_free(&t.map);
	CHECK_EQ(h.version, 2);
	check_point(NULL, DEV2, NIMG);
	check_point("2", DEV1, 2);
	rm_chain();
}

/* The frame index of a v1 image (scanned) equals what a v2 writer puts in its trailer. */
static void v1_scan_equals_v2_index(void)
{
	struct cbt_img_frame_ent *a = NULL, *b = NULL;
	struct cbt_img_header ha, hb;
	struct cbt_img_trailer ta, tb;
	char p[600], q[128];
	int fa, fb;

	use_chain();
	snprintf(q, sizeof(q), "%s.v1", dir);
	/* the same device again as a version 1 full image into another directory */
	{
		struct cbt_backup_req req = { .type = CBT_IMG_FULL, .dev_bytes = DEV2,
					      .block_size = BS, .compression = CBT_IMG_COMP_ZSTD,
					      .level = 1, .dir = q, .threads = 2, .out_fd = -1,
					      .format_version = 1, .epoch = 1 };
		struct cbt_backup_result res;
		int fd = open(devpath, O_RDONLY);

		memcpy(req.dev_uuid, DEV_UUID, 16);
		CHECK_EQ(cbt_backup_run(&req, fd, &res), 0);
		close(fd);
		req.format_version = 0;
		req.epoch = 2;
		req.type = CBT_IMG_FULL;
		fd = open(devpath, O_RDONLY);
		CHECK_EQ(cbt_backup_run(&req, fd, &res), 0);
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/000001-full.cbti", q);
	fa = open(p, O_RDONLY);
	CHECK_EQ(cbt_img_read_ends_fd(fa, p, &ha, &ta), 0);
	CHECK_EQ(ha.version, 1);
	CHECK_EQ(cbt_img_frame_index(fa, p, &ha, &ta, &a), 0);
	snprintf(p, sizeof(p), "%s/000002-full.cbti", q);
	fb = open(p, O_RDONLY);
	CHECK_EQ(cbt_img_read_ends_fd(fb, p, &hb, &tb), 0);
	CHECK_EQ(hb.version, 2);
	CHECK_EQ(cbt_img_frame_index(fb, p, &hb, &tb, &b), 0);
	CHECK_EQ(ta.frames, tb.frames);
	CHECK(ta.frames > 2);
	for (uint64_t i = 0; i < ta.frames; i++) {
		CHECK_EQ(a[i].first, b[i].first);
		CHECK_EQ(a[i].last, b[i].last);
		CHECK_EQ(a[i].nr_ext, b[i].nr_ext);
		/* zstd output is the same for the same input and level */
		CHECK_EQ(a[i].stored, b[i].stored);
		CHECK_EQ(a[i].off, b[i].off);
	}
	free(a);
	free(b);
	cbt_extents_free(&ta.map);
	cbt_extents_free(&tb.map);
	close(fa);
	close(fb);
	snprintf(p, sizeof(p), "rm -rf '%s'", q);
	CHECK_EQ(system(p), 0);
}

static char logged[8][512];
static int nlogged;

static void catch_log(void *arg, const char *line)
{
	(void)arg;
	if (nlogged < 8)
		snprintf(logged[nlogged], sizeof(logged[0]), "%s", line);
	nlogged++;
}

/* A flipped byte in one frame: EIO for its ranges only, one line naming file and offset. */
static void corrupt_frame_fails_its_range_only(void)
{
	struct cbt_img_frame_ent *fr = NULL;
	struct cbt_view_opts o = { 0 };
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	struct cbt_view *v;
	uint64_t len = 0, victim, ok = 0, failed = 0;
	uint8_t *ref, *buf = malloc(3 * BS), c;
	char p[256], want[512];
	int fd;

	use_chain();
	ref = restored(NULL, &len);
	CHECK(ref);
	snprintf(p, sizeof(p), "%s/000001-full.cbti", dir);
	fd = open(p, O_RDWR);
	CHECK_EQ(cbt_img_read_ends_fd(fd, p, &h, &t), 0);
	CHECK_EQ(cbt_img_frame_index(fd, p, &h, &t, &fr), 0);
	CHECK(t.frames >= 2);
	victim = 1;
	/* a byte of the frame's data */
	CHECK_EQ(pread(fd, &c, 1, (off_t)(fr[victim].off + cbt_img_frame_disk_len(&fr[victim]) - 100)), 1);
	c ^= 0x10;
	CHECK_EQ(pwrite(fd, &c, 1, (off_t)(fr[victim].off + cbt_img_frame_disk_len(&fr[victim]) - 100)), 1);
	cbt_view_set_log(catch_log, NULL);
	nlogged = 0;
	CHECK_EQ(cbt_view_open(&v, dir, NULL, &o), 0);
	snprintf(want, sizeof(want), "%s: damaged frame at byte %llu: frame data checksum mismatch",
		 p, (unsigned long long)fr[victim].off);
	for (uint64_t b = 0; b < DEV2 / BS; b++) {
		bool in = cbt_view_owner(v, b) == 0 && b >= fr[victim].first && b <= fr[victim].last;
		int r = cbt_view_pread(v, buf, BS, b * BS);

		if (in) {
			CHECK_EQ(r, -EIO);
			failed++;
		} else {
			CHECK_EQ(r, 0);
			CHECK(!memcmp(buf, ref + b * BS, BS));
			ok++;
		}
	}
	CHECK(failed > 100);
	CHECK_EQ(nlogged, failed);
	CHECK_STR(logged[0], want);
	/* a read across the damaged frame's first block fails whole */
	CHECK_EQ(cbt_view_pread(v, buf, 3 * BS, (fr[victim].first - 1) * BS), -EIO);
	cbt_view_close(v);
	cbt_view_set_log(NULL, NULL);
	/* mended, for the cases after this one */
	c ^= 0x10;
	CHECK_EQ(pwrite(fd, &c, 1, (off_t)(fr[victim].off + cbt_img_frame_disk_len(&fr[victim]) - 100)), 1);
	close(fd);
	free(fr);
	cbt_extents_free(&t.map);
	free(ref);
	free(buf);
}

/*
 * A frame index that lies, with a valid trailer checksum (a crafted
 * image): each entry is fixed by the block map and the frames' layout, so
 * any change to one is refused at open.
 */
static void lying_frame_index(void)
{
	static const struct { int field; int64_t delta; } lies[] = {
		{ 0, 1 }, { 0, -48 }, { 1, 1 }, { 1, -1 }, { 2, -1 }, { 2, 1 }, { 3, 1 },
		{ 3, -1 }, { 4, -1 }, { 4, 1 }, { 1, 200 }, { 2, 200 },
	};
	struct cbt_view_opts o = { 0 };
	struct cbt_view *v = NULL;
	char p[256], why[512] = "";
	struct stat st;
	uint8_t *orig;
	int fd;

	use_chain();
	snprintf(p, sizeof(p), "%s/000001-full.cbti", dir);
	fd = open(p, O_RDWR);
	CHECK(fd >= 0 && !fstat(fd, &st));
	orig = malloc((size_t)st.st_size);
	CHECK_EQ(cbt_pread_full(fd, orig, (size_t)st.st_size, 0), 0);
	for (size_t k = 0; k < sizeof(lies) / sizeof(lies[0]); k++) {
		uint64_t size = (uint64_t)st.st_size, toff = cbt_get_le64(orig + size - 16);
		uint64_t nmap = cbt_get_le64(orig + toff + 24), tlen = size - 16 - toff;
		uint8_t *t = malloc(tlen), *e = t + CBT_IMG_TRAILER_HDR_SIZE + 16 * nmap;
		int ret;

		memcpy(t, orig + toff, tlen);
		/* the second entry: off, first, last (u64), nr_ext, stored (u32) */
		e += CBT_IMG_FIDX_ENTRY_SIZE;
		if (lies[k].field < 3)
			cbt_put_le64(e + 8 * lies[k].field,
				     cbt_get_le64(e + 8 * lies[k].field) + (uint64_t)lies[k].delta);
		else
			cbt_put_le32(e + 24 + 4 * (lies[k].field - 3),
				     cbt_get_le32(e + 24 + 4 * (lies[k].field - 3)) +
				     (uint32_t)lies[k].delta);
		/* the image UUID (header bytes 48..63) seeds the checksum */
		cbt_put_le64(t + tlen - 8, cbt_img_sum(orig + 48, t, tlen - 8));
		ret = pwrite(fd, t, tlen, (off_t)toff) == (ssize_t)tlen ? 0 : -EIO;
		free(t);
		CHECK_EQ(ret, 0);
		cbt_err_clear();
		ret = cbt_view_open(&v, dir, NULL, &o);
		if (ret != -EBADMSG || !strstr(ut_detail(), "frame index does not match the frames")) {
			snprintf(why, sizeof(why), "lie %zu: open returned %d (%s)", k, ret,
				 ut_detail());
			cbt_view_close(v);
			break;
		}
	}
	/* mended, for the cases after this one */
	CHECK_EQ(pwrite(fd, orig, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	free(orig);
	if (why[0])
		UT_FAIL("%s", why);
}

static void broken_chain_refused_at_open(void)
{
	struct cbt_view_opts o = { 0 };
	struct cbt_view *v = (struct cbt_view *)1;
	char p[256], q[256], other[128], cmd[1200];

	use_chain();
	/* another device's chain, its third image put in place of ours */
	snprintf(other, sizeof(other), "%s.other", dir);
	CHECK_EQ(make_chain(other, OTHER_UUID, 0), 0);
	snprintf(p, sizeof(p), "%s/000003-incr.cbti", dir);
	snprintf(q, sizeof(q), "%s/000003-incr.cbti", other);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.save' && cp '%s' '%s'", p, p, q, p);
	CHECK_EQ(system(cmd), 0);
	CHECK_ERR(cbt_view_open(&v, dir, NULL, &o), -EBADMSG, "is not the image the chain index lists");
	CHECK(!v);
	/* a point before the foreign image still opens */
	CHECK_EQ(cbt_view_open(&v, dir, "2", &o), 0);
	cbt_view_close(v);
	/* the missing middle image */
	CHECK_EQ(unlink(p), 0);
	CHECK_ERR(cbt_view_open(&v, dir, "4", &o), -EBADMSG, "000003-incr.cbti is missing");
	/* a damaged trailer (its frame index) */
	snprintf(cmd, sizeof(cmd), "mv '%s.save' '%s'", p, p);
	CHECK_EQ(system(cmd), 0);
	{
		struct stat st;
		uint8_t c;
		int fd = open(p, O_RDWR);

		CHECK(!fstat(fd, &st));
		CHECK_EQ(pread(fd, &c, 1, st.st_size - 40), 1);
		c ^= 1;
		CHECK_EQ(pwrite(fd, &c, 1, st.st_size - 40), 1);
		close(fd);
	}
	CHECK_ERR(cbt_view_open(&v, dir, NULL, &o), -EBADMSG, "trailer checksum mismatch");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", other);
	CHECK_EQ(system(cmd), 0);
	rm_chain();
}

/* The cache never holds more than its budget, counted in bytes. */
static void cache_budget_kept(void)
{
	uint64_t budgets[] = { 1, 5 << 20, 9 << 20 }, len = 0;
	struct cbt_view_stats st;
	uint8_t *ref;

	use_chain();
	ref = restored(NULL, &len);
	CHECK(ref);
	for (size_t i = 0; i < 3; i++) {
		struct cbt_view_opts o = { .cache_bytes = budgets[i] };
		struct cbt_view *v;
		uint64_t seed = 7 + i;

		CHECK_EQ(cbt_view_open(&v, dir, NULL, &o), 0);
		CHECK_EQ(random_reads(v, ref, len, 300, &seed), 0);
		cbt_view_stats(v, &st);
		CHECK(st.peak_bytes <= budgets[i]);
		CHECK(st.bytes <= budgets[i]);
		CHECK(st.loads > 0);
		if (i == 0)
			CHECK_EQ(st.peak_bytes, 0);
		else
			CHECK(st.peak_bytes > 0 && st.hits > 0);
		cbt_view_close(v);
	}
	free(ref);
}

struct reader {
	struct cbt_view *v;
	const uint8_t *ref;
	uint64_t size, seed;
	int bad;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;

	r->bad = random_reads(r->v, r->ref, r->size, 300, &r->seed);
	return NULL;
}

static void threads_read_at_once(void)
{
	struct cbt_view_opts o = { .cache_bytes = 9 << 20 };
	struct reader r[4];
	pthread_t t[4];
	struct cbt_view *v;
	uint64_t len = 0;
	uint8_t *ref;

	use_chain();
	ref = restored(NULL, &len);
	CHECK(ref);
	CHECK_EQ(cbt_view_open(&v, dir, NULL, &o), 0);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct reader){ .v = v, .ref = ref, .size = len, .seed = 100 + (uint64_t)i };
		CHECK_EQ(pthread_create(&t[i], NULL, reader_thread, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(r[i].bad, 0);
	}
	cbt_view_close(v);
	free(ref);
}

/* A 16 TiB device with a few blocks: opens from the trailers, reads zeros elsewhere. */
static void sparse_16tib_point(void)
{
	struct cbt_img_write_opts wo = { .threads = 1 };
	struct cbt_view_opts o = { 0 };
	struct cbt_img_header h = { .version = CBT_IMG_VERSION, .dev_bytes = 16ULL << 40,
				    .block_size = BS, .type = CBT_IMG_FULL,
				    .compression = CBT_IMG_COMP_ZSTD, .level = 1 };
	struct cbt_img_writer *w;
	struct cbt_view *v;
	uint8_t blk[BS], buf[2 * BS];
	uint64_t far = (16ULL << 40) / BS - 1;
	char p[64];
	int fd;

	snprintf(p, sizeof(p), "/dev/shm/cbt-test-view-XXXXXX");
	fd = mkstemp(p);
	CHECK(fd >= 0);
	memcpy(h.dev_uuid, DEV_UUID, 16);
	CHECK_EQ(cbt_uuid_generate(h.uuid), 0);
	memcpy(h.base, h.uuid, 16);
	CHECK_EQ(cbt_img_writer_open(&w, fd, &h, &wo), 0);
	memset(blk, 0x5a, sizeof(blk));
	CHECK_EQ(cbt_img_writer_add(w, 10, 1, blk), 0);
	CHECK_EQ(cbt_img_writer_add(w, far, 1, blk), 0);
	CHECK_EQ(cbt_img_writer_finish(w, NULL), 0);
	cbt_img_writer_free(w);
	close(fd);
	CHECK_EQ(cbt_view_open(&v, p, NULL, &o), 0);
	CHECK_EQ(cbt_view_size(v), 16ULL << 40);
	CHECK_EQ(cbt_view_pread(v, buf, 2 * BS, far * BS - BS), 0);
	CHECK(buf[0] == 0 && buf[BS - 1] == 0 && buf[BS] == 0x5a && buf[2 * BS - 1] == 0x5a);
	CHECK_EQ(cbt_view_owner(v, far), 0);
	CHECK_EQ(cbt_view_owner(v, far - 1), -1);
	cbt_view_close(v);
	unlink(p);
}

struct ext_rec {
	uint64_t n, off[8], len[8];
	bool data[8];
};

static int rec_cb(void *arg, uint64_t off, uint64_t len, bool data)
{
	struct ext_rec *r = arg;

	if (r->n < 8) {
		r->off[r->n] = off;
		r->len[r->n] = len;
		r->data[r->n] = data;
	}
	r->n++;
	return 0;
}

struct ext_all {
	struct cbt_view *v;
	uint64_t end;
	int bad;
};

/* Each range starts where the last ended; its flag is every block's (owner or not). */
static int all_cb(void *arg, uint64_t off, uint64_t len, bool data)
{
	struct ext_all *x = arg;

	if (off != x->end)
		x->bad = 1;
	for (uint64_t b = off / BS; b * BS < off + len; b++)
		if ((cbt_view_owner(x->v, b) >= 0) != data)
			x->bad = 2;
	x->end = off + len;
	return 0;
}

/* base:allocation: data where some image holds blocks, across images; zeros elsewhere. */
static void extents_follow_the_chain(void)
{
	struct cbt_view_opts o = { 0 };
	struct cbt_view *v;
	struct ext_rec r = { 0 };
	uint64_t end = 0;

	use_chain();
	CHECK_EQ(cbt_view_open(&v, dir, "1", &o), 0);
	/* the full image holds blocks 0..59, 100..159, ...: unaligned request inside */
	CHECK_EQ(cbt_view_extents(v, 10 * BS + 7, 150 * BS, rec_cb, &r), 0);
	CHECK_EQ(r.n, 4);
	CHECK(r.data[0] && !r.data[1] && r.data[2] && !r.data[3]);
	CHECK_EQ(r.off[0], 10 * BS + 7);
	CHECK_EQ(r.len[0], 50 * BS - 7);
	CHECK_EQ(r.off[1], 60 * BS);
	CHECK_EQ(r.len[1], 40 * BS);
	CHECK_EQ(r.len[2], 60 * BS);
	CHECK_EQ(r.off[3], 160 * BS);
	CHECK_EQ(r.len[3], 7);
	cbt_view_close(v);
	/* the newest point: every block's flag is whether some image holds it */
	CHECK_EQ(cbt_view_open(&v, dir, NULL, &o), 0);
	{
		struct ext_all a = { v, 0, 0 };

		CHECK_EQ(cbt_view_extents(v, 0, DEV2, all_cb, &a), 0);
		CHECK_EQ(a.bad, 0);
		end = a.end;
	}
	CHECK_EQ(end, DEV2);
	cbt_view_close(v);
}

/*
 * An encrypted chain (cbt mount --key): the view reads what restore
 * writes; a frame's ciphertext changed, its checksum recomputed, fails
 * its reads as "authentication failed"; without the key it does not open.
 */
static void encrypted_chain(void)
{
	static const uint8_t key[CBT_KEY_BYTES] = "view test key, thirty-two bytes";
	struct cbt_img_frame_ent *fr = NULL;
	struct cbt_view_opts o = { 0 };
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	struct cbt_view *v;
	uint8_t *buf = malloc(BS), sum[8];
	char p[256];
	int fd;

	CHECK_EQ(cbt_key_set(key), 0);
	new_chain(0);
	check_point(NULL, DEV2, NIMG);
	check_point("3", DEV1, 3);
	snprintf(p, sizeof(p), "%s/000002-incr.cbti", dir);
	fd = open(p, O_RDWR);
	CHECK_EQ(cbt_img_read_ends_fd(fd, p, &h, &t), 0);
	CHECK_EQ(h.version, CBT_IMG_VERSION_CRYPT);
	CHECK_EQ(cbt_img_frame_index(fd, p, &h, &t, &fr), 0);
	/* the first byte of frame 0's sealed data, and its XXH64 made to fit */
	uint64_t at = fr[0].off + cbt_img_frame_disk_len(&fr[0]) - fr[0].stored;
	uint8_t *data = malloc(fr[0].stored);

	CHECK_EQ(cbt_pread_full(fd, data, fr[0].stored, at), 0);
	data[0] ^= 1;
	cbt_put_le64(sum, cbt_img_sum(h.uuid, data, fr[0].stored));
	CHECK_EQ(pwrite(fd, data, 1, (off_t)at), 1);
	CHECK_EQ(pwrite(fd, sum, 8, (off_t)(fr[0].off + 32)), 8);
	/* the frame header's checksum covers the data checksum: redone too */
	size_t hl = (size_t)(cbt_img_frame_disk_len(&fr[0]) - fr[0].stored);
	uint8_t *fh = malloc(hl);

	CHECK_EQ(cbt_pread_full(fd, fh, hl, fr[0].off), 0);
	cbt_put_le64(fh + hl - 8, cbt_img_sum(h.uuid, fh, hl - 8));
	CHECK_EQ(pwrite(fd, fh + hl - 8, 8, (off_t)(fr[0].off + hl - 8)), 8);
	close(fd);
	cbt_view_set_log(catch_log, NULL);
	nlogged = 0;
	CHECK_EQ(cbt_view_open(&v, dir, "2", &o), 0);
	uint64_t b = fr[0].first;

	while (cbt_view_owner(v, b) != 1)
		b++;
	CHECK_EQ(cbt_view_pread(v, buf, BS, b * BS), -EIO);
	CHECK(nlogged >= 1 && strstr(logged[0], "frame authentication failed"));
	cbt_view_close(v);
	cbt_view_set_log(NULL, NULL);
	cbt_key_clear();
	CHECK_ERR(cbt_view_open(&v, dir, NULL, &o), -ENOKEY, "--key");
	free(fr);
	free(data);
	free(fh);
	free(buf);
	cbt_extents_free(&t.map);
	rm_chain();
}

/*
 * Split images (segments of 1 MiB, so frames cross segment boundaries)
 * read at random offsets the same as their restore; a frame damaged in a
 * segment fails its range and is logged under the image's name; a missing
 * segment is refused at open, as is a version 1 split image (no frame
 * index to find its frames by).
 */
static void split_chain(void)
{
	struct cbt_view_opts o = { 0 };
	struct cbt_view *v;
	char p[256], q[300];
	uint8_t *buf = malloc(BS);
	int fd, segs = 0;

	split_size = 1 << 20;
	new_chain(0);
	for (;; segs++) {
		snprintf(p, sizeof(p), "%s/000001-full.cbti.%04d", dir, segs);
		if (access(p, F_OK))
			break;
	}
	CHECK(segs >= 3);
	check_point(NULL, DEV2, NIMG);
	check_point("3", DEV1, 3);
	/* a byte of the full image's second segment: inside some frame's data */
	snprintf(p, sizeof(p), "%s/000001-full.cbti.0001", dir);
	fd = open(p, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, buf, 1, 4000), 1);
	buf[0] ^= 0x55;
	CHECK_EQ(pwrite(fd, buf, 1, 4000), 1);
	close(fd);
	cbt_view_set_log(catch_log, NULL);
	nlogged = 0;
	CHECK_EQ(cbt_view_open(&v, dir, "1", &o), 0);
	{
		int bad = 0;

		for (uint64_t off = 0; off < DEV1; off += BS) {
			uint64_t n = DEV1 - off < BS ? DEV1 - off : BS;

			bad += cbt_view_pread(v, buf, n, off) == -EIO;
		}
		CHECK(bad > 0);
	}
	CHECK(nlogged >= 1 && strstr(logged[0], "000001-full.cbti") &&
	      strstr(logged[0], "damaged frame"));
	cbt_view_close(v);
	cbt_view_set_log(NULL, NULL);
	/* the one segment of image 2 gone: refused at open, the segment named (exit 4) */
	snprintf(p, sizeof(p), "%s/000002-incr.cbti.0000", dir);
	snprintf(q, sizeof(q), "%s.moved", p);
	CHECK_EQ(rename(p, q), 0);
	CHECK_ERR(cbt_view_open(&v, dir, NULL, &o), -EBADMSG, "segment 1 of 1 missing");
	CHECK_EQ(rename(q, p), 0);
	rm_chain();
	new_chain(1);
	CHECK_ERR(cbt_view_open(&v, dir, NULL, &o), -EINVAL, "version 2");
	rm_chain();
	split_size = 0;
	free(buf);
}

UT_MAIN("view",
	UT_CASE(v1_images_read_the_same),
	UT_CASE(reads_equal_restore),
	UT_CASE(v1_scan_equals_v2_index),
	UT_CASE(extents_follow_the_chain),
	UT_CASE(cache_budget_kept),
	UT_CASE(threads_read_at_once),
	UT_CASE(sparse_16tib_point),
	UT_CASE(corrupt_frame_fails_its_range_only),
	UT_CASE(lying_frame_index),
	UT_CASE(broken_chain_refused_at_open),
	UT_CASE(encrypted_chain),
	UT_CASE(split_chain))
