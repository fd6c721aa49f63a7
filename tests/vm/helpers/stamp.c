// SPDX-License-Identifier: GPL-2.0
/*
 * stamp: write and check stamped blocks on a block device (guest helper).
 *
 * Every block written carries, in its first bytes, where it was written
 * (the byte offset the writer addressed), a generation number and a
 * checksum of the whole block; the rest is pseudo-random data derived from
 * (offset, generation). A block read back later proves which write put it
 * there, so a test can tell stale, misplaced and torn blocks apart.
 *
 *   stamp write DEV [-b BS] [-o OFF] [-n COUNT] [-g GEN] [-r SEED [-s SPAN]]
 *                   [-l LOG [-y]]
 *       Writes COUNT blocks of BS bytes with O_DIRECT: sequentially from
 *       OFF, or with -r at COUNT random block-aligned places in
 *       [OFF, OFF+SPAN) (SPAN defaults to the rest of the device). With -l,
 *       appends "offset length generation" to LOG after each write has
 *       completed (flushed line by line, so it survives a crash of this
 *       process).
 *   stamp check DEV [-b BS] [-o OFF] [-n COUNT] [-g GEN] [-S SHIFT] [-z]
 *       Reads COUNT blocks from OFF with O_DIRECT; each must be a valid
 *       stamp written at offset (block offset - SHIFT) and, with -g, of
 *       generation GEN. -z lets all-zero (never written) blocks pass.
 *       Prints a summary and the first errors; exits 1 on any bad block.
 *
 * Numbers take K, M, G suffixes (powers of 1024). BS defaults to 4096.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stampfmt.h"

struct opts {
	uint64_t bs, off, count, gen, seed, span, shift;
	int random, has_gen, allow_zero, dsync;
	const char *log;
};

/* Returns NULL if the block is a valid stamp for @want, else why not. */
static const char *bad_block(unsigned char *buf, const struct opts *o,
			     uint64_t want, char *why, size_t whylen)
{
	const struct stamp_hdr *h = (const struct stamp_hdr *)buf;

	switch (stamp_classify(buf, o->bs, want)) {
	case STAMP_ZERO:
		return o->allow_zero ? NULL : "all zero (never written)";
	case STAMP_NOSTAMP:
		return "no stamp";
	case STAMP_CHECKSUM:
		return "checksum mismatch (torn or corrupted)";
	case STAMP_BS:
		return "written with another block size";
	case STAMP_OFFSET:
		snprintf(why, whylen, "stamp says offset %" PRIu64 ", expected %" PRIu64,
			 h->offset, want);
		return why;
	case STAMP_OK:
		break;
	}
	if (o->has_gen && h->gen != o->gen) {
		snprintf(why, whylen, "generation %" PRIu64 ", expected %" PRIu64,
			 h->gen, o->gen);
		return why;
	}
	return NULL;
}

static uint64_t dev_size(int fd)
{
	struct stat st;
	uint64_t sz = 0;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	if (ioctl(fd, BLKGETSIZE64, &sz))
		return 0;
	return sz;
}

/* One log record, durable when the log was opened O_DSYNC. */
static int log_record(int lfd, uint64_t off, const struct opts *o)
{
	char rec[80];
	int n = snprintf(rec, sizeof(rec), "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			 off, o->bs, o->gen);

	return write(lfd, rec, (size_t)n) == n ? 0 : -1;
}

static int do_write(int fd, unsigned char *buf, const struct opts *o)
{
	int log = -1;
	uint64_t i, off, blocks, x = o->seed;

	if (o->log && (log = open(o->log, O_WRONLY | O_APPEND | O_CREAT |
				   (o->dsync ? O_DSYNC : 0), 0644)) < 0) {
		perror(o->log);
		return 1;
	}
	blocks = o->span / o->bs;
	if (o->random && !blocks) {
		fprintf(stderr, "stamp: span holds no block\n");
		return 1;
	}
	for (i = 0; i < o->count; i++) {
		off = o->random ? o->off + (stamp_rand(&x) % blocks) * o->bs
				: o->off + i * o->bs;
		stamp_fill(buf, o->bs, o->gen, off);
		if (pwrite(fd, buf, o->bs, (off_t)off) != (ssize_t)o->bs) {
			fprintf(stderr, "stamp: write at %" PRIu64 ": %s\n", off,
				strerror(errno));
			return 1;
		}
		if (log >= 0 && log_record(log, off, o)) {
			perror(o->log);
			return 1;
		}
	}
	if (log >= 0 && close(log)) {
		perror(o->log);
		return 1;
	}
	printf("stamp: wrote %" PRIu64 " blocks of %" PRIu64 " bytes, generation %" PRIu64 "\n",
	       o->count, o->bs, o->gen);
	return 0;
}

static int do_check(int fd, unsigned char *buf, const struct opts *o)
{
	uint64_t i, off, bad = 0;
	const char *why;
	char whybuf[128];

	for (i = 0; i < o->count; i++) {
		off = o->off + i * o->bs;
		if (pread(fd, buf, o->bs, (off_t)off) != (ssize_t)o->bs) {
			fprintf(stderr, "stamp: read at %" PRIu64 ": %s\n", off,
				strerror(errno));
			return 1;
		}
		why = bad_block(buf, o, off - o->shift, whybuf, sizeof(whybuf));
		if (why && ++bad <= 10)
			printf("stamp: bad block at %" PRIu64 ": %s\n", off, why);
	}
	printf("stamp: checked %" PRIu64 " blocks: %" PRIu64 " bad\n", o->count, bad);
	return bad ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: stamp write DEV [-b BS] [-o OFF] [-n COUNT] [-g GEN] [-r SEED [-s SPAN]] [-l LOG [-y]]\n"
		"       stamp check DEV [-b BS] [-o OFF] [-n COUNT] [-g GEN] [-S SHIFT] [-z]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = { .bs = 4096, .count = 1 };
	unsigned char *buf;
	const char *cmd, *dev;
	uint64_t *num, size;
	int c, fd, writing, rc;

	if (argc < 3)
		return usage();
	cmd = argv[1];
	dev = argv[2];
	writing = !strcmp(cmd, "write");
	if (!writing && strcmp(cmd, "check"))
		return usage();
	optind = 3;
	while ((c = getopt(argc, argv, "b:o:n:g:r:s:S:l:yz")) != -1) {
		num = NULL;
		switch (c) {
		case 'b': num = &o.bs; break;
		case 'o': num = &o.off; break;
		case 'n': num = &o.count; break;
		case 'g': num = &o.gen; o.has_gen = 1; break;
		case 'r': num = &o.seed; o.random = 1; break;
		case 's': num = &o.span; break;
		case 'S': num = &o.shift; break;
		case 'l': o.log = optarg; break;
		case 'y': o.dsync = 1; break;
		case 'z': o.allow_zero = 1; break;
		default: return usage();
		}
		if (num && stamp_num(optarg, num)) {
			fprintf(stderr, "stamp: bad number for -%c: `%s'\n", c, optarg);
			return 2;
		}
	}
	if (optind != argc || o.bs < sizeof(struct stamp_hdr) || o.bs % 512 ||
	    o.off % 512 || o.shift > o.off)
		return usage();

	fd = open(dev, (writing ? O_WRONLY : O_RDONLY) | O_DIRECT | (o.dsync ? O_DSYNC : 0));
	if (fd < 0) {
		perror(dev);
		return 1;
	}
	size = dev_size(fd);
	if (!o.span && size > o.off)
		o.span = size - o.off;
	if (!o.random && o.off + o.count * o.bs > size) {
		fprintf(stderr, "stamp: %" PRIu64 " blocks from %" PRIu64 " pass the end of %s (%" PRIu64 " bytes)\n",
			o.count, o.off, dev, size);
		return 1;
	}
	if (posix_memalign((void **)&buf, 4096, o.bs)) {
		fprintf(stderr, "stamp: out of memory\n");
		return 1;
	}
	rc = writing ? do_write(fd, buf, &o) : do_check(fd, buf, &o);
	if (close(fd) && !rc) {
		perror(dev);
		rc = 1;
	}
	free(buf);
	return rc;
}
