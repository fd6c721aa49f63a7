// SPDX-License-Identifier: GPL-2.0
/*
 * ackcheck: after a power cut, hold a tracked device against its last
 * committed copy and the log of its acknowledged writes (guest helper).
 *
 *   ackcheck DEV REF -m MARKED [-l LOG] [-b BS]
 *
 * DEV is the tracked device, REF what the backups hold (the chain's last
 * point restored, or a clone target), MARKED the blocks tracking holds as
 * `cbt bitmap DEV --blocks` prints them ("START COUNT" lines), LOG a
 * `stamp write -l` log of the writes DEV acknowledged. Every block of DEV
 * that is not marked must equal REF's (an unmarked change would never
 * reach a backup); every logged write must still be on DEV (its block holds
 * that stamp or a newer one at that place). Marked blocks equal to REF are
 * "extra" (marked, yet nothing new to copy): counted, allowed.
 * Prints one summary line ("ackcheck: ... extra E ...") and the first
 * problems; exits 1 on any.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stampfmt.h"

static uint64_t bs = 4096, nblocks, problems;
static unsigned char *marked;	/* one byte per block: marked by tracking */
static uint64_t *loggen;	/* newest logged generation per block, +1 (0: none) */

/*
 * The generation of the stamp for byte offset @off held at @blk, or -1 if
 * it holds none (torn, misplaced, zero, foreign data).
 */
static int64_t stamp_gen(const unsigned char *blk, uint64_t off)
{
	static unsigned char *copy;	/* stamp_classify() clears the sum field */
	const struct stamp_hdr *h;

	if (!copy && posix_memalign((void **)&copy, 4096, bs))
		return -1;
	memcpy(copy, blk, bs);
	h = (const struct stamp_hdr *)copy;
	return stamp_classify(copy, bs, off) == STAMP_OK ? (int64_t)h->gen : -1;
}

static void problem(const char *fmt, uint64_t a, int64_t b, int64_t c)
{
	if (++problems <= 10) {
		printf("ackcheck: ");
		printf(fmt, a, b, c);
		printf("\n");
	}
}

static int read_all(const char *path, unsigned char **out)
{
	int fd = open(path, O_RDONLY | O_DIRECT);
	uint64_t size = 0, done = 0;
	struct stat st;
	ssize_t n;

	if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;	/* a file: the host tests */
	else if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size)) {
		perror(path);
		return -1;
	}
	if (!nblocks)
		nblocks = size / bs;
	if (size < nblocks * bs) {
		fprintf(stderr, "ackcheck: %s is smaller than the device\n", path);
		return -1;
	}
	if (posix_memalign((void **)out, 4096, nblocks * bs))
		return -1;
	while (done < nblocks * bs) {
		n = pread(fd, *out + done, nblocks * bs - done, (off_t)done);
		if (n <= 0) {
			fprintf(stderr, "ackcheck: reading %s: %s\n", path,
				n ? strerror(errno) : "short read");
			return -1;
		}
		done += (uint64_t)n;
	}
	close(fd);
	return 0;
}

static int read_marked(const char *path)
{
	FILE *f = fopen(path, "r");
	uint64_t start, count, b;

	if (!f) {
		perror(path);
		return -1;
	}
	while (fscanf(f, "%" SCNu64 " %" SCNu64, &start, &count) == 2)
		for (b = start; b < start + count && b < nblocks; b++)
			marked[b] = 1;
	fclose(f);
	return 0;
}

/* A record cut short by the power cut (no newline yet) was never acknowledged. */
static int read_log(const char *path, uint64_t *writes)
{
	FILE *f = fopen(path, "r");
	char line[128];
	uint64_t off, len, gen;

	if (!f)
		return errno == ENOENT ? 0 : (perror(path), -1);
	while (fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n') ||
		    sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64, &off, &len, &gen) != 3)
			continue;
		if (len != bs || off % bs || off / bs >= nblocks) {
			fprintf(stderr, "ackcheck: log record `%.60s' does not fit\n", line);
			return -1;
		}
		if (gen + 1 > loggen[off / bs])
			loggen[off / bs] = gen + 1;
		(*writes)++;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mpath = NULL, *lpath = NULL;
	unsigned char *dev, *ref;
	uint64_t b, nmarked = 0, extra = 0, writes = 0, logged = 0;
	int64_t g;
	int c;

	while ((c = getopt(argc, argv, "m:l:b:")) != -1) {
		switch (c) {
		case 'm': mpath = optarg; break;
		case 'l': lpath = optarg; break;
		case 'b': bs = strtoull(optarg, NULL, 0); break;
		default: goto usage;
		}
	}
	if (optind + 2 != argc || !mpath || bs < sizeof(struct stamp_hdr) || bs % 512)
		goto usage;
	if (read_all(argv[optind], &dev) || read_all(argv[optind + 1], &ref))
		return 2;
	marked = calloc(nblocks, 1);
	loggen = calloc(nblocks, sizeof(*loggen));
	if (!marked || !loggen || read_marked(mpath) || (lpath && read_log(lpath, &writes)))
		return 2;

	for (b = 0; b < nblocks; b++) {
		int same = !memcmp(dev + b * bs, ref + b * bs, bs);

		if (marked[b]) {
			nmarked++;
			extra += same;
		} else if (!same) {
			problem("block %" PRIu64 " changed and is not marked: no backup would"
				" copy it (generation %" PRId64 " there, %" PRId64 " in the backup)",
				b, stamp_gen(dev + b * bs, b * bs), stamp_gen(ref + b * bs, b * bs));
		}
		if (!loggen[b])
			continue;
		logged++;
		g = stamp_gen(dev + b * bs, b * bs);
		if (g < 0 || (uint64_t)g + 1 < loggen[b])
			problem("block %" PRIu64 ": acknowledged write of generation %" PRId64
				" lost (the block holds generation %" PRId64 ", -1: no stamp)",
				b, (int64_t)(loggen[b] - 1), g);
	}
	printf("ackcheck: %" PRIu64 " blocks, %" PRIu64 " marked, extra %" PRIu64
	       ", %" PRIu64 " acknowledged writes to %" PRIu64 " blocks, %" PRIu64 " problems\n",
	       nblocks, nmarked, extra, writes, logged, problems);
	return problems ? 1 : 0;
usage:
	fprintf(stderr, "usage: ackcheck DEV REF -m MARKED [-l LOG] [-b BS]\n");
	return 2;
}
