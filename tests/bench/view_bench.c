// SPDX-License-Identifier: GPL-2.0
/*
 * Random access to a restore point (tools/lib/image/view.c), on the host:
 * 4 KiB random reads from the newest point of a 5-image chain through the
 * view, against pread() of the same point restored to a raw file; and the
 * time cbt_view_open() takes for a 1 GiB point (version 2 and version 1
 * images) and a sparse 16 GiB one. tests/bench/view builds and runs it.
 *
 *   view_bench DIR [DEVICE_MIB [READS]]
 *
 * DIR (best on tmpfs) gets the device file, the chains and the restored
 * file; they are removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/engine.h"
#include "image/apply.h"
#include "image/image.h"
#include "image/view.h"
#include "util/util.h"

#define BS 4096U

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int ret)
{
	fprintf(stderr, "view_bench: %s: %s (%s)\n", what, strerror(ret < 0 ? -ret : ret),
		cbt_err_detail() ? cbt_err_detail() : "");
	exit(1);
}

/* Half compressible data, as a filesystem's mix of text and binaries might be. */
static void fill(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = i % 64 < 32 ? (uint8_t)rnd() : (uint8_t)(i / 4096);
}

static void backup(const char *dir, const char *dev, uint64_t bytes, uint32_t type, uint64_t epoch,
		   const struct cbt_extents *ch, uint32_t version)
{
	static const uint8_t uuid[16] = { 1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15 };
	struct cbt_backup_req req = { .type = type, .dev_bytes = bytes, .block_size = BS,
				      .epoch = epoch, .compression = CBT_IMG_COMP_ZSTD, .level = 3,
				      .dir = dir, .threads = 2, .out_fd = -1, .changed = ch,
				      .format_version = version };
	struct cbt_backup_result res;
	int fd = open(dev, O_RDONLY), ret;

	memcpy(req.dev_uuid, uuid, 16);
	ret = cbt_backup_run(&req, fd, &res);
	close(fd);
	if (ret)
		die("backup", ret);
}

/* Rewrite @n random blocks of @dev (sorted, some in runs), into @ch. */
static void change(const char *dev, uint64_t nblk, uint64_t n, struct cbt_extents *ch)
{
	int fd = open(dev, O_WRONLY);
	uint8_t buf[4 * BS];
	uint64_t b = 0;

	cbt_extents_init(ch);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t run = 1 + rnd() % 4;

		b += 1 + rnd() % (2 * nblk / n);
		if (b + run > nblk)
			break;
		fill(buf, run * BS);
		if (pwrite(fd, buf, run * BS, (off_t)(b * BS)) != (ssize_t)(run * BS))
			die("writing the device", errno);
		cbt_extents_append(ch, b, run);
		b += run;
	}
	close(fd);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct run {
	struct cbt_view *v;
	int fd;
	uint64_t nblk, seed;
	int n;
	double *lat;
};

static void *reads(void *arg)
{
	struct run *r = arg;
	uint8_t buf[BS];

	for (int i = 0; i < r->n; i++) {
		uint64_t b;
		double t;
		int ret;

		r->seed = r->seed * 6364136223846793005ULL + 1442695040888963407ULL;
		b = (r->seed >> 17) % r->nblk;
		t = now();
		ret = r->v ? cbt_view_pread(r->v, buf, BS, b * BS) :
		      cbt_pread_full(r->fd, buf, BS, b * BS);
		if (ret)
			die("read", ret);
		r->lat[i] = now() - t;
	}
	return NULL;
}

/* @threads threads of @n reads each; prints p50, p99 (µs) and IOPS. */
static void measure(const char *what, struct cbt_view *v, int fd, uint64_t nblk, int n, int threads)
{
	struct run r[8];
	pthread_t t[8];
	double *all = calloc((size_t)n * threads, sizeof(double)), t0, el;

	t0 = now();
	for (int i = 0; i < threads; i++) {
		r[i] = (struct run){ .v = v, .fd = fd, .nblk = nblk, .seed = 1 + (uint64_t)i, .n = n,
				     .lat = all + (size_t)i * n };
		pthread_create(&t[i], NULL, reads, &r[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	el = now() - t0;
	qsort(all, (size_t)n * threads, sizeof(double), cmp_double);
	printf("%-34s threads %d  p50 %8.1f us  p99 %8.1f us  IOPS %9.0f\n", what, threads,
	       all[(size_t)n * threads / 2] * 1e6, all[(size_t)n * threads * 99 / 100] * 1e6,
	       n * threads / el);
	free(all);
}

static double open_time(const char *src, struct cbt_view_stats *st)
{
	struct cbt_view_opts o = { 0 };
	struct cbt_view *v;
	double t = now();
	int ret = cbt_view_open(&v, src, NULL, &o);

	if (ret)
		die(src, ret);
	t = now() - t;
	if (st)
		cbt_view_stats(v, st);
	cbt_view_close(v);
	return t;
}

int main(int argc, char **argv)
{
	const char *top = argc > 1 ? argv[1] : "/dev/shm";
	uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 1024, bytes = mib << 20;
	int nreads = argc > 3 ? atoi(argv[3]) : 20000;
	uint64_t nblk = bytes / BS;
	char base[256], dev[300], chain[300], chain1[300], raw[300], sparse[300], cmd[1024];
	struct cbt_extents ch;
	uint8_t *buf = malloc(1 << 20);
	double t;
	int fd;

	snprintf(base, sizeof(base), "%s/cbt-view-bench-XXXXXX", top);
	if (!mkdtemp(base))
		die(base, errno);
	snprintf(dev, sizeof(dev), "%s/dev", base);
	snprintf(chain, sizeof(chain), "%s/chain", base);
	snprintf(chain1, sizeof(chain1), "%s/chain-v1", base);
	snprintf(raw, sizeof(raw), "%s/raw", base);
	snprintf(sparse, sizeof(sparse), "%s/sparse.cbti", base);

	/* a device full of data */
	fd = open(dev, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	for (uint64_t off = 0; off < bytes; off += 1 << 20) {
		fill(buf, 1 << 20);
		if (pwrite(fd, buf, 1 << 20, (off_t)off) != 1 << 20)
			die("writing the device", errno);
	}
	close(fd);
	t = now();
	backup(chain, dev, bytes, CBT_IMG_FULL, 1, NULL, 0);
	backup(chain1, dev, bytes, CBT_IMG_FULL, 1, NULL, 1);
	printf("chain: a full image of %" PRIu64 " MiB (twice: v2 and v1) in %.1f s\n", mib,
	       now() - t);
	printf("open, 1 image:   v2 %.2f ms   v1 (frame header scan) %.2f ms\n",
	       open_time(chain, NULL) * 1e3, open_time(chain1, NULL) * 1e3);
	/* four incrementals, each ~1% of the blocks in runs of 1-4 */
	for (int k = 0; k < 4; k++) {
		change(dev, nblk, nblk / 250, &ch);
		backup(chain, dev, bytes, CBT_IMG_INCREMENTAL, 2 + (uint64_t)k, &ch, 0);
		cbt_extents_free(&ch);
	}
	printf("open, 5 images:  v2 %.2f ms\n", open_time(chain, NULL) * 1e3);

	/* the point restored to a raw file, the baseline */
	{
		struct cbt_apply_stats st;
		struct cbt_point pt;
		int ret = cbt_open_point(chain, NULL, false, NULL, &pt);

		if (ret)
			die("open point", ret);
		fd = open(raw, O_CREAT | O_RDWR | O_TRUNC, 0600);
		t = now();
		ret = cbt_apply_images(pt.fds, (const char *const *)pt.names, pt.n, fd, true, NULL, &st);
		if (ret)
			die("restore", ret);
		printf("restore of the 5-image point to a file: %.2f s\n", now() - t);
		cbt_point_free(&pt);
	}
	{
		struct cbt_view_opts o = { 0 };
		struct cbt_view_stats st;
		struct cbt_view *v;
		int ret = cbt_view_open(&v, chain, NULL, &o);

		if (ret)
			die("view", ret);
		/* warm both: the raw file is in the page cache (tmpfs), the view's cache fills */
		measure("view, cold cache (64 MiB budget)", v, -1, nblk, nreads / 4, 1);
		measure("view (64 MiB budget)", v, -1, nblk, nreads, 1);
		measure("pread of the restored raw file", NULL, fd, nblk, nreads, 1);
		measure("view (64 MiB budget)", v, -1, nblk, nreads / 2, 2);
		measure("pread of the restored raw file", NULL, fd, nblk, nreads / 2, 2);
		cbt_view_stats(v, &st);
		printf("view cache: %" PRIu64 " frame loads, %" PRIu64 " hits, peak %" PRIu64
		       " MiB\n", st.loads, st.hits, st.peak_bytes >> 20);
		cbt_view_close(v);
		o.cache_bytes = 2 * bytes;
		ret = cbt_view_open(&v, chain, NULL, &o);
		if (ret)
			die("view", ret);
		measure("view, cache > device, cold", v, -1, nblk, nreads, 1);
		measure("view, cache > device, warm", v, -1, nblk, nreads, 1);
		cbt_view_close(v);
	}
	close(fd);

	/* 16 GiB sparse: 64 MiB of data in 1 MiB pieces spread over the device */
	{
		struct cbt_img_write_opts wo = { .threads = 2 };
		struct cbt_img_header h = { .version = CBT_IMG_VERSION, .dev_bytes = 16ULL << 30,
					    .block_size = BS, .type = CBT_IMG_FULL,
					    .compression = CBT_IMG_COMP_ZSTD, .level = 3 };
		struct cbt_img_writer *w;
		int ret;

		cbt_uuid_generate(h.uuid);
		memcpy(h.base, h.uuid, 16);
		memcpy(h.dev_uuid, h.uuid, 16);
		fd = open(sparse, O_CREAT | O_WRONLY | O_TRUNC, 0600);
		ret = cbt_img_writer_open(&w, fd, &h, &wo);
		for (uint64_t i = 0; !ret && i < 64; i++) {
			fill(buf, 1 << 20);
			ret = cbt_img_writer_add(w, i * ((16ULL << 30) / 64 / BS), (1 << 20) / BS, buf);
		}
		if (!ret)
			ret = cbt_img_writer_finish(w, NULL);
		cbt_img_writer_free(w);
		close(fd);
		if (ret)
			die("sparse image", ret);
		printf("open, 16 GiB sparse point (64 MiB held): %.2f ms\n",
		       open_time(sparse, NULL) * 1e3);
	}
	free(buf);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) ? 1 : 0;
}
