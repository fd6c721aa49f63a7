// SPDX-License-Identifier: GPL-2.0
/* genl.c: reading reply datagrams (acks, extack, dumps), and the family lookup over a fake transport. */
#include <errno.h>
#include <stdlib.h>

#include <linux/genetlink.h>

#include "kernel/genl.h"
#include "msgbuild.h"
#include "kernel/proto.h"
#include "unit.h"
#include "util/util.h"

#define SEQ 77

static char req_buf[4096] __attribute__((aligned(8)));
static char dgram[65536] __attribute__((aligned(8)));
static size_t dlen;

/* Start a datagram; add messages with add(). */
static void *next_msg(void)
{
	return dgram + dlen;
}

static void add(const struct nlmsghdr *nlh)
{
	dlen += MNL_ALIGN(nlh->nlmsg_len);
}

struct seen {
	int msgs;
	int fail_at;	/* callback fails on this message (1-based), 0 never */
};

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	struct seen *s = data;

	(void)nlh;
	if (++s->msgs == s->fail_at)
		return cbt_err(-EPROTO, "callback refused message %d", s->msgs);
	return 0;
}

static struct cbt_nl_rx rx_for(bool with_req)
{
	struct nlmsghdr *req = mb_genl(req_buf, MB_FAMILY, CBT_CMD_COMMIT_EPOCH, SEQ,
				       NLM_F_REQUEST | NLM_F_ACK);

	mnl_attr_put_strz(req, CBT_A_DEV_NAME, "vg");
	mnl_attr_put_u64(req, CBT_A_EPOCH_NUMBER, 5);
	dlen = 0;
	return (struct cbt_nl_rx){ .seq = SEQ, .type = MB_FAMILY, .req = with_req ? req : NULL };
}

static void doit_reply_then_ack(void)
{
	struct cbt_nl_rx rx = rx_for(true);
	struct seen s = { 0 };

	add(mb_genl(next_msg(), MB_FAMILY, CBT_CMD_CLOSE_EPOCH, SEQ, 0));
	add(mb_error(next_msg(), SEQ, 0, NULL, 0));
	CHECK_EQ(cbt_nl_rx(&rx, dgram, dlen, count_cb, &s), 0);
	CHECK_EQ(s.msgs, 1);
}

static void reply_and_ack_in_two_datagrams(void)
{
	struct cbt_nl_rx rx = rx_for(true);
	struct seen s = { 0 };

	add(mb_genl(next_msg(), MB_FAMILY, CBT_CMD_CLOSE_EPOCH, SEQ, 0));
	CHECK_EQ(cbt_nl_rx(&rx, dgram, dlen, count_cb, &s), 1);	/* more to come */
	dlen = 0;
	add(mb_error(next_msg(), SEQ, 0, NULL, 0));
	CHECK_EQ(cbt_nl_rx(&rx, dgram, dlen, count_cb, &s), 0);
	CHECK_EQ(s.msgs, 1);
}

static void error_with_extack(void)
{
	struct cbt_nl_rx rx = rx_for(true);

	add(mb_error(next_msg(), SEQ, -EINVAL, "An older closed epoch must be committed first", 0));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EINVAL,
		  "Invalid argument: An older closed epoch must be committed first");
}

static void error_without_extack(void)
{
	struct cbt_nl_rx rx = rx_for(true);

	add(mb_error(next_msg(), SEQ, -EPERM, NULL, 0));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EPERM, "Operation not permitted");
}

static void error_missing_attribute(void)
{
	struct cbt_nl_rx rx = rx_for(true);

	add(mb_error(next_msg(), SEQ, -EINVAL, NULL, CBT_A_EPOCH_NUMBER));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EINVAL,
		  "Invalid argument (CBT_A_EPOCH_NUMBER missing)");
}

/* The extack offset names the request's attribute; an uncapped error echoes the request first. */
static void error_offset_names_attribute(void)
{
	struct cbt_nl_rx rx = rx_for(true);
	const struct nlmsghdr *req = rx.req;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(next_msg());
	struct nlmsgerr *e;
	uint32_t offs;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_ACK_TLVS;	/* not capped */
	nlh->nlmsg_seq = SEQ;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e) + req->nlmsg_len - MNL_NLMSG_HDRLEN);
	e->error = -ERANGE;
	memcpy(&e->msg, req, req->nlmsg_len);
	/* the second attribute of the request: CBT_A_EPOCH_NUMBER */
	offs = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)) + MNL_ALIGN(MNL_ATTR_HDRLEN + 3);
	mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, "Epoch out of range");
	mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, offs);
	add(nlh);
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -ERANGE,
		  "Numerical result out of range: Epoch out of range (in CBT_A_EPOCH_NUMBER)");
}

static void error_offset_out_of_bounds(void)
{
	struct cbt_nl_rx rx = rx_for(true);
	struct nlmsghdr *nlh = mb_error(next_msg(), SEQ, -EINVAL, "x", 0);

	mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, 60000);
	add(nlh);
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EINVAL, "Invalid argument: x");
	CHECK(!strstr(ut_detail(), "(in"));
}

static void dump_until_done(void)
{
	struct cbt_nl_rx rx = rx_for(false);
	struct seen s = { 0 };

	for (int i = 0; i < 3; i++)
		add(mb_genl(next_msg(), MB_FAMILY, CBT_CMD_GET_DEVICE, SEQ, NLM_F_MULTI));
	CHECK_EQ(cbt_nl_rx(&rx, dgram, dlen, count_cb, &s), 1);
	dlen = 0;
	add(mb_genl(next_msg(), MB_FAMILY, CBT_CMD_GET_DEVICE, SEQ, NLM_F_MULTI));
	add(mb_done(next_msg(), SEQ, 0, NULL));
	CHECK_EQ(cbt_nl_rx(&rx, dgram, dlen, count_cb, &s), 0);
	CHECK_EQ(s.msgs, 4);
}

static void dump_done_with_error(void)
{
	struct cbt_nl_rx rx = rx_for(false);
	struct seen s = { 0 };

	add(mb_genl(next_msg(), MB_FAMILY, CBT_CMD_GET_BITMAP, SEQ, NLM_F_MULTI));
	add(mb_done(next_msg(), SEQ, -ESTALE, "Epoch was committed"));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, count_cb, &s), -ESTALE,
		  "Stale file handle: Epoch was committed");
	CHECK_EQ(s.msgs, 1);
}

static void dump_interrupted(void)
{
	struct cbt_nl_rx rx = rx_for(false);

	add(mb_genl(next_msg(), MB_FAMILY, CBT_CMD_GET_DEVICE, SEQ, NLM_F_MULTI | NLM_F_DUMP_INTR));
	add(mb_done(next_msg(), SEQ, 0, NULL));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EAGAIN, "interrupted");
}

/* After a callback fails the rest is read (so the socket stays usable) but not handed on. */
static void callback_error_drains(void)
{
	struct cbt_nl_rx rx = rx_for(false);
	struct seen s = { .fail_at = 2 };

	for (int i = 0; i < 4; i++)
		add(mb_genl(next_msg(), MB_FAMILY, CBT_CMD_GET_DEVICE, SEQ, NLM_F_MULTI));
	CHECK_EQ(cbt_nl_rx(&rx, dgram, dlen, count_cb, &s), 1);
	dlen = 0;
	add(mb_done(next_msg(), SEQ, -EIO, NULL));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, count_cb, &s), -EPROTO, "callback refused message 2");
	CHECK_EQ(s.msgs, 2);
}

static void noop_skipped(void)
{
	struct cbt_nl_rx rx = rx_for(false);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(next_msg());

	nlh->nlmsg_type = NLMSG_NOOP;
	nlh->nlmsg_seq = SEQ;
	add(nlh);
	add(mb_done(next_msg(), SEQ, 0, NULL));
	CHECK_EQ(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), 0);
}

static void bad_datagrams(void)
{
	struct cbt_nl_rx rx = rx_for(false);
	struct nlmsghdr *nlh;

	add(mb_genl(next_msg(), MB_FAMILY, CBT_CMD_GET_DEVICE, SEQ + 1, NLM_F_MULTI));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EPROTO, "answer to request 78 while waiting for 77");

	rx = rx_for(false);
	add(mb_genl(next_msg(), MB_FAMILY + 1, CBT_CMD_GET_DEVICE, SEQ, NLM_F_MULTI));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EPROTO, "message of type 29, not 28");

	rx = rx_for(false);
	add(mb_genl(next_msg(), MB_FAMILY, CBT_CMD_GET_DEVICE, SEQ, NLM_F_MULTI));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen - 2, NULL, NULL), -EPROTO, "not a whole netlink message");

	rx = rx_for(false);
	nlh = mb_error(next_msg(), SEQ, -EINVAL, NULL, 0);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 8;
	add(nlh);
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EPROTO, "error message of 8 bytes");

	rx = rx_for(false);
	add(mb_error(next_msg(), SEQ, 5, NULL, 0));
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EPROTO, "error code 5");

	rx = rx_for(false);
	rx.portid = 1234;
	nlh = mb_genl(next_msg(), MB_FAMILY, CBT_CMD_GET_DEVICE, SEQ, NLM_F_MULTI);
	nlh->nlmsg_pid = 999;
	add(nlh);
	CHECK_ERR(cbt_nl_rx(&rx, dgram, dlen, NULL, NULL), -EPROTO, "addressed to port 999");
}

/* A fake transport answering the family lookup from a canned script. */
struct script {
	int err;		/* the kernel's answer to GETFAMILY; 0: the family */
	bool no_id;
	char out[8192] __attribute__((aligned(8)));
	size_t out_len;
	int sends, closed;
};

static int fake_send(void *priv, const void *buf, size_t len)
{
	struct script *s = priv;
	const struct nlmsghdr *req = buf;
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(req);
	struct nlmsghdr *nlh;
	struct nlattr *grps, *grp;

	(void)len;
	s->sends++;
	s->out_len = 0;
	if (req->nlmsg_type != GENL_ID_CTRL || g->cmd != CTRL_CMD_GETFAMILY)
		return -EINVAL;
	if (s->err) {
		nlh = mb_error(s->out, req->nlmsg_seq, s->err, NULL, 0);
		s->out_len = nlh->nlmsg_len;
		return 0;
	}
	nlh = mb_genl(s->out, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, req->nlmsg_seq, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, DM_CBT_GENL_NAME);
	if (!s->no_id)
		mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, MB_FAMILY);
	mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, DM_CBT_GENL_VERSION);
	grps = mnl_attr_nest_start(nlh, CTRL_ATTR_MCAST_GROUPS);
	grp = mnl_attr_nest_start(nlh, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_MCAST_GRP_NAME, "events");
	mnl_attr_put_u32(nlh, CTRL_ATTR_MCAST_GRP_ID, 9);
	mnl_attr_nest_end(nlh, grp);
	mnl_attr_nest_end(nlh, grps);
	s->out_len = MNL_ALIGN(nlh->nlmsg_len);
	nlh = mb_error(s->out + s->out_len, req->nlmsg_seq, 0, NULL, 0);
	s->out_len += nlh->nlmsg_len;
	return 0;
}

static ssize_t fake_recv(void *priv, void *buf, size_t len)
{
	struct script *s = priv;
	size_t n = s->out_len;

	if (!n || n > len)
		return -EIO;
	memcpy(buf, s->out, n);
	s->out_len = 0;
	return (ssize_t)n;
}

static void fake_close(void *priv)
{
	((struct script *)priv)->closed++;
}

static int lookup(struct script *s, struct cbt_nl **nl)
{
	struct cbt_nl_transport tr = { fake_send, fake_recv, fake_close, s, 0 };

	return cbt_nl_init(nl, &tr);
}

static void family_found(void)
{
	struct script s = { 0 };
	struct cbt_nl *nl;

	CHECK_EQ(lookup(&s, &nl), 0);
	CHECK_EQ(nl->family, MB_FAMILY);
	CHECK_EQ(nl->version, DM_CBT_GENL_VERSION);
	CHECK_EQ(nl->mcgrp_events, 9);
	cbt_nl_close(nl);
	CHECK_EQ(s.closed, 1);
}

static void family_missing_says_modprobe(void)
{
	struct script s = { .err = -ENOENT };
	struct cbt_nl *nl;

	CHECK_ERR(lookup(&s, &nl), -ENOENT, "dm-cbt module not loaded: modprobe dm-cbt");
	CHECK(!nl);
	CHECK_EQ(s.closed, 1);	/* the transport is closed on failure too */
}

static void family_reply_without_id(void)
{
	struct script s = { .no_id = true };
	struct cbt_nl *nl;

	CHECK_ERR(lookup(&s, &nl), -EPROTO, "no family id");
	CHECK_EQ(s.closed, 1);
}

static void request_header(void)
{
	struct script s = { 0 };
	struct cbt_nl *nl;
	struct nlmsghdr *req;
	const struct genlmsghdr *g;

	CHECK_EQ(lookup(&s, &nl), 0);
	req = cbt_nl_request(nl, CBT_CMD_GET_BITMAP, true);
	g = mnl_nlmsg_get_payload(req);
	CHECK_EQ(req->nlmsg_type, MB_FAMILY);
	CHECK_EQ(req->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	CHECK_EQ(g->cmd, CBT_CMD_GET_BITMAP);
	CHECK_EQ(g->version, DM_CBT_GENL_VERSION);
	req = cbt_nl_request(nl, CBT_CMD_CLOSE_EPOCH, false);
	CHECK_EQ(req->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_EQ(req->nlmsg_seq, 3);	/* a new sequence number per request */
	cbt_nl_close(nl);
}

UT_MAIN("genl",
	UT_CASE(doit_reply_then_ack),
	UT_CASE(reply_and_ack_in_two_datagrams),
	UT_CASE(error_with_extack),
	UT_CASE(error_without_extack),
	UT_CASE(error_missing_attribute),
	UT_CASE(error_offset_names_attribute),
	UT_CASE(error_offset_out_of_bounds),
	UT_CASE(dump_until_done),
	UT_CASE(dump_done_with_error),
	UT_CASE(dump_interrupted),
	UT_CASE(callback_error_drains),
	UT_CASE(noop_skipped),
	UT_CASE(bad_datagrams),
	UT_CASE(family_found),
	UT_CASE(family_missing_says_modprobe),
	UT_CASE(family_reply_without_id),
	UT_CASE(request_header))
