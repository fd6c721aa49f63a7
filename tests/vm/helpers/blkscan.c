// SPDX-License-Identifier: GPL-2.0
/*
 * blkscan: list the blocks of a device that hold data (guest helper).
 *
 *   blkscan [-b BS] DEV [REF]
 *
 * Prints, one per line, the index of every BS-byte block of DEV that is not
 * all zero, or, with REF, that differs from the same block of REF. A last
 * partial block counts as a block. BS defaults to 4096. Exits 0, or 2 on
 * a usage or I/O error.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_full(int fd, char *buf, size_t len, size_t *got)
{
	*got = 0;
	while (*got < len) {
		ssize_t n = read(fd, buf + *got, len - *got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!n)
			break;
		*got += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t bs = 4096, got, rgot;
	char *buf, *ref;
	uint64_t idx = 0;
	int opt, fd, rfd = -1;

	while ((opt = getopt(argc, argv, "b:")) != -1) {
		if (opt != 'b')
			goto usage;
		bs = strtoull(optarg, NULL, 0);
		if (!bs)
			goto usage;
	}
	if (argc - optind < 1 || argc - optind > 2)
		goto usage;
	fd = open(argv[optind], O_RDONLY);
	if (fd < 0 || (argc - optind == 2 && (rfd = open(argv[optind + 1], O_RDONLY)) < 0)) {
		perror("blkscan: open");
		return 2;
	}
	buf = malloc(bs);
	ref = calloc(1, bs);
	if (!buf || !ref)
		return 2;
	for (;; idx++) {
		if (read_full(fd, buf, bs, &got)) {
			perror("blkscan: read");
			return 2;
		}
		if (!got)
			break;
		if (rfd >= 0) {
			if (read_full(rfd, ref, bs, &rgot)) {
				perror("blkscan: read reference");
				return 2;
			}
			if (rgot < got)
				memset(ref + rgot, 0, got - rgot);
		}
		if (memcmp(buf, ref, got))
			printf("%" PRIu64 "\n", idx);
		if (got < bs)
			break;
	}
	return 0;
usage:
	fprintf(stderr, "Usage: blkscan [-b BS] DEV [REF]\n");
	return 2;
}
