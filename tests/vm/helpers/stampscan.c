// SPDX-License-Identifier: GPL-2.0
/*
 * stampscan: list the stamps on a block device (guest helper), one line
 * per block, for cases that compare snapshots with the origin and with the
 * writers' logs:
 *
 *   stampscan DEV [-b BS] [-o OFF] [-n COUNT]
 *
 * Reads COUNT blocks of BS bytes from OFF (default: to the end) with
 * O_DIRECT, in large requests, and prints for each "<offset> <what>":
 *   <generation>  a valid stamp of `stamp write' (helpers/stamp.c) written
 *                 at this very offset with this block size;
 *   zero          all zero;
 *   bad:<why>     anything else: torn (checksum), misplaced (offset),
 *                 another block size, garbage.
 * A read error ends the scan with exit status 1 and "<offset> eio" last.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define STAMP_MAGIC "CBTSTAMP"
#define READ_BYTES (1024 * 1024)

/* The layout of helpers/stamp.c. */
struct stamp_hdr {
	char magic[8];
	uint64_t offset;
	uint64_t gen;
	uint32_t bs;
	uint32_t pad;
	uint64_t sum;
};

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void classify(unsigned char *b, uint64_t bs, uint64_t off)
{
	struct stamp_hdr *h = (struct stamp_hdr *)b;
	uint64_t sum = h->sum;
	size_t i;

	if (memcmp(h->magic, STAMP_MAGIC, 8)) {
		for (i = 0; i < bs && !b[i]; i++)
			;
		printf("%" PRIu64 " %s\n", off, i == bs ? "zero" : "bad:nostamp");
		return;
	}
	h->sum = 0;
	if (fnv1a(b, bs) != sum)
		printf("%" PRIu64 " bad:checksum\n", off);
	else if (h->bs != bs)
		printf("%" PRIu64 " bad:bs%" PRIu32 "\n", off, h->bs);
	else if (h->offset != off)
		printf("%" PRIu64 " bad:offset%" PRIu64 "\n", off, h->offset);
	else
		printf("%" PRIu64 " %" PRIu64 "\n", off, h->gen);
}

static int num(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	switch (*end) {
	case 'G': *v <<= 10; /* fall through */
	case 'M': *v <<= 10; /* fall through */
	case 'K': *v <<= 10; end++; break;
	}
	return errno || end == s || *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t bs = 4096, off = 0, count = 0, size = 0, done = 0;
	unsigned char *buf;
	int c, fd;

	if (argc < 2) {
		fprintf(stderr, "usage: stampscan DEV [-b BS] [-o OFF] [-n COUNT]\n");
		return 2;
	}
	optind = 2;
	while ((c = getopt(argc, argv, "b:o:n:")) != -1) {
		uint64_t *v = c == 'b' ? &bs : c == 'o' ? &off : c == 'n' ? &count : NULL;

		if (!v || num(optarg, v)) {
			fprintf(stderr, "stampscan: bad option -%c\n", c);
			return 2;
		}
	}
	if (!bs || bs % 512 || READ_BYTES % bs || off % 512) {
		fprintf(stderr, "stampscan: BS must divide 1 MiB and be a multiple of 512\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size)) {
		perror(argv[1]);
		return 1;
	}
	if (!count)
		count = size > off ? (size - off) / bs : 0;
	if (posix_memalign((void **)&buf, 4096, READ_BYTES)) {
		fprintf(stderr, "stampscan: out of memory\n");
		return 1;
	}
	while (done < count) {
		uint64_t n = count - done < READ_BYTES / bs ? count - done : READ_BYTES / bs;
		uint64_t at = off + done * bs;
		ssize_t r = pread(fd, buf, n * bs, (off_t)at);

		if (r != (ssize_t)(n * bs)) {
			/* Find the failing block: one at a time. */
			for (uint64_t i = 0; i < n; i++) {
				if (pread(fd, buf, bs, (off_t)(at + i * bs)) != (ssize_t)bs) {
					printf("%" PRIu64 " eio\n", at + i * bs);
					fflush(stdout);
					fprintf(stderr, "stampscan: read at %" PRIu64 ": %s\n",
						at + i * bs, strerror(errno));
					return 1;
				}
				classify(buf, bs, at + i * bs);
			}
		} else {
			for (uint64_t i = 0; i < n; i++)
				classify(buf + i * bs, bs, at + i * bs);
		}
		done += n;
	}
	free(buf);
	close(fd);
	return fflush(stdout) ? 1 : 0;
}
