// SPDX-License-Identifier: GPL-2.0
/*
 * cbtsb: rewrite the version of both dm-cbt superblocks on a metadata
 * device and fix their checksums, to make what another module version
 * would have written:
 *
 *   cbtsb DEV VERSION
 *
 * VERSION 1 also zeroes what version 1 did not have (bytes 136..4095), as
 * the module before format version 2 wrote it. Reads and writes with
 * O_DIRECT, past the page cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096
#define V1_SIZE 136

static uint32_t crc32c(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & -(crc & 1));
	}
	return crc;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

int main(int argc, char **argv)
{
	unsigned char *page;
	long version;
	int fd;

	if (argc != 3 || (version = strtol(argv[2], NULL, 0)) <= 0) {
		fprintf(stderr, "usage: cbtsb DEV VERSION\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&page, PAGE, PAGE)) {
		perror(argv[1]);
		return 1;
	}
	for (int copy = 0; copy < 2; copy++) {
		if (pread(fd, page, PAGE, (off_t)copy * PAGE) != PAGE) {
			perror("read");
			return 1;
		}
		put_le32(page + 4, (uint32_t)version);
		if (version == 1)
			memset(page + V1_SIZE, 0, PAGE - V1_SIZE);
		/* The kernel's crc32c(~0, ...) without the final inversion. */
		put_le32(page, crc32c(~0U, page + 4, PAGE - 4));
		if (pwrite(fd, page, PAGE, (off_t)copy * PAGE) != PAGE) {
			perror("write");
			return 1;
		}
	}
	return fsync(fd) ? 1 : 0;
}
