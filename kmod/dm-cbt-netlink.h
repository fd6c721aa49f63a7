/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dm_cbt generic netlink family, shared by its three files (layers in
 * docs/design.md, each calling only the ones before it):
 *
 *   dm-cbt-netlink-family.c  the family, its policy, the permission check,
 *                            the device a request names
 *   dm-cbt-netlink-bitmap.c  CBT_CMD_GET_BITMAP (the dump), COUNT_BITMAP
 *   dm-cbt-netlink.c         the device, epoch and snapshot commands, the
 *                            table of operations, events out
 *
 * Commands, attributes and the dump format: include/uapi/linux/dm-cbt.h.
 */
#ifndef DM_CBT_NETLINK_H
#define DM_CBT_NETLINK_H

#include <net/genetlink.h>

#include "dm-cbt.h"

/*
 * The policy of a device selector and an epoch or epoch range: the
 * family's policy has it, and COUNT_BITMAP's is only this.
 */
#define CBT_NL_EPOCH_POLICY							\
	[CBT_A_DEV_NAME] = { .type = NLA_NUL_STRING, .len = DM_NAME_LEN - 1 },	\
	[CBT_A_DEV_MAJOR] = { .type = NLA_U32 },				\
	[CBT_A_DEV_MINOR] = { .type = NLA_U32 },				\
	[CBT_A_EPOCH_NUMBER] = { .type = NLA_U64 },				\
	[CBT_A_EPOCH_FIRST] = { .type = NLA_U64 },				\
	[CBT_A_EPOCH_LAST] = { .type = NLA_U64 }

/* dm-cbt-netlink-family.c */

/* Registered by cbt_nl_register(); read-only once the module is loaded. */
extern struct genl_family cbt_family;

/*
 * The tracker the request's CBT_A_DEV_NAME or CBT_A_DEV_MAJOR/MINOR name,
 * with a reference the caller puts; an ERR_PTR (-EINVAL, -ENODEV) with the
 * extack message otherwise. Takes cbt_trackers_lock.
 */
struct cbt_tracker *cbt_nl_lookup(struct nlattr **attrs, struct netlink_ext_ack *extack);
/*
 * Ends and sends the reply @msg (@hdr its header); frees it instead with
 * -EMSGSIZE if @failed (no header, or an attribute did not fit).
 */
int cbt_nl_reply(struct genl_info *info, struct sk_buff *msg, void *hdr, bool failed);
/* A dump's ->start: CAP_SYS_ADMIN, as pre_doit checks for the doits. */
int cbt_nl_dump_admin(struct netlink_callback *cb);
/* Module init: register the family with @ops. */
int cbt_nl_register(const struct genl_ops *ops, unsigned int n_ops);

/* dm-cbt-netlink-bitmap.c */

/* CBT_CMD_COUNT_BITMAP's policy: anything else in its request is refused. */
extern const struct nla_policy cbt_count_policy[CBT_A_MAX + 1];
int cbt_nl_bitmap_start(struct netlink_callback *cb);
int cbt_nl_bitmap_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int cbt_nl_bitmap_done(struct netlink_callback *cb);
int cbt_nl_count_bitmap_doit(struct sk_buff *skb, struct genl_info *info);

#endif /* DM_CBT_NETLINK_H */
