// SPDX-License-Identifier: GPL-2.0
/*
 * The dm_cbt generic netlink family itself: its attribute policy, its
 * permission check, and the device a request names. The commands are in
 * dm-cbt-netlink-bitmap.c and dm-cbt-netlink.c; the latter registers the
 * family with the table of operations of both (dm-cbt-netlink.h).
 */
#include <net/genetlink.h>

#include "dm-cbt.h"
#include "dm-cbt-compat.h"
#include "dm-cbt-netlink.h"

static const struct nla_policy cbt_policy[CBT_A_MAX + 1] = {
	CBT_NL_EPOCH_POLICY,
	[CBT_A_BITMAP_FLAGS] = NLA_POLICY_MASK(NLA_U32, __CBT_BITMAP_F_ALL),
	[CBT_A_DEVICES] = { .type = NLA_NESTED },
	[CBT_A_FREEZE] = { .type = NLA_FLAG },
	[CBT_A_RANGE_SECTOR] = { .type = NLA_U64 },
	[CBT_A_RANGE_SECTORS] = { .type = NLA_U64 },
	[CBT_A_DEVICE_FLAGS] = NLA_POLICY_MASK(NLA_U32, __CBT_DEVICE_F_ALL),
};

/* Finds the device the request names; takes a tracker reference. */
struct cbt_tracker *cbt_nl_lookup(struct nlattr **attrs, struct netlink_ext_ack *extack)
{
	const char *name = NULL;
	struct cbt_tracker *t;
	dev_t devt = 0;

	if (attrs[CBT_A_DEV_NAME] && !attrs[CBT_A_DEV_MAJOR] && !attrs[CBT_A_DEV_MINOR]) {
		name = nla_data(attrs[CBT_A_DEV_NAME]);
	} else if (!attrs[CBT_A_DEV_NAME] && attrs[CBT_A_DEV_MAJOR] && attrs[CBT_A_DEV_MINOR]) {
		u32 major = nla_get_u32(attrs[CBT_A_DEV_MAJOR]);
		u32 minor = nla_get_u32(attrs[CBT_A_DEV_MINOR]);

		if (major >= (1U << (32 - MINORBITS)) || minor > MINORMASK) {
			NL_SET_ERR_MSG(extack, "Device number out of range");
			return ERR_PTR(-EINVAL);
		}
		devt = MKDEV(major, minor);
	} else {
		NL_SET_ERR_MSG(extack, "Name the device by name, or by major and minor");
		return ERR_PTR(-EINVAL);
	}
	mutex_lock(&cbt_trackers_lock);
	t = cbt_tracker_find(name, devt);
	mutex_unlock(&cbt_trackers_lock);
	if (!t) {
		NL_SET_ERR_MSG(extack, "No cbt device by that name or number");
		return ERR_PTR(-ENODEV);
	}
	return t;
}

/*
 * Everything here reads tracking data or changes state: CAP_SYS_ADMIN, as
 * for dm ioctls (GENL_ADMIN_PERM would check CAP_NET_ADMIN). Checked
 * against the opener of the socket, like netlink's own checks.
 */
static int cbt_admin(struct sk_buff *skb, struct netlink_ext_ack *extack)
{
	if (netlink_capable(skb, CAP_SYS_ADMIN))
		return 0;
	NL_SET_ERR_MSG(extack, "dm_cbt needs CAP_SYS_ADMIN");
	return -EPERM;
}

static int cbt_pre_doit(const CBT_GENL_DOIT_OPS *ops, struct sk_buff *skb,
			struct genl_info *info)
{
	return cbt_admin(skb, info->extack);
}

int cbt_nl_reply(struct genl_info *info, struct sk_buff *msg, void *hdr, bool failed)
{
	if (failed) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* The start of every dump: dumps do not pass through pre_doit. */
int cbt_nl_dump_admin(struct netlink_callback *cb)
{
	return cbt_admin(cb->skb, cbt_dump_extack(cb));
}

static const struct genl_multicast_group cbt_mcgrps[] = {
	{ .name = DM_CBT_GENL_MCGRP_EVENTS, .flags = GENL_MCAST_CAP_SYS_ADMIN },
};

struct genl_family cbt_family __ro_after_init = {
	.name = DM_CBT_GENL_NAME,
	.version = DM_CBT_GENL_VERSION,
	.maxattr = CBT_A_MAX,
	.policy = cbt_policy,
	.module = THIS_MODULE,
	.pre_doit = cbt_pre_doit,
	/*
	 * Commands take no global lock: each serialises on its own (trackers
	 * and t->lock, the trackers' claims for closes and takes), and a take
	 * may wait for writes for up to CBT_DRAIN_TIMEOUT_SECS.
	 */
	.parallel_ops = true,
	.mcgrps = cbt_mcgrps,
	.n_mcgrps = ARRAY_SIZE(cbt_mcgrps),
};

int __init cbt_nl_register(const struct genl_ops *ops, unsigned int n_ops)
{
	cbt_family.ops = ops;
	cbt_family.n_ops = n_ops;
	return genl_register_family(&cbt_family);
}
