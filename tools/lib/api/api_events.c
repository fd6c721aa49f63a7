// SPDX-License-Identifier: GPL-2.0
/* libcbt: the dm_cbt "events" multicast group on a non-blocking socket. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/dm-cbt.h>

#include "api/api.h"
#include "kernel/genl.h"
#include "kernel/proto.h"
#include "util/util.h"

struct cbt_events {
	struct mnl_socket *sock;
	uint16_t family;
	/* the datagram being handed out, message by message */
	size_t len, off;
	char buf[CBT_NL_RX_SIZE];
};

int cbt_events_open(struct cbt_events **evp, struct cbt_error *err)
{
	struct cbt_events *ev;
	struct cbt_nl *nl = NULL;
	unsigned int group;
	int ret;

	cbt_api_begin();
	*evp = NULL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return cbt_api_end(err, -ENOMEM);
	/* The family lookup tells the group's id; events come on a socket of their own. */
	ret = cbt_nl_open(&nl);
	if (ret)
		goto fail;
	ev->family = nl->family;
	group = nl->mcgrp_events;
	cbt_nl_close(nl);
	if (!group) {
		ret = cbt_err(-EPROTO, "the dm_cbt family has no events group");
		goto fail;
	}
	ev->sock = mnl_socket_open2(NETLINK_GENERIC, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!ev->sock || mnl_socket_bind(ev->sock, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(ev->sock, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		ret = cbt_err(-errno, "cannot listen to dm_cbt events: %s%s", strerror(errno),
			      errno == EPERM ? " (it needs CAP_SYS_ADMIN)" : "");
		goto fail;
	}
	*evp = ev;
	return cbt_api_end(err, 0);
fail:
	cbt_events_close(ev);
	return cbt_api_end(err, ret);
}

int cbt_events_fd(const struct cbt_events *ev)
{
	return ev ? mnl_socket_get_fd(ev->sock) : -1;
}

void cbt_events_close(struct cbt_events *ev)
{
	if (!ev)
		return;
	if (ev->sock)
		mnl_socket_close(ev->sock);
	free(ev);
}

/* 0, or -EPROTO for a message that is no event of this family. */
static int parse_event(const struct cbt_events *ev, const struct nlmsghdr *nlh,
		       struct cbt_event_info *e)
{
	const struct nlattr *tb[CBT_A_MAX + 1];
	const void *buf;
	size_t len;
	int ret;

	if (nlh->nlmsg_type != ev->family)
		return -EPROTO;
	ret = cbt_genl_payload(nlh, &buf, &len);
	if (!ret)
		ret = cbt_attr_index(buf, len, tb, CBT_A_MAX, 0);
	if (ret)
		return ret;
	if (!tb[CBT_A_EVENT] || mnl_attr_validate(tb[CBT_A_EVENT], MNL_TYPE_U32) < 0)
		return -EPROTO;
	memset(e, 0, sizeof(*e));
	e->type = mnl_attr_get_u32(tb[CBT_A_EVENT]);
	e->reason = CBT_REASON_UNKNOWN;
	if (tb[CBT_A_DEV_NAME] && !mnl_attr_validate(tb[CBT_A_DEV_NAME], MNL_TYPE_NUL_STRING))
		snprintf(e->device, sizeof(e->device), "%s", mnl_attr_get_str(tb[CBT_A_DEV_NAME]));
	if (tb[CBT_A_DEV_MAJOR] && !mnl_attr_validate(tb[CBT_A_DEV_MAJOR], MNL_TYPE_U32))
		e->major = mnl_attr_get_u32(tb[CBT_A_DEV_MAJOR]);
	if (tb[CBT_A_DEV_MINOR] && !mnl_attr_validate(tb[CBT_A_DEV_MINOR], MNL_TYPE_U32))
		e->minor = mnl_attr_get_u32(tb[CBT_A_DEV_MINOR]);
	if (tb[CBT_A_UUID] && mnl_attr_get_payload_len(tb[CBT_A_UUID]) == sizeof(e->uuid))
		memcpy(e->uuid, mnl_attr_get_payload(tb[CBT_A_UUID]), sizeof(e->uuid));
	if (tb[CBT_A_EPOCH_NUMBER] && !mnl_attr_validate(tb[CBT_A_EPOCH_NUMBER], MNL_TYPE_U64)) {
		e->epoch = mnl_attr_get_u64(tb[CBT_A_EPOCH_NUMBER]);
		e->has_epoch = 1;
	}
	if (tb[CBT_A_IDENTITY_REASON] &&
	    !mnl_attr_validate(tb[CBT_A_IDENTITY_REASON], MNL_TYPE_U32))
		e->reason = mnl_attr_get_u32(tb[CBT_A_IDENTITY_REASON]);
	return 0;
}

int cbt_events_next(struct cbt_events *ev, struct cbt_event_info *e, struct cbt_error *err)
{
	cbt_api_begin();
	if (!ev)
		return cbt_api_fail(err, -EINVAL, "no events handle");
	for (;;) {
		while (ev->off < ev->len) {
			const struct nlmsghdr *nlh = (const void *)(ev->buf + ev->off);
			int left = (int)(ev->len - ev->off);

			if (!mnl_nlmsg_ok(nlh, left)) {
				ev->off = ev->len;
				break;
			}
			ev->off += MNL_ALIGN(nlh->nlmsg_len);
			if (!parse_event(ev, nlh, e)) {
				cbt_api_end(err, 0);
				return 1;
			}
			cbt_err_clear();
		}
		ssize_t n = mnl_socket_recvfrom(ev->sock, ev->buf, sizeof(ev->buf));

		ev->len = ev->off = 0;
		if (n >= 0) {
			ev->len = (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return cbt_api_end(err, 0);
		/* The socket overflowed: the kernel dropped events. */
		if (errno == ENOBUFS) {
			memset(e, 0, sizeof(*e));
			e->type = CBT_EV_LOST;
			e->reason = CBT_REASON_UNKNOWN;
			cbt_api_end(err, 0);
			return 1;
		}
		return cbt_api_fail(err, -errno, "reading dm_cbt events: %s", strerror(errno));
	}
}
