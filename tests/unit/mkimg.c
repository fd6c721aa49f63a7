// SPDX-License-Identifier: GPL-2.0
/*
 * mkimg: the backup engine (cbt_backup_run) on a plain file standing in for
 * the snapshot, and a bitmap given on the command line standing in for the
 * kernel's: so cbt restore, verify, info and export can be tested on the
 * host with real images. Not installed.
 *
 *   mkimg SRC TYPE (--to DIR | -o FILE|-) DEV-UUID EPOCH BLOCK-SIZE
 *         [CHANGED] [all|nonzero|fs] [none|zstd:N]
 *
 * TYPE: full, incremental, differential, auto-incremental (--auto-full). CHANGED: "1-3,7,9-9" (blocks;
 * "-" for none). Exits 0 or prints the error. MKIMG_FORMAT=1 in the environment
 * writes image format version 1 (what an older cbt wrote); MKIMG_KEY=FILE
 * encrypts with the key in FILE (as `cbt backup --encrypt FILE').
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/engine.h"
#include "fsmap/fsmap.h"
#include "image/crypt.h"
#include "image/s3chain.h"
#include "util/util.h"

int main(int argc, char *argv[])
{
	struct cbt_backup_req req = { .compression = CBT_IMG_COMP_ZSTD, .level = 3, .out_fd = -1,
				      .full_mode = CBT_FULL_NONZERO, .threads = 2 };
	struct cbt_backup_result res;
	struct cbt_extents changed, used;
	struct stat st;
	const char *why;
	int src, ret;

	if (argc < 8) {
		fprintf(stderr, "usage: see mkimg.c\n");
		return 2;
	}
	cbt_extents_init(&changed);
	cbt_extents_init(&used);
	/* auto-incremental: an incremental, or a full image when the history is lost (--auto-full) */
	req.auto_full = !strcmp(argv[2], "auto-incremental");
	req.type = !strcmp(argv[2], "full") ? CBT_IMG_FULL :
		   !strcmp(argv[2], "incremental") || req.auto_full ? CBT_IMG_INCREMENTAL :
		   CBT_IMG_DIFFERENTIAL;
	if (!strcmp(argv[3], "--to")) {
		req.dir = argv[4];
	} else if (!strcmp(argv[4], "-")) {
		req.out_fd = STDOUT_FILENO;
	} else {
		req.out_fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	}
	if (cbt_uuid_parse(argv[5], req.dev_uuid) || cbt_parse_u64(argv[6], &req.epoch) ||
	    cbt_parse_u32(argv[7], &req.block_size)) {
		fprintf(stderr, "mkimg: bad uuid, epoch or block size\n");
		return 2;
	}
	if (argc > 8 && strcmp(argv[8], "-")) {
		char *s = argv[8], *tok;

		while ((tok = strsep(&s, ","))) {
			unsigned long long a, b;

			if (sscanf(tok, "%llu-%llu", &a, &b) != 2)
				b = a = strtoull(tok, NULL, 10);
			if (cbt_extents_append(&changed, a, b - a + 1)) {
				fprintf(stderr, "mkimg: bad CHANGED `%s'\n", tok);
				cbt_extents_free(&changed);
				return 2;
			}
		}
	}
	if (argc > 9)
		req.full_mode = !strcmp(argv[9], "all") ? CBT_FULL_ALL :
				!strcmp(argv[9], "fs") ? CBT_FULL_FS : CBT_FULL_NONZERO;
	if (argc > 10 && !strcmp(argv[10], "none"))
		req.compression = CBT_IMG_COMP_NONE;
	else if (argc > 10 && !strncmp(argv[10], "zstd:", 5))
		req.level = (uint32_t)atoi(argv[10] + 5);
	if (getenv("MKIMG_FORMAT") && cbt_parse_u32(getenv("MKIMG_FORMAT"), &req.format_version)) {
		fprintf(stderr, "mkimg: bad MKIMG_FORMAT\n");
		return 2;
	}
	/* MKIMG_KEY=FILE: as `cbt backup --encrypt FILE' (empty: none). */
	const char *key = getenv("MKIMG_KEY");

	if (key && *key && (ret = cbt_key_use(key))) {
		fprintf(stderr, "mkimg: %s\n", cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
		return 2;
	}
	/* MKIMG_THREADS=N: --threads (tests/bench/s3). */
	if (getenv("MKIMG_THREADS"))
		req.threads = atoi(getenv("MKIMG_THREADS"));
	/* MKIMG_SPLIT=SIZE: the chain image as segments (--split). */
	if (getenv("MKIMG_SPLIT") && cbt_parse_size(getenv("MKIMG_SPLIT"), &req.split)) {
		fprintf(stderr, "mkimg: bad MKIMG_SPLIT\n");
		return 2;
	}
	/* --to s3://BUCKET/PREFIX: a chain in S3 (environment credentials). */
	if (req.dir && cbt_s3_is_url(req.dir)) {
		ret = cbt_s3chain_src(req.dir, NULL, req.type == CBT_IMG_FULL, &req.dir, &req.remote);
		if (ret) {
			fprintf(stderr, "mkimg: %s\n", cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
			return 1;
		}
	}
	src = open(argv[1], O_RDONLY);
	if (src < 0 || fstat(src, &st)) {
		perror(argv[1]);
		return 1;
	}
	req.dev_bytes = (uint64_t)st.st_size;
	req.changed = &changed;
	if (req.full_mode == CBT_FULL_FS) {
		/* A file of the test's own, not mounted: its xfs log is clean. */
		if (cbt_fs_used_blocks(argv[1], req.dev_bytes, req.block_size, true, &used,
				       &why)) {
			fprintf(stderr, "mkimg: %s\n", why ? why : "cannot read the filesystem");
			req.full_mode = CBT_FULL_NONZERO;
		} else {
			req.fs_used = &used;
		}
	}
	ret = cbt_backup_run(&req, src, &res);
	close(src);
	cbt_extents_free(&changed);
	cbt_extents_free(&used);
	if (ret) {
		cbt_perror("mkimg", ret);
		return 1;
	}
	if (req.dir)
		printf("%s\n", res.file);
	return 0;
}
