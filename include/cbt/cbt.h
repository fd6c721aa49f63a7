/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libcbt: the public C API of dm-cbt, changed-block tracking for
 * device-mapper (docs/libcbt.md is the guide, with an example).
 *
 *   device     a tracked (cbt) device: status, epochs, the blocks an epoch
 *              changed, through the kernel's dm_cbt netlink family
 *   snapshot   point-in-time snapshots of one device or a group at once
 *   events     the kernel's notifications, on a file descriptor for poll()
 *   image      cbt images and chain directories (docs/format.md): write an
 *              image from a snapshot, open a chain, verify it, find which
 *              image holds a block, read a restore point's bytes
 *
 * Conventions, for every function here:
 * - Errors: a negative errno is returned. Every function that can fail
 *   takes a `struct cbt_error *' last (NULL: not wanted), which gets the
 *   same code and a message for humans that names the device, the file or
 *   the attribute and, for the usual failures, what to do. On success its
 *   code is 0 and its message empty. -EBADMSG always means damaged data (an
 *   image or chain), -ESTALE lost tracking history (a full image is due).
 * - Handles are opaque; each has one function that frees it and accepts
 *   NULL. The library keeps no global state but the key of encrypted
 *   images (cbt_image_key_load(), below), which is the process's.
 * - Threads: a handle may be used by one thread at a time, different
 *   handles by different threads at once. A chain handle
 *   (struct cbt_image_chain) is never changed after it is opened: any number
 *   of threads may use one at once. Functions without a handle are
 *   thread-safe, but for the snapshot functions (cbt_snapshot_take(),
 *   _find(), _drop()): they drive libdevmapper, whose state is process-wide,
 *   so one thread at a time may call them. They install libdevmapper's log
 *   function for the process (to keep its messages for struct cbt_error)
 *   and may turn off its udev synchronisation where no udev runs: a host
 *   program that uses libdevmapper itself sets its own after them.
 * - Blocks: tracking blocks of the device's block size (4 KiB .. 1 MiB);
 *   the last block of a device whose size is not a multiple of it is short.
 *   Bytes are bytes of the device, from offset 0.
 * - Most calls need CAP_SYS_ADMIN and the dm-cbt module; the image and
 *   chain functions need neither.
 */
#ifndef CBT_CBT_H
#define CBT_CBT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The API this header describes. The major number changes with the soname
 * (libcbt.so.N) when something is removed or a structure changes; the
 * minor one when functions are added. cbt_api_version() is the running
 * library's, to compare at run time.
 */
#define CBT_API_VERSION_MAJOR 1
#define CBT_API_VERSION_MINOR 1
#define CBT_API_VERSION (CBT_API_VERSION_MAJOR * 1000 + CBT_API_VERSION_MINOR)

/* CBT_API_VERSION of the library that runs. Thread-safe. */
unsigned int cbt_api_version(void);
/* The dm-cbt release the library comes from, e.g. "0.1.0". Thread-safe. */
const char *cbt_library_version(void);

/* ---- Errors -------------------------------------------------------------- */

#define CBT_ERROR_MAX 1024

struct cbt_error {
	int code;			/* 0 or a negative errno, as returned */
	char message[CBT_ERROR_MAX];	/* NUL-terminated, never a trailing newline */
};

/* ---- Names of values ----------------------------------------------------- */

/* Why a device's tracking identity began (struct cbt_status, events). */
enum cbt_reason {
	CBT_REASON_CONTINUED,		/* loaded from metadata, history intact */
	CBT_REASON_MEMORY_ONLY,		/* no metadata device: history starts at the load */
	CBT_REASON_NEW_METADATA,	/* a blank metadata device was formatted */
	CBT_REASON_DAMAGED,		/* the metadata could not be read */
	CBT_REASON_OTHER_DEVICE,	/* the metadata was another device's */
	CBT_REASON_ORIGIN_CHANGED,	/* the origin was written untracked */
	CBT_REASON_TABLE_REPLACED,	/* another table took writes meanwhile */
	CBT_REASON_UNTRACKED_BOOT,	/* a boot used the disk untracked */
	CBT_REASON_METADATA_FAILED,	/* metadata I/O failed; tracking went on in memory */
	CBT_REASON_UNVERIFIED,		/* older metadata without the evidence to check */
};
/* Not an enumerator (ISO C enums are ints): an older module does not say. */
#define CBT_REASON_UNKNOWN 0xffffffffU

enum cbt_persistence_mode {
	CBT_PERSISTENCE_NONE,		/* tracking in memory only */
	CBT_PERSISTENCE_METADATA,	/* on a metadata device: survives reboots */
	CBT_PERSISTENCE_FAILED,		/* the metadata device failed: memory only now */
};

enum cbt_snapshot_state {
	CBT_SNAPSHOT_PREPARED,		/* attached, not taken: reads fail */
	CBT_SNAPSHOT_ACTIVE,		/* reads give the device as it was */
	CBT_SNAPSHOT_INVALID,		/* the COW store filled up or failed */
};

enum cbt_event_type {
	CBT_EV_EPOCH_CLOSED = 1,
	CBT_EV_EPOCH_COMMITTED,
	CBT_EV_EPOCH_ABORTED,
	CBT_EV_TRACKING_LOST,		/* identity changed: a full image is due */
	CBT_EV_SNAPSHOT_TAKEN,
	CBT_EV_SNAPSHOT_INVALID,
	CBT_EV_COW_LOW,			/* the COW store passed 80% */
	/*
	 * Not the kernel's: events came faster than they were read and some
	 * were dropped. Read every device's status again.
	 */
	CBT_EV_LOST = 0x100,
};

enum cbt_image_type {
	CBT_IMAGE_FULL = 1,
	CBT_IMAGE_INCREMENTAL,		/* the blocks changed since its parent */
	CBT_IMAGE_DIFFERENTIAL,		/* the blocks changed since the chain's full image */
};

/*
 * The names `cbt status', `cbt monitor' and `cbt info' print ("continued",
 * "metadata", "active", "epoch-closed", "incremental"), "unknown" for
 * values this library does not know. Static strings; thread-safe.
 */
const char *cbt_reason_str(uint32_t reason);
const char *cbt_persistence_str(uint32_t persistence);
const char *cbt_snapshot_state_str(uint32_t state);
const char *cbt_event_str(uint32_t type);
const char *cbt_image_type_str(uint32_t type);

/* ---- Extent iterators ---------------------------------------------------- */

/*
 * A set of blocks as sorted, non-overlapping, non-adjacent extents: the
 * changes of epochs, or the blocks of an image or a restore point. It is
 * read whole when made, so iterating cannot fail.
 */
struct cbt_extent_iter;

/*
 * The next extent, blocks [*start, *start + *len): 1, or 0 after the last
 * one (then *start and *len are 0).
 */
int cbt_extents_next(struct cbt_extent_iter *it, uint64_t *start, uint64_t *len);
/*
 * The same cursor, in bytes of the device: [*offset, *offset + *len),
 * the last block cut at the device's end.
 */
int cbt_extents_next_bytes(struct cbt_extent_iter *it, uint64_t *offset, uint64_t *len);
/* Back to the first extent. */
void cbt_extents_rewind(struct cbt_extent_iter *it);
/* Extents and blocks in the set; its block size in bytes. */
size_t cbt_extents_count(const struct cbt_extent_iter *it);
uint64_t cbt_extents_blocks(const struct cbt_extent_iter *it);
uint32_t cbt_extents_block_size(const struct cbt_extent_iter *it);
void cbt_extents_destroy(struct cbt_extent_iter *it);

/* ---- Devices ------------------------------------------------------------- */

struct cbt_device;

/*
 * Open cbt device @device: a device-mapper name ("vg-data"), MAJ:MIN, or
 * a path (/dev/mapper/vg-data, /dev/dm-3). Opens a netlink socket and asks
 * the kernel for the device once. -ENOENT: the module is not loaded;
 * -ENODEV: no such cbt device; -EPERM: not CAP_SYS_ADMIN; -EPROTO: the
 * module speaks another interface version; -EINVAL/-ENAMETOOLONG: a
 * malformed @device.
 */
int cbt_device_open(const char *device, struct cbt_device **dev, struct cbt_error *err);
void cbt_device_close(struct cbt_device *dev);

/* Closed epochs struct cbt_status has room for (the kernel keeps 3). */
#define CBT_STATUS_CLOSED_MAX 8

struct cbt_status {
	char name[128];			/* device-mapper name */
	uint32_t major, minor;
	uint8_t uuid[16];		/* tracking identity: changes whenever history is lost */
	uint32_t reason;		/* enum cbt_reason: why this identity began */
	uint32_t persistence;		/* enum cbt_persistence_mode */
	uint32_t block_size;		/* bytes */
	uint64_t nr_blocks;
	uint64_t dev_bytes;
	uint64_t bitmap_bytes;		/* kernel memory the bitmaps take */
	uint64_t metadata_errors;
	uint64_t epoch;			/* the open epoch, taking writes */
	uint64_t epoch_blocks;		/* blocks it has changed so far */
	uint64_t last_committed;	/* last epoch committed, 0: none */
	uint32_t nr_closed;		/* closed epochs waiting for commit or abort */
	uint64_t closed[CBT_STATUS_CLOSED_MAX];		/* oldest first */
	uint64_t closed_blocks[CBT_STATUS_CLOSED_MAX];
	/* A snapshot device attached to it (snapshot_present != 0): */
	int snapshot_present;
	uint32_t snapshot_state;	/* enum cbt_snapshot_state */
	int snapshot_error;		/* positive errno that invalidated it */
	uint64_t snapshot_epoch;	/* the epoch it closed */
	uint64_t cow_used, cow_total;	/* bytes */
};

/* Ask the kernel for the device's status now. */
int cbt_device_status(struct cbt_device *dev, struct cbt_status *st, struct cbt_error *err);

/*
 * Close the open epoch N (N + 1 opens) and return N in *@epoch. Every write
 * N lists is on the device when it returns. -EBUSY: 3 epochs are closed
 * already; -ETIMEDOUT: writes in flight did not end within 30 s.
 */
int cbt_device_epoch_close(struct cbt_device *dev, uint64_t *epoch, struct cbt_error *err);
/*
 * The changes of closed epoch @epoch are safely copied: drop them. Commit
 * in order (-EINVAL while an older epoch is closed).
 */
int cbt_device_epoch_commit(struct cbt_device *dev, uint64_t epoch, struct cbt_error *err);
/* Keep @epoch's changes for the next epoch: merge them into the open one. */
int cbt_device_epoch_abort(struct cbt_device *dev, uint64_t epoch, struct cbt_error *err);

/*
 * The blocks changed in epochs @first .. @last (held in the kernel: the
 * closed ones and the open one, which may still grow while it is read).
 * -ESTALE when the tracking identity or the size changed while reading:
 * the set may be incomplete.
 */
int cbt_device_changes(struct cbt_device *dev, uint64_t first, uint64_t last,
		       struct cbt_extent_iter **it, struct cbt_error *err);

/* ---- Snapshots ----------------------------------------------------------- */

/* A point-in-time snapshot of one or more cbt devices, taken together. */
struct cbt_snapshot;

#define CBT_SNAPSHOT_FREEZE (1U << 0)	/* freeze the filesystems around the instant */
#define CBT_SNAPSHOT_FORCE  (1U << 1)	/* use COW devices that hold a signature */

/*
 * Attach a read-only snapshot device over each of @devices[0 .. @n) (names
 * as cbt_device_open() takes, at most 64), each with its own blank
 * copy-on-write device @cows[i], and take them all at one instant; that
 * closes each device's open epoch (cbt_snapshot_epoch()). @chunk_bytes is
 * the COW chunk (0: 4 KiB; 4 KiB .. 1 MiB, a power of two). On failure
 * nothing is left behind: no device attached, no epoch closed. -EBUSY: a
 * snapshot is attached already, 3 epochs are closed, or a `cbt backup' or
 * `cbt clone' of a device is running. The handle holds each device's
 * /run/cbt lock (the one those commands take) until it is dropped or
 * released, so they do not take this snapshot for a dead process's.
 *
 * The caller commits each closed epoch once its changes are safely copied,
 * or aborts it, then drops the snapshot: neither happens by itself.
 */
int cbt_snapshot_take(const char *const *devices, const char *const *cows, size_t n,
		      uint32_t chunk_bytes, unsigned int flags, struct cbt_snapshot **snap,
		      struct cbt_error *err);
/*
 * The snapshot a process that died left attached to @device, to drop it.
 * -ENOENT when there is none; -EBUSY when a live process holds the device
 * (a snapshot handle, `cbt backup', `cbt clone'). Its epoch is 0 when the kernel no longer has
 * it (cbt_device_status() says what is closed).
 */
int cbt_snapshot_find(const char *device, struct cbt_snapshot **snap, struct cbt_error *err);
/* Devices in the snapshot, and member @i's: NULL or 0 when @i is out of range. */
size_t cbt_snapshot_count(const struct cbt_snapshot *snap);
/* Name of the tracked device. */
const char *cbt_snapshot_device(const struct cbt_snapshot *snap, size_t i);
/* Path of the read-only snapshot device, to open() and read. */
const char *cbt_snapshot_path(const struct cbt_snapshot *snap, size_t i);
/* The epoch the snapshot closed: its changes are what changed before it. */
uint64_t cbt_snapshot_epoch(const struct cbt_snapshot *snap, size_t i);
uint64_t cbt_snapshot_bytes(const struct cbt_snapshot *snap, size_t i);
/*
 * Remove every snapshot device (each COW device is wiped, ready for the
 * next take) and free @snap, also on error (then the first error is
 * returned and the message names the device left over).
 */
int cbt_snapshot_drop(struct cbt_snapshot *snap, struct cbt_error *err);
/* Free the handle only: the snapshot devices stay. */
void cbt_snapshot_release(struct cbt_snapshot *snap);

/* ---- Events -------------------------------------------------------------- */

struct cbt_events;

struct cbt_event_info {
	uint32_t type;			/* enum cbt_event_type */
	char device[128];		/* empty for CBT_EV_LOST */
	uint32_t major, minor;
	uint8_t uuid[16];		/* the device's tracking identity */
	int has_epoch;
	uint64_t epoch;			/* when has_epoch */
	uint32_t reason;		/* CBT_EV_TRACKING_LOST: enum cbt_reason */
};

/* Subscribe to the events of every cbt device. */
int cbt_events_open(struct cbt_events **ev, struct cbt_error *err);
/*
 * A file descriptor that poll() reports readable (POLLIN) when events are
 * waiting; do not read it. Valid until cbt_events_close().
 */
int cbt_events_fd(const struct cbt_events *ev);
/*
 * The next event: 1 and *@e filled, or 0 when none is waiting (it never
 * blocks: poll() the fd). Events the library cannot parse are skipped.
 */
int cbt_events_next(struct cbt_events *ev, struct cbt_event_info *e, struct cbt_error *err);
void cbt_events_close(struct cbt_events *ev);

/* ---- Images and chains --------------------------------------------------- */

/* One image: its header and trailer. */
struct cbt_image_info {
	uint32_t type;			/* enum cbt_image_type */
	char file[64];			/* its name in the chain directory */
	uint8_t uuid[16];
	uint8_t parent[16];		/* zero for a full image */
	uint8_t base[16];		/* the full image the chain starts from */
	uint8_t dev_uuid[16];		/* tracking identity of the device */
	uint64_t epoch_first, epoch_last;
	uint64_t created_ns;		/* CLOCK_REALTIME */
	uint64_t dev_bytes;
	uint32_t block_size;
	uint64_t blocks;		/* blocks it holds */
	uint64_t stored_bytes;		/* size of the file */
};

/*
 * Write an image of @dev, read from @dev's member of @snap (taken, still
 * active), into chain directory @dir, or, when @dir is NULL, to file
 * descriptor @fd (then only a full image).
 *  - CBT_IMAGE_FULL: every block (@blocks NULL) or the blocks of @blocks
 *    (a set from cbt_image_chain_blocks()), all-zero blocks left out; into
 *    @dir it starts a new chain (made if missing). -EINVAL for a set from
 *    cbt_device_changes(): a full image of the changes only is a mistake.
 *  - CBT_IMAGE_INCREMENTAL, CBT_IMAGE_DIFFERENTIAL: @blocks are the
 *    changes of the snapshot's epoch, from cbt_device_changes(dev, first,
 *    E, ...) with E = cbt_snapshot_epoch() and first <= E, read under the
 *    snapshot's tracking identity; any other set is refused with -EINVAL
 *    (an image from another epoch's or device's set would restore wrong).
 *    The image's parent is the chain's last (or full) image. -ESTALE when
 *    the chain's history is lost (another identity, an epoch committed
 *    outside it): a full image is needed.
 * The image enters the chain only once complete and on disk; *@info (may
 * be NULL) describes it. Committing the snapshot's epoch is the caller's.
 */
int cbt_image_write(struct cbt_device *dev, const struct cbt_snapshot *snap, uint32_t type,
		    struct cbt_extent_iter *blocks, const char *dir, int fd,
		    struct cbt_image_info *info, struct cbt_error *err);

/*
 * A chain directory, opened for reading. Images are numbered 0 .. count-1
 * in the order they were taken; restore point i is image i with its
 * parents. The index is read once, at open.
 */
struct cbt_image_chain;

/* -ENOENT: no such directory; -EBADMSG: a damaged index. */
int cbt_image_chain_open(const char *dir, struct cbt_image_chain **chain, struct cbt_error *err);
void cbt_image_chain_close(struct cbt_image_chain *chain);
size_t cbt_image_chain_count(const struct cbt_image_chain *chain);
/*
 * Image @i's header and trailer (both checksummed; the frames are not
 * read). -EBADMSG: damaged or not the image the index lists; -ERANGE:
 * no image @i.
 */
int cbt_image_chain_info(const struct cbt_image_chain *chain, size_t i,
			 struct cbt_image_info *info, struct cbt_error *err);
/*
 * The images restore point @i needs, newest first (@i itself first, a full
 * image last): up to @max indexes into @images, their number in *@n.
 * -EBADMSG/-ENOENT naming a missing or mismatched link; -ENOSPC when @max
 * is too small (*@n says how many are needed).
 */
int cbt_image_chain_path(const struct cbt_image_chain *chain, size_t i, size_t *images,
			 size_t max, size_t *n, struct cbt_error *err);
/*
 * Read every image restore point @i needs whole and check every checksum,
 * block map, digest and link. 0, or -EBADMSG naming the first damage.
 */
int cbt_image_chain_verify(const struct cbt_image_chain *chain, size_t i,
			   struct cbt_error *err);

#define CBT_CHAIN_POINT (1U << 0)

/*
 * The blocks image @i holds (its block map); with CBT_CHAIN_POINT, the
 * blocks restore point @i takes from its images (the union of theirs).
 */
int cbt_image_chain_blocks(const struct cbt_image_chain *chain, size_t i, unsigned int flags,
			   struct cbt_extent_iter **it, struct cbt_error *err);
/*
 * Which image holds block @block of restore point @i: 1 and its index in
 * *@image (the newest that has it), or 0 when none does (the block reads
 * as zeros). -ERANGE: @block lies beyond the point's device.
 */
int cbt_image_chain_resolve(const struct cbt_image_chain *chain, size_t i, uint64_t block,
			    size_t *image, struct cbt_error *err);
/*
 * Read @len bytes at @offset of the device as restore point @i holds it
 * into @buf; blocks no image holds read as zeros. Every frame read is
 * checksummed. The images are read front to back (the format has no
 * index yet): a read costs the size of the point's images. -ERANGE:
 * beyond the point's device size.
 */
int cbt_image_chain_read(const struct cbt_image_chain *chain, size_t i, uint64_t offset,
			 void *buf, size_t len, struct cbt_error *err);

/* ---- Keys of encrypted images (API 1.1) ---------------------------------- */

#define CBT_IMAGE_KEY_BYTES 32

/*
 * Encrypted images (`cbt backup --encrypt KEYFILE', docs/format.md
 * "Encryption") are read, and cbt_image_write() writes encrypted images,
 * under the process's key: set it before opening a chain or writing an
 * image, and not while another thread uses a chain or writes. With a key,
 * only encrypted images are read or written (a plain image in the chain is
 * refused); without one, an encrypted image is refused with -ENOKEY. An
 * image encrypted under another key is -EKEYREJECTED; a frame, header or
 * trailer that fails authentication, -EBADMSG.
 *
 * cbt_image_key_load(): the key file as `cbt keygen' writes it (64 hex
 * digits and a newline, or the 32 bytes), a regular file no group or other
 * user can read or write (else -EKEYREJECTED), and never inside a chain
 * directory it is used on (cbt_image_chain_open() and cbt_image_write()
 * refuse that with -EKEYREJECTED). A failed load leaves no key set.
 * cbt_image_key_set(): the 32 bytes themselves (the caller keeps them
 * safe). cbt_image_key_clear() wipes the key. Since API 1.1.
 */
int cbt_image_key_load(const char *path, struct cbt_error *err);
int cbt_image_key_set(const uint8_t key[CBT_IMAGE_KEY_BYTES], struct cbt_error *err);
void cbt_image_key_clear(void);

#ifdef __cplusplus
}
#endif

#endif /* CBT_CBT_H */
