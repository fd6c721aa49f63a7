// SPDX-License-Identifier: GPL-2.0
/*
 * fsmap.c, fsmap/ext.c, fsmap/xfs.c on filesystems made by the real mkfs tools, with
 * xfs_db (xfsprogs) as the oracle for XFS free space; corrupted copies
 * must be refused, never read as "free".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/extents.h"
#include "fsmap/fs.h"
#include "fsmap/fsmap.h"
#include "unit.h"

#define IMG_BYTES (300ULL << 20)

static char dir[] = "/tmp/cbt-fsmap-XXXXXX";
static char img[4200];

static int sh(const char *fmt, const char *a)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), fmt, a);
	return system(cmd);
}

/* A fresh image file at @img made by the shell command @mkfs ("%s": the path). */
static int make_image(const char *name, const char *mkfs)
{
	snprintf(img, sizeof(img), "%s/%s", dir, name);
	unlink(img);
	{
		int fd = open(img, O_CREAT | O_WRONLY | O_TRUNC, 0600);

		if (fd < 0)
			return -1;
		if (ftruncate(fd, (off_t)IMG_BYTES)) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	return sh(mkfs, img);
}

static uint64_t xfs_db_u64(const char *cmds)
{
	char cmd[8192], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "xfs_db -r %s '%s' 2>/dev/null | sed 's/.* = //'", cmds, img);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f))
		v = strtoull(line, NULL, 0);
	pclose(f);
	return v;
}

struct collected {
	struct cbt_extents ext;	/* in filesystem blocks */
	uint32_t bs;
};

static int collect(void *data, uint64_t off, uint64_t len)
{
	struct collected *c = data;

	if (off % c->bs || len % c->bs)
		return -EINVAL;
	return cbt_extents_append(&c->ext, off / c->bs, len / c->bs);
}

/*
 * Every free extent we read lies inside one xfs_db `freesp -d' reports
 * (xfs_db also lists the AG free-list blocks, which the bnobt does not
 * hold), and their total is the AGFs' free block count.
 */
static void check_against_xfs_db(void)
{
	uint32_t bs = (uint32_t)xfs_db_u64("-c 'sb 0' -c 'print blocksize'");
	uint64_t agblocks = xfs_db_u64("-c 'sb 0' -c 'print agblocks'");
	uint64_t agcount = xfs_db_u64("-c 'sb 0' -c 'print agcount'");
	struct collected c = { .bs = bs };
	uint64_t fs_bytes = 0, freeblks = 0, oracle_blocks = 0;
	char cmd[8192], line[256];
	struct { uint64_t start, len; } oracle[4096];
	size_t n = 0;
	FILE *f;
	int fd;

	CHECK(bs >= 512 && agblocks && agcount);
	for (uint64_t ag = 0; ag < agcount; ag++) {
		char q[128];

		snprintf(q, sizeof(q), "-c 'agf %llu' -c 'print freeblks'", (unsigned long long)ag);
		freeblks += xfs_db_u64(q);
	}
	snprintf(cmd, sizeof(cmd), "xfs_db -r -c 'freesp -d' '%s'", img);
	f = popen(cmd, "r");
	CHECK(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long ag, bno, len;

		if (strstr(line, "from"))
			break;	/* the histogram follows the extents */
		if (sscanf(line, "%llu %llu %llu", &ag, &bno, &len) != 3 || n == 4096)
			continue;
		oracle[n].start = ag * agblocks + bno;
		oracle[n++].len = len;
		oracle_blocks += len;
	}
	pclose(f);
	CHECK(n > 0);

	cbt_extents_init(&c.ext);
	fd = open(img, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(cbt_xfs_free_space(fd, IMG_BYTES, &fs_bytes, collect, &c), 0);
	close(fd);
	CHECK_EQ(fs_bytes, xfs_db_u64("-c 'sb 0' -c 'print dblocks'") * bs);
	CHECK_EQ(c.ext.total, freeblks);
	CHECK(oracle_blocks >= freeblks);
	for (size_t i = 0; i < c.ext.nr; i++) {
		const struct cbt_range *r = &c.ext.v[i];
		uint64_t covered = 0;

		/* Adjacent free extents of two AGs merge in ours: cover piecewise. */
		for (size_t j = 0; j < n; j++) {
			uint64_t s = oracle[j].start > r->start ? oracle[j].start : r->start;
			uint64_t e = oracle[j].start + oracle[j].len < r->start + r->len ?
				     oracle[j].start + oracle[j].len : r->start + r->len;

			if (e > s)
				covered += e - s;
		}
		if (covered != r->len) {
			unsigned long long start = r->start, len = r->len;

			cbt_extents_free(&c.ext);
			UT_FAIL("free extent %llu+%llu is not free per xfs_db", start, len);
		}
	}
	cbt_extents_free(&c.ext);
}

static void xfs_v5_free_space_matches_xfs_db(void)
{
	CHECK_EQ(make_image("v5.img", "mkfs.xfs -q -f -m crc=1 '%s'"), 0);
	check_against_xfs_db();
}

static void xfs_v4_free_space_matches_xfs_db(void)
{
	CHECK_EQ(make_image("v4.img", "mkfs.xfs -q -f -m crc=0 '%s' >/dev/null 2>&1"), 0);
	check_against_xfs_db();
}

static void xfs_1k_blocks_many_ags(void)
{
	CHECK_EQ(make_image("1k.img", "mkfs.xfs -q -f -b size=1024 -d agcount=4 '%s' >/dev/null"), 0);
	check_against_xfs_db();
}

static void xfs_used_blocks_need_a_frozen_snapshot(void)
{
	struct cbt_extents used;
	const char *why;

	CHECK_EQ(make_image("used.img", "mkfs.xfs -q -f '%s'"), 0);
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, false, &used, &why), -EOPNOTSUPP);
	CHECK(why && strstr(why, "frozen"));
	CHECK_EQ(used.nr, 0);
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, true, &used, &why), 0);
	/* Block 0 always; an empty fs uses a few tracking blocks per AG and the log. */
	CHECK(used.nr > 0 && used.v[0].start == 0);
	CHECK(used.total > 4 && used.total < IMG_BYTES / 65536 / 4);
	CHECK(cbt_extents_end(&used) <= IMG_BYTES / 65536);
	cbt_extents_free(&used);
}

/* Overwrite @len bytes at @off of the image with @byte. */
static int poke(uint64_t off, uint8_t byte, size_t len)
{
	uint8_t b[64];
	int fd = open(img, O_WRONLY);
	ssize_t n;

	memset(b, byte, sizeof(b));
	if (fd < 0 || len > sizeof(b))
		return -1;
	n = pwrite(fd, b, len, (off_t)off);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static void xfs_corruption_is_refused(void)
{
	static const struct {
		const char *what;
		uint64_t off;	/* in the second AG's first blocks (4 KiB fs blocks) */
		uint8_t byte;
		size_t len;
	} c[] = {
		{ "AGF magic", 512, 0x00, 4 },
		{ "AGF bno root past the AG", 512 + 16, 0xfe, 4 },
		{ "bnobt leaf magic", 4096, 0x00, 4 },
		{ "bnobt leaf record count", 4096 + 6, 0xff, 2 },
		{ "bnobt leaf right sibling to itself", 4096 + 12, 0x00, 3 },
		{ "bnobt record past the AG", 4096 + 56, 0xff, 4 },
	};
	struct cbt_extents used;
	const char *why;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint64_t ag1;

		CHECK_EQ(make_image("bad.img", "mkfs.xfs -q -f -d agcount=4 '%s'"), 0);
		ag1 = xfs_db_u64("-c 'sb 0' -c 'print agblocks'") * 4096;
		CHECK_EQ(xfs_db_u64("-c 'agf 1' -c 'print bnoroot'"), 1);
		CHECK_EQ(poke(ag1 + c[i].off, c[i].byte, c[i].len), 0);
		if (c[i].off == 4096 + 12)	/* rightsib = 1: the leaf itself */
			CHECK_EQ(poke(ag1 + c[i].off + 3, 0x01, 1), 0);
		if (cbt_fs_used_blocks(img, IMG_BYTES, 65536, true, &used, &why) != -EOPNOTSUPP)
			UT_FAIL("%s: a corrupted xfs was read", c[i].what);
		CHECK(why && strstr(why, "xfs"));
		CHECK_EQ(used.nr, 0);
	}
}

static void ext4_used_blocks_and_dirty_journal(void)
{
	struct cbt_extents used;
	const char *why;

	CHECK_EQ(make_image("e.img", "mkfs.ext4 -q -F '%s'"), 0);
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, false, &used, &why), 0);
	CHECK(used.nr > 0 && used.v[0].start == 0);
	CHECK(used.total < IMG_BYTES / 65536 / 2);
	cbt_extents_free(&used);
	CHECK_EQ(sh("debugfs -w -R 'feature needs_recovery' '%s' >/dev/null 2>&1", img), 0);
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, true, &used, &why), -EOPNOTSUPP);
	CHECK(why && strstr(why, "recovery"));
}

/* review L4: a block bitmap failing its checksum is not trusted */
static void ext4_bad_bitmap_checksum(void)
{
	struct cbt_extents used;
	const char *why;
	char cmd[8192];
	long bitmap = -1;
	FILE *p;

	CHECK_EQ(make_image("csum.img", "mkfs.ext4 -q -F -b 4096 -O metadata_csum '%s'"), 0);
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, true, &used, &why), 0);
	cbt_extents_free(&used);
	snprintf(cmd, sizeof(cmd), "dumpe2fs '%s' 2>/dev/null | sed -n 's/.*Block bitmap at"
		 " \\([0-9]*\\).*/\\1/p' | head -1", img);
	p = popen(cmd, "r");
	CHECK(p);
	if (fscanf(p, "%ld", &bitmap) != 1)
		bitmap = -1;
	pclose(p);
	CHECK(bitmap > 0);
	/* group 0's bitmap now says its first blocks (in use) are free */
	snprintf(cmd, sizeof(cmd), "printf '\\000\\000\\000\\000' | dd of='%s' bs=1"
		 " seek=%ld conv=notrunc status=none", img, bitmap * 4096);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, true, &used, &why), -EOPNOTSUPP);
	CHECK(why && strstr(why, "checksum"));
}

/* review L4: ext2 has no journal: in use and not frozen, its bitmaps may be stale */
static void ext2_in_use_not_frozen(void)
{
	struct cbt_extents used;
	const char *why;

	CHECK_EQ(make_image("e2.img", "mkfs.ext2 -q -F '%s'"), 0);
	/* cleanly unmounted: the bitmaps are current */
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, false, &used, &why), 0);
	cbt_extents_free(&used);
	/* mounted (the valid flag is cleared while mounted) */
	CHECK_EQ(sh("debugfs -w -R 'ssv state 0' '%s' >/dev/null 2>&1", img), 0);
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, false, &used, &why), -EOPNOTSUPP);
	CHECK(why && strstr(why, "not frozen"));
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, true, &used, &why), 0);
	cbt_extents_free(&used);
}

/*
 * cbt_fs_ext_shrink_check(): 300 MiB, 1 KiB blocks (8 MiB groups), one
 * flex group: the journal in the middle group, every bitmap and inode
 * table at the start. Down to 200 MiB only the superblock backups of
 * groups 25 and 27 lie past the end (resize2fs drops them): allowed. Down
 * to 100 MiB the journal is in the way. With flex groups of 16, group 32
 * (block 262145, 256 MiB + 1 KiB) holds its flex group's bitmaps: refused.
 */
static void ext4_shrink_check(void)
{
	uint64_t first = 0;
	const char *why = NULL;

	CHECK_EQ(make_image("shrink.img", "mkfs.ext4 -q -F -b 1024 -G 64 '%s'"), 0);
	CHECK_EQ(cbt_fs_ext_shrink_check(img, 200ULL << 20, false, &first, &why), 0);
	CHECK_EQ(cbt_fs_ext_shrink_check(img, 100ULL << 20, false, &first, &why), -ENOSPC);
	CHECK(first >= 100ULL << 20 && first < 200ULL << 20);
	CHECK_EQ(make_image("shrink16.img", "mkfs.ext4 -q -F -b 1024 -G 16 '%s'"), 0);
	CHECK_EQ(cbt_fs_ext_shrink_check(img, 200ULL << 20, false, &first, &why), -ENOSPC);
	CHECK_EQ(first, (256ULL << 20) + 1024);
	CHECK_EQ(make_image("shrinkxfs.img", "mkfs.xfs -q -f '%s'"), 0);
	CHECK_EQ(cbt_fs_ext_shrink_check(img, 200ULL << 20, false, &first, &why), -EOPNOTSUPP);
}

static void no_filesystem(void)
{
	struct cbt_extents used;
	const char *why;

	CHECK_EQ(make_image("zero.img", "true '%s'"), 0);
	CHECK_EQ(cbt_fs_used_blocks(img, IMG_BYTES, 65536, true, &used, &why), -EOPNOTSUPP);
	CHECK(why && strstr(why, "no ext2/3/4 or xfs"));
}

static void setup(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
}

static void teardown(void)
{
	sh("rm -rf '%s'", dir);
}

int main(void)
{
	static const struct ut_case cases[] = {
		UT_CASE(xfs_v5_free_space_matches_xfs_db),
		UT_CASE(xfs_v4_free_space_matches_xfs_db),
		UT_CASE(xfs_1k_blocks_many_ags),
		UT_CASE(xfs_used_blocks_need_a_frozen_snapshot),
		UT_CASE(xfs_corruption_is_refused),
		UT_CASE(ext4_used_blocks_and_dirty_journal),
		UT_CASE(ext4_bad_bitmap_checksum),
		UT_CASE(ext2_in_use_not_frozen),
		UT_CASE(ext4_shrink_check),
		UT_CASE(no_filesystem),
	};
	int ret;

	setup();
	ret = ut_run("fsmap", cases, sizeof(cases) / sizeof(cases[0]));
	teardown();
	return ret;
}
