/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A generic netlink client for the dm_cbt family, on libmnl.
 *
 * The socket sits behind struct cbt_nl_transport, so everything above it
 * (family lookup, request/ack and dump exchanges, extack messages) runs the
 * same on a real socket (cbt_nl_open(), genl_sock.c) and on the hand-built
 * replies of the unit tests. cbt_nl_rx() is the pure part: it reads one
 * datagram of replies.
 *
 * Errors are -errno; a kernel error's extack message becomes the detail
 * (cbt_err()), as "<strerror>: <message>".
 */
#ifndef CBT_GENL_H
#define CBT_GENL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/netlink.h>

/* Big enough for any dump message the kernel builds (32 KiB at most). */
#define CBT_NL_RX_SIZE 65536
#define CBT_NL_TX_SIZE 8192

struct cbt_nl_transport {
	/* Send one request; 0 or -errno. */
	int (*send)(void *priv, const void *buf, size_t len);
	/* Receive one datagram; its length or -errno (-ENOSPC if truncated). */
	ssize_t (*recv)(void *priv, void *buf, size_t len);
	void (*close)(void *priv);
	void *priv;
	uint32_t portid;	/* ours, to check replies against; 0: unchecked */
};

struct cbt_nl {
	struct cbt_nl_transport tr;
	uint16_t family;	/* the dm_cbt family id */
	uint32_t version;	/* its CTRL_ATTR_VERSION */
	uint32_t mcgrp_events;	/* id of the "events" group, 0 if none */
	/*
	 * Bit (1 << cmd): the module has command cmd, from the family's
	 * CTRL_ATTR_OPS. How a command newer than the module's interface
	 * version (CBT_CMD_COUNT_BITMAP) is found without trying it.
	 */
	uint64_t cmds;
	/*
	 * The family's CTRL_ATTR_MAXATTR: the newest attribute the module
	 * knows. A newer one in a request would be refused (-EINVAL).
	 */
	uint32_t maxattr;
	uint32_t seq;
	char *tx;
	char *rx;
};

/* Called for every data message of a reply; 0 or -errno (stops the reading). */
typedef int (*cbt_nl_cb)(const struct nlmsghdr *nlh, void *data);

/*
 * Which dm_cbt interface versions (CTRL_ATTR_VERSION) the next
 * cbt_nl_open() accepts. CBT_NL_SAME (the default): DM_CBT_GENL_VERSION
 * only, for commands that change state, whose checks rely on everything
 * this version reports. CBT_NL_READ: also an older module, for commands
 * that only read and show (status, bitmap, monitor, snapshot list); an
 * older module sends fewer attributes and the parsers need none newer
 * than version 1. A newer module is refused by both: its attributes may
 * mean what this tool cannot know. CBT_NL_ANY: `cbt version', which shows
 * both.
 */
enum cbt_nl_need { CBT_NL_SAME, CBT_NL_READ, CBT_NL_ANY };
void cbt_nl_need(enum cbt_nl_need need);

/*
 * Open a generic netlink socket and look up the dm_cbt family. -ENOENT
 * with the detail "dm-cbt module not loaded: modprobe dm-cbt" when the
 * family is missing; -EPROTO naming both versions when the module's
 * interface version is not one cbt_nl_need() accepts. Defined in
 * genl_sock.c.
 */
int cbt_nl_open(struct cbt_nl **nlp);
/* Look up the family over @tr (which the cbt_nl then owns, even on error). */
int cbt_nl_init(struct cbt_nl **nlp, const struct cbt_nl_transport *tr);
void cbt_nl_close(struct cbt_nl *nl);

/* Start a request to the dm_cbt family in nl->tx; add attributes, then send it. */
struct nlmsghdr *cbt_nl_request(struct cbt_nl *nl, uint8_t cmd, bool dump);
/* Send @req and read replies until the ack (doit) or NLMSG_DONE (dump). */
int cbt_nl_exchange(struct cbt_nl *nl, struct nlmsghdr *req, cbt_nl_cb cb, void *data);

/* State of one exchange while its replies come in. */
struct cbt_nl_rx {
	uint32_t seq;		/* of the request */
	uint32_t portid;	/* 0: unchecked */
	uint16_t type;		/* of data messages (the family id) */
	const struct nlmsghdr *req;	/* to name the attribute an extack points at */
	int cb_err;		/* first callback error; later data is drained */
	bool intr;		/* a dump message had NLM_F_DUMP_INTR */
};

/*
 * Read one datagram of replies: 1 when more are due, 0 when the exchange
 * ended well, -errno when the kernel or a callback failed or the datagram
 * is malformed. A data message with the wrong type or sequence number,
 * bytes that are not whole messages or a short error message is -EPROTO.
 * A dump the kernel flags as interrupted (NLM_F_DUMP_INTR) is -EAGAIN.
 */
int cbt_nl_rx(struct cbt_nl_rx *rx, const void *buf, size_t len, cbt_nl_cb cb, void *data);

/* Parse a CTRL_CMD_GETFAMILY reply into @nl's family, version, commands, groups. */
int cbt_nl_parse_family(const struct nlmsghdr *nlh, struct cbt_nl *nl);
/* The module has command @cmd (nl->cmds). */
bool cbt_nl_has_cmd(const struct cbt_nl *nl, unsigned int cmd);
/* Whether the module knows attribute @type (CTRL_ATTR_MAXATTR). */
bool cbt_nl_has_attr(const struct cbt_nl *nl, unsigned int type);

#endif /* CBT_GENL_H */
