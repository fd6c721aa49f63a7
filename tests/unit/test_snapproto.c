// SPDX-License-Identifier: GPL-2.0
/*
 * proto.c, snapshots: the CBT_CMD_SNAPSHOT request, hand-built replies to
 * it, and the CBT_A_SNAPSHOT nest of GET_DEVICE replies.
 */
#include <errno.h>

#include <linux/genetlink.h>

#include "msgbuild.h"
#include "kernel/proto.h"
#include "unit.h"
#include "util/util.h"

static char buf[65536] __attribute__((aligned(8)));

/* Like the kernel's nla_put_u64_64bit(): CBT_A_PAD first when unaligned. */
static void put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t v)
{
	if ((nlh->nlmsg_len + MNL_ATTR_HDRLEN) % 8)
		mnl_attr_put(nlh, CBT_A_PAD, 0, NULL);
	mnl_attr_put_u64(nlh, type, v);
}

struct sdev {
	const char *name;
	uint32_t major, minor;
	uint64_t epoch;
	unsigned int omit;
};

/* A SNAPSHOT reply as dm-cbt builds it; @omit leaves out a top-level attribute. */
static struct nlmsghdr *snap_reply(const struct sdev *d, int n, unsigned int omit)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_SNAPSHOT, 1, 0);
	struct nlattr *list = NULL;

	if (omit != CBT_A_DEVICES)
		list = mnl_attr_nest_start(nlh, CBT_A_DEVICES);
	for (int i = 0; list && i < n; i++) {
		struct nlattr *dev = mnl_attr_nest_start(nlh, CBT_A_DEVICE);

		if (d[i].omit != CBT_A_DEV_NAME)
			mnl_attr_put_strz(nlh, CBT_A_DEV_NAME, d[i].name);
		mnl_attr_put_u32(nlh, CBT_A_DEV_MAJOR, d[i].major);
		mnl_attr_put_u32(nlh, CBT_A_DEV_MINOR, d[i].minor);
		if (d[i].omit != CBT_A_EPOCH_NUMBER)
			put_u64(nlh, CBT_A_EPOCH_NUMBER, d[i].epoch);
		mnl_attr_nest_end(nlh, dev);
	}
	if (list)
		mnl_attr_nest_end(nlh, list);
	if (omit != CBT_A_FREEZE_NS)
		put_u64(nlh, CBT_A_FREEZE_NS, 2500000);
	if (omit != CBT_A_HOLD_NS)
		put_u64(nlh, CBT_A_HOLD_NS, 700000);
	return nlh;
}

static const struct sdev two[] = {
	{ "db-data", 253, 3, 12, 0 },
	{ "db-log", 253, 4, 40, 0 },
};

static void reply_two_devices(void)
{
	struct cbt_snap_reply r;

	CHECK_EQ(cbt_parse_snapshot_reply(snap_reply(two, 2, 0), &r), 0);
	CHECK_EQ(r.nr, 2);
	CHECK_STR(r.devs[0].name, "db-data");
	CHECK_EQ(r.devs[0].major, 253);
	CHECK_EQ(r.devs[0].minor, 3);
	CHECK_EQ(r.devs[0].epoch, 12);
	CHECK_STR(r.devs[1].name, "db-log");
	CHECK_EQ(r.devs[1].epoch, 40);
	CHECK_EQ(r.freeze_ns, 2500000);
	CHECK_EQ(r.hold_ns, 700000);
}

static void reply_ignores_unknown_attributes(void)
{
	struct nlmsghdr *nlh = snap_reply(two, 1, 0);
	struct cbt_snap_reply r;

	mnl_attr_put_u32(nlh, CBT_A_MAX + 3, 1);
	CHECK_EQ(cbt_parse_snapshot_reply(nlh, &r), 0);
	CHECK_EQ(r.nr, 1);
}

static void reply_missing_parts(void)
{
	struct sdev d = two[0];
	struct cbt_snap_reply r;

	CHECK_ERR(cbt_parse_snapshot_reply(snap_reply(two, 2, CBT_A_DEVICES), &r), -EPROTO,
		  "CBT_A_DEVICES missing");
	CHECK_ERR(cbt_parse_snapshot_reply(snap_reply(two, 2, CBT_A_HOLD_NS), &r), -EPROTO,
		  "CBT_A_HOLD_NS missing");
	CHECK_ERR(cbt_parse_snapshot_reply(snap_reply(two, 2, CBT_A_FREEZE_NS), &r), -EPROTO,
		  "CBT_A_FREEZE_NS missing");
	CHECK_ERR(cbt_parse_snapshot_reply(snap_reply(two, 0, 0), &r), -EPROTO,
		  "lists no device");
	d.omit = CBT_A_EPOCH_NUMBER;
	CHECK_ERR(cbt_parse_snapshot_reply(snap_reply(&d, 1, 0), &r), -EPROTO,
		  "device 0 of CBT_A_DEVICES: CBT_A_EPOCH_NUMBER missing");
	d.omit = CBT_A_DEV_NAME;
	CHECK_ERR(cbt_parse_snapshot_reply(snap_reply(&d, 1, 0), &r), -EPROTO,
		  "bad reply from dm-cbt: device 0 of CBT_A_DEVICES: CBT_A_DEV_NAME missing");
}

static void reply_device_twice(void)
{
	struct sdev d[2] = { two[0], two[0] };
	struct cbt_snap_reply r;

	d[1].name = "other-name";
	CHECK_ERR(cbt_parse_snapshot_reply(snap_reply(d, 2, 0), &r), -EPROTO,
		  "device 253:3 listed twice");
}

static void reply_too_many_devices(void)
{
	static struct sdev d[DM_CBT_MAX_GROUP + 1];
	struct cbt_snap_reply r;

	for (int i = 0; i <= DM_CBT_MAX_GROUP; i++)
		d[i] = (struct sdev){ "d", 253, (uint32_t)i, 1, 0 };
	CHECK_ERR(cbt_parse_snapshot_reply(snap_reply(d, DM_CBT_MAX_GROUP + 1, 0), &r), -EPROTO,
		  "more than 64 devices");
	CHECK_EQ(cbt_parse_snapshot_reply(snap_reply(d, DM_CBT_MAX_GROUP, 0), &r), 0);
	CHECK_EQ(r.nr, DM_CBT_MAX_GROUP);
}

static void reply_truncated_device_nest(void)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_SNAPSHOT, 1, 0);
	struct nlattr *list = mnl_attr_nest_start(nlh, CBT_A_DEVICES);
	struct cbt_snap_reply r;

	/* A CBT_A_DEVICE claiming more bytes than the nest has. */
	mnl_attr_put_u32(nlh, CBT_A_DEVICE, 7);
	((struct nlattr *)((char *)list + MNL_ATTR_HDRLEN))->nla_len = 200;
	mnl_attr_nest_end(nlh, list);
	put_u64(nlh, CBT_A_FREEZE_NS, 0);
	put_u64(nlh, CBT_A_HOLD_NS, 0);
	CHECK_ERR(cbt_parse_snapshot_reply(nlh, &r), -EPROTO, "CBT_A_DEVICES");
}

/* The request: CBT_A_DEVICES with one selector nest per device, then the flag. */
static void request_layout(void)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_SNAPSHOT, 1, 0);
	struct cbt_devsel sels[2] = { { .name = "a" }, { .by_number = true, .major = 253, .minor = 9 } };
	const struct nlattr *tb[CBT_A_MAX + 1], *dtb[CBT_A_MAX + 1], *a;
	const void *p;
	size_t len;
	int n = 0;

	cbt_put_snapshot_req(nlh, sels, 2, NULL, true);
	CHECK_EQ(cbt_genl_payload(nlh, &p, &len), 0);
	CHECK_EQ(cbt_attr_index(p, len, tb, CBT_A_MAX, 0), 0);
	CHECK(tb[CBT_A_DEVICES]);
	CHECK(tb[CBT_A_FREEZE]);
	CHECK_EQ(mnl_attr_get_payload_len(tb[CBT_A_FREEZE]), 0);
	mnl_attr_for_each_nested(a, tb[CBT_A_DEVICES]) {
		CHECK_EQ(mnl_attr_get_type(a), CBT_A_DEVICE);
		CHECK_EQ(cbt_attr_index(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), dtb,
					CBT_A_MAX, 0), 0);
		if (n == 0) {
			CHECK(dtb[CBT_A_DEV_NAME] && !dtb[CBT_A_DEV_MAJOR]);
			CHECK_STR(mnl_attr_get_str(dtb[CBT_A_DEV_NAME]), "a");
		} else {
			CHECK(!dtb[CBT_A_DEV_NAME] && dtb[CBT_A_DEV_MAJOR] && dtb[CBT_A_DEV_MINOR]);
			CHECK_EQ(mnl_attr_get_u32(dtb[CBT_A_DEV_MINOR]), 9);
		}
		n++;
	}
	CHECK_EQ(n, 2);

	nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_SNAPSHOT, 1, 0);
	cbt_put_snapshot_req(nlh, sels, 1, NULL, false);
	CHECK_EQ(cbt_genl_payload(nlh, &p, &len), 0);
	CHECK_EQ(cbt_attr_index(p, len, tb, CBT_A_MAX, 0), 0);
	CHECK(!tb[CBT_A_FREEZE]);
}

/* GET_DEVICE with a CBT_A_SNAPSHOT nest. */
static const struct mb_dev dev = {
	.name = "db-data", .major = 253, .minor = 3,
	.persistence = CBT_PERSIST_NONE, .block_size = 4096, .nr_blocks = 256,
	.dev_sectors = 2048, .bitmap_bytes = 4096, .epoch_current = 13,
	.epochs = { { 12, CBT_EPOCH_CLOSED, 5 }, { 13, CBT_EPOCH_OPEN, 1 } }, .nr_epochs = 2,
};

struct snest {
	uint32_t state, error, chunk;
	uint64_t used, total, sectors;
	unsigned int omit;
};

static struct nlmsghdr *device_with_snap(const struct snest *s)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_GET_DEVICE, 1, 0);
	struct nlattr *n;

	mb_put_device(nlh, &dev);
	n = mnl_attr_nest_start(nlh, CBT_A_SNAPSHOT);
	mnl_attr_put_u32(nlh, CBT_A_SNAP_STATE, s->state);
	mnl_attr_put_u32(nlh, CBT_A_SNAP_ERROR, s->error);
	put_u64(nlh, CBT_A_EPOCH_NUMBER, 12);
	put_u64(nlh, CBT_A_SNAP_AGE_MS, 1500);
	mnl_attr_put_u32(nlh, CBT_A_SNAP_CHUNK_SIZE, s->chunk);
	put_u64(nlh, CBT_A_SNAP_COW_USED, s->used);
	put_u64(nlh, CBT_A_SNAP_COW_TOTAL, s->total);
	if (s->omit != CBT_A_SNAP_COPIED)
		put_u64(nlh, CBT_A_SNAP_COPIED, s->used / s->chunk);
	put_u64(nlh, CBT_A_SNAP_SECTORS, s->sectors);
	mnl_attr_nest_end(nlh, n);
	return nlh;
}

static void status_nest(void)
{
	struct snest s = { CBT_SNAP_INVALID, ENOSPC, 4096, 1 << 20, 1 << 20, 2048, 0 };
	struct cbt_dev_info info;

	CHECK_EQ(cbt_parse_device(device_with_snap(&s), &info), 0);
	CHECK(info.snap.present);
	CHECK_EQ(info.snap.state, CBT_SNAP_INVALID);
	CHECK_STR(cbt_snap_state_name(info.snap.state), "invalid");
	CHECK_EQ(info.snap.error, ENOSPC);
	CHECK_EQ(info.snap.epoch, 12);
	CHECK_EQ(info.snap.age_ms, 1500);
	CHECK_EQ(info.snap.chunk_size, 4096);
	CHECK_EQ(info.snap.cow_used, 1 << 20);
	CHECK_EQ(info.snap.cow_total, 1 << 20);
	CHECK_EQ(info.snap.copied, 256);
	CHECK_EQ(info.snap.sectors, 2048);
	cbt_dev_info_free(&info);
	CHECK_STR(cbt_snap_state_name(7), "unknown");
}

static void status_without_nest(void)
{
	struct nlmsghdr *nlh = mb_genl(buf, MB_FAMILY, CBT_CMD_GET_DEVICE, 1, 0);
	struct cbt_dev_info info;

	mb_put_device(nlh, &dev);
	CHECK_EQ(cbt_parse_device(nlh, &info), 0);
	CHECK(!info.snap.present);
	cbt_dev_info_free(&info);
}

static void status_nest_bad(void)
{
	struct snest s = { CBT_SNAP_ACTIVE, 0, 4096, 8192, 4096, 2048, 0 };
	struct cbt_dev_info info;

	CHECK_ERR(cbt_parse_device(device_with_snap(&s), &info), -EPROTO,
		  "8192 bytes of the COW store used of 4096");
	s = (struct snest){ CBT_SNAP_ACTIVE, 0, 3000, 0, 4096, 2048, 0 };
	CHECK_ERR(cbt_parse_device(device_with_snap(&s), &info), -EPROTO, "chunk size 3000");
	s = (struct snest){ CBT_SNAP_ACTIVE, 0, 4096, 0, 4096, 2048, CBT_A_SNAP_COPIED };
	CHECK_ERR(cbt_parse_device(device_with_snap(&s), &info), -EPROTO,
		  "CBT_A_SNAPSHOT: CBT_A_SNAP_COPIED missing");
	s = (struct snest){ CBT_SNAP_ACTIVE, 0, 4096, 0, 4096, 4096, 0 };
	CHECK_ERR(cbt_parse_device(device_with_snap(&s), &info), -EPROTO,
		  "snapshot of 4096 sectors on a device of 2048");
}

UT_MAIN("snapproto",
	UT_CASE(reply_two_devices),
	UT_CASE(reply_ignores_unknown_attributes),
	UT_CASE(reply_missing_parts),
	UT_CASE(reply_device_twice),
	UT_CASE(reply_too_many_devices),
	UT_CASE(reply_truncated_device_nest),
	UT_CASE(request_layout),
	UT_CASE(status_nest),
	UT_CASE(status_without_nest),
	UT_CASE(status_nest_bad))
