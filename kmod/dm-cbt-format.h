/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The epoch ledger and its on-disk superblock.
 *
 * The ledger says which epoch is open, which closed epochs wait for commit
 * or abort, and which bitmap slot each lives in. It is pure logic: no I/O,
 * no locking (the caller holds the device's state lock), so KUnit tests it
 * directly. Memory-only devices use it too, with the same slot rules.
 *
 * Slot rules: an epoch's bitmap lives in one of DM_CBT_MD_SLOTS slots. A
 * slot freed by commit or abort is "dirty" (it may still hold set bits on
 * the metadata device) until the caller zeroes it and says so with
 * cbt_ledger_slot_clean(); only clean free slots open a new epoch, so an
 * open epoch never starts with stale bits.
 */
#ifndef DM_CBT_FORMAT_H
#define DM_CBT_FORMAT_H

#include <linux/bits.h>
#include <linux/sizes.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/dm-cbt.h>

struct cbt_closed_epoch {
	u64 epoch;
	u32 slot;
};

struct cbt_ledger {
	u8 uuid[16];
	u64 seq;		/* superblock write sequence */
	u32 block_size;		/* bytes */
	u64 nr_blocks;
	u64 slot_pages;		/* metadata pages per slot; 0 without metadata */
	u64 open_epoch;
	u32 open_slot;
	u32 nr_closed;
	struct cbt_closed_epoch closed[DM_CBT_MAX_CLOSED];	/* oldest first */
	/*
	 * The last epoch committed under this identity, 0 for none: a chain
	 * whose last image is older knows another reader consumed changes.
	 */
	u64 last_committed;
	u32 dirty_slots;	/* bit per slot: free, but not yet zeroed */

	/*
	 * Evidence about untracked stretches (format version 2; all zero when
	 * a version 1 superblock was decoded). See docs/target.md "History".
	 */
	u32 version;		/* as decoded; encode writes 3 with region maps, else 2 */
	u64 origin_sectors;	/* device size, nr_blocks covers it exactly */
	u64 fp_sectors;		/* device size the fingerprint was taken at */
	u64 fingerprint;	/* xxh64 of the first and last MiB, see cbt_fp_regions() */
	bool fp_valid;		/* fingerprint matches the origin as it is */
	u32 detach;		/* enum cbt_detach */
	/* The dm device's write and discard I/O counters at the last postsuspend. */
	bool io_known;
	u64 io_writes;
	u64 io_discards;
	/* Which dm device instance wrote them: module-load nonce, diskseq, dev_t. */
	u64 md_nonce;
	u64 md_diskseq;
	u32 md_devt;
	/*
	 * Coarse marks (format version 3, both 0 in version 2): log2 of the
	 * blocks per region, and the pages of each of the two region maps,
	 * which follow the slots (docs/target.md "Persistence and crashes").
	 */
	u32 region_shift;
	u64 region_pages;
};

/* How the tracker last let go of its device (written at every change). */
enum cbt_detach {
	/* Live, or crashed while live: writes went through the target. */
	CBT_DETACH_ATTACHED,
	/* Suspended (every write done), or removed after a suspend. */
	CBT_DETACH_SUSPENDED,
	/* Another table (not cbt) took the still-live device over. */
	CBT_DETACH_REPLACED,
	__CBT_DETACH_MAX
};

/* Superblock flags (version 2). */
#define CBT_SB_FP_VALID		BIT(0)
#define CBT_SB_IO_KNOWN		BIT(1)
#define CBT_SB_FLAGS_ALL	(CBT_SB_FP_VALID | CBT_SB_IO_KNOWN)

/* The origin regions the fingerprint hashes, in sectors. */
#define CBT_FP_REGION_SECTORS	(SZ_1M >> 9)
struct cbt_fp_regions {
	u64 start[2];
	u64 len[2];		/* len[1] is 0 when one region covers both */
};

/*
 * The first and the last MiB of a device of @sectors sectors, both 4 KiB
 * aligned (the tail below 4 KiB is left out), clipped and merged for a
 * device under 2 MiB.
 */
void cbt_fp_regions(u64 sectors, struct cbt_fp_regions *r);
/* Does [start, start + len) overlap one of the regions? (Every write asks.) */
static inline bool cbt_fp_overlaps(const struct cbt_fp_regions *r, u64 start, u64 len)
{
	int i;

	for (i = 0; i < 2; i++)
		if (r->len[i] && start < r->start[i] + r->len[i] &&
		    start + len > r->start[i])
			return true;
	return false;
}

/* On-disk superblock, one 4 KiB page; little-endian. */
struct cbt_sb_closed_disk {
	__le64 epoch;
	__le32 slot;
	__le32 reserved;
} __packed;

struct cbt_sb_disk {
	__le32 csum;		/* crc32c of the rest of the page, seeded ~0 */
	__le32 version;
	__le64 magic;
	__le64 seq;
	u8 uuid[16];
	__le32 block_size;
	__le32 dirty_slots;
	__le64 nr_blocks;
	__le64 slot_pages;
	__le64 open_epoch;
	__le32 open_slot;
	__le32 nr_closed;
	struct cbt_sb_closed_disk closed[DM_CBT_MAX_CLOSED];
	__le64 last_committed;
	/* Version 2 from here: see struct cbt_ledger. */
	__le64 origin_sectors;
	__le64 fp_sectors;
	__le64 fingerprint;
	__le32 flags;		/* CBT_SB_* */
	__le32 detach;
	__le64 io_writes;
	__le64 io_discards;
	__le64 md_nonce;
	__le64 md_diskseq;
	__le32 md_devt;
	/* Version 3 from here (zero in version 2). */
	__le32 region_shift;
	__le64 region_pages;
} __packed;

/* Where version 1 ended: the rest of its page is zero. */
#define CBT_SB_V1_SIZE offsetof(struct cbt_sb_disk, origin_sectors)

/*
 * A fresh ledger: epoch 1 open in slot 0, every other slot clean; the
 * origin's size is nr_blocks whole blocks until the caller sets it.
 */
void cbt_ledger_init(struct cbt_ledger *l, const u8 uuid[16], u32 block_size,
		     u64 nr_blocks, u64 slot_pages);

/* Regions of coarse marks are 1 MiB, or one block when blocks are larger. */
#define CBT_REGION_BYTES SZ_1M
u32 cbt_region_shift(u32 block_size);

/*
 * Lay out a metadata device of @md_pages pages for l->nr_blocks blocks of
 * l->block_size: version 3 (the most pages per slot that leave room for
 * two region maps covering them) if such slots hold l->nr_blocks, else
 * version 2 with the slots filling the device. Sets l->version,
 * slot_pages, region_shift and region_pages. -ENOSPC when not even
 * version 2 fits.
 */
int cbt_md_layout(struct cbt_ledger *l, u64 md_pages);
/* The first metadata page of region map @gen (0 or 1); version 3 only. */
u64 cbt_region_map_page(const struct cbt_ledger *l, u32 gen);

/*
 * Close the open epoch. On success *closed_slot holds the closed epoch's
 * slot and l->open_slot the new open one. -EBUSY: DM_CBT_MAX_CLOSED epochs
 * are closed already; -EAGAIN: a free slot is still being zeroed.
 */
int cbt_ledger_close(struct cbt_ledger *l, u32 *closed_slot);
/*
 * Commit closed epoch @epoch: it must be the oldest closed one (-EINVAL
 * otherwise, -ENOENT if it is not closed). Its slot becomes dirty.
 */
int cbt_ledger_commit(struct cbt_ledger *l, u64 epoch, u32 *freed_slot);
/*
 * Abort closed epoch @epoch (any of them; -ENOENT if not closed). The caller
 * merges its bitmap into the open epoch first. Its slot becomes dirty.
 */
int cbt_ledger_abort(struct cbt_ledger *l, u64 epoch, u32 *freed_slot);
void cbt_ledger_slot_clean(struct cbt_ledger *l, u32 slot);
/* Slot of a held epoch (open or closed), or -ENOENT. */
int cbt_ledger_find(const struct cbt_ledger *l, u64 epoch);

/* Encode into one DM_CBT_MD_PAGE_SIZE page, checksum included. */
void cbt_sb_encode(const struct cbt_ledger *l, void *page);
/*
 * Decode and validate a superblock page. Returns 0 (l->version says
 * whether it was version 1, without evidence fields), -ENODATA for a page
 * of zeros (never formatted), -ESTALE for DM_CBT_MD_STALE_MAGIC (a boot
 * marked it stale), -EILSEQ for a page that is not a dm-cbt superblock,
 * -EBADMSG for a checksum mismatch, -EPROTO for a version newer than this
 * code (never to be overwritten: a downgrade must not drop history) and
 * -EUCLEAN for fields that contradict each other.
 */
int cbt_sb_decode(const void *page, struct cbt_ledger *l);

#endif /* DM_CBT_FORMAT_H */
