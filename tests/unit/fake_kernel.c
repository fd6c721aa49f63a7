// SPDX-License-Identifier: GPL-2.0
/*
 * A simulated dm-cbt kernel behind cbt_nl_open(), so the subcommands run
 * end to end without the module: cbt-fake is the cbt tool linked with this
 * file instead of genl_sock.c. It answers as the uapi header says the
 * module does (and as kmod/dm-cbt-netlink.c does): family lookup, device
 * doit and dump, epoch close/commit/abort (applied: an abort merges into the
 * open epoch), bitmap dumps split over several
 * messages and datagrams, mixing the words and extents encodings.
 *
 * CBT_FAKE selects a scenario:
 *   (unset)     two devices, vg-data (epochs 5 and 6 closed, 7 open) and web
 *   nomodule    the dm_cbt family is missing
 *   nodevs      no cbt device
 *   eperm       every dm_cbt command fails with EPERM, as without CAP_SYS_ADMIN
 *   full        vg-data has 3 closed epochs (5, 6, 7) and 8 open
 *   corrupt     a bitmap chunk of vg-data has unsorted extents
 *   resize      vg-data grows in the middle of a bitmap dump
 *   uuidchange  vg-data's tracking identity changes after the first GET_DEVICE
 *   stale       a bitmap dump ends with ESTALE (an epoch committed meanwhile)
 *   replaced    vg-data's identity began with table-replaced (an LVM reload
 *               with writes while untracked)
 *   v1          the family reports interface version 1 (an older module)
 *   v99         the family reports interface version 99 (a newer module)
 *   nocount     a module from before CBT_CMD_COUNT_BITMAP (not in its ops)
 *               and CBT_A_DEVICE_FLAGS (its CTRL_ATTR_MAXATTR is below it:
 *               the attribute in a request is -EINVAL, as genetlink's
 *               strict validation answers); v1 too
 *   badcount    COUNT_BITMAP replies with more runs than blocks
 * resize and stale apply to COUNT_BITMAP too.
 *
 * CBT_FAKE_LOG=FILE appends a line per state change it accepts ("close
 * vg-data 7", "commit vg-data 5"), so a test sees what a refused command
 * did not do, and one per bitmap read ("dump vg-data 5", "count vg-data
 * 5": the first epoch), so it sees which way the tool read.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/genetlink.h>

#include "kernel/genl.h"
#include "msgbuild.h"
#include "kernel/proto.h"

#define CHUNK_BITS 8192U
#define MAX_DGRAMS 64
#define DGRAM_SIZE 16384

struct fdev {
	struct mb_dev d;
	uint64_t *bits[8];	/* per entry of d.epochs */
};

/* One connection's replies, in the order they are read. */
struct fqueue {
	char *dgrams[MAX_DGRAMS];
	size_t lens[MAX_DGRAMS];
	int head, tail;
	char *cur;		/* datagram being filled */
	size_t cur_len;
	int cur_msgs;
};

/*
 * The simulated kernel: its devices, shared by every connection a process
 * opens at once (cbt epoch opens one per thread), as the module's are.
 * fk_lock serialises the requests (each runs whole, as a doit does) and
 * guards fk and the queue a request answers into (q).
 */
static pthread_mutex_t fk_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake {
	const char *scenario;
	struct fdev devs[2];
	int nr_devs;
	int get_device_calls;
	int conns;		/* connections open */
} fk;
static struct fqueue *q;	/* the connection of the request being answered */

static bool scenario(const char *s)
{
	return !strcmp(fk.scenario, s);
}

static void set_bits(uint64_t *bm, uint64_t start, uint64_t len)
{
	for (uint64_t i = start; i < start + len; i++)
		bm[i / 64] |= 1ULL << (i % 64);
}

static uint64_t weight(const uint64_t *bm, uint64_t nr_blocks)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < (nr_blocks + 63) / 64; i++)
		n += (uint64_t)__builtin_popcountll(bm[i]);
	return n;
}

static void add_epoch(struct fdev *f, uint64_t number, uint32_t state)
{
	int i = f->d.nr_epochs++;

	f->d.epochs[i].number = number;
	f->d.epochs[i].state = state;
	f->bits[i] = calloc((f->d.nr_blocks + 63) / 64 + 1, sizeof(uint64_t));
	if (state == CBT_EPOCH_OPEN)
		f->d.epoch_current = number;
}

static void update_weights(struct fdev *f)
{
	for (int i = 0; i < f->d.nr_epochs; i++)
		f->d.epochs[i].bits = weight(f->bits[i], f->d.nr_blocks);
}

static void setup(void)
{
	struct fdev *v = &fk.devs[0], *w = &fk.devs[1];
	static const uint8_t uuid[16] = { 0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x11, 0xd2,
					  0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, 0xa4, 0x27 };

	/* A process may open and close several times (libcbt handles): start afresh. */
	memset(fk.devs, 0, sizeof(fk.devs));
	fk.get_device_calls = 0;
	fk.scenario = getenv("CBT_FAKE") ? getenv("CBT_FAKE") : "";
	if (scenario("nodevs"))
		return;
	fk.nr_devs = 2;

	v->d.name = "vg-data";
	v->d.major = 253;
	v->d.minor = 3;
	memcpy(v->d.uuid, uuid, 16);
	v->d.persistence = CBT_PERSIST_METADATA;
	v->d.identity_reason = scenario("replaced") ? CBT_IDENTITY_TABLE_REPLACED :
			       CBT_IDENTITY_CONTINUED;
	v->d.block_size = 65536;
	v->d.nr_blocks = 100000;
	v->d.dev_sectors = 100000ULL * 128 - 64;	/* the last block is half a block */
	v->d.bitmap_bytes = 12288;
	add_epoch(v, 5, CBT_EPOCH_CLOSED);
	add_epoch(v, 6, CBT_EPOCH_CLOSED);
	if (scenario("full")) {
		add_epoch(v, 7, CBT_EPOCH_CLOSED);
		add_epoch(v, 8, CBT_EPOCH_OPEN);
	} else {
		add_epoch(v, 7, CBT_EPOCH_OPEN);
	}
	/* epoch 5: a run across the chunk (and message) boundary at 8192, single blocks, the last block */
	set_bits(v->bits[0], 0, 10);
	set_bits(v->bits[0], 8190, 11);
	for (int k = 0; k < 4; k++)
		set_bits(v->bits[0], 16384 + 2 * k, 1);
	set_bits(v->bits[0], 99999, 1);
	/* epoch 6 overlaps epoch 5 at 8195 */
	set_bits(v->bits[1], 8195, 1);
	set_bits(v->bits[1], 20000, 100);
	set_bits(v->bits[2], 50, 1);
	update_weights(v);

	w->d.name = "web";
	w->d.major = 253;
	w->d.minor = 7;
	memset(w->d.uuid, 0xab, 16);
	w->d.persistence = CBT_PERSIST_NONE;
	w->d.identity_reason = CBT_IDENTITY_MEMORY_ONLY;
	w->d.block_size = 4096;
	w->d.nr_blocks = 256;
	w->d.dev_sectors = 2048;
	w->d.bitmap_bytes = 4096;
	add_epoch(w, 1, CBT_EPOCH_OPEN);
	update_weights(w);
}

/* Replies: messages go into datagrams of at most two messages each. */
static void *msg_buf(void)
{
	if (!q->cur)
		q->cur = calloc(1, DGRAM_SIZE);
	return q->cur + q->cur_len;
}

static void flush(void)
{
	if (!q->cur)
		return;
	q->dgrams[q->tail] = q->cur;
	q->lens[q->tail] = q->cur_len;
	q->tail = (q->tail + 1) % MAX_DGRAMS;
	q->cur = NULL;
	q->cur_len = 0;
	q->cur_msgs = 0;
}

static void msg_done(struct nlmsghdr *nlh)
{
	q->cur_len += MNL_ALIGN(nlh->nlmsg_len);
	if (++q->cur_msgs == 2)
		flush();
}

static void reply_error(uint32_t seq, int err, const char *msg, uint32_t miss)
{
	msg_done(mb_error(msg_buf(), seq, err, msg, miss));
	flush();
}

static struct fdev *lookup(const struct nlattr *const *tb, uint32_t seq)
{
	for (int i = 0; i < fk.nr_devs; i++) {
		struct fdev *f = &fk.devs[i];

		if (tb[CBT_A_DEV_NAME] && !tb[CBT_A_DEV_MAJOR] && !tb[CBT_A_DEV_MINOR]) {
			if (!strcmp(mnl_attr_get_str(tb[CBT_A_DEV_NAME]), f->d.name))
				return f;
		} else if (!tb[CBT_A_DEV_NAME] && tb[CBT_A_DEV_MAJOR] && tb[CBT_A_DEV_MINOR]) {
			if (mnl_attr_get_u32(tb[CBT_A_DEV_MAJOR]) == f->d.major &&
			    mnl_attr_get_u32(tb[CBT_A_DEV_MINOR]) == f->d.minor)
				return f;
		} else {
			reply_error(seq, -EINVAL, "Name the device by CBT_A_DEV_NAME, or by both"
				    " CBT_A_DEV_MAJOR and CBT_A_DEV_MINOR", 0);
			return NULL;
		}
	}
	reply_error(seq, -ENODEV, "No cbt device by that name or number", 0);
	return NULL;
}

static int find_epoch(struct fdev *f, uint64_t n)
{
	for (int i = 0; i < f->d.nr_epochs; i++)
		if (f->d.epochs[i].number == n)
			return i;
	return -1;
}

static void put_device(struct fdev *f, uint32_t seq, uint16_t flags, uint32_t dev_flags)
{
	struct nlmsghdr *nlh = mb_genl(msg_buf(), MB_FAMILY, CBT_CMD_GET_DEVICE, seq, flags);
	struct mb_dev d = f->d;

	if (dev_flags & CBT_DEVICE_F_NO_EPOCH_BITS)
		d.omit = CBT_A_EPOCH_BITS;
	mb_put_device(nlh, &d);
	msg_done(nlh);
}

/* The family's CTRL_ATTR_MAXATTR: modules before CBT_A_DEVICE_FLAGS end below it. */
static uint32_t fake_maxattr(void)
{
	return scenario("nocount") || scenario("v1") ? CBT_A_DEVICE_FLAGS - 1 : CBT_A_MAX;
}

static void log_change(const char *what, const struct fdev *f, uint64_t n)
{
	const char *path = getenv("CBT_FAKE_LOG");
	FILE *l = path ? fopen(path, "a") : NULL;

	if (!l)
		return;
	fprintf(l, "%s %s %llu\n", what, f->d.name, (unsigned long long)n);
	fclose(l);
}

static void get_device(const struct nlattr *const *tb, uint32_t seq, bool dump)
{
	uint32_t dev_flags = 0;
	struct fdev *f;

	if (dump) {
		for (int i = 0; i < fk.nr_devs; i++)
			put_device(&fk.devs[i], seq, NLM_F_MULTI, 0);
		msg_done(mb_done(msg_buf(), seq, 0, NULL));
		flush();
		return;
	}
	if (tb[CBT_A_DEVICE_FLAGS]) {
		if (fake_maxattr() < CBT_A_DEVICE_FLAGS) {
			reply_error(seq, -EINVAL, "Unknown attribute type", 0);
			return;
		}
		dev_flags = mnl_attr_get_u32(tb[CBT_A_DEVICE_FLAGS]);
		if (dev_flags & ~(uint32_t)__CBT_DEVICE_F_ALL) {
			reply_error(seq, -EINVAL, "reserved bit set", 0);
			return;
		}
	}
	f = lookup(tb, seq);
	if (!f)
		return;
	if (++fk.get_device_calls == 2 && scenario("uuidchange") && f == &fk.devs[0])
		f->d.uuid[0] ^= 0xff;
	if (dev_flags & CBT_DEVICE_F_NO_EPOCH_BITS)
		log_change("nobits", f, f->d.epoch_current);
	put_device(f, seq, 0, dev_flags);
	reply_error(seq, 0, NULL, 0);
}

static void close_epoch(const struct nlattr *const *tb, uint32_t seq)
{
	struct fdev *f = lookup(tb, seq);
	struct nlmsghdr *nlh;
	int closed = 0;

	if (!f)
		return;
	for (int i = 0; i < f->d.nr_epochs; i++)
		closed += f->d.epochs[i].state == CBT_EPOCH_CLOSED;
	if (closed == DM_CBT_MAX_CLOSED) {
		reply_error(seq, -EBUSY, "Too many closed epochs: commit or abort one first", 0);
		return;
	}
	nlh = mb_genl(msg_buf(), MB_FAMILY, CBT_CMD_CLOSE_EPOCH, seq, 0);
	mnl_attr_put_u64(nlh, CBT_A_EPOCH_NUMBER, f->d.epoch_current);
	msg_done(nlh);
	log_change("close", f, f->d.epoch_current);
	f->d.epochs[find_epoch(f, f->d.epoch_current)].state = CBT_EPOCH_CLOSED;
	add_epoch(f, f->d.epoch_current + 1, CBT_EPOCH_OPEN);
	reply_error(seq, 0, NULL, 0);
}

static void end_epoch(const struct nlattr *const *tb, uint32_t seq, bool commit)
{
	struct fdev *f;
	uint64_t n;
	int i;

	if (!tb[CBT_A_EPOCH_NUMBER]) {
		reply_error(seq, -EINVAL, NULL, CBT_A_EPOCH_NUMBER);
		return;
	}
	f = lookup(tb, seq);
	if (!f)
		return;
	n = mnl_attr_get_u64(tb[CBT_A_EPOCH_NUMBER]);
	i = find_epoch(f, n);
	if (i < 0 || f->d.epochs[i].state != CBT_EPOCH_CLOSED) {
		reply_error(seq, -ENOENT, "No such closed epoch", 0);
		return;
	}
	if (commit && i > 0 && f->d.epochs[i - 1].state == CBT_EPOCH_CLOSED) {
		reply_error(seq, -EINVAL, "An older closed epoch must be committed first", 0);
		return;
	}
	log_change(commit ? "commit" : "abort", f, n);
	/* As the module does: an aborted epoch's blocks go back into the open one. */
	if (!commit) {
		uint64_t *open = f->bits[f->d.nr_epochs - 1];

		for (uint64_t w = 0; w < (f->d.nr_blocks + 63) / 64; w++)
			open[w] |= f->bits[i][w];
	}
	free(f->bits[i]);
	for (; i + 1 < f->d.nr_epochs; i++) {
		f->d.epochs[i] = f->d.epochs[i + 1];
		f->bits[i] = f->bits[i + 1];
	}
	f->bits[i] = NULL;
	f->d.nr_epochs--;
	update_weights(f);
	reply_error(seq, 0, NULL, 0);
}

/* One chunk, as words for even chunks and as extents for odd ones. */
static void put_chunk(struct nlmsghdr *nlh, const uint64_t *bm, uint64_t chunk, uint32_t nbits)
{
	const uint64_t *w = bm + chunk * CHUNK_BITS / 64;
	struct cbt_extent e[CHUNK_BITS / 2];
	size_t n = 0;

	if (chunk % 2 == 0) {
		mb_put_chunk_words(nlh, chunk * CHUNK_BITS, nbits, w, (nbits + 63) / 64);
		return;
	}
	for (uint32_t i = 0; i < nbits;) {
		uint32_t j = i;

		if (!(w[i / 64] >> (i % 64) & 1)) {
			i++;
			continue;
		}
		while (j < nbits && (w[j / 64] >> (j % 64) & 1))
			j++;
		e[n].start = i;
		e[n].len = j - i;
		n++;
		i = j;
	}
	if (scenario("corrupt") && n) {
		e[n] = e[0];	/* a repeat of the first extent: out of order */
		n++;
	}
	mb_put_chunk_extents(nlh, chunk * CHUNK_BITS, nbits, e, n);
}

/*
 * The union of the epochs a GET_BITMAP or COUNT_BITMAP request names, as
 * words (free()); NULL after replying with the error.
 */
static uint64_t *union_bits(struct fdev *f, const struct nlattr *const *tb, uint32_t seq,
			    uint64_t *firstp)
{
	uint64_t first, last, nr_blocks = f->d.nr_blocks, *u;

	if (tb[CBT_A_EPOCH_NUMBER] && !tb[CBT_A_EPOCH_FIRST] && !tb[CBT_A_EPOCH_LAST]) {
		first = last = mnl_attr_get_u64(tb[CBT_A_EPOCH_NUMBER]);
	} else if (!tb[CBT_A_EPOCH_NUMBER] && tb[CBT_A_EPOCH_FIRST] && tb[CBT_A_EPOCH_LAST]) {
		first = mnl_attr_get_u64(tb[CBT_A_EPOCH_FIRST]);
		last = mnl_attr_get_u64(tb[CBT_A_EPOCH_LAST]);
	} else {
		reply_error(seq, -EINVAL, "Give CBT_A_EPOCH_NUMBER, or CBT_A_EPOCH_FIRST and CBT_A_EPOCH_LAST", 0);
		return NULL;
	}
	for (uint64_t n = first; n <= last; n++) {
		if (find_epoch(f, n) < 0) {
			reply_error(seq, -ENOENT, "Epoch not held: committed, aborted or not yet begun", 0);
			return NULL;
		}
	}
	u = calloc((nr_blocks + 63) / 64 + 1, sizeof(*u));
	for (uint64_t n = first; n <= last; n++) {
		const uint64_t *b = f->bits[find_epoch(f, n)];

		for (uint64_t i = 0; i < (nr_blocks + 63) / 64; i++)
			u[i] |= b[i];
	}
	log_change(tb[CBT_A_BITMAP_FLAGS] ? "dump" : "count", f, first);
	*firstp = first;
	return u;
}

/* COUNT_BITMAP, bit by bit: a model the tool's own counting is checked against. */
static void count_bitmap(const struct nlattr *const *tb, uint32_t seq)
{
	uint64_t first, blocks = 0, runs = 0, end = 0, *u;
	struct fdev *f = lookup(tb, seq);
	struct nlmsghdr *nlh;

	if (!f || !(u = union_bits(f, tb, seq, &first)))
		return;
	if (scenario("stale")) {
		reply_error(seq, -ESTALE,
			    "An epoch of the range was committed or aborted while it was counted", 0);
		free(u);
		return;
	}
	for (uint64_t b = 0; b < f->d.nr_blocks; b++) {
		if (!(u[b / 64] >> (b % 64) & 1))
			continue;
		blocks++;
		runs += !b || !(u[(b - 1) / 64] >> ((b - 1) % 64) & 1);
		end = b + 1;
	}
	free(u);
	if (scenario("uuidchange"))	/* changed since the tool's GET_DEVICE */
		f->d.uuid[0] ^= 0xff;
	nlh = mb_genl(msg_buf(), MB_FAMILY, CBT_CMD_COUNT_BITMAP, seq, 0);
	mnl_attr_put_u64(nlh, CBT_A_EPOCH_NUMBER, first);
	mnl_attr_put(nlh, CBT_A_UUID, sizeof(f->d.uuid), f->d.uuid);
	mnl_attr_put_u64(nlh, CBT_A_DEV_SECTORS, f->d.dev_sectors);
	mnl_attr_put_u64(nlh, CBT_A_NR_BLOCKS, f->d.nr_blocks + scenario("resize"));
	mnl_attr_put_u64(nlh, CBT_A_COUNT_BLOCKS, blocks);
	mnl_attr_put_u64(nlh, CBT_A_COUNT_RUNS, runs + scenario("badcount") * (blocks + 1));
	mnl_attr_put_u64(nlh, CBT_A_COUNT_END, end);
	msg_done(nlh);
	reply_error(seq, 0, NULL, 0);
}

static void get_bitmap(const struct nlattr *const *tb, uint32_t seq)
{
	uint64_t first, nr_blocks, *u;
	struct nlmsghdr *nlh = NULL;
	struct fdev *f = lookup(tb, seq);
	int in_msg = 0, msgs = 0;

	if (!f || !(u = union_bits(f, tb, seq, &first)))
		return;
	nr_blocks = f->d.nr_blocks;
	/* 1 chunk in the first message, then 2 per message, then one with no chunk */
	for (uint64_t c = 0; c < (nr_blocks + CHUNK_BITS - 1) / CHUNK_BITS; c++) {
		uint32_t nbits = (uint32_t)(nr_blocks - c * CHUNK_BITS < CHUNK_BITS ?
					    nr_blocks - c * CHUNK_BITS : CHUNK_BITS);
		bool any = false;

		for (uint32_t i = 0; i < (nbits + 63) / 64; i++)
			any |= u[c * CHUNK_BITS / 64 + i] != 0;
		if (!any)
			continue;
		if (!nlh) {
			nlh = mb_genl(msg_buf(), MB_FAMILY, CBT_CMD_GET_BITMAP, seq, NLM_F_MULTI);
			mb_put_bitmap_hdr(nlh, first, f->d.block_size,
					  nr_blocks + (scenario("resize") && msgs == 1));
		}
		put_chunk(nlh, u, c, nbits);
		if (++in_msg == (msgs ? 2 : 1)) {
			msg_done(nlh);
			nlh = NULL;
			in_msg = 0;
			msgs++;
		}
	}
	if (nlh)
		msg_done(nlh);
	nlh = mb_genl(msg_buf(), MB_FAMILY, CBT_CMD_GET_BITMAP, seq, NLM_F_MULTI);
	mb_put_bitmap_hdr(nlh, first, f->d.block_size, nr_blocks);
	msg_done(nlh);
	msg_done(mb_done(msg_buf(), seq, scenario("stale") ? -ESTALE : 0, NULL));
	flush();
	free(u);
}

static void get_family(const struct nlmsghdr *req)
{
	struct nlattr *ops;
	struct nlmsghdr *nlh;

	if (scenario("nomodule")) {
		reply_error(req->nlmsg_seq, -ENOENT, NULL, 0);
		return;
	}
	nlh = mb_genl(msg_buf(), GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, req->nlmsg_seq, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, DM_CBT_GENL_NAME);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, MB_FAMILY);
	mnl_attr_put_u32(nlh, CTRL_ATTR_VERSION, scenario("v1") ? 1 : scenario("v99") ? 99 :
			 DM_CBT_GENL_VERSION);
	mnl_attr_put_u32(nlh, CTRL_ATTR_MAXATTR, fake_maxattr());
	/* The commands it answers; before COUNT_BITMAP (nocount, v1) without it. */
	ops = mnl_attr_nest_start(nlh, CTRL_ATTR_OPS);
	for (uint32_t cmd = CBT_CMD_GET_DEVICE; cmd <= CBT_CMD_COUNT_BITMAP; cmd++) {
		struct nlattr *op;

		if (cmd == CBT_CMD_EVENT || cmd == CBT_CMD_SNAPSHOT || cmd == CBT_CMD_SNAP_RELEASE ||
		    (cmd == CBT_CMD_COUNT_BITMAP && (scenario("nocount") || scenario("v1"))))
			continue;
		op = mnl_attr_nest_start(nlh, cmd);
		mnl_attr_put_u32(nlh, CTRL_ATTR_OP_ID, cmd);
		mnl_attr_put_u32(nlh, CTRL_ATTR_OP_FLAGS, 0);
		mnl_attr_nest_end(nlh, op);
	}
	mnl_attr_nest_end(nlh, ops);
	msg_done(nlh);
	reply_error(req->nlmsg_seq, 0, NULL, 0);
}

/* One request, under fk_lock, answered into q. */
static int handle(const void *buf, size_t len)
{
	const struct nlmsghdr *req = buf;
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(req);
	const struct nlattr *tb[CBT_A_MAX + 1];
	const void *attrs;
	size_t alen;
	bool dump = req->nlmsg_flags & NLM_F_DUMP;

	if (len != req->nlmsg_len || req->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*g))
		return -EINVAL;
	if (req->nlmsg_type == GENL_ID_CTRL) {
		get_family(req);
		return 0;
	}
	if (req->nlmsg_type != MB_FAMILY || g->version != DM_CBT_GENL_VERSION)
		return -EINVAL;
	if (scenario("eperm")) {
		reply_error(req->nlmsg_seq, -EPERM, NULL, 0);
		return 0;
	}
	if (cbt_genl_payload(req, &attrs, &alen) ||
	    cbt_attr_index(attrs, alen, tb, CBT_A_MAX, 0)) {
		reply_error(req->nlmsg_seq, -EINVAL, "Malformed request", 0);
		return 0;
	}
	switch (g->cmd) {
	case CBT_CMD_GET_DEVICE: get_device(tb, req->nlmsg_seq, dump); break;
	case CBT_CMD_CLOSE_EPOCH: close_epoch(tb, req->nlmsg_seq); break;
	case CBT_CMD_COMMIT_EPOCH: end_epoch(tb, req->nlmsg_seq, true); break;
	case CBT_CMD_ABORT_EPOCH: end_epoch(tb, req->nlmsg_seq, false); break;
	case CBT_CMD_GET_BITMAP:
		if (!dump)
			reply_error(req->nlmsg_seq, -EOPNOTSUPP, NULL, 0);
		else
			get_bitmap(tb, req->nlmsg_seq);
		break;
	case CBT_CMD_COUNT_BITMAP:
		if (dump || scenario("nocount") || scenario("v1"))
			reply_error(req->nlmsg_seq, -EOPNOTSUPP, NULL, 0);
		else
			count_bitmap(tb, req->nlmsg_seq);
		break;
	default:
		reply_error(req->nlmsg_seq, -EOPNOTSUPP, NULL, 0);
	}
	return 0;
}

static int fake_send(void *priv, const void *buf, size_t len)
{
	int r;

	pthread_mutex_lock(&fk_lock);
	q = priv;
	r = handle(buf, len);
	q = NULL;
	pthread_mutex_unlock(&fk_lock);
	return r;
}

/* Only its own connection reads a queue. */
static ssize_t fake_recv(void *priv, void *buf, size_t len)
{
	struct fqueue *c = priv;
	size_t n;

	if (c->head == c->tail)
		return -EAGAIN;	/* the tool waits for a reply that never comes: a bug */
	n = c->lens[c->head];
	if (n > len)
		return -ENOSPC;
	memcpy(buf, c->dgrams[c->head], n);
	free(c->dgrams[c->head]);
	c->head = (c->head + 1) % MAX_DGRAMS;
	return (ssize_t)n;
}

static void fake_close(void *priv)
{
	struct fqueue *c = priv;

	while (c->head != c->tail) {
		free(c->dgrams[c->head]);
		c->head = (c->head + 1) % MAX_DGRAMS;
	}
	free(c->cur);
	free(c);
	pthread_mutex_lock(&fk_lock);
	if (!--fk.conns) {
		for (int i = 0; i < fk.nr_devs; i++)
			for (int j = 0; j < fk.devs[i].d.nr_epochs; j++)
				free(fk.devs[i].bits[j]);
		fk.nr_devs = 0;
	}
	pthread_mutex_unlock(&fk_lock);
}

int cbt_nl_open(struct cbt_nl **nlp)
{
	struct cbt_nl_transport tr = { fake_send, fake_recv, fake_close, NULL, 0 };
	struct fqueue *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	tr.priv = c;
	pthread_mutex_lock(&fk_lock);
	/* The devices start afresh when no connection holds them. */
	if (!fk.conns++)
		setup();
	pthread_mutex_unlock(&fk_lock);
	/* On failure it closes the transport (fake_close()) itself. */
	return cbt_nl_init(nlp, &tr);
}
