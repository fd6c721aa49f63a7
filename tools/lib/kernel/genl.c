// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/dm-cbt.h>

#include "kernel/genl.h"
#include "kernel/proto.h"
#include "util/util.h"

void cbt_nl_close(struct cbt_nl *nl)
{
	if (!nl)
		return;
	if (nl->tr.close)
		nl->tr.close(nl->tr.priv);
	free(nl->tx);
	free(nl->rx);
	free(nl);
}

static struct nlmsghdr *put_request(struct cbt_nl *nl, uint16_t type, uint8_t cmd, uint8_t version,
				    uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->tx);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++nl->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

struct nlmsghdr *cbt_nl_request(struct cbt_nl *nl, uint8_t cmd, bool dump)
{
	return put_request(nl, nl->family, cmd, DM_CBT_GENL_VERSION, dump ? NLM_F_DUMP : NLM_F_ACK);
}

/* The attribute of the request that an extack offset points at, by name. */
static const char *offs_name(const struct cbt_nl_rx *rx, uint32_t offs, char buf[32])
{
	const struct nlattr *a;

	if (!rx->req || offs < MNL_NLMSG_HDRLEN || offs > rx->req->nlmsg_len ||
	    rx->req->nlmsg_len - offs < sizeof(*a))
		return NULL;
	a = (const struct nlattr *)((const char *)rx->req + offs);
	if (rx->req->nlmsg_type == GENL_ID_CTRL) {
		snprintf(buf, 32, "attribute %u", mnl_attr_get_type(a));
		return buf;
	}
	return cbt_attr_name(mnl_attr_get_type(a), buf);
}

/*
 * Record kernel error @err with the extended ack TLVs in [tlvs, + len):
 * "<strerror>: <message> (attribute <name>)". For @err 0 a message is a
 * warning, printed as such.
 */
static int ack_tlvs(const struct cbt_nl_rx *rx, int err, const void *tlvs, size_t len)
{
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	char msg[512] = "", where[96] = "", name[32];
	const char *n;

	if (tlvs && !cbt_attr_index(tlvs, len, tb, NLMSGERR_ATTR_MAX, 0)) {
		const struct nlattr *m = tb[NLMSGERR_ATTR_MSG];

		if (m && mnl_attr_get_payload_len(m))
			snprintf(msg, sizeof(msg), ": %.*s",
				 (int)strnlen(mnl_attr_get_payload(m), mnl_attr_get_payload_len(m)),
				 (const char *)mnl_attr_get_payload(m));
		if (tb[NLMSGERR_ATTR_OFFS] && mnl_attr_get_payload_len(tb[NLMSGERR_ATTR_OFFS]) == 4 &&
		    (n = offs_name(rx, mnl_attr_get_u32(tb[NLMSGERR_ATTR_OFFS]), name)))
			snprintf(where, sizeof(where), " (in %s)", n);
		if (tb[NLMSGERR_ATTR_MISS_TYPE] &&
		    mnl_attr_get_payload_len(tb[NLMSGERR_ATTR_MISS_TYPE]) == 4)
			snprintf(where, sizeof(where), " (%s missing)",
				 rx->req && rx->req->nlmsg_type == GENL_ID_CTRL ? "an attribute" :
				 cbt_attr_name(mnl_attr_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]), name));
	}
	if (!err) {
		if (msg[0])
			fprintf(stderr, "warning from dm-cbt%s%s\n", msg, where);
		return 0;
	}
	return cbt_err(err, "%s%s%s", strerror(-err), msg, where);
}

static int rx_error(struct cbt_nl_rx *rx, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t plen = nlh->nlmsg_len - MNL_NLMSG_HDRLEN, off = sizeof(*e);
	const void *tlvs = NULL;

	if (plen < sizeof(*e))
		return cbt_err(-EPROTO, "bad reply from the kernel: error message of %zu bytes", plen);
	if (e->error > 0 || e->error < -4095)
		return cbt_err(-EPROTO, "bad reply from the kernel: error code %d", e->error);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= MNL_NLMSG_HDRLEN)
		off += MNL_ALIGN(e->msg.nlmsg_len - MNL_NLMSG_HDRLEN);
	/* The first error is the one to tell. */
	if (rx->cb_err)
		return rx->cb_err;
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && off < plen)
		tlvs = (const char *)e + off;
	return ack_tlvs(rx, e->error, tlvs, tlvs ? plen - off : 0);
}

static int rx_done(struct cbt_nl_rx *rx, const struct nlmsghdr *nlh)
{
	size_t plen = nlh->nlmsg_len - MNL_NLMSG_HDRLEN;
	const void *tlvs = NULL;
	int err = 0, ret;

	if (plen >= sizeof(err))
		memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err > 0 || err < -4095)
		return cbt_err(-EPROTO, "bad reply from the kernel: dump ended with code %d", err);
	if (rx->cb_err)
		return rx->cb_err;
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && plen > MNL_ALIGN(sizeof(err)))
		tlvs = (const char *)mnl_nlmsg_get_payload(nlh) + MNL_ALIGN(sizeof(err));
	ret = ack_tlvs(rx, err, tlvs, tlvs ? plen - MNL_ALIGN(sizeof(err)) : 0);
	if (ret)
		return ret;
	if (rx->intr)
		return cbt_err(-EAGAIN, "the kernel says the dump was interrupted by a change;"
			       " run the command again");
	return 0;
}

int cbt_nl_rx(struct cbt_nl_rx *rx, const void *buf, size_t len, cbt_nl_cb cb, void *data)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	if (len > INT32_MAX)
		return -EMSGSIZE;
	while (left > 0) {
		if (!mnl_nlmsg_ok(nlh, left))
			return cbt_err(-EPROTO, "bad reply from the kernel: %d bytes are not a whole"
				       " netlink message", left);
		if (nlh->nlmsg_seq != rx->seq)
			return cbt_err(-EPROTO, "bad reply from the kernel: answer to request %u while"
				       " waiting for %u", nlh->nlmsg_seq, rx->seq);
		if (rx->portid && nlh->nlmsg_pid && nlh->nlmsg_pid != rx->portid)
			return cbt_err(-EPROTO, "bad reply from the kernel: addressed to port %u,"
				       " not %u", nlh->nlmsg_pid, rx->portid);
		switch (nlh->nlmsg_type) {
		case NLMSG_NOOP:
			break;
		case NLMSG_OVERRUN:
			return cbt_err(-EOVERFLOW, "netlink overrun: replies were lost; try again");
		case NLMSG_ERROR:
			return rx_error(rx, nlh);
		case NLMSG_DONE:
			return rx_done(rx, nlh);
		default:
			if (nlh->nlmsg_type != rx->type)
				return cbt_err(-EPROTO, "bad reply from the kernel: message of type %u,"
					       " not %u", nlh->nlmsg_type, rx->type);
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				rx->intr = true;
			if (!rx->cb_err && cb) {
				int ret = cb(nlh, data);

				if (ret)
					rx->cb_err = ret;
			}
		}
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	return 1;
}

int cbt_nl_exchange(struct cbt_nl *nl, struct nlmsghdr *req, cbt_nl_cb cb, void *data)
{
	struct cbt_nl_rx rx = {
		.seq = req->nlmsg_seq,
		.portid = nl->tr.portid,
		.type = req->nlmsg_type,
		.req = req,
	};
	ssize_t n;
	int ret;

	cbt_err_clear();
	ret = nl->tr.send(nl->tr.priv, req, req->nlmsg_len);
	if (ret)
		return cbt_err(ret, "cannot send to the kernel: %s", strerror(-ret));
	do {
		n = nl->tr.recv(nl->tr.priv, nl->rx, CBT_NL_RX_SIZE);
		if (n == -EINTR)
			continue;
		if (n == -ENOSPC)
			return cbt_err(-EMSGSIZE, "a reply from the kernel was larger than %d bytes",
				       CBT_NL_RX_SIZE);
		if (n < 0)
			return cbt_err((int)n, "cannot read from the kernel: %s", strerror((int)-n));
		if (n == 0)
			return cbt_err(-EPROTO, "the kernel closed the netlink socket");
		ret = cbt_nl_rx(&rx, nl->rx, (size_t)n, cb, data);
	} while (n == -EINTR || ret == 1);
	return ret;
}

int cbt_nl_parse_family(const struct nlmsghdr *nlh, struct cbt_nl *nl)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1], *attr;
	const void *buf = NULL;
	size_t len = 0;
	int ret;

	ret = cbt_genl_payload(nlh, &buf, &len);
	if (!ret)
		ret = cbt_attr_index(buf, len, tb, CTRL_ATTR_MAX, 0);
	if (ret)
		return cbt_err_prefix(ret, "bad family reply from the kernel");
	if (!tb[CTRL_ATTR_FAMILY_ID] || mnl_attr_get_payload_len(tb[CTRL_ATTR_FAMILY_ID]) != 2 ||
	    !mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]))
		return cbt_err(-EPROTO, "bad family reply from the kernel: no family id");
	nl->family = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (tb[CTRL_ATTR_VERSION] && mnl_attr_get_payload_len(tb[CTRL_ATTR_VERSION]) == 4)
		nl->version = mnl_attr_get_u32(tb[CTRL_ATTR_VERSION]);
	nl->maxattr = 0;
	if (tb[CTRL_ATTR_MAXATTR] && mnl_attr_get_payload_len(tb[CTRL_ATTR_MAXATTR]) == 4)
		nl->maxattr = mnl_attr_get_u32(tb[CTRL_ATTR_MAXATTR]);
	nl->cmds = 0;
	if (tb[CTRL_ATTR_OPS]) {
		mnl_attr_for_each_nested(attr, tb[CTRL_ATTR_OPS]) {
			const struct nlattr *op[CTRL_ATTR_OP_MAX + 1];

			if (!cbt_attr_index(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr),
					    op, CTRL_ATTR_OP_MAX, 0) &&
			    op[CTRL_ATTR_OP_ID] && mnl_attr_get_payload_len(op[CTRL_ATTR_OP_ID]) == 4 &&
			    mnl_attr_get_u32(op[CTRL_ATTR_OP_ID]) < 64)
				nl->cmds |= 1ULL << mnl_attr_get_u32(op[CTRL_ATTR_OP_ID]);
		}
	}
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return 0;
	mnl_attr_for_each_nested(attr, tb[CTRL_ATTR_MCAST_GROUPS]) {
		const struct nlattr *g[CTRL_ATTR_MCAST_GRP_MAX + 1];

		if (cbt_attr_index(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr), g,
				   CTRL_ATTR_MCAST_GRP_MAX, 0))
			continue;
		if (g[CTRL_ATTR_MCAST_GRP_NAME] && g[CTRL_ATTR_MCAST_GRP_ID] &&
		    mnl_attr_get_payload_len(g[CTRL_ATTR_MCAST_GRP_ID]) == 4 &&
		    !mnl_attr_validate(g[CTRL_ATTR_MCAST_GRP_NAME], MNL_TYPE_NUL_STRING) &&
		    !strcmp(mnl_attr_get_str(g[CTRL_ATTR_MCAST_GRP_NAME]), DM_CBT_GENL_MCGRP_EVENTS))
			nl->mcgrp_events = mnl_attr_get_u32(g[CTRL_ATTR_MCAST_GRP_ID]);
	}
	return 0;
}

bool cbt_nl_has_cmd(const struct cbt_nl *nl, unsigned int cmd)
{
	return cmd < 64 && (nl->cmds >> cmd & 1);
}

bool cbt_nl_has_attr(const struct cbt_nl *nl, unsigned int type)
{
	return type <= nl->maxattr;
}

/* Set once by a subcommand before it opens the socket (cbt is single-threaded there). */
static enum cbt_nl_need nl_need = CBT_NL_SAME;

void cbt_nl_need(enum cbt_nl_need need)
{
	nl_need = need;
}

static int check_version(uint32_t v)
{
	const unsigned int ours = DM_CBT_GENL_VERSION;

	if (v == ours || nl_need == CBT_NL_ANY ||
	    (nl_need == CBT_NL_READ && v >= 1 && v < ours))
		return 0;
	return cbt_err(-EPROTO, "the loaded dm-cbt speaks netlink version %u, this tool %u: %s",
		       v, ours, v > ours ? "the module is newer than this tool: install the"
		       " matching cbt, or load the module that goes with this one (modprobe -r"
		       " dm_cbt; modprobe dm_cbt) or reboot" :
		       "reload the module (modprobe -r dm_cbt; modprobe dm_cbt) or reboot"
		       " (an older module stays loaded after an update until then)");
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return cbt_nl_parse_family(nlh, data);
}

int cbt_nl_init(struct cbt_nl **nlp, const struct cbt_nl_transport *tr)
{
	struct cbt_nl *nl = calloc(1, sizeof(*nl));
	struct nlmsghdr *req;
	int ret;

	*nlp = NULL;
	if (!nl) {
		if (tr->close)
			tr->close(tr->priv);
		return -ENOMEM;
	}
	nl->tr = *tr;
	nl->tx = calloc(1, CBT_NL_TX_SIZE);
	nl->rx = malloc(CBT_NL_RX_SIZE);
	if (!nl->tx || !nl->rx) {
		ret = -ENOMEM;
		goto err;
	}
	req = put_request(nl, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK);
	mnl_attr_put_strz(req, CTRL_ATTR_FAMILY_NAME, DM_CBT_GENL_NAME);
	ret = cbt_nl_exchange(nl, req, family_cb, nl);
	if (ret == -ENOENT)
		ret = cbt_err(-ENOENT, "dm-cbt module not loaded: modprobe dm-cbt");
	else if (!ret && !nl->family)
		ret = cbt_err(-EPROTO, "bad family reply from the kernel: no family id");
	if (!ret)
		ret = check_version(nl->version);
	if (ret)
		goto err;
	*nlp = nl;
	return 0;
err:
	cbt_nl_close(nl);
	return ret;
}
