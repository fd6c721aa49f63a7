/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Building and parsing dm_cbt generic netlink messages, on buffers only:
 * nothing here touches a socket, so every function can be tested with
 * messages built by hand. Parsers check every attribute's length and the
 * reply's consistency; bad kernel data is -EPROTO with a detail
 * (cbt_err()) that names the attribute, never a crash.
 */
#ifndef CBT_PROTO_H
#define CBT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/netlink.h>
#include <linux/dm-cbt.h>

#include "kernel/chunk.h"
#include "kernel/devsel.h"
#include "util/extents.h"

/* "CBT_A_BLOCK_SIZE"; "attribute 42" for types this tool does not know. */
const char *cbt_attr_name(unsigned int type, char buf[32]);

/*
 * Index the attributes in [buf, buf + len) by type into tb[0 .. max]
 * (zeroed first). Types above @max are skipped: a newer kernel may send
 * more. A type given twice is -EPROTO unless bit (1 << type) is set in
 * @multi (the caller walks those itself). Bytes left over that do not form
 * a whole attribute are -EPROTO.
 */
int cbt_attr_index(const void *buf, size_t len, const struct nlattr **tb, unsigned int max,
		   uint64_t multi);
/* The attribute stream after the genetlink header of @nlh. */
int cbt_genl_payload(const struct nlmsghdr *nlh, const void **buf, size_t *len);

/*
 * Every request's attributes are built here (device.c and snapdev.c only
 * send them): the selector alone (GET_DEVICE, CLOSE_EPOCH); with the epoch
 * COMMIT_EPOCH and ABORT_EPOCH end; with the epochs GET_BITMAP reads
 * (@first == @last: that one epoch), as extents.
 */
void cbt_put_devsel(struct nlmsghdr *nlh, const struct cbt_devsel *sel);
void cbt_put_epoch_req(struct nlmsghdr *nlh, const struct cbt_devsel *sel, uint64_t epoch);
void cbt_put_bitmap_req(struct nlmsghdr *nlh, const struct cbt_devsel *sel, uint64_t first,
			uint64_t last);
/* COUNT_BITMAP: GET_BITMAP's request without the flags. */
void cbt_put_count_req(struct nlmsghdr *nlh, const struct cbt_devsel *sel, uint64_t first,
		       uint64_t last);

/* The CBT_A_SNAPSHOT nest: a snapshot device is attached to the device. */
struct cbt_snap_info {
	bool present;
	uint32_t state;		/* enum cbt_snap_state */
	uint32_t error;		/* positive errno that invalidated it, 0 otherwise */
	uint64_t epoch;		/* the epoch it closed (0 while prepared) */
	uint64_t age_ms;
	uint32_t chunk_size;	/* bytes */
	uint64_t cow_used, cow_total;	/* bytes */
	uint64_t copied;	/* chunks */
	uint64_t sectors;
	/* Modules with CBT_CMD_SNAP_RELEASE only (has_release), in chunks. */
	bool has_release;
	uint64_t preserve_from;	/* 0: every chunk preserved */
	uint64_t to_read, released, forfeited;
};

struct cbt_epoch_info {
	uint64_t number;
	uint32_t state;		/* enum cbt_epoch_state */
	uint64_t bits;		/* blocks set */
};

/* A CBT_CMD_GET_DEVICE reply. */
struct cbt_dev_info {
	char name[CBT_NAME_MAX + 1];
	uint32_t major;
	uint32_t minor;
	uint8_t uuid[16];
	uint32_t persistence;	/* enum cbt_persistence */
	uint32_t block_size;
	uint64_t nr_blocks;
	uint64_t dev_sectors;
	uint64_t bitmap_bytes;
	uint64_t epoch_current;
	uint64_t metadata_errors;
	uint64_t last_committed;	/* the last epoch committed, 0: none */
	/* enum cbt_identity_reason; CBT_IDENTITY_UNKNOWN from a module that does not say */
	uint32_t identity_reason;
	struct cbt_epoch_info *epochs;	/* sorted by number, the open one last */
	size_t nr_epochs;
	struct cbt_snap_info snap;	/* snap.present: CBT_A_SNAPSHOT was sent */
};

/*
 * Parse a GET_DEVICE reply into @info (free with cbt_dev_info_free()).
 * Every attribute the uapi header lists is required. Checked: block size a
 * power of two within the header's bounds, nr_blocks covering dev_sectors
 * exactly, epochs unique, exactly one open and it is the current one, the
 * closed ones older, bits not above nr_blocks.
 */
int cbt_parse_device(const struct nlmsghdr *nlh, struct cbt_dev_info *info);
/*
 * The same for a reply to a request with CBT_A_DEVICE_FLAGS @flags: with
 * CBT_DEVICE_F_NO_EPOCH_BITS, the epochs have no CBT_A_EPOCH_BITS (bits
 * stay 0), and one that has it is refused.
 */
int cbt_parse_device_flags(const struct nlmsghdr *nlh, struct cbt_dev_info *info, uint32_t flags);
void cbt_dev_info_free(struct cbt_dev_info *info);
uint64_t cbt_dev_bytes(const struct cbt_dev_info *info);
/* Bytes that @blocks changed blocks stand for, at most the device size. */
uint64_t cbt_blocks_bytes(const struct cbt_dev_info *info, uint64_t blocks);
const struct cbt_epoch_info *cbt_dev_epoch(const struct cbt_dev_info *info, uint64_t number);
/* "none", "metadata", "failed"; "unknown" for newer values. */
const char *cbt_persistence_name(uint32_t p);
/*
 * Not a kernel value: CBT_A_IDENTITY_REASON is optional, and a module older
 * than netlink version 2 does not send it.
 */
#define CBT_IDENTITY_UNKNOWN UINT32_MAX
/* "continued", "table-replaced", ... (the uapi header's names), or "unknown". */
const char *cbt_identity_reason_name(uint32_t r);
/* One sentence on what @r means for the history, for humans. */
const char *cbt_identity_reason_text(uint32_t r);
const char *cbt_epoch_state_name(uint32_t s);

/* "prepared", "active", "invalid"; "unknown" for newer values. */
const char *cbt_snap_state_name(uint32_t s);

/* The CBT_A_EPOCH_NUMBER of a CLOSE_EPOCH reply. */
int cbt_parse_epoch_reply(const struct nlmsghdr *nlh, uint64_t *epoch);
/*
 * A COUNT_BITMAP reply into @count, for the device @info describes (its
 * GET_DEVICE reply): -ESTALE when the kernel counted another identity or
 * size (it changed since), -EPROTO for counts that cannot be (more runs
 * than blocks, an end past the device).
 */
int cbt_parse_count_reply(const struct nlmsghdr *nlh, const struct cbt_dev_info *info,
			  struct cbt_bitmap_count *count);

/* One CBT_CMD_EVENT message of the "events" multicast group. */
struct cbt_event_msg {
	uint32_t event;			/* enum cbt_event */
	char name[CBT_NAME_MAX + 1];	/* "" when the module knows none */
	uint32_t major, minor;
	uint8_t uuid[16];		/* the device's tracking identity */
	uint64_t epoch;			/* when has_epoch */
	bool has_epoch;
	uint32_t reason;		/* CBT_IDENTITY_UNKNOWN unless the event carries one */
};

/*
 * Parse an event: the device's name, numbers and UUID and the event are
 * required, the epoch and the identity reason optional. 0, or -EPROTO with
 * the attribute that was wrong.
 */
int cbt_parse_event(const struct nlmsghdr *nlh, struct cbt_event_msg *ev);

/*
 * Reads the messages of one GET_BITMAP dump into an extent list. The
 * expected epoch, block size and nr_blocks come from the request and the
 * GET_DEVICE reply; every message must agree with them.
 */
struct cbt_bitmap_reader {
	uint64_t epoch;		/* first epoch of the range asked for */
	uint32_t block_size;
	uint64_t nr_blocks;
	struct cbt_chunk_ctx ctx;
	struct cbt_extents ext;
	struct cbt_bitmap_count *count;	/* when set: only count into it, r->ext stays empty */
	uint64_t msgs;
	uint64_t chunks;
};

void cbt_bitmap_reader_init(struct cbt_bitmap_reader *r, uint64_t epoch, uint32_t block_size,
			    uint64_t nr_blocks);
void cbt_bitmap_reader_free(struct cbt_bitmap_reader *r);
/* Parse one dump message; its chunks' blocks are appended to r->ext (or counted). */
int cbt_bitmap_parse_msg(struct cbt_bitmap_reader *r, const struct nlmsghdr *nlh);
/* Parse one CBT_A_CHUNK nest into @c (pointers into the message). */
int cbt_chunk_parse(const struct nlattr *nest, struct cbt_chunk *c);

/*
 * CBT_CMD_SNAPSHOT: the request names @n devices (1 .. DM_CBT_MAX_GROUP) in
 * CBT_A_DEVICES, each with CBT_A_SNAP_PRESERVE_FROM when @preserve_from
 * (NULL: none) holds a non-zero epoch for it, and CBT_A_FREEZE when @freeze.
 */
void cbt_put_snapshot_req(struct nlmsghdr *nlh, const struct cbt_devsel *sels, size_t n,
			  const uint64_t *preserve_from, bool freeze);

/* One device of a CBT_CMD_SNAPSHOT reply. */
struct cbt_snap_dev {
	char name[CBT_NAME_MAX + 1];
	uint32_t major, minor;
	uint64_t epoch;		/* the epoch it closed */
};

struct cbt_snap_reply {
	struct cbt_snap_dev devs[DM_CBT_MAX_GROUP];
	size_t nr;
	uint64_t freeze_ns, hold_ns;
};

/*
 * Parse a CBT_CMD_SNAPSHOT reply. Every CBT_A_DEVICE needs its selector
 * (name and numbers) and CBT_A_EPOCH_NUMBER; CBT_A_FREEZE_NS and
 * CBT_A_HOLD_NS are required. A device listed twice is -EPROTO.
 */
int cbt_parse_snapshot_reply(const struct nlmsghdr *nlh, struct cbt_snap_reply *r);

#endif /* CBT_PROTO_H */
