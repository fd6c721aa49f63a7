// SPDX-License-Identifier: GPL-2.0
/*
 * The dm_cbt generic netlink family's commands on devices, epochs and
 * snapshots, its table of operations, and the events it multicasts. The
 * family itself and the bitmap commands are in the files below this one
 * (dm-cbt-netlink.h); include/uapi/linux/dm-cbt.h has the commands,
 * attributes and dump format.
 */
#include <linux/slab.h>
#include <net/genetlink.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"
#include "dm-cbt-netlink.h"

static const struct nla_policy cbt_device_policy[CBT_A_MAX + 1] = {
	[CBT_A_DEV_NAME] = { .type = NLA_NUL_STRING, .len = DM_NAME_LEN - 1 },
	[CBT_A_DEV_MAJOR] = { .type = NLA_U32 },
	[CBT_A_DEV_MINOR] = { .type = NLA_U32 },
	[CBT_A_SNAP_PRESERVE_FROM] = NLA_POLICY_MIN(NLA_U64, 1),
};

static int put_selector(struct sk_buff *skb, struct cbt_tracker *t)
{
	char name[DM_NAME_LEN] = "";

	mutex_lock(&cbt_trackers_lock);
	cbt_tracker_name(t, name);
	mutex_unlock(&cbt_trackers_lock);
	if (nla_put_string(skb, CBT_A_DEV_NAME, name) ||
	    nla_put_u32(skb, CBT_A_DEV_MAJOR, MAJOR(t->devt)) ||
	    nla_put_u32(skb, CBT_A_DEV_MINOR, MINOR(t->devt)))
		return -EMSGSIZE;
	return 0;
}

/* @flags: CBT_A_DEVICE_FLAGS of the request (CBT_DEVICE_F_NO_EPOCH_BITS: no count). */
static int put_epoch(struct sk_buff *skb, struct cbt_epoch *e, enum cbt_epoch_state state,
		     u32 flags)
{
	struct nlattr *nest = nla_nest_start(skb, CBT_A_EPOCH);

	if (!nest ||
	    nla_put_u64_64bit(skb, CBT_A_EPOCH_NUMBER, e->number, CBT_A_PAD) ||
	    nla_put_u32(skb, CBT_A_EPOCH_STATE, state))
		return -EMSGSIZE;
	if (!(flags & CBT_DEVICE_F_NO_EPOCH_BITS) &&
	    nla_put_u64_64bit(skb, CBT_A_EPOCH_BITS, cbt_bitmap_weight(&e->bm), CBT_A_PAD))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}

static int fill_device(struct sk_buff *skb, struct cbt_tracker *t, u32 portid,
		       u32 seq, int flags, u32 dev_flags)
{
	struct nlattr *epochs;
	void *hdr;
	u32 i;
	int r = -EMSGSIZE;

	hdr = genlmsg_put(skb, portid, seq, &cbt_family, flags, CBT_CMD_GET_DEVICE);
	if (!hdr)
		return -EMSGSIZE;
	if (put_selector(skb, t))
		goto cancel;
	mutex_lock(&t->lock);
	if (nla_put(skb, CBT_A_UUID, sizeof(t->ledger.uuid), t->ledger.uuid) ||
	    nla_put_u32(skb, CBT_A_PERSISTENCE, t->persistence) ||
	    nla_put_u32(skb, CBT_A_BLOCK_SIZE, t->block_sectors << SECTOR_SHIFT) ||
	    nla_put_u64_64bit(skb, CBT_A_NR_BLOCKS, t->nr_blocks, CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_DEV_SECTORS, t->dev_sectors, CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_BITMAP_BYTES, cbt_tracker_bytes(t), CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_EPOCH_CURRENT, t->ledger.open_epoch, CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_METADATA_ERRORS,
			      atomic64_read(&t->metadata_errors), CBT_A_PAD) ||
	    nla_put_u64_64bit(skb, CBT_A_LAST_COMMITTED, t->ledger.last_committed, CBT_A_PAD) ||
	    nla_put_u32(skb, CBT_A_IDENTITY_REASON, t->reason))
		goto unlock;
	epochs = nla_nest_start(skb, CBT_A_EPOCHS);
	if (!epochs)
		goto unlock;
	for (i = 0; i < t->ledger.nr_closed; i++)
		if (put_epoch(skb, t->slots[t->ledger.closed[i].slot], CBT_EPOCH_CLOSED,
			      dev_flags))
			goto unlock;
	if (put_epoch(skb, t->slots[t->ledger.open_slot], CBT_EPOCH_OPEN, dev_flags))
		goto unlock;
	nla_nest_end(skb, epochs);
	r = 0;
unlock:
	mutex_unlock(&t->lock);
	/* Outside t->lock: the snapshot lock is taken before it elsewhere. */
	if (!r)
		r = cbt_snap_fill(skb, t);
	if (!r) {
		genlmsg_end(skb, hdr);
		return 0;
	}
cancel:
	genlmsg_cancel(skb, hdr);
	return r;
}

static int get_device_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cbt_tracker *t = cbt_nl_lookup(info->attrs, info->extack);
	u32 dev_flags = 0;
	struct sk_buff *msg;
	int r;

	if (IS_ERR(t))
		return PTR_ERR(t);
	/* Any bit outside __CBT_DEVICE_F_ALL was refused by the policy. */
	if (info->attrs[CBT_A_DEVICE_FLAGS])
		dev_flags = nla_get_u32(info->attrs[CBT_A_DEVICE_FLAGS]);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	r = msg ? fill_device(msg, t, info->snd_portid, info->snd_seq, 0, dev_flags) : -ENOMEM;
	cbt_tracker_put(t);
	if (r) {
		nlmsg_free(msg);
		return r;
	}
	return genlmsg_reply(msg, info);
}

static int get_device_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct cbt_tracker *t, *it;

	/*
	 * args[0]: 1 + the dev_t of the last device sent. Devices go out in
	 * dev_t order, resumed by key rather than by list position, so one
	 * added or removed during the dump never makes another be skipped
	 * or sent twice (the list grows at its head).
	 */
	for (;;) {
		t = NULL;
		mutex_lock(&cbt_trackers_lock);
		list_for_each_entry(it, &cbt_trackers, list)
			if (it->md && (u64)it->devt + 1 > cb->args[0] &&
			    (!t || it->devt < t->devt))
				t = it;
		if (t)
			cbt_tracker_get(t);
		mutex_unlock(&cbt_trackers_lock);
		if (!t)
			break;
		if (fill_device(skb, t, NETLINK_CB(cb->skb).portid,
				cb->nlh->nlmsg_seq, NLM_F_MULTI, 0)) {
			cbt_tracker_put(t);
			break;
		}
		cb->args[0] = (u64)t->devt + 1;
		cbt_tracker_put(t);
	}
	return skb->len;
}

static int epoch_reply(struct genl_info *info, u8 cmd, u64 epoch)
{
	struct sk_buff *msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	void *hdr;

	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &cbt_family, 0, cmd);
	return cbt_nl_reply(info, msg, hdr,
			    !hdr || nla_put_u64_64bit(msg, CBT_A_EPOCH_NUMBER, epoch, CBT_A_PAD));
}

/* -ENXIO of an epoch op: cbt_md_first_resume() has not run. */
#define CBT_NOT_RESUMED "The cbt device was never resumed: its metadata is not written yet"

static int close_epoch_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cbt_tracker *t = cbt_nl_lookup(info->attrs, info->extack);
	u64 closed;
	int r;

	if (IS_ERR(t))
		return PTR_ERR(t);
	r = cbt_close_epoch(t, &closed);
	cbt_tracker_put(t);
	if (r == -EBUSY)
		NL_SET_ERR_MSG(info->extack, "Too many closed epochs: commit or abort one first");
	else if (r == -EAGAIN)
		NL_SET_ERR_MSG(info->extack, "A freed bitmap slot could not be cleared yet; retry");
	else if (r == -ETIMEDOUT)
		NL_SET_ERR_MSG(info->extack,
			       "Writes in flight did not end within 30 s: the epoch stays open");
	else if (r == -EINTR)
		NL_SET_ERR_MSG(info->extack, "Interrupted: the epoch stays open");
	else if (r == -ENXIO)
		NL_SET_ERR_MSG(info->extack, CBT_NOT_RESUMED);
	return r ? r : epoch_reply(info, CBT_CMD_CLOSE_EPOCH, closed);
}

static int end_epoch_doit(struct genl_info *info, bool commit)
{
	struct cbt_tracker *t;
	u64 epoch;
	int r;

	if (GENL_REQ_ATTR_CHECK(info, CBT_A_EPOCH_NUMBER))
		return -EINVAL;
	t = cbt_nl_lookup(info->attrs, info->extack);
	if (IS_ERR(t))
		return PTR_ERR(t);
	epoch = nla_get_u64(info->attrs[CBT_A_EPOCH_NUMBER]);
	r = commit ? cbt_commit_epoch(t, epoch) : cbt_abort_epoch(t, epoch);
	cbt_tracker_put(t);
	if (r == -ENOENT)
		NL_SET_ERR_MSG(info->extack, "No such closed epoch");
	else if (r == -EINVAL)
		NL_SET_ERR_MSG(info->extack, "An older closed epoch must be committed first");
	else if (r == -ENXIO)
		NL_SET_ERR_MSG(info->extack, CBT_NOT_RESUMED);
	return r;
}

static int commit_epoch_doit(struct sk_buff *skb, struct genl_info *info)
{
	return end_epoch_doit(info, true);
}

static int abort_epoch_doit(struct sk_buff *skb, struct genl_info *info)
{
	return end_epoch_doit(info, false);
}

/* The CBT_CMD_SNAPSHOT reply for @n devices with the longest names. */
static size_t snapshot_reply_size(unsigned int n)
{
	size_t dev = nla_total_size(0) +		/* CBT_A_DEVICE */
		     nla_total_size(DM_NAME_LEN) +	/* CBT_A_DEV_NAME */
		     2 * nla_total_size(sizeof(u32)) +	/* major, minor */
		     nla_total_size_64bit(sizeof(u64));	/* CBT_A_EPOCH_NUMBER */

	return nla_total_size(0) + n * dev +	/* CBT_A_DEVICES */
	       2 * nla_total_size_64bit(sizeof(u64));	/* FREEZE_NS, HOLD_NS */
}

/* A take request's members: 1.5 KiB with the attributes, too large for the stack. */
struct snapshot_req {
	struct nlattr *tb[CBT_A_MAX + 1];
	struct cbt_tracker *ts[DM_CBT_MAX_GROUP];
	u64 epochs[DM_CBT_MAX_GROUP];
	u64 preserve[DM_CBT_MAX_GROUP];
};

static int snapshot_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **tb, *dev, *list, *nest;
	struct cbt_tracker **ts;
	u64 *epochs, *preserve, freeze_ns = 0, hold_ns = 0;
	struct snapshot_req *req;
	const char *why = NULL;
	unsigned int n = 0, i;
	struct sk_buff *msg;
	void *hdr;
	int rem, r = 0;

	if (GENL_REQ_ATTR_CHECK(info, CBT_A_DEVICES))
		return -EINVAL;
	req = kmalloc(sizeof(*req), GFP_KERNEL);
	if (!req)
		return -ENOMEM;
	tb = req->tb;
	ts = req->ts;
	epochs = req->epochs;
	preserve = req->preserve;
	nla_for_each_nested(dev, info->attrs[CBT_A_DEVICES], rem) {
		if (nla_type(dev) != CBT_A_DEVICE || n == DM_CBT_MAX_GROUP) {
			NL_SET_ERR_MSG_ATTR(info->extack, dev,
					    "Expected at most 64 CBT_A_DEVICE nests");
			r = -EINVAL;
			goto put;
		}
		r = nla_parse_nested(tb, CBT_A_MAX, dev, cbt_device_policy, info->extack);
		if (r)
			goto put;
		ts[n] = cbt_nl_lookup(tb, info->extack);
		if (IS_ERR(ts[n])) {
			r = PTR_ERR(ts[n]);
			goto put;
		}
		preserve[n] = tb[CBT_A_SNAP_PRESERVE_FROM] ?
			      nla_get_u64(tb[CBT_A_SNAP_PRESERVE_FROM]) : 0;
		for (i = 0; i < n; i++)
			if (ts[i] == ts[n])
				break;
		n++;
		if (i < n - 1) {
			NL_SET_ERR_MSG_ATTR(info->extack, dev, "A device is named twice");
			r = -EINVAL;
			goto put;
		}
	}
	if (!n) {
		NL_SET_ERR_MSG(info->extack, "No device named");
		r = -EINVAL;
		goto put;
	}
	/* Allocated first, and large enough: nothing fails once taken. */
	msg = genlmsg_new(snapshot_reply_size(n), GFP_KERNEL);
	if (!msg) {
		r = -ENOMEM;
		goto put;
	}
	r = cbt_take_snapshots(ts, n, nla_get_flag(info->attrs[CBT_A_FREEZE]), preserve,
			       epochs, &freeze_ns, &hold_ns, &why);
	if (r) {
		/* why is always a string literal, as NL_SET_ERR_MSG needs. */
		if (why && info->extack)
			info->extack->_msg = why;
		nlmsg_free(msg);
		goto put;
	}
	hdr = genlmsg_put_reply(msg, info, &cbt_family, 0, CBT_CMD_SNAPSHOT);
	list = hdr ? nla_nest_start(msg, CBT_A_DEVICES) : NULL;
	for (i = 0; list && i < n; i++) {
		nest = nla_nest_start(msg, CBT_A_DEVICE);
		if (!nest || put_selector(msg, ts[i]) ||
		    nla_put_u64_64bit(msg, CBT_A_EPOCH_NUMBER, epochs[i], CBT_A_PAD))
			list = NULL;
		else
			nla_nest_end(msg, nest);
	}
	if (list)
		nla_nest_end(msg, list);
	/*
	 * The durations follow the device list, outside its nest. A reply
	 * that did not fit: taken all the same, GET_DEVICE shows the state.
	 */
	r = cbt_nl_reply(info, msg, hdr,
			 !list || nla_put_u64_64bit(msg, CBT_A_FREEZE_NS, freeze_ns, CBT_A_PAD) ||
			 nla_put_u64_64bit(msg, CBT_A_HOLD_NS, hold_ns, CBT_A_PAD));
put:
	for (i = 0; i < n; i++)
		cbt_tracker_put(ts[i]);
	kfree(req);
	return r;
}

static int snap_release_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct cbt_tracker *t;
	const char *why = NULL;
	int r;

	if (GENL_REQ_ATTR_CHECK(info, CBT_A_RANGE_SECTOR) ||
	    GENL_REQ_ATTR_CHECK(info, CBT_A_RANGE_SECTORS))
		return -EINVAL;
	t = cbt_nl_lookup(info->attrs, info->extack);
	if (IS_ERR(t))
		return PTR_ERR(t);
	r = cbt_snap_release(t, nla_get_u64(info->attrs[CBT_A_RANGE_SECTOR]),
			     nla_get_u64(info->attrs[CBT_A_RANGE_SECTORS]), &why);
	cbt_tracker_put(t);
	/* why is always a string literal, as NL_SET_ERR_MSG needs. */
	if (r && why && info->extack)
		info->extack->_msg = why;
	return r;
}

static const struct genl_ops cbt_ops[] = {
	{
		.cmd = CBT_CMD_GET_DEVICE,
		.doit = get_device_doit,
		.start = cbt_nl_dump_admin,
		.dumpit = get_device_dumpit,
	},
	{
		.cmd = CBT_CMD_CLOSE_EPOCH,
		.doit = close_epoch_doit,
	},
	{
		.cmd = CBT_CMD_COMMIT_EPOCH,
		.doit = commit_epoch_doit,
	},
	{
		.cmd = CBT_CMD_ABORT_EPOCH,
		.doit = abort_epoch_doit,
	},
	{
		.cmd = CBT_CMD_SNAPSHOT,
		.doit = snapshot_doit,
	},
	{
		.cmd = CBT_CMD_SNAP_RELEASE,
		.doit = snap_release_doit,
	},
	{
		.cmd = CBT_CMD_GET_BITMAP,
		.start = cbt_nl_bitmap_start,
		.dumpit = cbt_nl_bitmap_dumpit,
		.done = cbt_nl_bitmap_done,
	},
	{
		.cmd = CBT_CMD_COUNT_BITMAP,
		.doit = cbt_nl_count_bitmap_doit,
		.policy = cbt_count_policy,
		.maxattr = CBT_A_MAX,
	},
};

/* The tracker's ->event: multicast it to the events group. */
static void cbt_notify(struct cbt_tracker *t, enum cbt_event event, u64 epoch)
{
	struct sk_buff *msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	enum cbt_identity_reason reason;
	u8 uuid[16];
	void *hdr;

	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &cbt_family, 0, CBT_CMD_EVENT);
	mutex_lock(&t->lock);
	memcpy(uuid, t->ledger.uuid, sizeof(uuid));
	reason = t->reason;
	mutex_unlock(&t->lock);
	if (!hdr || put_selector(msg, t) ||
	    nla_put(msg, CBT_A_UUID, sizeof(uuid), uuid) ||
	    nla_put_u32(msg, CBT_A_EVENT, event) ||
	    (event == CBT_EVENT_TRACKING_LOST &&
	     nla_put_u32(msg, CBT_A_IDENTITY_REASON, reason)) ||
	    (epoch && nla_put_u64_64bit(msg, CBT_A_EPOCH_NUMBER, epoch, CBT_A_PAD))) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	/* -ESRCH just means nobody listens. */
	genlmsg_multicast(&cbt_family, msg, 0, 0, GFP_KERNEL);
}

static const struct cbt_tracker_listener_ops cbt_netlink_listener_ops = {
	.event = cbt_notify,
};

static struct cbt_tracker_listener cbt_netlink_listener = {
	.ops = &cbt_netlink_listener_ops,
};

int __init cbt_netlink_init(void)
{
	int r = cbt_nl_register(cbt_ops, ARRAY_SIZE(cbt_ops));

	if (!r)
		cbt_tracker_listen(&cbt_netlink_listener);
	return r;
}

void cbt_netlink_exit(void)
{
	/* First: no event may be sent through a family that is gone. */
	cbt_tracker_unlisten(&cbt_netlink_listener);
	genl_unregister_family(&cbt_family);
}
