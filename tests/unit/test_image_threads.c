// SPDX-License-Identifier: GPL-2.0
/*
 * The image reader with decoding threads (cbt_img_reader_threads(), behind
 * restore and verify --threads): the frames come out in stream order with
 * the same bytes as on one thread, and a damaged or cut image fails with
 * the same error, the same detail, after the same frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "image/apply.h"
#include "image/crypt.h"
#include "image/image.h"
#include "unit.h"
#include "unit_image.h"
#include "util/util.h"

/* What a reader handed out: how many frames, a hash of them all, how it ended. */
struct transcript {
	uint64_t frames;
	uint64_t sum;
	int ret;
	char detail[1024];
};

static void transcript(int fd, int threads, uint64_t max_frames, struct transcript *t)
{
	struct cbt_img_reader *r;
	struct cbt_img_frame f;
	XXH64_state_t s;

	memset(t, 0, sizeof(*t));
	XXH64_reset(&s, 0);
	lseek(fd, 0, SEEK_SET);
	cbt_err_clear();
	t->ret = cbt_img_reader_open(&r, fd, "img");
	if (!t->ret)
		t->ret = cbt_img_reader_threads(r, threads);
	while (!t->ret && t->frames < max_frames && (t->ret = cbt_img_next(r, &f)) == 1) {
		XXH64_update(&s, f.ext, f.nr * sizeof(*f.ext));
		XXH64_update(&s, f.data, f.len);
		t->frames++;
		t->ret = 0;
	}
	if (!t->ret && cbt_img_reader_trailer(r))
		XXH64_update(&s, cbt_img_reader_trailer(r)->digest, 16);
	snprintf(t->detail, sizeof(t->detail), "%s", ut_detail());
	t->sum = XXH64_digest(&s);
	cbt_img_reader_free(r);
}

/*
 * 512-byte blocks: 6 frames of 4096 one-block extents (the extent limit),
 * then a 12 MiB run (3 frames of 4 MiB, the size limit) and the last block.
 */
#define SPARSE (6 * 4096)
#define NB (2 * SPARSE + 24576 + 8)

static int many_frames(uint32_t comp)
{
	struct cbt_range *ext = calloc(SPARSE + 2, sizeof(*ext));
	struct cbt_img_header h;
	int fd;

	if (!ext)
		return -ENOMEM;
	for (size_t i = 0; i < SPARSE; i++)
		ext[i] = (struct cbt_range){ 2 * i, 1 };
	ext[SPARSE] = (struct cbt_range){ 2 * SPARSE, 24576 };
	ext[SPARSE + 1] = (struct cbt_range){ NB - 1, 1 };
	mkheader(&h, NB * 512ULL, 512, comp);
	fd = write_image(&h, ext, SPARSE + 2, 2);
	free(ext);
	return fd;
}

static void same_frames_any_threads(void)
{
	for (uint32_t comp = 0; comp <= 1; comp++) {
		struct transcript one, many;
		int fd = many_frames(comp);

		CHECK(fd >= 0);
		transcript(fd, 1, UINT64_MAX, &one);
		CHECK_EQ(one.ret, 0);
		CHECK_EQ(one.frames, 10);
		for (int n = 2; n <= 9; n += 7) {
			transcript(fd, n, UINT64_MAX, &many);
			CHECK_EQ(many.ret, 0);
			CHECK_EQ(many.frames, one.frames);
			CHECK_EQ(many.sum, one.sum);
		}
		close(fd);
	}
}

/* Read all of @fd into a new buffer; *@len its size. */
static uint8_t *slurp(int fd, size_t *len)
{
	struct stat st;
	uint8_t *p;

	if (fstat(fd, &st))
		return NULL;
	*len = (size_t)st.st_size;
	p = malloc(*len + 1);
	if (p && pread(fd, p, *len, 0) != (ssize_t)*len) {
		free(p);
		return NULL;
	}
	return p;
}

/*
 * The writer's bytes do not depend on its threads (a resumed S3 upload
 * regenerates an image and compares it part for part, docs/storage.md).
 */
static void same_bytes_any_threads(void)
{
	for (uint32_t comp = 0; comp <= 1; comp++) {
		struct cbt_range ext[] = { { 0, 3000 }, { 4000, 9000 }, { 20000, 1 } };
		struct cbt_img_header h;
		uint8_t *one = NULL;
		size_t one_len = 0;

		mkheader(&h, 32ULL << 20, 1024, comp);
		for (int n = 1; n <= 8; n += 3) {
			int fd = write_image(&h, ext, 3, n);
			uint8_t *p;
			size_t len = 0;

			CHECK(fd >= 0);
			p = slurp(fd, &len);
			close(fd);
			CHECK(p && len > 4096);
			if (!one) {
				one = p;
				one_len = len;
				continue;
			}
			CHECK_EQ(len, one_len);
			CHECK(!memcmp(p, one, len));
			free(p);
		}
		free(one);
	}
}

/* The frame index of image @fd: *@v, *@n entries. */
static int frames_of(int fd, struct cbt_img_frame_ent **v, uint64_t *n)
{
	struct cbt_img_header h;
	struct cbt_img_trailer t;
	int ret = cbt_img_read_ends_fd(fd, "img", &h, &t);

	if (!ret)
		ret = cbt_img_frame_index(fd, "img", &h, &t, v);
	*n = t.frames;
	cbt_extents_free(&t.map);
	return ret;
}

/* Damage image @fd (of @size bytes) with @how, read it on 1 and on 4 threads: the same end. */
static int same_failure(int fd, const char *how, struct transcript *one)
{
	struct transcript many;

	transcript(fd, 1, UINT64_MAX, one);
	transcript(fd, 4, UINT64_MAX, &many);
	if (one->ret >= 0 || many.ret != one->ret || many.frames != one->frames ||
	    many.sum != one->sum || strcmp(many.detail, one->detail)) {
		fprintf(stderr, "# %s: 1 thread: %d after %llu frames (%s); 4: %d after %llu (%s)\n",
			how, one->ret, (unsigned long long)one->frames, one->detail, many.ret,
			(unsigned long long)many.frames, many.detail);
		return -1;
	}
	return 0;
}

static void flip_byte(int fd, uint64_t off)
{
	uint8_t b;

	if (pread(fd, &b, 1, (off_t)off) == 1) {
		b ^= 0x40;
		if (pwrite(fd, &b, 1, (off_t)off) != 1)
			abort();
	}
}

static void damaged_middle_frame_same_error(void)
{
	for (uint32_t comp = 0; comp <= 1; comp++) {
		struct cbt_img_frame_ent *v = NULL;
		struct transcript t;
		uint64_t n, data_end, hdr;
		struct stat st;
		int fd = many_frames(comp);

		CHECK(fd >= 0);
		CHECK_EQ(frames_of(fd, &v, &n), 0);
		CHECK_EQ(n, 10);
		data_end = v[5].off + cbt_img_frame_disk_len(&v[5]) - 1;
		hdr = v[4].off + 12;

		/* frame 5's data: frames 0-4 come out, then the checksum error */
		flip_byte(fd, data_end);
		CHECK_EQ(same_failure(fd, "data", &t), 0);
		CHECK_EQ(t.frames, 5);
		CHECK(strstr(t.detail, "frame data checksum mismatch"));
		flip_byte(fd, data_end);

		/* frame 4's header (its sequence number) */
		flip_byte(fd, hdr);
		CHECK_EQ(same_failure(fd, "header", &t), 0);
		CHECK_EQ(t.frames, 4);
		CHECK(strstr(t.detail, "img: "));
		flip_byte(fd, hdr);

		/* cut in frame 7's data */
		CHECK_EQ(fstat(fd, &st), 0);
		CHECK_EQ(ftruncate(fd, (off_t)(v[7].off + 100)), 0);
		CHECK_EQ(same_failure(fd, "cut", &t), 0);
		CHECK_EQ(t.frames, 7);
		CHECK(strstr(t.detail, "truncated"));
		free(v);
		close(fd);
	}
}

/*
 * Rewrite frame @k of image @fd (uncompressed) with one byte of its data
 * changed and both its checksums made good again, as a forger without a key
 * could: only the content digest in the trailer can tell.
 */
static int forge_frame(int fd, const struct cbt_img_header *h, const struct cbt_img_frame_ent *e)
{
	uint64_t seed = cbt_get_le64(h->uuid), data = e->off + CBT_IMG_FRAME_HDR_SIZE +
		16ULL * e->nr_ext + 8;
	size_t hlen = CBT_IMG_FRAME_HDR_SIZE + 16 * (size_t)e->nr_ext;
	uint8_t *hdr = malloc(hlen + 8), *d = malloc(e->stored);
	int ret = -EIO;

	if (!hdr || !d || pread(fd, hdr, hlen, (off_t)e->off) != (ssize_t)hlen ||
	    pread(fd, d, e->stored, (off_t)data) != (ssize_t)e->stored)
		goto out;
	d[e->stored / 2] ^= 0x40;
	cbt_put_le64(hdr + 32, cbt_img_sum(h->uuid, d, e->stored));
	cbt_put_le64(hdr + hlen, XXH64(hdr, hlen, seed));
	if (pwrite(fd, hdr, hlen + 8, (off_t)e->off) == (ssize_t)(hlen + 8) &&
	    pwrite(fd, d, e->stored, (off_t)data) == (ssize_t)e->stored)
		ret = 0;
out:
	free(hdr);
	free(d);
	return ret;
}

/* Change the content digest in image @fd's (plain) trailer and make its checksum good again. */
static int forge_digest(int fd, const struct cbt_img_header *h)
{
	uint8_t tail[24], *t;
	uint64_t start, len;
	struct stat st;
	int ret = -EIO;

	if (fstat(fd, &st) || pread(fd, tail, 24, st.st_size - 24) != 24)
		return -EIO;
	start = cbt_get_le64(tail + 8);
	len = (uint64_t)st.st_size - 24 - start;
	t = malloc(len);
	if (t && pread(fd, t, len, (off_t)start) == (ssize_t)len) {
		t[40] ^= 1;	/* the digest's 9th byte */
		cbt_put_le64(tail, XXH64(t, len, cbt_get_le64(h->uuid)));
		if (pwrite(fd, t, len, (off_t)start) == (ssize_t)len &&
		    pwrite(fd, tail, 8, st.st_size - 24) == 8)
			ret = 0;
	}
	free(t);
	return ret;
}

/*
 * A frame whose data and checksums were both rewritten, and a trailer whose
 * digest was: every frame comes out (they check), then the trailer's digest
 * fails, with the same detail on 1, 2 and 4 threads. The digest is taken
 * on a thread of its own with 2 and more: a digest thread that missed a
 * frame, or took one twice, fails same_frames_any_threads instead.
 */
static void forged_content_caught_any_threads(void)
{
	for (int what = 0; what < 3; what++) {
		uint32_t comp = what == 2 ? CBT_IMG_COMP_ZSTD : CBT_IMG_COMP_NONE;
		struct cbt_img_frame_ent *v = NULL;
		struct cbt_img_header h;
		struct cbt_img_trailer tr;
		struct transcript one, t;
		uint64_t n;
		int fd = many_frames(comp);

		CHECK(fd >= 0);
		CHECK_EQ(frames_of(fd, &v, &n), 0);
		CHECK_EQ(cbt_img_read_ends_fd(fd, "img", &h, &tr), 0);
		cbt_extents_free(&tr.map);
		if (what == 0)
			CHECK_EQ(forge_frame(fd, &h, &v[7]), 0);	/* the 12 MiB run's second frame */
		else
			CHECK_EQ(forge_digest(fd, &h), 0);
		for (int k = 0, threads = 1; k < 3; k++, threads *= 2) {
			transcript(fd, threads, UINT64_MAX, k ? &t : &one);
			if (k) {
				CHECK_EQ(t.sum, one.sum);
				CHECK(!strcmp(t.detail, one.detail));
			}
			CHECK_EQ((k ? t : one).ret, -EBADMSG);
			CHECK_EQ((k ? t : one).frames, 10);
			CHECK(strstr((k ? t : one).detail, "digest of the content does not match"));
		}
		free(v);
		close(fd);
	}
}

/*
 * An encrypted image (version 3: frames sealed, the digest masked) reads
 * the same on 1, 2 and 4 threads, and a byte changed in a frame fails
 * its authentication at the same frame, with the same detail.
 */
static void encrypted_any_threads(void)
{
	static const uint8_t key[CBT_KEY_BYTES] = "0123456789abcdef0123456789abcde";
	struct cbt_img_frame_ent *v = NULL;
	struct transcript one, t;
	uint64_t n;
	int fd;

	CHECK_EQ(cbt_key_set(key), 0);
	fd = many_frames(CBT_IMG_COMP_ZSTD);
	CHECK(fd >= 0);
	transcript(fd, 1, UINT64_MAX, &one);
	CHECK_EQ(one.ret, 0);
	CHECK_EQ(one.frames, 10);
	for (int threads = 2; threads <= 4; threads *= 2) {
		transcript(fd, threads, UINT64_MAX, &t);
		CHECK_EQ(t.ret, 0);
		CHECK_EQ(t.frames, one.frames);
		CHECK_EQ(t.sum, one.sum);
	}
	CHECK_EQ(frames_of(fd, &v, &n), 0);
	/* a data byte of frame 5 (its data checksum made good: only the seal can tell) */
	{
		struct cbt_img_header h;
		struct cbt_img_trailer tr;

		CHECK_EQ(cbt_img_read_ends_fd(fd, "img", &h, &tr), 0);
		cbt_extents_free(&tr.map);
		CHECK_EQ(forge_frame(fd, &h, &v[5]), 0);
	}
	CHECK_EQ(same_failure(fd, "sealed", &one), 0);
	CHECK_EQ(one.frames, 5);
	CHECK(strstr(one.detail, "frame authentication failed"));
	transcript(fd, 2, UINT64_MAX, &t);
	CHECK(!strcmp(t.detail, one.detail));
	free(v);
	close(fd);
	cbt_key_clear();
}

/* The device many_frames() describes: what a restore must write, block by block. */
static void many_frames_device(uint8_t *p)
{
	memset(p, 0, NB * 512ULL);
	for (uint64_t b = 0; b < NB; b++)
		if ((b < 2 * SPARSE && b % 2 == 0) || (b >= 2 * SPARSE && b < 2 * SPARSE + 24576) ||
		    b == NB - 1)
			fill(p + b * 512, 512, b);
}

/*
 * cbt_apply_images() (cbt restore) with 1, 2 and 4 reading threads, the
 * large runs written with O_DIRECT (as to a block device) or not: the
 * target holds the device's bytes every time; a frame damaged in the middle
 * fails every time, with the same detail.
 */
static void restored_bytes_any_threads(void)
{
	uint8_t *want = malloc(NB * 512ULL), *got = malloc(NB * 512ULL);
	struct cbt_img_frame_ent *v = NULL;
	struct cbt_apply_stats st;
	char d1[1024] = "";
	uint64_t n;

	CHECK(want && got);
	many_frames_device(want);
	for (uint32_t comp = 0; comp <= 1; comp++) {
		int fd = many_frames(comp);
		const char *name = "img";

		CHECK(fd >= 0);
		CHECK_EQ(frames_of(fd, &v, &n), 0);
		for (int damaged = 0; damaged <= 1; damaged++) {
			if (damaged)
				flip_byte(fd, v[6].off + cbt_img_frame_disk_len(&v[6]) - 9);
			for (int k = 0; k < 6; k++) {
				int out = memfd(), ret, threads = 1 << (k % 3);

				CHECK(out >= 0);
				lseek(fd, 0, SEEK_SET);
				cbt_img_set_read_threads(threads);
				cbt_apply_direct_files = k >= 3;
				cbt_err_clear();
				ret = cbt_apply_images(&fd, &name, 1, out, true, NULL, &st);
				cbt_apply_direct_files = false;
				cbt_img_set_read_threads(1);
				if (damaged) {
					CHECK_EQ(ret, -EBADMSG);
					CHECK(strstr(ut_detail(), "frame data checksum mismatch"));
					if (k == 0)
						snprintf(d1, sizeof(d1), "%s", ut_detail());
					CHECK(!strcmp(ut_detail(), d1));
				} else {
					CHECK_EQ(ret, 0);
					CHECK_EQ(st.written, (SPARSE + 24576 + 1) * 512ULL);
					/* the 12 MiB run's three frames, not the single blocks */
					CHECK_EQ(st.direct, k >= 3 ? 24576 * 512ULL : 0);
					/* the same through the page cache: handed to writeback */
					CHECK_EQ(st.kicked, k >= 3 ? 0 : 24576 * 512ULL);
					CHECK_EQ(pread(out, got, NB * 512ULL, 0), (ssize_t)(NB * 512ULL));
					CHECK(!memcmp(got, want, NB * 512ULL));
				}
				close(out);
			}
		}
		free(v);
		close(fd);
	}
	free(want);
	free(got);
}

/*
 * A device that refuses direct writes: call @fail_at of the direct pwrite()
 * fails with @fail_errno; with @short_first, every call before it writes
 * only half what it was given (the rest must follow, or be rewritten).
 */
static struct {
	int calls, fail_at, fail_errno;
	bool short_first;
	uint64_t done;		/* bytes the direct writes that worked wrote */
} dw;

static ssize_t refusing_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	ssize_t n;

	if (++dw.calls == dw.fail_at) {
		errno = dw.fail_errno;
		return -1;
	}
	n = pwrite(fd, buf, dw.short_first && dw.calls < dw.fail_at ? len / 2 : len, off);
	if (n > 0)
		dw.done += (uint64_t)n;
	return n;
}

/*
 * A device that refuses a direct write with EINVAL (a shape it does not
 * take): that run and every later one go through the page cache, and the
 * target still holds the device's bytes exactly; the direct writes before
 * it stand. Any other error (EIO) ends the restore with that error and is
 * not retried through the page cache.
 */
static void direct_write_refused(void)
{
	static const struct {
		int fail_at, fail_errno;
		bool short_first;
		int want_ret;
	} cases[] = {
		{ 1, EINVAL, false, 0 },	/* the first direct write */
		{ 2, EINVAL, false, 0 },	/* after a direct run went through */
		{ 2, EINVAL, true, 0 },		/* after half a run went through */
		{ 1, EIO, false, -EIO },
		{ 2, EIO, false, -EIO },
	};
	uint8_t *want = malloc(NB * 512ULL), *got = malloc(NB * 512ULL);
	const char *name = "img";
	int fd = many_frames(CBT_IMG_COMP_ZSTD);

	CHECK(want && got && fd >= 0);
	many_frames_device(want);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct cbt_apply_stats st;
		int out = memfd(), ret;

		CHECK(out >= 0);
		memset(&dw, 0, sizeof(dw));
		dw.fail_at = cases[c].fail_at;
		dw.fail_errno = cases[c].fail_errno;
		dw.short_first = cases[c].short_first;
		lseek(fd, 0, SEEK_SET);
		cbt_apply_direct_files = true;
		cbt_apply_direct_pwrite = refusing_pwrite;
		cbt_err_clear();
		ret = cbt_apply_images(&fd, &name, 1, out, true, NULL, &st);
		cbt_apply_direct_files = false;
		cbt_apply_direct_pwrite = pwrite;
		if (ret != cases[c].want_ret)
			UT_FAIL("case %zu: returned %d, want %d (%s)", c, ret, cases[c].want_ret,
				ut_detail());
		/* no direct write after the one that failed */
		CHECK_EQ(dw.calls, cases[c].fail_at);
		CHECK_EQ(st.direct, cases[c].short_first ? 0 : dw.done);
		CHECK_EQ(pread(out, got, NB * 512ULL, 0), (ssize_t)(NB * 512ULL));
		if (!ret) {
			CHECK_EQ(st.written, (SPARSE + 24576 + 1) * 512ULL);
			CHECK(!memcmp(got, want, NB * 512ULL));
		} else {
			uint64_t fail = 2 * SPARSE * 512ULL + dw.done;

			CHECK(strstr(ut_detail(), "writing the target at byte"));
			CHECK(strstr(ut_detail(), strerror(EIO)));
			/* what went before is there; the failed run was not written at all */
			CHECK(!memcmp(got, want, fail));
			for (uint64_t i = fail; i < NB * 512ULL; i++)
				if (got[i])
					UT_FAIL("case %zu: byte %" PRIu64 " written after the EIO", c, i);
		}
		close(out);
	}
	free(want);
	free(got);
	close(fd);
}

/*
 * A file's writeback, started after each large run (sync_file_range()):
 * call @fail_at fails with @fail_errno; every call is recorded.
 */
static struct {
	int calls, fail_at, fail_errno;
	unsigned int flags;	/* of every call */
	uint64_t off[8], len[8];
} wb;

static int recording_writeback(int fd, off_t off, off_t len, unsigned int flags)
{
	if (wb.calls < 8) {
		wb.off[wb.calls] = (uint64_t)off;
		wb.len[wb.calls] = (uint64_t)len;
	}
	wb.flags |= flags;
	if (++wb.calls == wb.fail_at) {
		errno = wb.fail_errno;
		return -1;
	}
	return sync_file_range(fd, off, len, flags);
}

/*
 * A regular file target, 1, 2 and 4 threads: writeback is started for
 * exactly the large runs (the 12 MiB run's three frames), right after each
 * is written, never for the single blocks. A filesystem that refuses it
 * (EINVAL, ENOSYS) gets no more calls and the same bytes; a writeback
 * error (EIO, ENOSPC) ends the restore with that error at that run, and
 * nothing after it is written.
 */
static void file_writeback_started(void)
{
	static const struct {
		int fail_at, fail_errno, want_ret;
	} cases[] = {
		{ 0, 0, 0 },
		{ 1, EINVAL, 0 },
		{ 2, ENOSYS, 0 },
		{ 1, EIO, -EIO },
		{ 2, ENOSPC, -ENOSPC },
	};
	uint8_t *want = malloc(NB * 512ULL), *got = malloc(NB * 512ULL);
	const char *name = "img";
	int fd = many_frames(CBT_IMG_COMP_ZSTD);
	const uint64_t run = 2 * SPARSE * 512ULL, frame = 8192 * 512ULL;

	CHECK(want && got && fd >= 0);
	many_frames_device(want);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int threads = 1; threads <= 4; threads *= 2) {
			struct cbt_apply_stats st;
			int out = memfd(), ret, want_calls;

			CHECK(out >= 0);
			memset(&wb, 0, sizeof(wb));
			wb.fail_at = cases[c].fail_at;
			wb.fail_errno = cases[c].fail_errno;
			lseek(fd, 0, SEEK_SET);
			cbt_img_set_read_threads(threads);
			cbt_apply_writeback = recording_writeback;
			cbt_err_clear();
			ret = cbt_apply_images(&fd, &name, 1, out, true, NULL, &st);
			cbt_apply_writeback = sync_file_range;
			cbt_img_set_read_threads(1);
			if (ret != cases[c].want_ret)
				UT_FAIL("case %zu, %d threads: returned %d, want %d (%s)", c, threads,
					ret, cases[c].want_ret, ut_detail());
			want_calls = cases[c].fail_at ? cases[c].fail_at : 3;
			/* it starts the writes and waits for none */
			CHECK_EQ(wb.flags, SYNC_FILE_RANGE_WRITE);
			CHECK_EQ(wb.calls, want_calls);
			for (int i = 0; i < want_calls; i++) {
				CHECK_EQ(wb.off[i], run + (uint64_t)i * frame);
				CHECK_EQ(wb.len[i], frame);
			}
			CHECK_EQ(st.kicked, (uint64_t)(want_calls - !!cases[c].fail_at) * frame);
			CHECK_EQ(pread(out, got, NB * 512ULL, 0), (ssize_t)(NB * 512ULL));
			if (!ret) {
				CHECK(!memcmp(got, want, NB * 512ULL));
			} else {
				uint64_t end = run + (uint64_t)want_calls * frame;

				CHECK(strstr(ut_detail(), "writing the target at byte"));
				CHECK(strstr(ut_detail(), strerror(cases[c].fail_errno)));
				CHECK(!memcmp(got, want, end));
				for (uint64_t i = end; i < NB * 512ULL; i++)
					if (got[i])
						UT_FAIL("case %zu: byte %" PRIu64 " written after the"
							" error", c, i);
			}
			close(out);
		}
	}
	free(want);
	free(got);
	close(fd);
}

/* cbt_img_verify_fd() takes the process default, as restore and verify set it. */
static void verify_fd_with_default_threads(void)
{
	struct cbt_img_frame_ent *v = NULL;
	char d1[1024];
	uint64_t n;
	int fd = many_frames(CBT_IMG_COMP_ZSTD), r1;

	CHECK(fd >= 0);
	CHECK_EQ(frames_of(fd, &v, &n), 0);
	flip_byte(fd, v[8].off + cbt_img_frame_disk_len(&v[8]) - 1);
	free(v);
	lseek(fd, 0, SEEK_SET);
	r1 = cbt_img_verify_fd(fd, "img", NULL, NULL);
	snprintf(d1, sizeof(d1), "%s", ut_detail());
	cbt_img_set_read_threads(3);
	lseek(fd, 0, SEEK_SET);
	CHECK_ERR(cbt_img_verify_fd(fd, "img", NULL, NULL), r1, d1);
	cbt_img_set_read_threads(1);
	close(fd);
	CHECK_EQ(r1, -EBADMSG);
}

/* A reader given up half-way stops its threads and frees its frames (ASan: no leak). */
static void freed_half_way(void)
{
	struct transcript t;
	int fd = many_frames(CBT_IMG_COMP_ZSTD);

	CHECK(fd >= 0);
	transcript(fd, 8, 3, &t);
	close(fd);
	CHECK_EQ(t.ret, 0);
	CHECK_EQ(t.frames, 3);
}

struct feeder {
	int from, to;		/* copy @len bytes of @from to the pipe @to */
	uint64_t len;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	static uint8_t buf[65536];

	for (uint64_t off = 0; off < f->len;) {
		size_t k = f->len - off < sizeof(buf) ? f->len - off : sizeof(buf);
		ssize_t n = pread(f->from, buf, k, (off_t)off);

		if (n <= 0 || write(f->to, buf, (size_t)n) != n)
			break;	/* the reader is gone (EPIPE) */
		off += (uint64_t)n;
	}
	return NULL;
}

/*
 * A reader given up while its reading thread waits in read() on a stream
 * that stalls (a pipe whose writer neither writes nor closes) stops that
 * thread and returns: cbt restore of a stalled stream fails instead of
 * hanging when its target write fails. alarm(): a hang fails the binary.
 */
static void freed_on_a_stalled_stream(void)
{
	struct cbt_img_frame_ent *v = NULL;
	struct cbt_img_reader *r;
	struct cbt_img_frame f;
	struct feeder fd_in;
	pthread_t t;
	int p[2], fd = many_frames(CBT_IMG_COMP_ZSTD);
	uint64_t n;

	CHECK(fd >= 0);
	CHECK_EQ(frames_of(fd, &v, &n), 0);
	CHECK_EQ(pipe(p), 0);
	signal(SIGPIPE, SIG_IGN);
	/* everything up to the middle of frame 3 */
	fd_in = (struct feeder){ fd, p[1], v[3].off + cbt_img_frame_disk_len(&v[3]) / 2 };
	CHECK_EQ(pthread_create(&t, NULL, feed, &fd_in), 0);
	alarm(30);
	CHECK_EQ(cbt_img_reader_open(&r, p[0], "pipe"), 0);
	CHECK_EQ(cbt_img_reader_threads(r, 2), 0);
	CHECK_EQ(cbt_img_next(r, &f), 1);
	CHECK_EQ(cbt_img_next(r, &f), 1);
	cbt_img_reader_free(r);
	alarm(0);
	close(p[0]);
	pthread_join(t, NULL);
	close(p[1]);
	free(v);
	close(fd);
}

static void threads_after_first_frame_refused(void)
{
	struct cbt_img_reader *r;
	struct cbt_img_frame f;
	int fd = many_frames(CBT_IMG_COMP_NONE);

	CHECK(fd >= 0);
	CHECK_EQ(cbt_img_reader_open(&r, fd, "img"), 0);
	CHECK_EQ(cbt_img_next(r, &f), 1);
	CHECK_EQ(cbt_img_reader_threads(r, 2), -EINVAL);
	CHECK_EQ(cbt_img_reader_threads(r, 1), 0);
	cbt_img_reader_free(r);
	close(fd);
}

UT_MAIN("image_threads",
	UT_CASE(same_frames_any_threads),
	UT_CASE(same_bytes_any_threads),
	UT_CASE(damaged_middle_frame_same_error),
	UT_CASE(forged_content_caught_any_threads),
	UT_CASE(restored_bytes_any_threads),
	UT_CASE(direct_write_refused),
	UT_CASE(file_writeback_started),
	UT_CASE(encrypted_any_threads),
	UT_CASE(verify_fd_with_default_threads),
	UT_CASE(freed_half_way),
	UT_CASE(freed_on_a_stalled_stream),
	UT_CASE(threads_after_first_frame_refused))
