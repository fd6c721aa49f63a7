// SPDX-License-Identifier: GPL-2.0
/*
 * stamppair: dependent writes on two devices (guest helper), for
 * consistency-group cases.
 *
 *   stamppair DEVA DEVB [-b BS] [-n COUNT] [-g GEN0] [-r SEED] [-s SPAN]
 *
 * For i = 0 .. COUNT-1 (COUNT 0: until killed): picks a random block
 * offset in [0, SPAN), writes a `stamp write' block of generation GEN0+i
 * there on DEVA with O_DIRECT, and once that completed, the same block on
 * DEVB. So B never holds a generation A does not hold yet: any snapshot of
 * the pair taken at one instant has, for every offset, equal generations,
 * except for the one pair being written at that instant (A newer than B).
 * Blocks are in the format of stampfmt.h (stampscan reads them).
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

int main(int argc, char **argv)
{
	uint64_t bs = 4096, count = 0, gen0 = 1, seed = 1, span = 0, size, sb, i;
	unsigned char *buf;
	int c, fa, fb;

	if (argc < 3) {
		fprintf(stderr, "usage: stamppair DEVA DEVB [-b BS] [-n COUNT] [-g GEN0] [-r SEED] [-s SPAN]\n");
		return 2;
	}
	optind = 3;
	while ((c = getopt(argc, argv, "b:n:g:r:s:")) != -1) {
		uint64_t *v = c == 'b' ? &bs : c == 'n' ? &count : c == 'g' ? &gen0 :
			      c == 'r' ? &seed : c == 's' ? &span : NULL;

		if (!v || stamp_num(optarg, v)) {
			fprintf(stderr, "stamppair: bad option -%c\n", c);
			return 2;
		}
	}
	fa = open(argv[1], O_WRONLY | O_DIRECT);
	fb = open(argv[2], O_WRONLY | O_DIRECT);
	if (fa < 0 || fb < 0 || ioctl(fa, BLKGETSIZE64, &size) || ioctl(fb, BLKGETSIZE64, &sb)) {
		perror("stamppair: opening the devices");
		return 1;
	}
	if (sb < size)
		size = sb;
	if (!span || span > size)
		span = size;
	if (!bs || bs % 512 || span < bs || posix_memalign((void **)&buf, 4096, bs)) {
		fprintf(stderr, "stamppair: bad block size or span\n");
		return 2;
	}
	for (i = 0; !count || i < count; i++) {
		uint64_t off = (stamp_rand(&seed) % (span / bs)) * bs;

		stamp_fill(buf, bs, gen0 + i, off);
		if (pwrite(fa, buf, bs, (off_t)off) != (ssize_t)bs ||
		    pwrite(fb, buf, bs, (off_t)off) != (ssize_t)bs) {
			fprintf(stderr, "stamppair: write at %" PRIu64 ": %s\n", off, strerror(errno));
			return 1;
		}
	}
	printf("stamppair: wrote %" PRIu64 " pairs\n", i);
	return 0;
}
