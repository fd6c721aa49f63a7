// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <string.h>

#include <linux/genetlink.h>

#include "msgbuild.h"

struct nlmsghdr *mb_genl(void *buf, uint16_t type, uint8_t cmd, uint32_t seq, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = DM_CBT_GENL_VERSION;
	return nlh;
}

/* nla_put_u64_64bit() pads with CBT_A_PAD so the value is 8-byte aligned. */
static void put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t v)
{
	if ((nlh->nlmsg_len + MNL_ATTR_HDRLEN) % 8)
		mnl_attr_put(nlh, CBT_A_PAD, 0, NULL);
	mnl_attr_put_u64(nlh, type, v);
}

void mb_put_device(struct nlmsghdr *nlh, const struct mb_dev *d)
{
	struct nlattr *epochs;

#define OMIT(t) (d->omit == (t))
	if (!OMIT(CBT_A_DEV_NAME))
		mnl_attr_put_strz(nlh, CBT_A_DEV_NAME, d->name);
	if (!OMIT(CBT_A_DEV_MAJOR))
		mnl_attr_put_u32(nlh, CBT_A_DEV_MAJOR, d->major);
	if (!OMIT(CBT_A_DEV_MINOR))
		mnl_attr_put_u32(nlh, CBT_A_DEV_MINOR, d->minor);
	if (!OMIT(CBT_A_UUID))
		mnl_attr_put(nlh, CBT_A_UUID, sizeof(d->uuid), d->uuid);
	if (!OMIT(CBT_A_PERSISTENCE))
		mnl_attr_put_u32(nlh, CBT_A_PERSISTENCE, d->persistence);
	if (!OMIT(CBT_A_BLOCK_SIZE))
		mnl_attr_put_u32(nlh, CBT_A_BLOCK_SIZE, d->block_size);
	if (!OMIT(CBT_A_NR_BLOCKS))
		put_u64(nlh, CBT_A_NR_BLOCKS, d->nr_blocks);
	if (!OMIT(CBT_A_DEV_SECTORS))
		put_u64(nlh, CBT_A_DEV_SECTORS, d->dev_sectors);
	if (!OMIT(CBT_A_BITMAP_BYTES))
		put_u64(nlh, CBT_A_BITMAP_BYTES, d->bitmap_bytes);
	if (!OMIT(CBT_A_EPOCH_CURRENT))
		put_u64(nlh, CBT_A_EPOCH_CURRENT, d->epoch_current);
	if (!OMIT(CBT_A_METADATA_ERRORS))
		put_u64(nlh, CBT_A_METADATA_ERRORS, d->metadata_errors);
	if (!OMIT(CBT_A_LAST_COMMITTED))
		put_u64(nlh, CBT_A_LAST_COMMITTED, d->last_committed);
	if (!OMIT(CBT_A_IDENTITY_REASON))
		mnl_attr_put_u32(nlh, CBT_A_IDENTITY_REASON, d->identity_reason);
	if (OMIT(CBT_A_EPOCHS))
		return;
	epochs = mnl_attr_nest_start(nlh, CBT_A_EPOCHS);
	for (int i = 0; i < d->nr_epochs; i++) {
		struct nlattr *e = mnl_attr_nest_start(nlh, CBT_A_EPOCH);

		put_u64(nlh, CBT_A_EPOCH_NUMBER, d->epochs[i].number);
		mnl_attr_put_u32(nlh, CBT_A_EPOCH_STATE, d->epochs[i].state);
		if (!OMIT(CBT_A_EPOCH_BITS))
			put_u64(nlh, CBT_A_EPOCH_BITS, d->epochs[i].bits);
		mnl_attr_nest_end(nlh, e);
	}
	mnl_attr_nest_end(nlh, epochs);
#undef OMIT
}

void mb_put_bitmap_hdr(struct nlmsghdr *nlh, uint64_t epoch, uint32_t block_size, uint64_t nr_blocks)
{
	put_u64(nlh, CBT_A_EPOCH_NUMBER, epoch);
	mnl_attr_put_u32(nlh, CBT_A_BLOCK_SIZE, block_size);
	put_u64(nlh, CBT_A_NR_BLOCKS, nr_blocks);
}

void mb_put_chunk_words(struct nlmsghdr *nlh, uint64_t start, uint32_t blocks,
			const uint64_t *words, size_t nr_words)
{
	struct nlattr *c = mnl_attr_nest_start(nlh, CBT_A_CHUNK);
	uint64_t le[1024];

	for (size_t i = 0; i < nr_words && i < 1024; i++)
		le[i] = htole64(words[i]);
	put_u64(nlh, CBT_A_CHUNK_START, start);
	mnl_attr_put_u32(nlh, CBT_A_CHUNK_BLOCKS, blocks);
	mnl_attr_put(nlh, CBT_A_CHUNK_WORDS, nr_words * sizeof(uint64_t), le);
	mnl_attr_nest_end(nlh, c);
}

void mb_put_chunk_extents(struct nlmsghdr *nlh, uint64_t start, uint32_t blocks,
			  const struct cbt_extent *ext, size_t nr)
{
	struct nlattr *c = mnl_attr_nest_start(nlh, CBT_A_CHUNK);
	struct cbt_extent le[1024];

	for (size_t i = 0; i < nr && i < 1024; i++) {
		le[i].start = htole32(ext[i].start);
		le[i].len = htole32(ext[i].len);
	}
	put_u64(nlh, CBT_A_CHUNK_START, start);
	mnl_attr_put_u32(nlh, CBT_A_CHUNK_BLOCKS, blocks);
	mnl_attr_put(nlh, CBT_A_CHUNK_EXTENTS, nr * sizeof(*ext), le);
	mnl_attr_nest_end(nlh, c);
}

struct nlmsghdr *mb_error(void *buf, uint32_t seq, int err, const char *msg, uint32_t miss_type)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_CAPPED;
	nlh->nlmsg_seq = seq;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = err;
	e->msg.nlmsg_len = MNL_NLMSG_HDRLEN + 4;
	e->msg.nlmsg_seq = seq;
	if (msg) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, msg);
	}
	if (miss_type) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mnl_attr_put_u32(nlh, NLMSGERR_ATTR_MISS_TYPE, miss_type);
	}
	return nlh;
}

struct nlmsghdr *mb_done(void *buf, uint32_t seq, int err, const char *msg)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int *e;

	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	*e = err;
	if (msg) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, msg);
	}
	return nlh;
}
