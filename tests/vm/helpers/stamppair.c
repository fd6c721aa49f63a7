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
 * Blocks are in the format of helpers/stamp.c (stampscan reads them).
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

struct stamp_hdr {
	char magic[8];
	uint64_t offset;
	uint64_t gen;
	uint32_t bs;
	uint32_t pad;
	uint64_t sum;
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Exactly helpers/stamp.c's fill_block(). */
static void fill_block(unsigned char *buf, uint64_t bs, uint64_t gen, uint64_t offset)
{
	struct stamp_hdr *h = (struct stamp_hdr *)buf;
	uint64_t x = offset * 31 + gen, v;
	size_t i;

	for (i = sizeof(*h); i + 8 <= bs; i += 8) {
		v = splitmix64(&x);
		memcpy(buf + i, &v, 8);
	}
	memcpy(h->magic, STAMP_MAGIC, 8);
	h->offset = offset;
	h->gen = gen;
	h->bs = (uint32_t)bs;
	h->pad = 0;
	h->sum = 0;
	h->sum = fnv1a(buf, bs);
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

		if (!v || num(optarg, v)) {
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
		uint64_t off = (splitmix64(&seed) % (span / bs)) * bs;

		fill_block(buf, bs, gen0 + i, off);
		if (pwrite(fa, buf, bs, (off_t)off) != (ssize_t)bs ||
		    pwrite(fb, buf, bs, (off_t)off) != (ssize_t)bs) {
			fprintf(stderr, "stamppair: write at %" PRIu64 ": %s\n", off, strerror(errno));
			return 1;
		}
	}
	printf("stamppair: wrote %" PRIu64 " pairs\n", i);
	return 0;
}
