// SPDX-License-Identifier: GPL-2.0
/*
 * nlfuzz: throw malformed requests at the dm_cbt generic netlink family
 * (guest helper).
 *
 *   nlfuzz [-s SEED] [-t SECONDS] [-n COUNT] [-v] DEVNAME...
 *
 * Resolves the family, then sends requests built by a seeded PRNG until
 * SECONDS have passed or COUNT requests were sent: random and valid
 * commands, random flags and versions, attributes of the wrong type and
 * length, missing and repeated, huge values and strings, nests of garbage,
 * snapshot groups of bogus, repeated and too many devices, epochs near the
 * ones the devices hold. DEVNAMEs are the cbt devices to aim at (they may
 * come and go while it runs: the case toggles one). Dumps are read whole,
 * closed after their first message, or interleaved with another request.
 *
 * Every message the kernel sends back is checked: an error must be a
 * negative errno (or 0), a reply must be a well-formed dm_cbt message for
 * the command asked (attribute types known, fixed sizes right, nests
 * well-formed, bitmap chunks consistent), and every request must be
 * answered. Prints "seed=N" first, so a failing run can be replayed, and
 * the counts at the end. Exits 0 when every reply was clean, 1 when one
 * was not (printing it), 2 when it could not run.
 *
 * Raw sockets on purpose (no libmnl): the point is to send what a library
 * would refuse to build, and there is no static libmnl to link anyway.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/dm-cbt.h>

#define REQ_MAX 16384
#define RESP_MAX (1 << 20)
#define MAX_DEVS 8

static uint8_t req[REQ_MAX] __attribute__((aligned(8)));
static uint8_t resp[RESP_MAX] __attribute__((aligned(8)));

static uint64_t rng;
static int family, verbose;
static const char *devs[MAX_DEVS];
static unsigned int devmaj[MAX_DEVS], devmin[MAX_DEVS], ndevs;
static uint64_t max_epoch = 1;
static unsigned long sent, replies, errors, dumps, interrupted, interleaved;
static unsigned long errno_seen[4096];
static unsigned long cmd_ok[CBT_CMD_MAX + 1];
static int last_error;	/* of the last ack, error or dump end checked */

static uint64_t rnd(void)
{
	/* splitmix64: tiny, seedable, good enough to pick cases */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int below(unsigned int n)
{
	return n ? rnd() % n : 0;
}

/* True with probability pct percent. */
static int chance(unsigned int pct)
{
	return below(100) < pct;
}

static void bad(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("nlfuzz: BAD REPLY after %lu requests: ", sent);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	exit(1);
}

/* ---- building requests ---- */

static struct nlmsghdr *nlh(void)
{
	return (struct nlmsghdr *)req;
}

static uint8_t *tail(void)
{
	return req + NLMSG_ALIGN(nlh()->nlmsg_len);
}

static int room(size_t len)
{
	return NLMSG_ALIGN(nlh()->nlmsg_len) + NLA_HDRLEN + NLA_ALIGN(len) + 64 < REQ_MAX;
}

static struct nlattr *put(uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = (struct nlattr *)tail();

	if (!room(len))
		return NULL;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
	memset((uint8_t *)a + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	nlh()->nlmsg_len = NLMSG_ALIGN(nlh()->nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}

static void put_u32(uint16_t type, uint32_t v)
{
	put(type, &v, sizeof(v));
}

static void put_u64(uint16_t type, uint64_t v)
{
	put(type, &v, sizeof(v));
}

static struct nlattr *nest_start(uint16_t type)
{
	return put(type | (chance(90) ? NLA_F_NESTED : 0), NULL, 0);
}

static void nest_end(struct nlattr *a)
{
	if (a)
		a->nla_len = tail() - (uint8_t *)a;
}

static void start(uint16_t flags, uint8_t cmd, uint8_t version, uint32_t seq)
{
	struct genlmsghdr *g;

	memset(req, 0, NLMSG_LENGTH(GENL_HDRLEN));
	nlh()->nlmsg_type = family;
	nlh()->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh()->nlmsg_seq = seq;
	nlh()->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	g = NLMSG_DATA(nlh());
	g->cmd = cmd;
	g->version = version;
}

static uint64_t pick_epoch(void)
{
	switch (below(8)) {
	case 0:
		return 0;
	case 1:
		return UINT64_MAX - below(3);
	case 2:
		return rnd();
	case 3:
		return 1U << below(32);
	case 4:
		return 1 + below(12);
	default:
		/* near what the devices hold, so that real epochs get hit */
		return max_epoch + 2 > below(8) ? max_epoch + 2 - below(8) : 1;
	}
}

static void put_name(uint16_t type)
{
	char s[400];
	size_t n;

	switch (below(10)) {
	case 0:		/* too long for DM_NAME_LEN */
		n = 120 + below(280);
		memset(s, 'a' + below(26), n);
		s[n] = 0;
		put(type, s, n + 1);
		break;
	case 1:		/* not NUL-terminated */
		n = ndevs ? strlen(devs[below(ndevs)]) : 3;
		put(type, ndevs ? devs[below(ndevs)] : "abc", n < 3 ? n : 3);
		break;
	case 2:		/* empty, or only the NUL */
		put(type, "", below(2));
		break;
	case 3:		/* an unknown device */
		put(type, "nosuch", 7);
		break;
	default:
		if (!ndevs) {
			put(type, "c", 2);
			break;
		}
		n = below(ndevs);
		put(type, devs[n], strlen(devs[n]) + 1);
		break;
	}
}

/* A device selector, usually right, sometimes not. */
static void put_selector(void)
{
	unsigned int d = below(ndevs ? ndevs : 1);

	switch (below(8)) {
	case 0:		/* neither */
		break;
	case 1:		/* both */
		put_name(CBT_A_DEV_NAME);
		put_u32(CBT_A_DEV_MAJOR, devmaj[d]);
		put_u32(CBT_A_DEV_MINOR, devmin[d]);
		break;
	case 2:		/* major only, or numbers out of range */
		put_u32(CBT_A_DEV_MAJOR, chance(50) ? devmaj[d] : (uint32_t)rnd());
		if (chance(50))
			put_u32(CBT_A_DEV_MINOR, (uint32_t)rnd());
		break;
	case 3:		/* by number */
		put_u32(CBT_A_DEV_MAJOR, devmaj[d]);
		put_u32(CBT_A_DEV_MINOR, devmin[d]);
		break;
	default:
		put_name(CBT_A_DEV_NAME);
		if (chance(10))	/* repeated */
			put_name(CBT_A_DEV_NAME);
		break;
	}
}

/* An attribute of any type with a payload of any shape. */
static void put_garbage(int depth)
{
	uint16_t type = chance(80) ? below(CBT_A_MAX + 3) : (uint16_t)rnd();
	uint8_t buf[64];
	struct nlattr *a;
	unsigned int i, n;

	switch (below(depth > 2 ? 4 : 6)) {
	case 0:
		put_u32(type & ~NLA_F_NESTED, (uint32_t)rnd());
		break;
	case 1:
		put_u64(type & ~NLA_F_NESTED, chance(50) ? pick_epoch() : rnd());
		break;
	case 2:		/* any length, any bytes */
		n = below(sizeof(buf) + 1);
		for (i = 0; i < n; i++)
			buf[i] = rnd();
		put(type, buf, n);
		break;
	case 3:
		put_name(type);
		break;
	default:	/* a nest of more of the same */
		a = nest_start(type);
		n = below(5);
		for (i = 0; i < n; i++)
			put_garbage(depth + 1);
		nest_end(a);
		break;
	}
}

/* Attributes a command of the family takes, mixed with mistakes. */
static void put_attrs(uint8_t cmd)
{
	struct nlattr *list, *dev;
	unsigned int i, n;

	if (chance(85))
		put_selector();
	switch (cmd) {
	case CBT_CMD_COMMIT_EPOCH:
	case CBT_CMD_ABORT_EPOCH:
		if (chance(85))
			put_u64(CBT_A_EPOCH_NUMBER, pick_epoch());
		break;
	case CBT_CMD_GET_BITMAP:
	case CBT_CMD_COUNT_BITMAP:
		if (chance(50)) {
			put_u64(CBT_A_EPOCH_NUMBER, pick_epoch());
		} else {
			uint64_t f = pick_epoch();

			put_u64(CBT_A_EPOCH_FIRST, f);
			put_u64(CBT_A_EPOCH_LAST, chance(70) ? f + below(4) : pick_epoch());
		}
		if (chance(50))
			put_u32(CBT_A_BITMAP_FLAGS, chance(80) ? below(2) : (uint32_t)rnd());
		break;
	case CBT_CMD_SNAPSHOT:
		list = nest_start(chance(95) ? CBT_A_DEVICES : below(CBT_A_MAX + 1));
		n = chance(90) ? below(4) : below(DM_CBT_MAX_GROUP + 8);
		for (i = 0; i < n; i++) {
			dev = nest_start(chance(90) ? CBT_A_DEVICE : below(CBT_A_MAX + 1));
			if (chance(90))
				put_selector();
			else
				put_garbage(2);
			if (chance(30))
				put_u64(CBT_A_SNAP_PRESERVE_FROM, chance(80) ? pick_epoch() : rnd());
			nest_end(dev);
		}
		nest_end(list);
		if (chance(30))
			put(CBT_A_FREEZE, "\0\0\0", chance(90) ? 0 : 4);
		break;
	case CBT_CMD_SNAP_RELEASE:
		if (chance(85))
			put_u64(CBT_A_RANGE_SECTOR, chance(70) ? below(1 << 17) : rnd());
		if (chance(85))
			put_u64(CBT_A_RANGE_SECTORS, chance(70) ? below(1 << 12) : rnd());
		break;
	}
	n = chance(60) ? 0 : below(6);
	for (i = 0; i < n; i++)
		put_garbage(0);
}

/* ---- checking replies ---- */

static const struct {
	uint16_t type;
	int len;	/* exact payload length, -1 any, -2 nested, -3 string */
} reply_attrs[] = {
	{ CBT_A_DEV_NAME, -3 }, { CBT_A_DEV_MAJOR, 4 }, { CBT_A_DEV_MINOR, 4 },
	{ CBT_A_UUID, 16 }, { CBT_A_PERSISTENCE, 4 }, { CBT_A_BLOCK_SIZE, 4 },
	{ CBT_A_NR_BLOCKS, 8 }, { CBT_A_DEV_SECTORS, 8 }, { CBT_A_BITMAP_BYTES, 8 },
	{ CBT_A_EPOCH_CURRENT, 8 }, { CBT_A_EPOCHS, -2 }, { CBT_A_EPOCH, -2 },
	{ CBT_A_EPOCH_NUMBER, 8 }, { CBT_A_EPOCH_STATE, 4 }, { CBT_A_EPOCH_BITS, 8 },
	{ CBT_A_CHUNK, -2 }, { CBT_A_CHUNK_START, 8 }, { CBT_A_CHUNK_BLOCKS, 4 },
	{ CBT_A_CHUNK_WORDS, -1 }, { CBT_A_CHUNK_EXTENTS, -1 }, { CBT_A_EVENT, 4 },
	{ CBT_A_METADATA_ERRORS, 8 }, { CBT_A_PAD, -1 }, { CBT_A_SNAPSHOT, -2 },
	{ CBT_A_SNAP_STATE, 4 }, { CBT_A_SNAP_ERROR, 4 }, { CBT_A_SNAP_AGE_MS, 8 },
	{ CBT_A_SNAP_CHUNK_SIZE, 4 }, { CBT_A_SNAP_COW_USED, 8 },
	{ CBT_A_SNAP_COW_TOTAL, 8 }, { CBT_A_SNAP_COPIED, 8 }, { CBT_A_SNAP_SECTORS, 8 },
	{ CBT_A_DEVICES, -2 }, { CBT_A_DEVICE, -2 }, { CBT_A_FREEZE_NS, 8 },
	{ CBT_A_HOLD_NS, 8 }, { CBT_A_LAST_COMMITTED, 8 }, { CBT_A_IDENTITY_REASON, 4 },
	{ CBT_A_SNAP_PRESERVE_FROM, 8 }, { CBT_A_SNAP_TO_READ, 8 }, { CBT_A_SNAP_RELEASED, 8 },
	{ CBT_A_SNAP_FORFEITED, 8 }, { CBT_A_COUNT_BLOCKS, 8 }, { CBT_A_COUNT_RUNS, 8 },
	{ CBT_A_COUNT_END, 8 },
};

static int attr_len(uint16_t type)
{
	unsigned int i;

	for (i = 0; i < sizeof(reply_attrs) / sizeof(reply_attrs[0]); i++)
		if (reply_attrs[i].type == type)
			return reply_attrs[i].len;
	return -100;
}

/* Checks a stream of attributes, recursing into nests; notes epochs seen. */
static void check_attrs(const uint8_t *p, int left, int depth)
{
	uint64_t nr_blocks = 0, cblocks = 0, cruns = 0, cend = 0;
	uint32_t blocks = 0;
	int words = -1, extents = -1, counts = 0;

	if (depth > 4)
		bad("attributes nested %d deep", depth);
	while (left > 0) {
		const struct nlattr *a = (const struct nlattr *)p;
		uint16_t type = a->nla_type & NLA_TYPE_MASK;
		int plen, want;
		const uint8_t *d = p + NLA_HDRLEN;

		if (left < NLA_HDRLEN || a->nla_len < NLA_HDRLEN || a->nla_len > left)
			bad("attribute length %u with %d bytes left", a->nla_len, left);
		plen = a->nla_len - NLA_HDRLEN;
		want = attr_len(type);
		if (want == -100)
			bad("unknown attribute type %u", type);
		if (want >= 0 && plen != want)
			bad("attribute %u has %d bytes, not %d", type, plen, want);
		if (want == -3 && (plen == 0 || d[plen - 1] || plen > 128))
			bad("attribute %u: bad string of %d bytes", type, plen);
		if (want == -2)
			check_attrs(d, plen, depth + 1);
		if (type == CBT_A_EPOCH_NUMBER || type == CBT_A_EPOCH_CURRENT) {
			uint64_t e;

			memcpy(&e, d, 8);
			if (e > max_epoch && e < max_epoch + 1000000)
				max_epoch = e;
		}
		if (type == CBT_A_CHUNK_BLOCKS)
			memcpy(&blocks, d, 4);
		if (type == CBT_A_NR_BLOCKS)
			memcpy(&nr_blocks, d, 8);
		if (type == CBT_A_COUNT_BLOCKS || type == CBT_A_COUNT_RUNS ||
		    type == CBT_A_COUNT_END) {
			memcpy(type == CBT_A_COUNT_BLOCKS ? &cblocks :
			       type == CBT_A_COUNT_RUNS ? &cruns : &cend, d, 8);
			counts++;
		}
		if (type == CBT_A_CHUNK_WORDS)
			words = plen;
		if (type == CBT_A_CHUNK_EXTENTS)
			extents = plen;
		p += NLA_ALIGN(a->nla_len);
		left -= NLA_ALIGN(a->nla_len);
	}
	/* A count: all three, each run holds a block, all of them before the end. */
	if (counts && (counts != 3 || cruns > cblocks || cblocks > cend || cend > nr_blocks ||
		       !cruns != !cblocks))
		bad("counts: %d attributes, %llu blocks, %llu runs, end %llu of %llu", counts,
		    (unsigned long long)cblocks, (unsigned long long)cruns,
		    (unsigned long long)cend, (unsigned long long)nr_blocks);
	if (words >= 0 || extents >= 0) {
		if (!blocks || blocks > 8192)
			bad("chunk of %u blocks", blocks);
		if (words >= 0 && extents >= 0)
			bad("chunk with both words and extents");
		if (words >= 0 && words != (int)((blocks + 63) / 64 * 8))
			bad("chunk of %u blocks with %d bytes of words", blocks, words);
		if (extents >= 0 && extents % sizeof(struct cbt_extent))
			bad("extents of %d bytes", extents);
	}
}

/* Checks the extack attributes that follow an error. */
static void check_extack(const uint8_t *p, int left)
{
	while (left >= NLA_HDRLEN) {
		const struct nlattr *a = (const struct nlattr *)p;

		if (a->nla_len < NLA_HDRLEN || a->nla_len > left)
			bad("extack attribute length %u with %d bytes left", a->nla_len, left);
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
			const char *s = (const char *)p + NLA_HDRLEN;
			int n = a->nla_len - NLA_HDRLEN;

			if (!n || s[n - 1] || strlen(s) + 1 != (size_t)n)
				bad("extack message not a string");
			if (verbose)
				printf("  msg=%s\n", s);
		}
		p += NLA_ALIGN(a->nla_len);
		left -= NLA_ALIGN(a->nla_len);
	}
}

/* A dump left half-read while another request goes out: its end, when seen. */
static uint32_t pending_seq;
static uint8_t pending_cmd;
static int pending_done;

/*
 * Checks one message. Returns 1 when it ends an exchange (an ack or error,
 * or the end of a dump), else 0.
 */
static int check_msg(const struct nlmsghdr *h, uint32_t seq, uint8_t cmd)
{
	int end = 0;

	replies++;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);
		int off = NLMSG_HDRLEN + sizeof(*e);

		if (h->nlmsg_len < (uint32_t)off)
			bad("error message of %u bytes", h->nlmsg_len);
		if (e->error > 0 || e->error < -4095)
			bad("error %d is no errno", e->error);
		errno_seen[-e->error]++;
		last_error = e->error;
		if (e->error)
			errors++;
		if (!(h->nlmsg_flags & NLM_F_CAPPED))
			off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
		if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
			if ((uint32_t)off > h->nlmsg_len)
				bad("error message of %u bytes, %d expected", h->nlmsg_len, off);
			check_extack((const uint8_t *)h + off, h->nlmsg_len - off);
		}
		if (verbose)
			printf("  seq %u: errno %d\n", h->nlmsg_seq, -e->error);
		/* An ack after a dump's end, or the dump's refusal. */
		end = 1;
	} else if (h->nlmsg_type == NLMSG_DONE) {
		int err;

		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
			bad("done message of %u bytes", h->nlmsg_len);
		memcpy(&err, NLMSG_DATA(h), sizeof(err));
		if (err > 0 || err < -4095)
			bad("dump ended with %d, no errno", err);
		errno_seen[-err]++;
		last_error = err;
		if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && h->nlmsg_len > NLMSG_LENGTH(sizeof(int)))
			check_extack((const uint8_t *)NLMSG_DATA(h) + sizeof(int),
				     h->nlmsg_len - NLMSG_LENGTH(sizeof(int)));
		end = 1;
	} else if (h->nlmsg_type == family) {
		const struct genlmsghdr *g = NLMSG_DATA(h);

		if (h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
			bad("reply of %u bytes", h->nlmsg_len);
		if (h->nlmsg_seq == seq && g->cmd != cmd)
			bad("reply command %u to command %u", g->cmd, cmd);
		if (pending_seq && h->nlmsg_seq == pending_seq && g->cmd != pending_cmd)
			bad("reply command %u to command %u", g->cmd, pending_cmd);
		if (g->cmd == 0 || g->cmd > CBT_CMD_MAX || g->cmd == CBT_CMD_EVENT)
			bad("reply command %u", g->cmd);
		check_attrs((const uint8_t *)g + GENL_HDRLEN,
			    h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), 0);
	} else {
		bad("message type %u", h->nlmsg_type);
	}
	return end;
}

/*
 * Reads until the exchange for seq ends. stop_after: when > 0, returns -1
 * once that many messages came and the exchange has not ended (the rest of
 * what was received is checked first: a dump left half-read).
 */
static int exchange(int fd, uint32_t seq, uint8_t cmd, int stop_after)
{
	int got = 0, ended = 0;

	if (pending_seq == seq && pending_done)
		return 0;
	for (;;) {
		ssize_t n = recv(fd, resp, sizeof(resp), MSG_TRUNC);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS)	/* a full receive queue: not the kernel's fault */
				return 0;
			if (errno == EAGAIN)
				bad("no answer to request %u (cmd %u) in 60 s", seq, cmd);
			perror("nlfuzz: recv");
			exit(2);
		}
		if (n > (ssize_t)sizeof(resp))
			bad("message of %zd bytes", n);
		for (h = (struct nlmsghdr *)resp; n > 0; h = NLMSG_NEXT(h, n)) {
			if (!NLMSG_OK(h, n))
				bad("message length %u with %zd bytes left", h->nlmsg_len, n);
			if (check_msg(h, seq, cmd)) {
				if (h->nlmsg_seq == seq)
					ended = 1;
				else if (pending_seq && h->nlmsg_seq == pending_seq)
					pending_done = 1;
			}
			got++;
		}
		if (ended) {
			if (!last_error && cmd <= CBT_CMD_MAX)
				cmd_ok[cmd]++;
			return 0;
		}
		if (stop_after > 0 && got >= stop_after)
			return -1;
	}
}

static int open_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 60 };
	int fd, one = 1;

	fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("nlfuzz: socket");
		exit(2);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* extack on every error, so its messages get checked too */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (chance(50))
		setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return fd;
}

static void send_req(int fd)
{
	if (send(fd, req, nlh()->nlmsg_len, 0) < 0) {
		perror("nlfuzz: send");
		exit(2);
	}
	sent++;
}

static void resolve(int fd)
{
	struct nlmsghdr *h;
	ssize_t n;

	memset(req, 0, sizeof(req));
	nlh()->nlmsg_type = GENL_ID_CTRL;
	nlh()->nlmsg_flags = NLM_F_REQUEST;
	nlh()->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	((struct genlmsghdr *)NLMSG_DATA(nlh()))->cmd = CTRL_CMD_GETFAMILY;
	((struct genlmsghdr *)NLMSG_DATA(nlh()))->version = 1;
	put(CTRL_ATTR_FAMILY_NAME, DM_CBT_GENL_NAME, sizeof(DM_CBT_GENL_NAME));
	if (send(fd, req, nlh()->nlmsg_len, 0) < 0 || (n = recv(fd, resp, sizeof(resp), 0)) < 0) {
		perror("nlfuzz: resolving " DM_CBT_GENL_NAME);
		exit(2);
	}
	for (h = (struct nlmsghdr *)resp; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		struct nlattr *a = (struct nlattr *)((uint8_t *)NLMSG_DATA(h) + GENL_HDRLEN);
		int left = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

		if (h->nlmsg_type != GENL_ID_CTRL)
			continue;
		while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN) {
			if (a->nla_type == CTRL_ATTR_FAMILY_ID)
				memcpy(&family, (uint8_t *)a + NLA_HDRLEN, 2);
			left -= NLA_ALIGN(a->nla_len);
			a = (struct nlattr *)((uint8_t *)a + NLA_ALIGN(a->nla_len));
		}
	}
	if (!family) {
		fprintf(stderr, "nlfuzz: family %s not found\n", DM_CBT_GENL_NAME);
		exit(2);
	}
}

/* One random request on *fd, and its answer; may replace *fd. */
static void one(int *fd, uint32_t seq)
{
	static const uint16_t extra[] = { NLM_F_ROOT, NLM_F_MATCH, NLM_F_ATOMIC, NLM_F_ECHO,
					  NLM_F_EXCL, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_APPEND };
	uint8_t cmd = chance(85) ? 1 + below(CBT_CMD_MAX) : (uint8_t)rnd();
	uint16_t flags = 0;
	int dump, r;

	if (cmd == CBT_CMD_GET_BITMAP || (cmd == CBT_CMD_GET_DEVICE && chance(50)))
		flags |= chance(90) ? NLM_F_DUMP : 0;
	else if (chance(5))
		flags |= NLM_F_DUMP;
	if (chance(10))
		flags |= extra[below(8)];
	dump = (flags & NLM_F_DUMP) == NLM_F_DUMP;
	start(flags, cmd, chance(90) ? DM_CBT_GENL_VERSION : (uint8_t)rnd(), seq);
	if (chance(3)) {
		/* a genl header cut short */
		nlh()->nlmsg_len = NLMSG_HDRLEN + below(GENL_HDRLEN);
	} else {
		put_attrs(cmd);
		if (chance(3) && nlh()->nlmsg_len > NLMSG_LENGTH(GENL_HDRLEN) + NLA_HDRLEN) {
			/* the last attribute claims more than the message holds */
			struct nlattr *a = (struct nlattr *)(req + NLMSG_LENGTH(GENL_HDRLEN));

			a->nla_len += 4 + below(64);
		}
	}
	if (verbose)
		printf("seq %u: cmd %u flags %#x len %u\n", seq, cmd, flags, nlh()->nlmsg_len);
	send_req(*fd);
	if (dump) {
		dumps++;
		if (chance(10)) {
			/* read one message, then drop the socket mid-dump */
			r = exchange(*fd, seq, cmd, 1);
			if (r < 0) {
				interrupted++;
				close(*fd);
				*fd = open_socket();
			}
			return;
		}
		if (chance(10)) {
			/* read one message, ask something else, then finish both */
			r = exchange(*fd, seq, cmd, 1);
			if (r < 0) {
				interleaved++;
				pending_seq = seq;
				pending_cmd = cmd;
				pending_done = 0;
				start(0, CBT_CMD_GET_DEVICE, DM_CBT_GENL_VERSION, seq + 1000000);
				put_selector();
				send_req(*fd);
				exchange(*fd, seq + 1000000, CBT_CMD_GET_DEVICE, 0);
				exchange(*fd, seq, cmd, 0);
				pending_seq = 0;
			}
			return;
		}
	}
	exchange(*fd, seq, cmd, 0);
}

int main(int argc, char **argv)
{
	unsigned long count = 0, seconds = 30;
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	struct stat st;
	char path[300];
	time_t end;
	uint32_t seq;
	int fd, opt, i;

	while ((opt = getopt(argc, argv, "s:t:n:v")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			seconds = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			count = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fprintf(stderr, "Usage: nlfuzz [-s SEED] [-t SECONDS] [-n COUNT] [-v] DEVNAME...\n");
			return 2;
		}
	}
	for (i = optind; i < argc && ndevs < MAX_DEVS; i++) {
		devs[ndevs] = argv[i];
		snprintf(path, sizeof(path), "/dev/mapper/%s", argv[i]);
		if (!stat(path, &st)) {
			devmaj[ndevs] = major(st.st_rdev);
			devmin[ndevs] = minor(st.st_rdev);
		} else {
			devmaj[ndevs] = 253;
			devmin[ndevs] = ndevs;
		}
		ndevs++;
	}
	printf("seed=%llu\n", (unsigned long long)seed);
	fflush(stdout);
	rng = seed;
	fd = open_socket();
	resolve(fd);
	end = time(NULL) + seconds;
	for (seq = 1; count ? sent < count : time(NULL) < end; seq++)
		one(&fd, seq);
	close(fd);
	printf("nlfuzz: %lu requests, %lu dumps (%lu dropped mid-way, %lu interleaved), "
	       "%lu messages back, %lu errors:", sent, dumps, interrupted, interleaved, replies, errors);
	for (i = 1; i < 4096; i++)
		if (errno_seen[i])
			printf(" %s=%lu", strerrorname_np(i) ? strerrorname_np(i) : "?", errno_seen[i]);
	printf("\nnlfuzz: accepted per command:");
	for (i = 1; i <= CBT_CMD_MAX; i++)
		printf(" %d=%lu", i, cmd_ok[i]);
	printf("\nnlfuzz: highest epoch seen %llu; every reply clean\n", (unsigned long long)max_epoch);
	return 0;
}
