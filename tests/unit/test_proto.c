// SPDX-License-Identifier: GPL-2.0
/*
 * proto.c: parsing hand-built GET_DEVICE replies and GET_BITMAP dump
 * messages; the epoch and bitmap requests it builds.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "msgbuild.h"
#include "kernel/proto.h"
#include "unit.h"
#include "util/util.h"

static char buf[65536] __attribute__((aligned(8)));

static const struct mb_dev good = {
	.name = "vg-data",
	.major = 253,
	.minor = 3,
	.uuid = { 0x1b, 0x4e, 0x28, 0xba, 0x2f, 0xa1, 0x11, 0xd2,
		  0x88, 0x3f, 0x00, 0x16, 0xd3, 0xcc, 0xa4, 0x27 },
	.persistence = CBT_PERSIST_METADATA,
	.block_size = 65536,
	.nr_blocks = 1600,
	.dev_sectors = 1600 * 128 - 64,	/* the last block is half a block */
	.bitmap_bytes = 12288,
	.epoch_current = 7,
	.metadata_errors = 2,
	.last_committed = 5,
	.identity_reason = CBT_IDENTITY_TABLE_REPLACED,
	/* not in order on the wire: the parser sorts them */
	.epochs = { { 7, CBT_EPOCH_OPEN, 3 }, { 5, CBT_EPOCH_CLOSED, 1600 }, { 6, CBT_EPOCH_CLOSED, 0 } },
	.nr_epochs = 3,
};

static struct nlmsghdr *device_msg(const struct mb_dev *d)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_GET_DEVICE, 1, 0);

	mb_put_device(nlh, d);
	return nlh;
}

static void device_reply(void)
{
	struct cbt_dev_info info;
	char u[CBT_UUID_STR_LEN];

	CHECK_EQ(cbt_parse_device(device_msg(&good), &info), 0);
	CHECK_STR(info.name, "vg-data");
	CHECK_EQ(info.major, 253);
	CHECK_EQ(info.minor, 3);
	CHECK_STR(cbt_uuid_str(info.uuid, u), "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
	CHECK_EQ(info.persistence, CBT_PERSIST_METADATA);
	CHECK_STR(cbt_persistence_name(info.persistence), "metadata");
	CHECK_EQ(info.block_size, 65536);
	CHECK_EQ(info.nr_blocks, 1600);
	CHECK_EQ(info.dev_sectors, 1600 * 128 - 64);
	CHECK_EQ(cbt_dev_bytes(&info), 1600ULL * 65536 - 32768);
	CHECK_EQ(info.bitmap_bytes, 12288);
	CHECK_EQ(info.epoch_current, 7);
	CHECK_EQ(info.metadata_errors, 2);
	CHECK_EQ(info.last_committed, 5);
	CHECK_EQ(info.identity_reason, CBT_IDENTITY_TABLE_REPLACED);
	CHECK_STR(cbt_identity_reason_name(info.identity_reason), "table-replaced");
	CHECK_EQ(info.nr_epochs, 3);
	CHECK_EQ(info.epochs[0].number, 5);
	CHECK_EQ(info.epochs[0].state, CBT_EPOCH_CLOSED);
	CHECK_EQ(info.epochs[0].bits, 1600);
	CHECK_EQ(info.epochs[1].number, 6);
	CHECK_EQ(info.epochs[2].number, 7);
	CHECK_EQ(info.epochs[2].state, CBT_EPOCH_OPEN);
	CHECK_EQ(info.epochs[2].bits, 3);
	CHECK(cbt_dev_epoch(&info, 6) == &info.epochs[1]);
	CHECK(!cbt_dev_epoch(&info, 4));
	/* every block changed is the whole device, not 1600 full blocks */
	CHECK_EQ(cbt_blocks_bytes(&info, 1600), cbt_dev_bytes(&info));
	CHECK_EQ(cbt_blocks_bytes(&info, 3), 3 * 65536);
	cbt_dev_info_free(&info);
}

static void device_reply_ignores_unknown_attributes(void)
{
	struct nlmsghdr *nlh = device_msg(&good);
	struct cbt_dev_info info;

	mnl_attr_put_u32(nlh, CBT_A_MAX + 7, 42);	/* from a newer kernel */
	CHECK_EQ(cbt_parse_device(nlh, &info), 0);
	cbt_dev_info_free(&info);
}

static void device_reply_missing_each_attribute(void)
{
	static const unsigned int required[] = {
		CBT_A_DEV_NAME, CBT_A_DEV_MAJOR, CBT_A_DEV_MINOR, CBT_A_UUID, CBT_A_PERSISTENCE,
		CBT_A_BLOCK_SIZE, CBT_A_NR_BLOCKS, CBT_A_DEV_SECTORS, CBT_A_BITMAP_BYTES,
		CBT_A_EPOCH_CURRENT, CBT_A_METADATA_ERRORS, CBT_A_LAST_COMMITTED, CBT_A_EPOCHS,
	};
	struct cbt_dev_info info;
	char name[32], want[64];

	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		struct mb_dev d = good;

		d.omit = required[i];
		snprintf(want, sizeof(want), "bad reply from dm-cbt: %s missing",
			 cbt_attr_name(required[i], name));
		cbt_err_clear();
		CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, want);
		CHECK(!info.epochs);
	}
}

/* A module older than netlink version 2 does not say why its identity began. */
static void device_reply_without_identity_reason(void)
{
	struct mb_dev d = good;
	struct cbt_dev_info info;

	d.omit = CBT_A_IDENTITY_REASON;
	CHECK_EQ(cbt_parse_device(device_msg(&d), &info), 0);
	CHECK_EQ(info.identity_reason, CBT_IDENTITY_UNKNOWN);
	CHECK_STR(cbt_identity_reason_name(info.identity_reason), "unknown");
	cbt_dev_info_free(&info);
	/* a reason this tool does not know yet */
	d = good;
	d.identity_reason = __CBT_IDENTITY_MAX + 3;
	CHECK_EQ(cbt_parse_device(device_msg(&d), &info), 0);
	CHECK_STR(cbt_identity_reason_name(info.identity_reason), "unknown");
	cbt_dev_info_free(&info);
	CHECK_STR(cbt_identity_reason_name(CBT_IDENTITY_UNTRACKED_BOOT), "untracked-boot");
	CHECK_STR(cbt_identity_reason_name(CBT_IDENTITY_CONTINUED), "continued");
}

static void device_reply_wrong_lengths(void)
{
	struct nlmsghdr *nlh;
	struct cbt_dev_info info;
	struct mb_dev d = good;

	d.omit = CBT_A_NR_BLOCKS;
	nlh = device_msg(&d);
	mnl_attr_put_u32(nlh, CBT_A_NR_BLOCKS, 1600);	/* a u32 where a u64 belongs */
	CHECK_ERR(cbt_parse_device(nlh, &info), -EPROTO, "CBT_A_NR_BLOCKS is 4 bytes, 8 expected");

	d = good;
	d.omit = CBT_A_UUID;
	nlh = device_msg(&d);
	mnl_attr_put(nlh, CBT_A_UUID, 15, good.uuid);
	CHECK_ERR(cbt_parse_device(nlh, &info), -EPROTO, "CBT_A_UUID is 15 bytes, 16 expected");

	d = good;
	d.omit = CBT_A_DEV_NAME;
	nlh = device_msg(&d);
	mnl_attr_put(nlh, CBT_A_DEV_NAME, 3, "abc");	/* no NUL */
	CHECK_ERR(cbt_parse_device(nlh, &info), -EPROTO, "CBT_A_DEV_NAME is not a NUL-terminated");
}

static void device_reply_duplicate_attribute(void)
{
	struct nlmsghdr *nlh = device_msg(&good);
	struct cbt_dev_info info;

	mnl_attr_put_u32(nlh, CBT_A_BLOCK_SIZE, 4096);
	CHECK_ERR(cbt_parse_device(nlh, &info), -EPROTO, "CBT_A_BLOCK_SIZE given twice");
}

static void device_reply_truncated(void)
{
	struct nlmsghdr *nlh = device_msg(&good);
	struct cbt_dev_info info;

	nlh->nlmsg_len -= 6;	/* cut into the last attribute */
	CHECK_ERR(cbt_parse_device(nlh, &info), -EPROTO, "not a whole attribute");
	nlh->nlmsg_len = 10;	/* not even a genetlink header */
	CHECK_ERR(cbt_parse_device(nlh, &info), -EPROTO, "no generic netlink header");
}

static void device_reply_inconsistent(void)
{
	struct cbt_dev_info info;
	struct mb_dev d;

	d = good;
	d.block_size = 65536 + 4096;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "block size 69632 is not a power of two");
	d = good;
	d.block_size = 2048;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "block size 2048");
	d = good;
	d.nr_blocks = 1599;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "1599 blocks of 65536 bytes do not cover");
	d = good;
	d.dev_sectors = UINT64_MAX / 256;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "too large");
	d = good;
	d.epochs[1].bits = 1601;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "epoch 5 has 1601 blocks set of 1600");
	d = good;
	d.epochs[2].number = 5;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "epoch 5 listed twice");
	d = good;
	d.epochs[0].state = CBT_EPOCH_CLOSED;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "epoch 7 is closed but the current epoch is 7");
	d = good;
	d.epochs[1].state = CBT_EPOCH_OPEN;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "epoch 5 is open but the current epoch is 7");
	d = good;
	d.epochs[1].state = 9;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "epoch 5 has unknown state 9");
	d = good;
	d.epochs[1].number = 8;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "current epoch 7 is not the newest");
	d = good;
	d.nr_epochs = 0;
	CHECK_ERR(cbt_parse_device(device_msg(&d), &info), -EPROTO, "current epoch 7 is not the newest");
}

static void epoch_nest_missing_field(void)
{
	struct nlmsghdr *nlh;
	struct nlattr *ep, *e;
	struct cbt_dev_info info;
	struct mb_dev d = good;

	d.omit = CBT_A_EPOCHS;
	nlh = device_msg(&d);
	ep = mnl_attr_nest_start(nlh, CBT_A_EPOCHS);
	e = mnl_attr_nest_start(nlh, CBT_A_EPOCH);
	mnl_attr_put_u64(nlh, CBT_A_EPOCH_NUMBER, 7);
	mnl_attr_put_u32(nlh, CBT_A_EPOCH_STATE, CBT_EPOCH_OPEN);
	mnl_attr_nest_end(nlh, e);
	mnl_attr_nest_end(nlh, ep);
	CHECK_ERR(cbt_parse_device(nlh, &info), -EPROTO, "epoch nest 0: CBT_A_EPOCH_BITS missing");
}

static void epoch_reply(void)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_CLOSE_EPOCH, 1, 0);
	uint64_t n = 0;

	CHECK_ERR(cbt_parse_epoch_reply(nlh, &n), -EPROTO, "CBT_A_EPOCH_NUMBER missing");
	mnl_attr_put_u64(nlh, CBT_A_EPOCH_NUMBER, 41);
	CHECK_EQ(cbt_parse_epoch_reply(nlh, &n), 0);
	CHECK_EQ(n, 41);
}

/* An event as cbt_notify() sends it, without the attribute @omit (0: none). */
static struct nlmsghdr *event_msg(uint32_t event, uint64_t epoch, unsigned int omit)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_EVENT, 0, 0);

	if (omit != CBT_A_DEV_NAME)
		mnl_attr_put_strz(nlh, CBT_A_DEV_NAME, good.name);
	if (omit != CBT_A_DEV_MAJOR)
		mnl_attr_put_u32(nlh, CBT_A_DEV_MAJOR, good.major);
	if (omit != CBT_A_DEV_MINOR)
		mnl_attr_put_u32(nlh, CBT_A_DEV_MINOR, good.minor);
	if (omit != CBT_A_UUID)
		mnl_attr_put(nlh, CBT_A_UUID, sizeof(good.uuid), good.uuid);
	if (omit != CBT_A_EVENT)
		mnl_attr_put_u32(nlh, CBT_A_EVENT, event);
	if (event == CBT_EVENT_TRACKING_LOST)
		mnl_attr_put_u32(nlh, CBT_A_IDENTITY_REASON, CBT_IDENTITY_DAMAGED);
	if (epoch)
		mnl_attr_put_u64(nlh, CBT_A_EPOCH_NUMBER, epoch);
	return nlh;
}

static void event_messages(void)
{
	static const unsigned int required[] = { CBT_A_DEV_NAME, CBT_A_DEV_MAJOR, CBT_A_DEV_MINOR,
						 CBT_A_UUID, CBT_A_EVENT };
	struct cbt_event_msg ev;
	struct nlmsghdr *nlh;

	CHECK_EQ(cbt_parse_event(event_msg(CBT_EVENT_EPOCH_CLOSED, 6, 0), &ev), 0);
	CHECK_EQ(ev.event, CBT_EVENT_EPOCH_CLOSED);
	CHECK_STR(ev.name, "vg-data");
	CHECK_EQ(ev.major, 253);
	CHECK_EQ(ev.minor, 3);
	CHECK(!memcmp(ev.uuid, good.uuid, 16));
	CHECK(ev.has_epoch);
	CHECK_EQ(ev.epoch, 6);
	CHECK_EQ(ev.reason, CBT_IDENTITY_UNKNOWN);

	CHECK_EQ(cbt_parse_event(event_msg(CBT_EVENT_TRACKING_LOST, 0, 0), &ev), 0);
	CHECK(!ev.has_epoch);
	CHECK_EQ(ev.reason, CBT_IDENTITY_DAMAGED);

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		char name[32], want[64];

		snprintf(want, sizeof(want), "event: %s missing",
			 cbt_attr_name(required[i], name));
		CHECK_ERR(cbt_parse_event(event_msg(CBT_EVENT_COW_LOW, 2, required[i]), &ev),
			  -EPROTO, want);
	}

	/* a UUID of another length, an epoch that is not a u64, a name without its NUL */
	nlh = event_msg(CBT_EVENT_COW_LOW, 0, CBT_A_UUID);
	mnl_attr_put(nlh, CBT_A_UUID, 8, good.uuid);
	CHECK_ERR(cbt_parse_event(nlh, &ev), -EPROTO,
		  "bad reply from dm-cbt: event: CBT_A_UUID is 8 bytes, 16 expected");
	nlh = event_msg(CBT_EVENT_COW_LOW, 0, 0);
	mnl_attr_put_u32(nlh, CBT_A_EPOCH_NUMBER, 2);
	CHECK_ERR(cbt_parse_event(nlh, &ev), -EPROTO, "CBT_A_EPOCH_NUMBER is 4 bytes");
	nlh = event_msg(CBT_EVENT_COW_LOW, 0, CBT_A_DEV_NAME);
	mnl_attr_put(nlh, CBT_A_DEV_NAME, 3, "abc");
	CHECK_ERR(cbt_parse_event(nlh, &ev), -EPROTO, "CBT_A_DEV_NAME is not a NUL-terminated");
}

static struct nlmsghdr *bitmap_msg(uint64_t epoch, uint32_t bs, uint64_t nr_blocks)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_GET_BITMAP, 1, NLM_F_MULTI);

	mb_put_bitmap_hdr(nlh, epoch, bs, nr_blocks);
	return nlh;
}

/* Chunks split over three messages, in both encodings, come out as one coalesced list. */
static void bitmap_messages(void)
{
	struct cbt_bitmap_reader r;
	struct nlmsghdr *nlh;
	uint64_t w1[2] = { 0, 1ULL << 63 }, w2[1] = { 1 | 1ULL << 5 };
	struct cbt_extent e1[] = { { 0, 64 } };

	cbt_bitmap_reader_init(&r, 5, 4096, 1000);
	nlh = bitmap_msg(5, 4096, 1000);
	mb_put_chunk_words(nlh, 0, 128, w1, 2);		/* block 127 */
	CHECK_EQ(cbt_bitmap_parse_msg(&r, nlh), 0);
	nlh = bitmap_msg(5, 4096, 1000);
	mb_put_chunk_extents(nlh, 128, 64, e1, 1);	/* 128..191 */
	mb_put_chunk_words(nlh, 192, 40, w2, 1);	/* 192, 197 */
	CHECK_EQ(cbt_bitmap_parse_msg(&r, nlh), 0);
	nlh = bitmap_msg(5, 4096, 1000);		/* no chunks at all */
	CHECK_EQ(cbt_bitmap_parse_msg(&r, nlh), 0);
	CHECK_EQ(r.msgs, 3);
	CHECK_EQ(r.chunks, 3);
	CHECK_EQ(r.ext.nr, 2);
	CHECK_EQ(r.ext.v[0].start, 127);
	CHECK_EQ(r.ext.v[0].len, 66);
	CHECK_EQ(r.ext.v[1].start, 197);
	CHECK_EQ(r.ext.v[1].len, 1);
	cbt_bitmap_reader_free(&r);
}

static void bitmap_chunk_order_across_messages(void)
{
	struct cbt_bitmap_reader r;
	struct nlmsghdr *nlh;
	uint64_t w[1] = { 1 };

	cbt_bitmap_reader_init(&r, 5, 4096, 1000);
	nlh = bitmap_msg(5, 4096, 1000);
	mb_put_chunk_words(nlh, 64, 64, w, 1);
	CHECK_EQ(cbt_bitmap_parse_msg(&r, nlh), 0);
	nlh = bitmap_msg(5, 4096, 1000);
	mb_put_chunk_words(nlh, 0, 64, w, 1);
	CHECK_ERR(cbt_bitmap_parse_msg(&r, nlh), -EPROTO,
		  "bad reply from dm-cbt: chunk at block 0 is out of order");
	cbt_bitmap_reader_free(&r);
}

static void bitmap_bad_headers(void)
{
	struct cbt_bitmap_reader r;
	struct nlmsghdr *nlh;

	cbt_bitmap_reader_init(&r, 5, 4096, 1000);
	CHECK_ERR(cbt_bitmap_parse_msg(&r, bitmap_msg(6, 4096, 1000)), -EPROTO,
		  "bitmap of epoch 6 where 5 was asked for");
	CHECK_ERR(cbt_bitmap_parse_msg(&r, bitmap_msg(5, 4096, 1001)), -EAGAIN,
		  "the device changed while its bitmap was read");
	CHECK_ERR(cbt_bitmap_parse_msg(&r, bitmap_msg(5, 8192, 1000)), -EAGAIN, "changed");
	nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_GET_BITMAP, 1, NLM_F_MULTI);
	mnl_attr_put_u64(nlh, CBT_A_EPOCH_NUMBER, 5);
	CHECK_ERR(cbt_bitmap_parse_msg(&r, nlh), -EPROTO, "CBT_A_BLOCK_SIZE missing");
	cbt_bitmap_reader_free(&r);
}

static void bitmap_bad_chunk_nest(void)
{
	struct cbt_bitmap_reader r;
	struct nlmsghdr *nlh;
	struct nlattr *c;

	cbt_bitmap_reader_init(&r, 5, 4096, 1000);
	nlh = bitmap_msg(5, 4096, 1000);
	c = mnl_attr_nest_start(nlh, CBT_A_CHUNK);
	mnl_attr_put_u32(nlh, CBT_A_CHUNK_BLOCKS, 64);
	mnl_attr_nest_end(nlh, c);
	CHECK_ERR(cbt_bitmap_parse_msg(&r, nlh), -EPROTO,
		  "bad reply from dm-cbt: chunk 0 of the dump: CBT_A_CHUNK_START missing");

	nlh = bitmap_msg(5, 4096, 1000);
	c = mnl_attr_nest_start(nlh, CBT_A_CHUNK);
	mnl_attr_put_u64(nlh, CBT_A_CHUNK_START, 0);
	mnl_attr_put_u32(nlh, CBT_A_CHUNK_BLOCKS, 64);
	mnl_attr_put(nlh, CBT_A_CHUNK_WORDS, 8, "\1\0\0\0\0\0\0\0");
	mnl_attr_put(nlh, CBT_A_CHUNK_WORDS, 8, "\1\0\0\0\0\0\0\0");
	mnl_attr_nest_end(nlh, c);
	CHECK_ERR(cbt_bitmap_parse_msg(&r, nlh), -EPROTO, "CBT_A_CHUNK_WORDS given twice");
	CHECK_EQ(r.ext.nr, 0);
	cbt_bitmap_reader_free(&r);
}

/* The requests proto.c builds: exactly the attributes the kernel reads. */
static void epoch_and_bitmap_requests(void)
{
	const struct cbt_devsel sel = { .name = "vg-data" };
	const struct nlattr *tb[CBT_A_MAX + 1];
	struct nlmsghdr *nlh;
	const void *p;
	size_t len;

	nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_COMMIT_EPOCH, 1, 0);
	cbt_put_epoch_req(nlh, &sel, 12);
	CHECK_EQ(cbt_genl_payload(nlh, &p, &len), 0);
	CHECK_EQ(cbt_attr_index(p, len, tb, CBT_A_MAX, 0), 0);
	CHECK_STR(mnl_attr_get_str(tb[CBT_A_DEV_NAME]), "vg-data");
	CHECK_EQ(mnl_attr_get_u64(tb[CBT_A_EPOCH_NUMBER]), 12);
	CHECK(!tb[CBT_A_EPOCH_FIRST] && !tb[CBT_A_BITMAP_FLAGS]);

	/* one epoch: by number */
	nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_GET_BITMAP, 1, 0);
	cbt_put_bitmap_req(nlh, &sel, 7, 7);
	CHECK_EQ(cbt_genl_payload(nlh, &p, &len), 0);
	CHECK_EQ(cbt_attr_index(p, len, tb, CBT_A_MAX, 0), 0);
	CHECK_EQ(mnl_attr_get_u64(tb[CBT_A_EPOCH_NUMBER]), 7);
	CHECK(!tb[CBT_A_EPOCH_FIRST] && !tb[CBT_A_EPOCH_LAST]);
	CHECK_EQ(mnl_attr_get_u32(tb[CBT_A_BITMAP_FLAGS]), CBT_BITMAP_F_EXTENTS);

	/* a range: first and last, no number */
	nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_GET_BITMAP, 1, 0);
	cbt_put_bitmap_req(nlh, &sel, 5, 7);
	CHECK_EQ(cbt_genl_payload(nlh, &p, &len), 0);
	CHECK_EQ(cbt_attr_index(p, len, tb, CBT_A_MAX, 0), 0);
	CHECK(!tb[CBT_A_EPOCH_NUMBER]);
	CHECK_EQ(mnl_attr_get_u64(tb[CBT_A_EPOCH_FIRST]), 5);
	CHECK_EQ(mnl_attr_get_u64(tb[CBT_A_EPOCH_LAST]), 7);
	CHECK_EQ(mnl_attr_get_u32(tb[CBT_A_BITMAP_FLAGS]), CBT_BITMAP_F_EXTENTS);
}

static void attr_names(void)
{
	char b[32], want[32];

	CHECK_STR(cbt_attr_name(CBT_A_CHUNK_WORDS, b), "CBT_A_CHUNK_WORDS");
	snprintf(want, sizeof(want), "attribute %d", CBT_A_MAX + 1);
	CHECK_STR(cbt_attr_name(CBT_A_MAX + 1, b), want);
	CHECK_STR(cbt_attr_name(0, b), "attribute 0");
}

UT_MAIN("proto",
	UT_CASE(device_reply),
	UT_CASE(device_reply_ignores_unknown_attributes),
	UT_CASE(device_reply_missing_each_attribute),
	UT_CASE(device_reply_without_identity_reason),
	UT_CASE(device_reply_wrong_lengths),
	UT_CASE(device_reply_duplicate_attribute),
	UT_CASE(device_reply_truncated),
	UT_CASE(device_reply_inconsistent),
	UT_CASE(epoch_nest_missing_field),
	UT_CASE(epoch_reply),
	UT_CASE(event_messages),
	UT_CASE(bitmap_messages),
	UT_CASE(bitmap_chunk_order_across_messages),
	UT_CASE(bitmap_bad_headers),
	UT_CASE(bitmap_bad_chunk_nest),
	UT_CASE(epoch_and_bitmap_requests),
	UT_CASE(attr_names))
