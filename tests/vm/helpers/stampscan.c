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

#include "stampfmt.h"

#define READ_BYTES (1024 * 1024)

static void classify(unsigned char *b, uint64_t bs, uint64_t off)
{
	const struct stamp_hdr *h = (const struct stamp_hdr *)b;

	switch (stamp_classify(b, bs, off)) {
	case STAMP_ZERO:
		printf("%" PRIu64 " zero\n", off);
		break;
	case STAMP_NOSTAMP:
		printf("%" PRIu64 " bad:nostamp\n", off);
		break;
	case STAMP_CHECKSUM:
		printf("%" PRIu64 " bad:checksum\n", off);
		break;
	case STAMP_BS:
		printf("%" PRIu64 " bad:bs%" PRIu32 "\n", off, h->bs);
		break;
	case STAMP_OFFSET:
		printf("%" PRIu64 " bad:offset%" PRIu64 "\n", off, h->offset);
		break;
	case STAMP_OK:
		printf("%" PRIu64 " %" PRIu64 "\n", off, h->gen);
		break;
	}
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

		if (!v || stamp_num(optarg, v)) {
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
