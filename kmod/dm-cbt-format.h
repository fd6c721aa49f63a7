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
};

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
} __packed;

/* A fresh ledger: epoch 1 open in slot 0, every other slot clean. */
void cbt_ledger_init(struct cbt_ledger *l, const u8 uuid[16], u32 block_size,
		     u64 nr_blocks, u64 slot_pages);

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
 * Decode and validate a superblock page. Returns 0, -ENODATA for a page of
 * zeros (never formatted), -EILSEQ for a page that is not a dm-cbt
 * superblock, -EBADMSG for a checksum mismatch, -EPROTO for an unknown
 * version and -EUCLEAN for fields that contradict each other.
 */
int cbt_sb_decode(const void *page, struct cbt_ledger *l);

#endif /* DM_CBT_FORMAT_H */
