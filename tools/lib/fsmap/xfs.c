// SPDX-License-Identifier: GPL-2.0
/*
 * XFS free space, read from the on-disk by-block-number free-space B+tree
 * (bnobt) of each allocation group. There is no library for XFS's on-disk
 * format (xfsprogs keeps libxfs private), so this reads the few structures
 * it needs, as documented in the kernel's fs/xfs/libxfs/xfs_format.h and
 * "XFS Algorithms & Data Structures": the superblock, each AG's AGF, and
 * the short-form B+tree blocks of the bnobt.
 *
 * Everything read is checked (magic numbers, levels, record counts, sorted
 * and in-bounds records, no cycles); anything unexpected makes the caller
 * fall back to copying every non-zero block, never to leaving out a block
 * that might be in use. Blocks on the AG free list (AGFL) are not in the
 * bnobt and so count as used: harmless.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsmap/fs.h"
#include "util/util.h"

#define XFS_SB_MAGIC 0x58465342u	/* "XFSB" */
#define XFS_AGF_MAGIC 0x58414746u	/* "XAGF" */
#define XFS_ABTB_MAGIC 0x41425442u	/* "ABTB": bnobt block, v4 */
#define XFS_ABTB_CRC_MAGIC 0x41423342u	/* "AB3B": bnobt block, v5 */
#define XFS_NULL_AGBLOCK 0xffffffffu
#define XFS_BTREE_MAXLEVELS 9

/* Byte offsets in the superblock (struct xfs_dsb). */
#define SB_BLOCKSIZE 4
#define SB_DBLOCKS 8
#define SB_AGBLOCKS 84
#define SB_AGCOUNT 88
#define SB_VERSIONNUM 100
#define SB_SECTSIZE 102
/* In the AGF (struct xfs_agf). */
#define AGF_SEQNO 8
#define AGF_LENGTH 12
#define AGF_BNO_ROOT 16
#define AGF_BNO_LEVEL 28
/* Short-form B+tree block header: 16 bytes, 56 with v5's CRC fields. */
#define BB_LEVEL 4
#define BB_NUMRECS 6
#define BB_RIGHTSIB 12
#define BB_HDR_V4 16
#define BB_HDR_V5 56
/* bnobt records and keys are (startblock, blockcount); pointers are agblocks. */
#define ALLOC_REC 8
#define ALLOC_PTR 4

static uint32_t be32_at(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return be32toh(v);
}

static uint16_t be16_at(const uint8_t *p, size_t off)
{
	uint16_t v;

	memcpy(&v, p + off, sizeof(v));
	return be16toh(v);
}

static uint64_t be64_at(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return be64toh(v);
}

struct xfs_geo {
	uint32_t blocksize, agblocks, agcount, sectsize;
	uint64_t dblocks;
	bool v5;
	uint8_t *buf;	/* one filesystem block */
};

static int read_btree_block(int fd, const struct xfs_geo *g, uint32_t agno, uint32_t agbno,
			    unsigned int want_level, uint16_t *nrecs)
{
	uint64_t off = ((uint64_t)agno * g->agblocks + agbno) * g->blocksize;
	size_t hdr = g->v5 ? BB_HDR_V5 : BB_HDR_V4;
	size_t rec = want_level ? ALLOC_REC + ALLOC_PTR : ALLOC_REC;
	uint32_t magic;

	if (agbno >= g->agblocks)
		return -EUCLEAN;
	if (cbt_pread_full(fd, g->buf, g->blocksize, off))
		return -EIO;
	magic = be32_at(g->buf, 0);
	if (magic != (g->v5 ? XFS_ABTB_CRC_MAGIC : XFS_ABTB_MAGIC))
		return -EUCLEAN;
	if (be16_at(g->buf, BB_LEVEL) != want_level)
		return -EUCLEAN;
	*nrecs = be16_at(g->buf, BB_NUMRECS);
	if ((size_t)*nrecs * rec > g->blocksize - hdr)
		return -EUCLEAN;
	return 0;
}

/* Walk one AG's bnobt: leftmost path down, then the leaves' right siblings. */
static int ag_free_space(int fd, const struct xfs_geo *g, uint32_t agno, uint64_t *prev_end,
			 cbt_fs_extent_fn on_free, void *data)
{
	uint64_t ag_start = (uint64_t)agno * g->agblocks;
	size_t hdr = g->v5 ? BB_HDR_V5 : BB_HDR_V4;
	uint32_t agblock, length, level, leaves = 0;
	uint16_t nrecs;
	int ret;

	if (cbt_pread_full(fd, g->buf, g->sectsize, ag_start * g->blocksize + g->sectsize))
		return -EIO;
	if (be32_at(g->buf, 0) != XFS_AGF_MAGIC || be32_at(g->buf, AGF_SEQNO) != agno)
		return -EUCLEAN;
	length = be32_at(g->buf, AGF_LENGTH);
	agblock = be32_at(g->buf, AGF_BNO_ROOT);
	level = be32_at(g->buf, AGF_BNO_LEVEL);
	if (!length || length > g->agblocks || !level || level > XFS_BTREE_MAXLEVELS)
		return -EUCLEAN;

	for (; level > 1; level--) {
		size_t maxrecs = (g->blocksize - hdr) / (ALLOC_REC + ALLOC_PTR);

		ret = read_btree_block(fd, g, agno, agblock, level - 1, &nrecs);
		if (ret)
			return ret;
		if (!nrecs)
			return -EUCLEAN;
		/* Pointers follow the maxrecs keys of the node. */
		agblock = be32_at(g->buf, hdr + maxrecs * ALLOC_REC);
	}
	while (agblock != XFS_NULL_AGBLOCK) {
		if (++leaves > length)
			return -EUCLEAN;	/* a sibling cycle */
		ret = read_btree_block(fd, g, agno, agblock, 0, &nrecs);
		if (ret)
			return ret;
		for (uint16_t i = 0; i < nrecs; i++) {
			uint32_t start = be32_at(g->buf, hdr + (size_t)i * ALLOC_REC);
			uint32_t count = be32_at(g->buf, hdr + (size_t)i * ALLOC_REC + 4);
			uint64_t first = (ag_start + start) * g->blocksize;

			if (!count || start >= length || count > length - start ||
			    first < *prev_end)
				return -EUCLEAN;
			ret = on_free(data, first, (uint64_t)count * g->blocksize);
			if (ret)
				return ret;
			*prev_end = first + (uint64_t)count * g->blocksize;
		}
		agblock = be32_at(g->buf, BB_RIGHTSIB);
	}
	return 0;
}

int cbt_xfs_free_space(int fd, uint64_t dev_bytes, uint64_t *fs_bytes, cbt_fs_extent_fn on_free,
		       void *data)
{
	uint8_t sb[512];
	struct xfs_geo g = { 0 };
	uint64_t prev_end = 0;
	int ret;

	if (cbt_pread_full(fd, sb, sizeof(sb), 0) || be32_at(sb, 0) != XFS_SB_MAGIC)
		return -ENODATA;
	g.blocksize = be32_at(sb, SB_BLOCKSIZE);
	g.dblocks = be64_at(sb, SB_DBLOCKS);
	g.agblocks = be32_at(sb, SB_AGBLOCKS);
	g.agcount = be32_at(sb, SB_AGCOUNT);
	g.sectsize = be16_at(sb, SB_SECTSIZE);
	g.v5 = (be16_at(sb, SB_VERSIONNUM) & 0xf) == 5;
	if (g.blocksize < 512 || g.blocksize > 65536 || (g.blocksize & (g.blocksize - 1)) ||
	    g.sectsize < 512 || g.sectsize > g.blocksize || (g.sectsize & (g.sectsize - 1)) ||
	    !g.agblocks || !g.agcount || !g.dblocks ||
	    g.dblocks > (uint64_t)g.agblocks * g.agcount ||
	    g.dblocks > dev_bytes / g.blocksize)
		return -EUCLEAN;
	*fs_bytes = g.dblocks * g.blocksize;
	g.buf = malloc(g.blocksize);
	if (!g.buf)
		return -ENOMEM;
	ret = 0;
	for (uint32_t agno = 0; !ret && agno < g.agcount; agno++)
		ret = ag_free_space(fd, &g, agno, &prev_end, on_free, data);
	if (!ret && prev_end > *fs_bytes)
		ret = -EUCLEAN;
	free(g.buf);
	return ret;
}

/* The used bytes are the gaps between free extents. */
struct xfs_used {
	struct cbt_extents *out;
	uint32_t block_size;
	uint64_t used_from;	/* the byte after the last free extent */
};

static int xfs_used_gap(void *data, uint64_t offset, uint64_t len)
{
	struct xfs_used *u = data;
	int ret = 0;

	if (offset > u->used_from)
		ret = cbt_fs_add(u->out, u->used_from / u->block_size, (offset - 1) / u->block_size);
	u->used_from = offset + len;
	return ret;
}

static int xfs_used_blocks(const char *path, uint64_t dev_bytes, uint32_t block_size,
			   bool frozen, struct cbt_extents *out, const char **why)
{
	struct xfs_used u = { .out = out, .block_size = block_size };
	uint64_t fs_bytes;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = cbt_xfs_free_space(fd, dev_bytes, &fs_bytes, xfs_used_gap, &u);
	close(fd);
	if (ret == -ENODATA)
		return ret;
	if (!ret && !frozen) {
		*why = "an xfs filesystem that was not mounted and frozen at the snapshot (its log"
		       " may hold allocations its free-space trees do not show yet)";
		return -EOPNOTSUPP;
	}
	if (ret == -EUCLEAN || ret == -EIO) {
		*why = "the xfs free-space trees cannot be read or fail a check";
		return -EOPNOTSUPP;
	}
	if (ret)
		return ret;
	/* After the last free extent, to the device's end (past the fs too). */
	if (dev_bytes > u.used_from)
		ret = cbt_fs_add(out, u.used_from / block_size, (dev_bytes - 1) / block_size);
	return ret;
}

const struct cbt_fs_type cbt_fs_xfs = { xfs_used_blocks };
