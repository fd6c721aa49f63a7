/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Building the kernel's side of dm_cbt messages with libmnl, for the unit
 * tests, the fake kernel and the fuzzer's seeds: what a correct dm-cbt
 * module sends (the uapi header's contract), plus knobs to break it.
 */
#ifndef CBT_MSGBUILD_H
#define CBT_MSGBUILD_H

#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>
#include <linux/dm-cbt.h>

#define MB_FAMILY 0x1c	/* the family id the fake kernel hands out */

struct mb_epoch {
	uint64_t number;
	uint32_t state;
	uint64_t bits;
};

struct mb_dev {
	const char *name;
	uint32_t major, minor;
	uint8_t uuid[16];
	uint32_t persistence;
	uint32_t block_size;
	uint64_t nr_blocks;
	uint64_t dev_sectors;
	uint64_t bitmap_bytes;
	uint64_t epoch_current;
	uint64_t metadata_errors;
	uint64_t last_committed;
	uint32_t identity_reason;	/* sent unless omitted, as a version 2 module does */
	struct mb_epoch epochs[8];
	int nr_epochs;
	unsigned int omit;	/* an attribute type to leave out, 0 for none */
};

/* A genetlink message header for @cmd in @buf, of type @type. */
struct nlmsghdr *mb_genl(void *buf, uint16_t type, uint8_t cmd, uint32_t seq, uint16_t flags);
/* The attributes of a GET_DEVICE reply. */
void mb_put_device(struct nlmsghdr *nlh, const struct mb_dev *d);
/* The header attributes of a GET_BITMAP dump message. */
void mb_put_bitmap_hdr(struct nlmsghdr *nlh, uint64_t epoch, uint32_t block_size, uint64_t nr_blocks);
void mb_put_chunk_words(struct nlmsghdr *nlh, uint64_t start, uint32_t blocks,
			const uint64_t *words, size_t nr_words);
void mb_put_chunk_extents(struct nlmsghdr *nlh, uint64_t start, uint32_t blocks,
			  const struct cbt_extent *ext, size_t nr);
/* An NLMSG_ERROR (ack when @err is 0), capped, with an extack @msg unless NULL. */
struct nlmsghdr *mb_error(void *buf, uint32_t seq, int err, const char *msg, uint32_t miss_type);
/* An NLMSG_DONE carrying @err and an extack @msg unless NULL. */
struct nlmsghdr *mb_done(void *buf, uint32_t seq, int err, const char *msg);

#endif /* CBT_MSGBUILD_H */
