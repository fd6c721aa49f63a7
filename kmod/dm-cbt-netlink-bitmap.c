// SPDX-License-Identifier: GPL-2.0
/*
 * The dm_cbt family's bitmap commands: CBT_CMD_GET_BITMAP, a dump of the
 * union of a range of held epochs in chunks, and CBT_CMD_COUNT_BITMAP, its
 * count (include/uapi/linux/dm-cbt.h).
 */
#include <linux/slab.h>
#include <net/genetlink.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"
#include "dm-cbt-netlink.h"

/* Blocks per dumped chunk: 1 KiB of words, so any dump skb holds one. */
#define CBT_DUMP_CHUNK_BITS 8192U
#define CBT_DUMP_CHUNK_WORDS (CBT_DUMP_CHUNK_BITS / 64)
#define CHUNKS_PER_LEAF (CBT_BITS_PER_LEAF / CBT_DUMP_CHUNK_BITS)

/* dm-cbt-netlink.h */
const struct nla_policy cbt_count_policy[CBT_A_MAX + 1] = {
	CBT_NL_EPOCH_POLICY,
};

/* State of one bitmap dump, from start to done. */
struct bitmap_dump {
	struct cbt_tracker *t;
	u64 first, last;	/* epoch range */
	u32 flags;
	u64 next_chunk;
	s64 cached_leaf;	/* leaf held in words, or -1 */
	__le64 words[CBT_LEAF_BYTES / sizeof(__le64)];
	__le64 tmp[CBT_LEAF_BYTES / sizeof(__le64)];
	struct cbt_extent ext[CBT_DUMP_CHUNK_WORDS];
};

/*
 * The epoch range of a GET_BITMAP or COUNT_BITMAP request, and whether it
 * is held now: 0, -EINVAL or -ENOENT, with the extack message.
 */
static int request_range(struct cbt_tracker *t, struct nlattr **attrs,
			 struct netlink_ext_ack *extack, u64 *first, u64 *last)
{
	bool held;

	if (attrs[CBT_A_EPOCH_NUMBER] && !attrs[CBT_A_EPOCH_FIRST] && !attrs[CBT_A_EPOCH_LAST]) {
		*first = nla_get_u64(attrs[CBT_A_EPOCH_NUMBER]);
		*last = *first;
	} else if (!attrs[CBT_A_EPOCH_NUMBER] && attrs[CBT_A_EPOCH_FIRST] &&
		   attrs[CBT_A_EPOCH_LAST]) {
		*first = nla_get_u64(attrs[CBT_A_EPOCH_FIRST]);
		*last = nla_get_u64(attrs[CBT_A_EPOCH_LAST]);
	} else {
		NL_SET_ERR_MSG(extack, "Give an epoch number, or a first and a last epoch");
		return -EINVAL;
	}
	if (*first > *last || *last - *first >= DM_CBT_MD_SLOTS) {
		NL_SET_ERR_MSG(extack, "Invalid epoch range");
		return -EINVAL;
	}
	mutex_lock(&t->lock);
	held = cbt_range_held(t, *first, *last);
	mutex_unlock(&t->lock);
	if (!held) {
		NL_SET_ERR_MSG(extack, "Epoch not held: committed, aborted or not yet begun");
		return -ENOENT;
	}
	return 0;
}

int cbt_nl_bitmap_start(struct netlink_callback *cb)
{
	struct nlattr **attrs = cbt_dump_attrs(cb);
	struct netlink_ext_ack *extack = cbt_dump_extack(cb);
	struct bitmap_dump *st;
	struct cbt_tracker *t;
	int r;

	r = cbt_nl_dump_admin(cb);
	if (r)
		return r;
	t = cbt_nl_lookup(attrs, extack);
	if (IS_ERR(t))
		return PTR_ERR(t);
	st = kvzalloc(sizeof(*st), GFP_KERNEL);
	if (!st) {
		cbt_tracker_put(t);
		return -ENOMEM;
	}
	st->t = t;
	st->cached_leaf = -1;
	if (attrs[CBT_A_BITMAP_FLAGS])
		st->flags = nla_get_u32(attrs[CBT_A_BITMAP_FLAGS]);
	r = request_range(t, attrs, extack, &st->first, &st->last);
	if (r) {
		cbt_tracker_put(t);
		kvfree(st);
		return r;
	}
	cb->args[0] = (long)st;
	return 0;
}

int cbt_nl_bitmap_done(struct netlink_callback *cb)
{
	struct bitmap_dump *st = (struct bitmap_dump *)cb->args[0];

	if (st) {
		cbt_tracker_put(st->t);
		kvfree(st);
	}
	return 0;
}

/* Union of the range's bits for @leaf into st->words; false if all clear. */
static bool load_leaf(struct bitmap_dump *st, u32 leaf)
{
	if (st->cached_leaf == leaf)
		return true;
	st->cached_leaf = leaf;
	return cbt_range_read_leaf(st->t, st->first, st->last, leaf, st->words, st->tmp);
}

/* Puts one chunk; 0, 1 when it has no bit set, or -EMSGSIZE. */
static int put_chunk(struct sk_buff *skb, struct bitmap_dump *st, u64 chunk, u32 nbits)
{
	const __le64 *words = &st->words[(chunk % CHUNKS_PER_LEAF) * CBT_DUMP_CHUNK_WORDS];
	u32 nwords = DIV_ROUND_UP(nbits, 64);
	struct nlattr *nest;
	int n = -E2BIG;

	if (!memchr_inv(words, 0, nwords * sizeof(*words)))
		return 1;
	if (st->flags & CBT_BITMAP_F_EXTENTS)
		n = cbt_extents_encode(words, nbits, st->ext,
				       nwords * sizeof(*words) / sizeof(struct cbt_extent) - 1);
	nest = nla_nest_start(skb, CBT_A_CHUNK);
	if (!nest ||
	    nla_put_u64_64bit(skb, CBT_A_CHUNK_START, chunk * CBT_DUMP_CHUNK_BITS, CBT_A_PAD) ||
	    nla_put_u32(skb, CBT_A_CHUNK_BLOCKS, nbits) ||
	    (n >= 0 ? nla_put(skb, CBT_A_CHUNK_EXTENTS, n * sizeof(struct cbt_extent), st->ext) :
		      nla_put(skb, CBT_A_CHUNK_WORDS, nwords * sizeof(*words), words))) {
		if (nest)
			nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

int cbt_nl_bitmap_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct bitmap_dump *st = (struct bitmap_dump *)cb->args[0];
	struct cbt_tracker *t = st->t;
	u64 nr_chunks, chunk;
	int r = 0, sent = 0;
	void *hdr;

	/* args[1]: the dump has ended. */
	if (cb->args[1])
		return 0;
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &cbt_family, NLM_F_MULTI, CBT_CMD_GET_BITMAP);
	if (!hdr)
		return -EMSGSIZE;
	mutex_lock(&t->lock);
	if (!cbt_range_held(t, st->first, st->last)) {
		r = -ESTALE;
		goto out;
	}
	if (nla_put_u64_64bit(skb, CBT_A_EPOCH_NUMBER, st->first, CBT_A_PAD) ||
	    nla_put_u32(skb, CBT_A_BLOCK_SIZE, t->block_sectors << SECTOR_SHIFT) ||
	    nla_put_u64_64bit(skb, CBT_A_NR_BLOCKS, t->nr_blocks, CBT_A_PAD)) {
		r = -EMSGSIZE;
		goto out;
	}
	nr_chunks = DIV_ROUND_UP_ULL(t->nr_blocks, CBT_DUMP_CHUNK_BITS);
	for (chunk = st->next_chunk; chunk < nr_chunks; chunk++) {
		u32 leaf = chunk / CHUNKS_PER_LEAF;
		u32 nbits = min_t(u64, CBT_DUMP_CHUNK_BITS,
				  t->nr_blocks - chunk * CBT_DUMP_CHUNK_BITS);

		if (!load_leaf(st, leaf)) {
			/* Skip the rest of an empty leaf at once. */
			chunk = (u64)(leaf + 1) * CHUNKS_PER_LEAF - 1;
			continue;
		}
		r = put_chunk(skb, st, chunk, nbits);
		if (r < 0)
			break;
		sent += !r;
		r = 0;
	}
	st->next_chunk = chunk;
	if (chunk >= nr_chunks)
		cb->args[1] = 1;
	if (r == -EMSGSIZE && sent)
		r = 0;
out:
	mutex_unlock(&t->lock);
	if (r) {
		genlmsg_cancel(skb, hdr);
		return r;
	}
	genlmsg_end(skb, hdr);
	return skb->len;
}

int cbt_nl_count_bitmap_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cbt_range_count rc;
	struct cbt_tracker *t;
	u64 first, last;
	struct sk_buff *msg;
	void *hdr;
	int r;

	t = cbt_nl_lookup(info->attrs, info->extack);
	if (IS_ERR(t))
		return PTR_ERR(t);
	r = request_range(t, info->attrs, info->extack, &first, &last);
	if (!r)
		r = cbt_range_count(t, first, last, &rc);
	if (r == -ESTALE)
		NL_SET_ERR_MSG(info->extack,
			       "An epoch of the range was committed or aborted, or the device's identity or size changed, while it was counted");
	if (r)
		goto put;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		r = -ENOMEM;
		goto put;
	}
	hdr = genlmsg_put_reply(msg, info, &cbt_family, 0, CBT_CMD_COUNT_BITMAP);
	r = cbt_nl_reply(info, msg, hdr, !hdr ||
			 nla_put_u64_64bit(msg, CBT_A_EPOCH_NUMBER, first, CBT_A_PAD) ||
			 nla_put(msg, CBT_A_UUID, sizeof(rc.uuid), rc.uuid) ||
			 nla_put_u64_64bit(msg, CBT_A_DEV_SECTORS, rc.dev_sectors, CBT_A_PAD) ||
			 nla_put_u64_64bit(msg, CBT_A_NR_BLOCKS, rc.nr_blocks, CBT_A_PAD) ||
			 nla_put_u64_64bit(msg, CBT_A_COUNT_BLOCKS, rc.c.blocks, CBT_A_PAD) ||
			 nla_put_u64_64bit(msg, CBT_A_COUNT_RUNS, rc.c.runs, CBT_A_PAD) ||
			 nla_put_u64_64bit(msg, CBT_A_COUNT_END, rc.c.end, CBT_A_PAD));
put:
	cbt_tracker_put(t);
	return r;
}
