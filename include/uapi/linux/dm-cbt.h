/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * dm-cbt: changed-block tracking for device-mapper.
 *
 * This is the one header shared by the dm-cbt kernel module and the cbt
 * tool. It defines the generic netlink family, its commands and attributes,
 * and the on-disk constants of the metadata device.
 *
 * Generic netlink family "dm_cbt", version DM_CBT_GENL_VERSION.
 * Every command that reads tracking data or changes state needs
 * CAP_SYS_ADMIN (checked by the family itself, not GENL_ADMIN_PERM, which
 * checks CAP_NET_ADMIN). Errors come back as a negative errno in
 * the netlink ack, with an extack message that says what was wrong.
 *
 * Devices are named by a selector, either:
 *     CBT_A_DEV_NAME: NLA_NUL_STRING, the device-mapper name (dmsetup name)
 * or both of
 *     CBT_A_DEV_MAJOR: NLA_U32
 *     CBT_A_DEV_MINOR: NLA_U32
 * Giving both forms, or neither, is -EINVAL. An unknown device is -ENODEV.
 *
 * CBT_CMD_GET_DEVICE
 *   doit, with a selector: one reply carrying the device's status.
 *   CBT_A_DEVICE_FLAGS (NLA_U32, enum cbt_device_flags; doit only) may
 *   hold CBT_DEVICE_F_NO_EPOCH_BITS: the epoch nests then leave out
 *   CBT_A_EPOCH_BITS, which costs a count of every held epoch's bitmap
 *   under the device's lock (as long as CBT_CMD_COUNT_BITMAP's, for a
 *   large dense bitmap). An unknown flag is -EINVAL. Modules before it do
 *   not know the attribute (their family's CTRL_ATTR_MAXATTR is below
 *   CBT_A_DEVICE_FLAGS) and refuse it with -EINVAL: ask the family first.
 *   dumpit, no attributes: one message per cbt device. Each reply holds:
 *     CBT_A_DEV_NAME, CBT_A_DEV_MAJOR, CBT_A_DEV_MINOR
 *     CBT_A_UUID: binary, 16 bytes. The tracking identity. It is created
 *         with the metadata, or anew at every load when tracking is held in
 *         memory only, and it changes whenever history is lost. A tool that
 *         sees a different UUID than its last image must take a full image.
 *     CBT_A_PERSISTENCE: NLA_U32, enum cbt_persistence
 *     CBT_A_BLOCK_SIZE: NLA_U32, tracking block size in bytes
 *     CBT_A_NR_BLOCKS: NLA_U64, blocks covering the device
 *     CBT_A_DEV_SECTORS: NLA_U64, device length in 512-byte sectors
 *     CBT_A_BITMAP_BYTES: NLA_U64, memory held by all bitmaps of the device
 *     CBT_A_EPOCH_CURRENT: NLA_U64, the open epoch that takes writes
 *     CBT_A_EPOCHS: nested; one CBT_A_EPOCH nest per epoch held in the
 *         kernel (the open one and every closed one not yet committed):
 *         CBT_A_EPOCH_NUMBER: NLA_U64
 *         CBT_A_EPOCH_STATE: NLA_U32, enum cbt_epoch_state
 *         CBT_A_EPOCH_BITS: NLA_U64, blocks set in its bitmap (left out
 *             when CBT_DEVICE_F_NO_EPOCH_BITS asked so)
 *     CBT_A_METADATA_ERRORS: NLA_U64, failed metadata I/Os since load
 *     CBT_A_LAST_COMMITTED: NLA_U64, the last epoch committed under this
 *         identity (0: none). Committing consumes an epoch's changes: a
 *         backup chain whose last image covers an older epoch has lost
 *         changes to another reader (a clone, another chain) and must
 *         start again with a full image.
 *     CBT_A_IDENTITY_REASON: NLA_U32, enum cbt_identity_reason: why the
 *         current identity began (CBT_IDENTITY_CONTINUED when it was loaded
 *         from metadata with its history intact).
 *     CBT_A_SNAPSHOT: nested, present while a snapshot device is attached:
 *         CBT_A_SNAP_STATE: NLA_U32, enum cbt_snap_state
 *         CBT_A_SNAP_ERROR: NLA_U32, errno that invalidated it (ENOSPC:
 *             the COW store filled up; EIO: it failed), 0 otherwise
 *         CBT_A_EPOCH_NUMBER: NLA_U64, the epoch the snapshot closed
 *         CBT_A_SNAP_AGE_MS: NLA_U64, time since it was taken
 *         CBT_A_SNAP_CHUNK_SIZE: NLA_U32, COW chunk size in bytes
 *         CBT_A_SNAP_COW_USED, CBT_A_SNAP_COW_TOTAL: NLA_U64, bytes
 *         CBT_A_SNAP_COPIED: NLA_U64, chunks copied to the COW store (and
 *             not released since)
 *         CBT_A_SNAP_SECTORS: NLA_U64, snapshot size in sectors
 *         CBT_A_SNAP_PRESERVE_FROM: NLA_U64, present when the snapshot was
 *             taken with a preserve set: its first epoch
 *         CBT_A_SNAP_TO_READ: NLA_U64, chunks of the preserve set (every
 *             chunk without one) not yet released
 *         CBT_A_SNAP_RELEASED: NLA_U64, chunks released
 *         CBT_A_SNAP_FORFEITED: NLA_U64, chunks outside the preserve set
 *             written since the take (never copied; reads of them fail)
 *         CBT_A_SNAP_COW_USED counts the COW chunks in use: released
 *         chunks' copies return to the store.
 *
 * CBT_CMD_CLOSE_EPOCH
 *   doit, with a selector. Atomically freezes the open epoch N and opens
 *   N+1: every write is recorded in N or in N+1, none in neither. Writes
 *   in flight are waited for, so when it returns every write N lists is on
 *   the origin. Replies with CBT_A_EPOCH_NUMBER = N. -EBUSY when
 *   DM_CBT_MAX_CLOSED epochs are already closed and waiting for commit or
 *   abort; -ETIMEDOUT when writes in flight did not end within 30 s, and
 *   -EINTR on a fatal signal (N stays open).
 *
 * CBT_CMD_COMMIT_EPOCH
 *   doit, with a selector and CBT_A_EPOCH_NUMBER of a closed epoch: the
 *   backup that read it succeeded; its bitmap is dropped. Epochs are
 *   committed in order: committing N while an older one is still closed
 *   is -EINVAL.
 *
 * CBT_CMD_ABORT_EPOCH
 *   doit, with a selector and CBT_A_EPOCH_NUMBER of a closed epoch: its
 *   bitmap is merged into the open epoch, so its changes are kept for the
 *   next image, and the epoch is dropped.
 *
 *   All three are -ENXIO while the device's first table was loaded but
 *   never resumed: a persistent device writes its metadata at that resume.
 *
 * CBT_CMD_GET_BITMAP
 *   dumpit only, with a selector and either CBT_A_EPOCH_NUMBER (one epoch,
 *   open or closed) or CBT_A_EPOCH_FIRST and CBT_A_EPOCH_LAST (the union of
 *   that range of epochs held in the kernel). CBT_A_BITMAP_FLAGS may hold
 *   CBT_BITMAP_F_EXTENTS to allow extent encoding. Every message holds
 *   CBT_A_EPOCH_NUMBER (the first epoch of the range), CBT_A_BLOCK_SIZE and
 *   CBT_A_NR_BLOCKS, then zero or more CBT_A_CHUNK nests (a chunk covers at
 *   most 8192 blocks, so a message always has room for one):
 *     CBT_A_CHUNK_START: NLA_U64, index of the chunk's first block
 *     CBT_A_CHUNK_BLOCKS: NLA_U32, blocks the chunk covers
 *     and exactly one of
 *     CBT_A_CHUNK_WORDS: binary, the chunk's bits as little-endian u64
 *         words, bit i of the chunk = word i / 64, bit i % 64
 *     CBT_A_CHUNK_EXTENTS: binary, an array of struct cbt_extent (in
 *         little-endian), sorted and non-overlapping, relative to
 *         CBT_A_CHUNK_START, used when it is smaller than the words.
 *   Chunks with no bit set are not sent; a block absent from every chunk
 *   has not changed. Chunks come in increasing order and never overlap.
 *   Reading the open epoch gives a view that may grow while it is read.
 *
 * CBT_CMD_COUNT_BITMAP
 *   doit, with a selector and either CBT_A_EPOCH_NUMBER or CBT_A_EPOCH_FIRST
 *   and CBT_A_EPOCH_LAST, as for CBT_CMD_GET_BITMAP: counts the union of
 *   the range's bitmaps in the kernel, without sending it. Any other
 *   attribute is refused (-EINVAL), as are a bad range and a selector
 *   that names no device; an epoch not held is -ENOENT. The reply holds
 *   CBT_A_EPOCH_NUMBER (the first epoch of the range), what was counted:
 *   CBT_A_UUID, CBT_A_DEV_SECTORS and CBT_A_NR_BLOCKS (as in GET_DEVICE),
 *   and the counts:
 *     CBT_A_COUNT_BLOCKS: NLA_U64, blocks set
 *     CBT_A_COUNT_RUNS: NLA_U64, runs of set blocks: the extents
 *         CBT_CMD_GET_BITMAP's chunks give, once touching ones are joined
 *     CBT_A_COUNT_END: NLA_U64, one past the last block set (0: none)
 *   The count holds the device's lock for a few leaves at a time, as a
 *   dump does for one message, so it is as consistent as a dump: an epoch
 *   of the range committed or aborted meanwhile is -ESTALE, as is a change
 *   of the identity or the size, and counting the open epoch gives a view
 *   that may grow while it is read. Modules
 *   before it lack the command (genetlink's -EOPNOTSUPP; not in the
 *   family's CTRL_ATTR_OPS).
 *
 * CBT_CMD_SNAPSHOT
 *   doit. Takes a point-in-time snapshot of one or more cbt devices at the
 *   same instant (a consistency group). Each device needs a snapshot device
 *   attached and not yet taken (a "cbt-snap" table over it, see
 *   docs/snapshot.md). Attributes:
 *     CBT_A_DEVICES: nested, one CBT_A_DEVICE nest (a selector) per device,
 *         at most DM_CBT_MAX_GROUP
 *     CBT_A_FREEZE: NLA_FLAG, freeze the filesystems on the devices around
 *         the instant, so the snapshots are filesystem-consistent
 *     in a CBT_A_DEVICE nest, optionally CBT_A_SNAP_PRESERVE_FROM: NLA_U64,
 *         epoch F: preserve only the blocks set in epochs F..N (N the epoch
 *         this take closes; F = N is N's own bitmap). A chunk with none of
 *         them is not copied on a write: it is "forfeited", and snapshot
 *         reads of it fail with EIO from then on. The set is copied at the
 *         instant: committing or aborting those epochs later changes
 *         nothing. F newer than N is -EINVAL; an epoch of F..N no longer
 *         held (committed) is -ENOENT; F = 0 is -ERANGE (the policy).
 *   In one step for all devices: freeze (if asked); for each device, upper
 *   devices of a stack first, hold new writes, wait for writes in flight
 *   and close its open epoch N; start copy-on-write, release writes, thaw.
 *   A write completed before the step is in the snapshot and in epoch N;
 *   one issued after is in neither. Replies with CBT_A_DEVICES, each
 *   CBT_A_DEVICE holding the selector and the closed CBT_A_EPOCH_NUMBER,
 *   and CBT_A_FREEZE_NS, CBT_A_HOLD_NS: how long filesystems were frozen
 *   and writes were held. Nothing is taken when it fails; an epoch it
 *   closed is aborted (its blocks stay in the open epoch, numbered one
 *   more) (-EBUSY: an epoch cannot be closed or a snapshot is taken
 *   already; -ENOENT: no snapshot device attached; -ELOOP: the devices'
 *   I/O loops through them; -ETIMEDOUT: writes in flight did not end
 *   within 30 s of the first hold; -EINTR: a fatal signal). The reply is
 *   allocated before anything is taken.
 *
 * CBT_CMD_SNAP_RELEASE
 *   doit, with a selector, CBT_A_RANGE_SECTOR and CBT_A_RANGE_SECTORS
 *   (NLA_U64 each): the reader of the device's active snapshot is done
 *   with that range. Every COW chunk wholly inside it is released: it is
 *   no longer copied, its copy's COW space returns to the store, and
 *   snapshot reads of it fail with EIO, also reads in flight. Chunks the
 *   range covers only in part are kept. -ENOENT: no snapshot attached;
 *   -EINVAL: not active (prepared or invalid), or the range passes the
 *   device's end.
 *
 * Multicast group "events" (CAP_SYS_ADMIN to subscribe: the module needs a
 *   kernel with GENL_MCAST_CAP_SYS_ADMIN): CBT_CMD_EVENT messages with a
 *   selector (name, major, minor), CBT_A_UUID, CBT_A_EVENT (enum cbt_event)
 *   and, where it applies, CBT_A_EPOCH_NUMBER. CBT_EVENT_TRACKING_LOST
 *   carries CBT_A_IDENTITY_REASON.
 */
#ifndef _UAPI_LINUX_DM_CBT_H
#define _UAPI_LINUX_DM_CBT_H

#include <linux/types.h>

#define DM_CBT_GENL_NAME "dm_cbt"
#define DM_CBT_GENL_VERSION 2
#define DM_CBT_GENL_MCGRP_EVENTS "events"

#define DM_CBT_TARGET_NAME "cbt"

/* Tracking block size bounds, in bytes (powers of two). */
#define DM_CBT_MIN_BLOCK_SIZE 4096
#define DM_CBT_MAX_BLOCK_SIZE (1024 * 1024)
#define DM_CBT_DEFAULT_BLOCK_SIZE (64 * 1024)

/* Closed epochs waiting for commit or abort, at most. */
#define DM_CBT_MAX_CLOSED 3

/* Devices in one consistency group, at most. */
#define DM_CBT_MAX_GROUP 64

#define DM_CBT_SNAP_TARGET_NAME "cbt-snap"

enum cbt_cmd {
	CBT_CMD_UNSPEC,
	CBT_CMD_GET_DEVICE,
	CBT_CMD_CLOSE_EPOCH,
	CBT_CMD_COMMIT_EPOCH,
	CBT_CMD_ABORT_EPOCH,
	CBT_CMD_GET_BITMAP,
	CBT_CMD_EVENT,
	CBT_CMD_SNAPSHOT,
	CBT_CMD_SNAP_RELEASE,
	CBT_CMD_COUNT_BITMAP,
	__CBT_CMD_MAX
};

#define CBT_CMD_MAX (__CBT_CMD_MAX - 1)

enum cbt_attr {
	CBT_A_UNSPEC,
	CBT_A_DEV_NAME,
	CBT_A_DEV_MAJOR,
	CBT_A_DEV_MINOR,
	CBT_A_UUID,
	CBT_A_PERSISTENCE,
	CBT_A_BLOCK_SIZE,
	CBT_A_NR_BLOCKS,
	CBT_A_DEV_SECTORS,
	CBT_A_BITMAP_BYTES,
	CBT_A_EPOCH_CURRENT,
	CBT_A_EPOCHS,
	CBT_A_EPOCH,
	CBT_A_EPOCH_NUMBER,
	CBT_A_EPOCH_STATE,
	CBT_A_EPOCH_BITS,
	CBT_A_EPOCH_FIRST,
	CBT_A_EPOCH_LAST,
	CBT_A_BITMAP_FLAGS,
	CBT_A_CHUNK,
	CBT_A_CHUNK_START,
	CBT_A_CHUNK_BLOCKS,
	CBT_A_CHUNK_WORDS,
	CBT_A_CHUNK_EXTENTS,
	CBT_A_EVENT,
	CBT_A_METADATA_ERRORS,
	CBT_A_PAD,
	CBT_A_SNAPSHOT,
	CBT_A_SNAP_STATE,
	CBT_A_SNAP_ERROR,
	CBT_A_SNAP_AGE_MS,
	CBT_A_SNAP_CHUNK_SIZE,
	CBT_A_SNAP_COW_USED,
	CBT_A_SNAP_COW_TOTAL,
	CBT_A_SNAP_COPIED,
	CBT_A_SNAP_SECTORS,
	CBT_A_DEVICES,
	CBT_A_DEVICE,
	CBT_A_FREEZE,
	CBT_A_FREEZE_NS,
	CBT_A_HOLD_NS,
	CBT_A_LAST_COMMITTED,
	CBT_A_IDENTITY_REASON,
	CBT_A_SNAP_PRESERVE_FROM,
	CBT_A_SNAP_TO_READ,
	CBT_A_SNAP_RELEASED,
	CBT_A_SNAP_FORFEITED,
	CBT_A_RANGE_SECTOR,
	CBT_A_RANGE_SECTORS,
	CBT_A_COUNT_BLOCKS,
	CBT_A_COUNT_RUNS,
	CBT_A_COUNT_END,
	CBT_A_DEVICE_FLAGS,
	__CBT_A_LAST
};

#define CBT_A_MAX (__CBT_A_LAST - 1)

enum cbt_persistence {
	/* Tracking in memory only: history starts at the last table load. */
	CBT_PERSIST_NONE,
	/* Tracking committed to a metadata device, survives reboots and crashes. */
	CBT_PERSIST_METADATA,
	/*
	 * The metadata device failed; tracking went on in memory under a new
	 * identity. A full image is needed before incrementals resume.
	 */
	CBT_PERSIST_FAILED,
};

/*
 * Why a device's identity began. Every value but CBT_IDENTITY_CONTINUED
 * means the history before the load is gone and a full image is needed.
 * The names in parentheses are those of `dmsetup status` and `cbt status`.
 */
enum cbt_identity_reason {
	/* (continued) Loaded from metadata; no untracked stretch was seen. */
	CBT_IDENTITY_CONTINUED,
	/* (memory-only) No metadata device: history starts at the load. */
	CBT_IDENTITY_MEMORY_ONLY,
	/* (new-metadata) A blank metadata device was formatted. */
	CBT_IDENTITY_NEW_METADATA,
	/* (damaged) Neither superblock could be read or validated. */
	CBT_IDENTITY_DAMAGED,
	/* (other-device) The metadata was for another block size or a larger origin. */
	CBT_IDENTITY_OTHER_DEVICE,
	/*
	 * (origin-changed) The origin's fingerprint (size, first and last MiB)
	 * differs from the one recorded while it was tracked: it was written
	 * untracked, or the metadata now sits beside another origin.
	 */
	CBT_IDENTITY_ORIGIN_CHANGED,
	/*
	 * (table-replaced) The cbt table was replaced by another target (an
	 * LVM reload, multipathd) and the device took writes before cbt came back.
	 */
	CBT_IDENTITY_TABLE_REPLACED,
	/*
	 * (untracked-boot) A boot set the disk up without tracking (the boot
	 * hook could not load the cbt table) and marked the metadata stale.
	 */
	CBT_IDENTITY_UNTRACKED_BOOT,
	/* (metadata-failed) Metadata I/O failed; tracking went on in memory. */
	CBT_IDENTITY_METADATA_FAILED,
	/* (unverified) Metadata of an older format without the evidence to check the stretch. */
	CBT_IDENTITY_UNVERIFIED,
	__CBT_IDENTITY_MAX
};

enum cbt_epoch_state {
	CBT_EPOCH_OPEN,
	CBT_EPOCH_CLOSED,
};

enum cbt_snap_state {
	/* Attached, not yet taken: reads fail. */
	CBT_SNAP_PREPARED,
	/* Taken: reads return the device as it was at the instant. */
	CBT_SNAP_ACTIVE,
	/* The COW store filled up or failed: reads fail, the origin is unharmed. */
	CBT_SNAP_INVALID,
};

enum cbt_bitmap_flags {
	CBT_BITMAP_F_EXTENTS = 1U << 0,
	__CBT_BITMAP_F_ALL = CBT_BITMAP_F_EXTENTS
};

/* CBT_A_DEVICE_FLAGS of a CBT_CMD_GET_DEVICE request. */
enum cbt_device_flags {
	/* Leave CBT_A_EPOCH_BITS out of the epoch nests: no count of the bitmaps. */
	CBT_DEVICE_F_NO_EPOCH_BITS = 1U << 0,
	__CBT_DEVICE_F_ALL = CBT_DEVICE_F_NO_EPOCH_BITS
};

enum cbt_event {
	CBT_EVENT_EPOCH_CLOSED = 1,
	CBT_EVENT_EPOCH_COMMITTED,
	CBT_EVENT_EPOCH_ABORTED,
	/*
	 * History was lost: the identity UUID changed, a full image is due.
	 * CBT_A_IDENTITY_REASON says why.
	 */
	CBT_EVENT_TRACKING_LOST,
	CBT_EVENT_SNAPSHOT_TAKEN,
	/* The snapshot became invalid; CBT_A_SNAP_ERROR says why. */
	CBT_EVENT_SNAPSHOT_INVALID,
	/* The COW store passed 80% full. */
	CBT_EVENT_COW_LOW,
};

/* A run of set bits: blocks [start, start + len). Little-endian on the wire. */
struct cbt_extent {
	__le32 start;
	__le32 len;
};

/*
 * Metadata device layout (all integers little-endian), in 4 KiB pages:
 *   page 0 and 1: two superblock copies, written alternately; the valid one
 *                 with the highest sequence number wins.
 *   page 2..:     DM_CBT_MD_SLOTS bitmap slots of equal size, each a dense
 *                 bitmap (bit i = block i). One slot holds the open epoch,
 *                 the others closed epochs or nothing (then all zero).
 * Superblock, versions 2 and 3 (byte offset: size field):
 *     0: 4 crc32c of bytes 4..4095 (seed ~0)   4: 4 version
 *     8: 8 magic (or DM_CBT_MD_STALE_MAGIC)   16: 8 sequence number
 *    24: 16 identity UUID                     40: 4 block size in bytes
 *    44: 4 freed slots not yet zeroed         48: 8 blocks
 *    56: 8 pages per slot                     64: 8 open epoch
 *    72: 4 its slot                           76: 4 closed epochs
 *    80: 48 three (epoch 8, slot 4, 0 4)     128: 8 last committed epoch
 *   Version 2 only (version 1 is zero from here):
 *   136: 8 origin sectors                    144: 8 sectors fingerprinted
 *   152: 8 fingerprint: xxh64, seeded with the sectors fingerprinted, of
 *          the first and the last MiB (4 KiB aligned, one region under 2 MiB)
 *   160: 4 flags: bit 0 fingerprint valid, bit 1 I/O counters known
 *   164: 4 detach state: 0 attached, 1 suspended, 2 replaced by another target
 *   168: 8 dm device write I/Os, 176: 8 discard I/Os, at the last suspend
 *   184: 8 module-load nonce, 192: 8 diskseq, 200: 4 dev_t of that dm device
 *   Version 3 only (zero in version 2): 204: 4 log2 blocks per region,
 *   208: 8 pages per region map. Two region maps (generations A, B) follow
 *   the slots; a version 3 device marks regions before their first write.
 * Every version keeps the crc32c at offset 0, the version at 4 and the
 * magic at 8. A version above DM_CBT_MD_VERSION (checksum valid) is refused,
 * never reformatted. See
 * docs/target.md for the commit protocol and "History".
 */
#define DM_CBT_MD_MAGIC 0x6463627444435354ULL	/* "TSCDtbcd" */
#define DM_CBT_MD_VERSION 3
#define DM_CBT_MD_PAGE_SIZE 4096
#define DM_CBT_MD_SLOTS (DM_CBT_MAX_CLOSED + 1)
#define DM_CBT_MD_SB_COPIES 2

/*
 * A boot that could not set up tracking for a disk whose metadata device it
 * found (boot/cbt-boot.sh) overwrites the magic of both superblocks, the 8
 * bytes at DM_CBT_MD_MAGIC_OFFSET of pages 0 and 1, with this value: the
 * disk is about to be used untracked. The next load starts a new identity
 * with CBT_IDENTITY_UNTRACKED_BOOT instead of trusting the old bitmaps.
 */
#define DM_CBT_MD_MAGIC_OFFSET 8
#define DM_CBT_MD_STALE_MAGIC 0x656c617453746263ULL	/* "cbtStale" */

#endif /* _UAPI_LINUX_DM_CBT_H */
