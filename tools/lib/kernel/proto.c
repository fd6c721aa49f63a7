// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include "kernel/proto.h"
#include "util/util.h"

/* CBT_A_PAD (alignment for the u64 that follows) may come any number of times. */
#define PADS (1ULL << CBT_A_PAD)

/* Errors in what the kernel sent get one prefix, at the public entry points. */
static int bad(int ret)
{
	return ret == -EPROTO ? cbt_err_prefix(ret, "bad reply from dm-cbt") : ret;
}

/* The attributes of a dm_cbt reply, indexed (cbt_attr_index() with @multi). */
static int reply_index(const struct nlmsghdr *nlh, const struct nlattr **tb, uint64_t multi)
{
	const void *buf = NULL;
	size_t len = 0;
	int ret = cbt_genl_payload(nlh, &buf, &len);

	return ret ? ret : cbt_attr_index(buf, len, tb, CBT_A_MAX, multi);
}

static const char *const attr_names[] = {
	[CBT_A_DEV_NAME] = "CBT_A_DEV_NAME",
	[CBT_A_DEV_MAJOR] = "CBT_A_DEV_MAJOR",
	[CBT_A_DEV_MINOR] = "CBT_A_DEV_MINOR",
	[CBT_A_UUID] = "CBT_A_UUID",
	[CBT_A_PERSISTENCE] = "CBT_A_PERSISTENCE",
	[CBT_A_BLOCK_SIZE] = "CBT_A_BLOCK_SIZE",
	[CBT_A_NR_BLOCKS] = "CBT_A_NR_BLOCKS",
	[CBT_A_DEV_SECTORS] = "CBT_A_DEV_SECTORS",
	[CBT_A_BITMAP_BYTES] = "CBT_A_BITMAP_BYTES",
	[CBT_A_EPOCH_CURRENT] = "CBT_A_EPOCH_CURRENT",
	[CBT_A_EPOCHS] = "CBT_A_EPOCHS",
	[CBT_A_EPOCH] = "CBT_A_EPOCH",
	[CBT_A_EPOCH_NUMBER] = "CBT_A_EPOCH_NUMBER",
	[CBT_A_EPOCH_STATE] = "CBT_A_EPOCH_STATE",
	[CBT_A_EPOCH_BITS] = "CBT_A_EPOCH_BITS",
	[CBT_A_EPOCH_FIRST] = "CBT_A_EPOCH_FIRST",
	[CBT_A_EPOCH_LAST] = "CBT_A_EPOCH_LAST",
	[CBT_A_BITMAP_FLAGS] = "CBT_A_BITMAP_FLAGS",
	[CBT_A_CHUNK] = "CBT_A_CHUNK",
	[CBT_A_CHUNK_START] = "CBT_A_CHUNK_START",
	[CBT_A_CHUNK_BLOCKS] = "CBT_A_CHUNK_BLOCKS",
	[CBT_A_CHUNK_WORDS] = "CBT_A_CHUNK_WORDS",
	[CBT_A_CHUNK_EXTENTS] = "CBT_A_CHUNK_EXTENTS",
	[CBT_A_EVENT] = "CBT_A_EVENT",
	[CBT_A_METADATA_ERRORS] = "CBT_A_METADATA_ERRORS",
	[CBT_A_PAD] = "CBT_A_PAD",
	[CBT_A_SNAPSHOT] = "CBT_A_SNAPSHOT",
	[CBT_A_SNAP_STATE] = "CBT_A_SNAP_STATE",
	[CBT_A_SNAP_ERROR] = "CBT_A_SNAP_ERROR",
	[CBT_A_SNAP_AGE_MS] = "CBT_A_SNAP_AGE_MS",
	[CBT_A_SNAP_CHUNK_SIZE] = "CBT_A_SNAP_CHUNK_SIZE",
	[CBT_A_SNAP_COW_USED] = "CBT_A_SNAP_COW_USED",
	[CBT_A_SNAP_COW_TOTAL] = "CBT_A_SNAP_COW_TOTAL",
	[CBT_A_SNAP_COPIED] = "CBT_A_SNAP_COPIED",
	[CBT_A_SNAP_SECTORS] = "CBT_A_SNAP_SECTORS",
	[CBT_A_DEVICES] = "CBT_A_DEVICES",
	[CBT_A_DEVICE] = "CBT_A_DEVICE",
	[CBT_A_FREEZE] = "CBT_A_FREEZE",
	[CBT_A_FREEZE_NS] = "CBT_A_FREEZE_NS",
	[CBT_A_HOLD_NS] = "CBT_A_HOLD_NS",
	[CBT_A_LAST_COMMITTED] = "CBT_A_LAST_COMMITTED",
	[CBT_A_IDENTITY_REASON] = "CBT_A_IDENTITY_REASON",
	[CBT_A_SNAP_PRESERVE_FROM] = "CBT_A_SNAP_PRESERVE_FROM",
	[CBT_A_SNAP_TO_READ] = "CBT_A_SNAP_TO_READ",
	[CBT_A_SNAP_RELEASED] = "CBT_A_SNAP_RELEASED",
	[CBT_A_SNAP_FORFEITED] = "CBT_A_SNAP_FORFEITED",
	[CBT_A_RANGE_SECTOR] = "CBT_A_RANGE_SECTOR",
	[CBT_A_RANGE_SECTORS] = "CBT_A_RANGE_SECTORS",
	[CBT_A_COUNT_BLOCKS] = "CBT_A_COUNT_BLOCKS",
	[CBT_A_COUNT_RUNS] = "CBT_A_COUNT_RUNS",
	[CBT_A_COUNT_END] = "CBT_A_COUNT_END",
	[CBT_A_DEVICE_FLAGS] = "CBT_A_DEVICE_FLAGS",
};

_Static_assert(CBT_A_MAX < 64, "cbt_attr_index()'s multi mask holds 64 types");

const char *cbt_attr_name(unsigned int type, char buf[32])
{
	if (type < ARRAY_SIZE(attr_names) && attr_names[type])
		return attr_names[type];
	snprintf(buf, 32, "attribute %u", type);
	return buf;
}

int cbt_attr_index(const void *buf, size_t len, const struct nlattr **tb, unsigned int max,
		   uint64_t multi)
{
	const struct nlattr *a = buf;
	size_t left = len;
	char name[32];

	memset(tb, 0, (max + 1) * sizeof(*tb));
	/* mnl_attr_ok() takes an int; a netlink message is far smaller. */
	if (len > INT32_MAX)
		return cbt_err(-EPROTO, "attributes of %zu bytes", len);
	while (left) {
		unsigned int type;

		if (!mnl_attr_ok(a, (int)left))
			return cbt_err(-EPROTO, "%zu bytes at the end of the attributes are not"
				       " a whole attribute", left);
		type = mnl_attr_get_type(a);
		if (type <= max) {
			if (tb[type] && !(type < 64 && (multi >> type & 1)))
				return cbt_err(-EPROTO, "%s given twice",
					       cbt_attr_name(type, name));
			if (!tb[type])
				tb[type] = a;
		}
		/* The last attribute may lack its alignment padding. */
		if ((size_t)MNL_ALIGN(a->nla_len) >= left)
			break;
		left -= (size_t)MNL_ALIGN(a->nla_len);
		a = (const struct nlattr *)((const char *)a + MNL_ALIGN(a->nla_len));
	}
	return 0;
}

int cbt_genl_payload(const struct nlmsghdr *nlh, const void **buf, size_t *len)
{
	size_t hdr = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr));

	if (nlh->nlmsg_len < hdr)
		return cbt_err(-EPROTO, "message of %u bytes has no generic netlink header",
			       nlh->nlmsg_len);
	*buf = (const char *)nlh + hdr;
	*len = nlh->nlmsg_len - hdr;
	return 0;
}

static int need(const struct nlattr *const *tb, unsigned int type, size_t len)
{
	char name[32];

	if (!tb[type])
		return cbt_err(-EPROTO, "%s missing", cbt_attr_name(type, name));
	if (len && mnl_attr_get_payload_len(tb[type]) != len)
		return cbt_err(-EPROTO, "%s is %u bytes, %zu expected",
			       cbt_attr_name(type, name), mnl_attr_get_payload_len(tb[type]), len);
	return 0;
}

static int get_u32(const struct nlattr *const *tb, unsigned int type, uint32_t *v)
{
	int ret = need(tb, type, sizeof(*v));

	if (!ret)
		*v = mnl_attr_get_u32(tb[type]);
	return ret;
}

static int get_u64(const struct nlattr *const *tb, unsigned int type, uint64_t *v)
{
	int ret = need(tb, type, sizeof(*v));

	if (!ret)
		*v = mnl_attr_get_u64(tb[type]);
	return ret;
}

static int get_name(const struct nlattr *const *tb, char name[CBT_NAME_MAX + 1])
{
	const char *s;
	size_t len = 0;
	int ret = need(tb, CBT_A_DEV_NAME, 0);

	if (ret)
		return ret;
	s = mnl_attr_get_payload(tb[CBT_A_DEV_NAME]);
	len = mnl_attr_get_payload_len(tb[CBT_A_DEV_NAME]);
	if (!len || s[len - 1] || strlen(s) + 1 != len || len > CBT_NAME_MAX + 1)
		return cbt_err(-EPROTO, "CBT_A_DEV_NAME is not a NUL-terminated name of at"
			       " most %d bytes", CBT_NAME_MAX);
	memcpy(name, s, len);
	return 0;
}

void cbt_put_devsel(struct nlmsghdr *nlh, const struct cbt_devsel *sel)
{
	if (sel->by_number) {
		mnl_attr_put_u32(nlh, CBT_A_DEV_MAJOR, sel->major);
		mnl_attr_put_u32(nlh, CBT_A_DEV_MINOR, sel->minor);
	} else {
		mnl_attr_put_strz(nlh, CBT_A_DEV_NAME, sel->name);
	}
}

void cbt_put_epoch_req(struct nlmsghdr *nlh, const struct cbt_devsel *sel, uint64_t epoch)
{
	cbt_put_devsel(nlh, sel);
	mnl_attr_put_u64(nlh, CBT_A_EPOCH_NUMBER, epoch);
}

void cbt_put_count_req(struct nlmsghdr *nlh, const struct cbt_devsel *sel, uint64_t first,
		       uint64_t last)
{
	cbt_put_devsel(nlh, sel);
	if (first == last) {
		mnl_attr_put_u64(nlh, CBT_A_EPOCH_NUMBER, first);
	} else {
		mnl_attr_put_u64(nlh, CBT_A_EPOCH_FIRST, first);
		mnl_attr_put_u64(nlh, CBT_A_EPOCH_LAST, last);
	}
}

void cbt_put_bitmap_req(struct nlmsghdr *nlh, const struct cbt_devsel *sel, uint64_t first,
			uint64_t last)
{
	cbt_put_count_req(nlh, sel, first, last);
	mnl_attr_put_u32(nlh, CBT_A_BITMAP_FLAGS, CBT_BITMAP_F_EXTENTS);
}

const char *cbt_persistence_name(uint32_t p)
{
	switch (p) {
	case CBT_PERSIST_NONE: return "none";
	case CBT_PERSIST_METADATA: return "metadata";
	case CBT_PERSIST_FAILED: return "failed";
	}
	return "unknown";
}

static const struct {
	const char *name, *text;
} identity_reasons[] = {
	[CBT_IDENTITY_CONTINUED] = { "continued", "history continued from the metadata" },
	[CBT_IDENTITY_MEMORY_ONLY] = { "memory-only", "no metadata device: history began at"
				       " the load" },
	[CBT_IDENTITY_NEW_METADATA] = { "new-metadata", "a blank metadata device was"
					" formatted: history began at the load" },
	[CBT_IDENTITY_DAMAGED] = { "damaged", "the metadata could not be read or validated:"
				   " history was lost" },
	[CBT_IDENTITY_OTHER_DEVICE] = { "other-device", "the metadata was for another block"
					" size or a larger origin: history was lost" },
	[CBT_IDENTITY_ORIGIN_CHANGED] = { "origin-changed", "the origin changed while it was"
					  " not tracked (written untracked, or another"
					  " origin): history was lost" },
	[CBT_IDENTITY_TABLE_REPLACED] = { "table-replaced", "the cbt table was replaced by"
					  " another target and the device took writes"
					  " meanwhile: history was lost" },
	[CBT_IDENTITY_UNTRACKED_BOOT] = { "untracked-boot", "a boot used the disk without"
					  " tracking: history was lost" },
	[CBT_IDENTITY_METADATA_FAILED] = { "metadata-failed", "metadata I/O failed: history"
					   " since then is in memory only" },
	[CBT_IDENTITY_UNVERIFIED] = { "unverified", "metadata of an older format could not"
				      " prove the history: a new one began" },
};

const char *cbt_identity_reason_name(uint32_t r)
{
	return r < ARRAY_SIZE(identity_reasons) && identity_reasons[r].name ?
	       identity_reasons[r].name : "unknown";
}

const char *cbt_identity_reason_text(uint32_t r)
{
	return r < ARRAY_SIZE(identity_reasons) && identity_reasons[r].text ?
	       identity_reasons[r].text : "the module does not say why this identity began";
}

const char *cbt_epoch_state_name(uint32_t s)
{
	switch (s) {
	case CBT_EPOCH_OPEN: return "open";
	case CBT_EPOCH_CLOSED: return "closed";
	}
	return "unknown";
}

const char *cbt_snap_state_name(uint32_t s)
{
	switch (s) {
	case CBT_SNAP_PREPARED: return "prepared";
	case CBT_SNAP_ACTIVE: return "active";
	case CBT_SNAP_INVALID: return "invalid";
	}
	return "unknown";
}

void cbt_dev_info_free(struct cbt_dev_info *info)
{
	free(info->epochs);
	info->epochs = NULL;
	info->nr_epochs = 0;
}

uint64_t cbt_dev_bytes(const struct cbt_dev_info *info)
{
	return info->dev_sectors * 512;
}

uint64_t cbt_blocks_bytes(const struct cbt_dev_info *info, uint64_t blocks)
{
	uint64_t dev = cbt_dev_bytes(info);

	if (blocks > dev / info->block_size)
		return dev;
	return blocks * info->block_size;
}

const struct cbt_epoch_info *cbt_dev_epoch(const struct cbt_dev_info *info, uint64_t number)
{
	for (size_t i = 0; i < info->nr_epochs; i++)
		if (info->epochs[i].number == number)
			return &info->epochs[i];
	return NULL;
}

static int cmp_epoch(const void *a, const void *b)
{
	const struct cbt_epoch_info *x = a, *y = b;

	return x->number < y->number ? -1 : x->number > y->number;
}

static int parse_epochs(const struct nlattr *nest, struct cbt_dev_info *info, bool bits)
{
	const struct nlattr *tb[CBT_A_MAX + 1], *attr;
	const void *buf = mnl_attr_get_payload(nest);
	size_t len = mnl_attr_get_payload_len(nest), n = 0, i;
	int ret;

	ret = cbt_attr_index(buf, len, tb, CBT_A_MAX, PADS | 1ULL << CBT_A_EPOCH);
	if (ret)
		return cbt_err_prefix(ret, "CBT_A_EPOCHS");
	mnl_attr_for_each_payload(buf, len)
		n += mnl_attr_get_type(attr) == CBT_A_EPOCH;
	info->epochs = calloc(n ? n : 1, sizeof(*info->epochs));
	if (!info->epochs)
		return -ENOMEM;
	mnl_attr_for_each_payload(buf, len) {
		const struct nlattr *etb[CBT_A_MAX + 1];
		struct cbt_epoch_info *ep;

		if (mnl_attr_get_type(attr) != CBT_A_EPOCH)
			continue;
		ep = &info->epochs[info->nr_epochs];
		ret = cbt_attr_index(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr),
				     etb, CBT_A_MAX, PADS);
		if (!ret)
			ret = get_u64(etb, CBT_A_EPOCH_NUMBER, &ep->number);
		if (!ret)
			ret = get_u32(etb, CBT_A_EPOCH_STATE, &ep->state);
		if (!ret && bits)
			ret = get_u64(etb, CBT_A_EPOCH_BITS, &ep->bits);
		if (!ret && !bits && etb[CBT_A_EPOCH_BITS])
			ret = cbt_err(-EPROTO, "CBT_A_EPOCH_BITS sent, though not asked for");
		if (ret)
			return cbt_err_prefix(ret, "epoch nest %zu", info->nr_epochs);
		info->nr_epochs++;
	}
	qsort(info->epochs, info->nr_epochs, sizeof(*info->epochs), cmp_epoch);

	for (i = 0; i < info->nr_epochs; i++) {
		const struct cbt_epoch_info *ep = &info->epochs[i];

		if (i && ep->number == ep[-1].number)
			return cbt_err(-EPROTO, "epoch %" PRIu64 " listed twice", ep->number);
		if (ep->bits > info->nr_blocks)
			return cbt_err(-EPROTO, "epoch %" PRIu64 " has %" PRIu64 " blocks set of %"
				       PRIu64, ep->number, ep->bits, info->nr_blocks);
		if ((ep->state == CBT_EPOCH_OPEN) != (ep->number == info->epoch_current))
			return cbt_err(-EPROTO, "epoch %" PRIu64 " is %s but the current epoch is %"
				       PRIu64, ep->number, cbt_epoch_state_name(ep->state),
				       info->epoch_current);
		if (ep->state != CBT_EPOCH_OPEN && ep->state != CBT_EPOCH_CLOSED)
			return cbt_err(-EPROTO, "epoch %" PRIu64 " has unknown state %" PRIu32,
				       ep->number, ep->state);
	}
	/* Sorted, so the current (open, newest) epoch must come last. */
	if (!info->nr_epochs || info->epochs[info->nr_epochs - 1].number != info->epoch_current)
		return cbt_err(-EPROTO, "current epoch %" PRIu64 " is not the newest one listed",
			       info->epoch_current);
	return 0;
}

static int parse_snap(const struct nlattr *nest, struct cbt_snap_info *s)
{
	const struct nlattr *tb[CBT_A_MAX + 1];
	int ret;

	ret = cbt_attr_index(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), tb,
			     CBT_A_MAX, PADS);
	if (!ret)
		ret = get_u32(tb, CBT_A_SNAP_STATE, &s->state);
	if (!ret)
		ret = get_u32(tb, CBT_A_SNAP_ERROR, &s->error);
	if (!ret)
		ret = get_u64(tb, CBT_A_EPOCH_NUMBER, &s->epoch);
	if (!ret)
		ret = get_u64(tb, CBT_A_SNAP_AGE_MS, &s->age_ms);
	if (!ret)
		ret = get_u32(tb, CBT_A_SNAP_CHUNK_SIZE, &s->chunk_size);
	if (!ret)
		ret = get_u64(tb, CBT_A_SNAP_COW_USED, &s->cow_used);
	if (!ret)
		ret = get_u64(tb, CBT_A_SNAP_COW_TOTAL, &s->cow_total);
	if (!ret)
		ret = get_u64(tb, CBT_A_SNAP_COPIED, &s->copied);
	if (!ret)
		ret = get_u64(tb, CBT_A_SNAP_SECTORS, &s->sectors);
	/* An older module sends none of these: all three, or none. */
	s->has_release = tb[CBT_A_SNAP_TO_READ] || tb[CBT_A_SNAP_RELEASED] ||
			 tb[CBT_A_SNAP_FORFEITED];
	if (!ret && s->has_release)
		ret = get_u64(tb, CBT_A_SNAP_TO_READ, &s->to_read);
	if (!ret && s->has_release)
		ret = get_u64(tb, CBT_A_SNAP_RELEASED, &s->released);
	if (!ret && s->has_release)
		ret = get_u64(tb, CBT_A_SNAP_FORFEITED, &s->forfeited);
	if (!ret && tb[CBT_A_SNAP_PRESERVE_FROM])
		ret = get_u64(tb, CBT_A_SNAP_PRESERVE_FROM, &s->preserve_from);
	if (ret)
		return cbt_err_prefix(ret, "CBT_A_SNAPSHOT");
	if (s->cow_used > s->cow_total)
		return cbt_err(-EPROTO, "CBT_A_SNAPSHOT: %" PRIu64 " bytes of the COW store used of"
			       " %" PRIu64, s->cow_used, s->cow_total);
	if (s->chunk_size < 4096 || s->chunk_size > 1024 * 1024 ||
	    (s->chunk_size & (s->chunk_size - 1)))
		return cbt_err(-EPROTO, "CBT_A_SNAPSHOT: chunk size %" PRIu32 " is not a power of"
			       " two from 4096 to 1048576", s->chunk_size);
	s->present = true;
	return 0;
}

int cbt_parse_device(const struct nlmsghdr *nlh, struct cbt_dev_info *info)
{
	return cbt_parse_device_flags(nlh, info, 0);
}

int cbt_parse_device_flags(const struct nlmsghdr *nlh, struct cbt_dev_info *info, uint32_t flags)
{
	const struct nlattr *tb[CBT_A_MAX + 1];
	uint64_t bytes;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = reply_index(nlh, tb, PADS);
	if (!ret)
		ret = get_name(tb, info->name);
	if (!ret)
		ret = get_u32(tb, CBT_A_DEV_MAJOR, &info->major);
	if (!ret)
		ret = get_u32(tb, CBT_A_DEV_MINOR, &info->minor);
	if (!ret)
		ret = need(tb, CBT_A_UUID, sizeof(info->uuid));
	if (!ret)
		memcpy(info->uuid, mnl_attr_get_payload(tb[CBT_A_UUID]), sizeof(info->uuid));
	if (!ret)
		ret = get_u32(tb, CBT_A_PERSISTENCE, &info->persistence);
	if (!ret)
		ret = get_u32(tb, CBT_A_BLOCK_SIZE, &info->block_size);
	if (!ret)
		ret = get_u64(tb, CBT_A_NR_BLOCKS, &info->nr_blocks);
	if (!ret)
		ret = get_u64(tb, CBT_A_DEV_SECTORS, &info->dev_sectors);
	if (!ret)
		ret = get_u64(tb, CBT_A_BITMAP_BYTES, &info->bitmap_bytes);
	if (!ret)
		ret = get_u64(tb, CBT_A_EPOCH_CURRENT, &info->epoch_current);
	if (!ret)
		ret = get_u64(tb, CBT_A_METADATA_ERRORS, &info->metadata_errors);
	if (!ret)
		ret = get_u64(tb, CBT_A_LAST_COMMITTED, &info->last_committed);
	info->identity_reason = CBT_IDENTITY_UNKNOWN;
	if (!ret && tb[CBT_A_IDENTITY_REASON])
		ret = get_u32(tb, CBT_A_IDENTITY_REASON, &info->identity_reason);
	if (!ret)
		ret = need(tb, CBT_A_EPOCHS, 0);
	if (ret)
		goto err;

	if (info->block_size < DM_CBT_MIN_BLOCK_SIZE || info->block_size > DM_CBT_MAX_BLOCK_SIZE ||
	    (info->block_size & (info->block_size - 1))) {
		ret = cbt_err(-EPROTO, "block size %" PRIu32 " is not a power of two from %d"
			      " to %d", info->block_size, DM_CBT_MIN_BLOCK_SIZE, DM_CBT_MAX_BLOCK_SIZE);
		goto err;
	}
	if (info->dev_sectors > UINT64_MAX / 512 - info->block_size / 512) {
		ret = cbt_err(-EPROTO, "device of %" PRIu64 " sectors is too large",
			      info->dev_sectors);
		goto err;
	}
	bytes = cbt_dev_bytes(info);
	if (info->nr_blocks != bytes / info->block_size + !!(bytes % info->block_size)) {
		ret = cbt_err(-EPROTO, "%" PRIu64 " blocks of %" PRIu32 " bytes do not cover"
			      " %" PRIu64 " sectors exactly", info->nr_blocks, info->block_size,
			      info->dev_sectors);
		goto err;
	}
	ret = parse_epochs(tb[CBT_A_EPOCHS], info, !(flags & CBT_DEVICE_F_NO_EPOCH_BITS));
	if (!ret && tb[CBT_A_SNAPSHOT])
		ret = parse_snap(tb[CBT_A_SNAPSHOT], &info->snap);
	if (!ret && info->snap.present && info->snap.sectors != info->dev_sectors)
		ret = cbt_err(-EPROTO, "snapshot of %" PRIu64 " sectors on a device of %" PRIu64,
			      info->snap.sectors, info->dev_sectors);
	if (ret)
		goto err;
	return 0;
err:
	cbt_dev_info_free(info);
	return bad(ret);
}

int cbt_parse_epoch_reply(const struct nlmsghdr *nlh, uint64_t *epoch)
{
	const struct nlattr *tb[CBT_A_MAX + 1];
	int ret;

	ret = reply_index(nlh, tb, PADS);
	if (!ret)
		ret = get_u64(tb, CBT_A_EPOCH_NUMBER, epoch);
	return bad(ret);
}

int cbt_parse_count_reply(const struct nlmsghdr *nlh, const struct cbt_dev_info *info,
			  struct cbt_bitmap_count *count)
{
	const struct nlattr *tb[CBT_A_MAX + 1];
	uint64_t nr_blocks = 0, dev_sectors = 0;
	int ret;

	ret = reply_index(nlh, tb, PADS);
	if (!ret && (!tb[CBT_A_UUID] || mnl_attr_get_payload_len(tb[CBT_A_UUID]) != sizeof(info->uuid)))
		ret = cbt_err(-EPROTO, "CBT_A_UUID missing or not %zu bytes", sizeof(info->uuid));
	if (!ret)
		ret = get_u64(tb, CBT_A_DEV_SECTORS, &dev_sectors);
	if (!ret)
		ret = get_u64(tb, CBT_A_NR_BLOCKS, &nr_blocks);
	if (!ret)
		ret = get_u64(tb, CBT_A_COUNT_BLOCKS, &count->blocks);
	if (!ret)
		ret = get_u64(tb, CBT_A_COUNT_RUNS, &count->runs);
	if (!ret)
		ret = get_u64(tb, CBT_A_COUNT_END, &count->end);
	if (ret)
		return bad(ret);
	/* The kernel counted one identity and size: those GET_DEVICE gave, or -ESTALE. */
	if (memcmp(mnl_attr_get_payload(tb[CBT_A_UUID]), info->uuid, sizeof(info->uuid)) ||
	    dev_sectors != info->dev_sectors || nr_blocks != info->nr_blocks)
		return cbt_err(-ESTALE, "the device's tracking identity or size changed while its"
			       " bitmap was read; read it again (if the UUID changed, take a full"
			       " image)");
	/* Each run holds a block, and the last ends after them all, inside the device. */
	if (count->runs > count->blocks || count->end > nr_blocks || count->blocks > count->end ||
	    !count->runs != !count->blocks)
		return bad(cbt_err(-EPROTO, "counts that cannot be: %" PRIu64 " blocks in %" PRIu64
				   " runs, the last ending at block %" PRIu64 " of %" PRIu64,
				   count->blocks, count->runs, count->end, nr_blocks));
	return 0;
}

int cbt_parse_event(const struct nlmsghdr *nlh, struct cbt_event_msg *ev)
{
	const struct nlattr *tb[CBT_A_MAX + 1];
	int ret;

	memset(ev, 0, sizeof(*ev));
	ev->reason = CBT_IDENTITY_UNKNOWN;
	ret = reply_index(nlh, tb, PADS);
	if (!ret)
		ret = get_u32(tb, CBT_A_EVENT, &ev->event);
	if (!ret)
		ret = get_name(tb, ev->name);
	if (!ret)
		ret = get_u32(tb, CBT_A_DEV_MAJOR, &ev->major);
	if (!ret)
		ret = get_u32(tb, CBT_A_DEV_MINOR, &ev->minor);
	if (!ret)
		ret = need(tb, CBT_A_UUID, sizeof(ev->uuid));
	if (!ret)
		memcpy(ev->uuid, mnl_attr_get_payload(tb[CBT_A_UUID]), sizeof(ev->uuid));
	if (!ret && tb[CBT_A_EPOCH_NUMBER]) {
		ret = get_u64(tb, CBT_A_EPOCH_NUMBER, &ev->epoch);
		ev->has_epoch = !ret;
	}
	if (!ret && tb[CBT_A_IDENTITY_REASON])
		ret = get_u32(tb, CBT_A_IDENTITY_REASON, &ev->reason);
	if (ret)
		ret = cbt_err_prefix(ret, "event");
	return bad(ret);
}

void cbt_bitmap_reader_init(struct cbt_bitmap_reader *r, uint64_t epoch, uint32_t block_size,
			    uint64_t nr_blocks)
{
	memset(r, 0, sizeof(*r));
	r->epoch = epoch;
	r->block_size = block_size;
	r->nr_blocks = nr_blocks;
	cbt_chunk_ctx_init(&r->ctx, nr_blocks);
	cbt_extents_init(&r->ext);
}

void cbt_bitmap_reader_free(struct cbt_bitmap_reader *r)
{
	cbt_extents_free(&r->ext);
}

int cbt_chunk_parse(const struct nlattr *nest, struct cbt_chunk *c)
{
	const struct nlattr *tb[CBT_A_MAX + 1];
	int ret;

	memset(c, 0, sizeof(*c));
	ret = cbt_attr_index(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), tb,
			     CBT_A_MAX, PADS);
	if (!ret)
		ret = get_u64(tb, CBT_A_CHUNK_START, &c->start);
	if (!ret)
		ret = get_u32(tb, CBT_A_CHUNK_BLOCKS, &c->blocks);
	if (ret)
		return ret;
	if (tb[CBT_A_CHUNK_WORDS]) {
		c->words = mnl_attr_get_payload(tb[CBT_A_CHUNK_WORDS]);
		c->words_len = mnl_attr_get_payload_len(tb[CBT_A_CHUNK_WORDS]);
	}
	if (tb[CBT_A_CHUNK_EXTENTS]) {
		c->extents = mnl_attr_get_payload(tb[CBT_A_CHUNK_EXTENTS]);
		c->extents_len = mnl_attr_get_payload_len(tb[CBT_A_CHUNK_EXTENTS]);
	}
	return 0;
}

int cbt_bitmap_parse_msg(struct cbt_bitmap_reader *r, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[CBT_A_MAX + 1], *attr;
	const void *buf = NULL;
	size_t len = 0;
	uint64_t epoch, nr_blocks;
	uint32_t block_size;
	int ret;

	/* The chunks are walked in the payload below: its bounds are needed too. */
	ret = cbt_genl_payload(nlh, &buf, &len);
	if (!ret)
		ret = cbt_attr_index(buf, len, tb, CBT_A_MAX, PADS | 1ULL << CBT_A_CHUNK);
	if (!ret)
		ret = get_u64(tb, CBT_A_EPOCH_NUMBER, &epoch);
	if (!ret)
		ret = get_u32(tb, CBT_A_BLOCK_SIZE, &block_size);
	if (!ret)
		ret = get_u64(tb, CBT_A_NR_BLOCKS, &nr_blocks);
	if (ret)
		return bad(ret);
	if (epoch != r->epoch)
		return bad(cbt_err(-EPROTO, "bitmap of epoch %" PRIu64 " where %" PRIu64 " was asked for",
			       epoch, r->epoch));
	if (block_size != r->block_size || nr_blocks != r->nr_blocks)
		return cbt_err(-EAGAIN, "the device changed while its bitmap was read (%" PRIu64
			       " blocks of %" PRIu32 " bytes, now %" PRIu64 " of %" PRIu32 ")",
			       r->nr_blocks, r->block_size, nr_blocks, block_size);
	r->msgs++;

	mnl_attr_for_each_payload(buf, len) {
		struct cbt_chunk c;

		if (mnl_attr_get_type(attr) != CBT_A_CHUNK)
			continue;
		ret = cbt_chunk_parse(attr, &c);
		if (ret)
			return bad(cbt_err_prefix(ret, "chunk %" PRIu64 " of the dump", r->chunks));
		ret = r->count ? cbt_chunk_count(&r->ctx, &c, r->count) :
				 cbt_chunk_decode(&r->ctx, &c, &r->ext);
		if (ret)
			return bad(ret);
		r->chunks++;
	}
	return 0;
}

void cbt_put_snapshot_req(struct nlmsghdr *nlh, const struct cbt_devsel *sels, size_t n,
			  const uint64_t *preserve_from, bool freeze)
{
	struct nlattr *list = mnl_attr_nest_start(nlh, CBT_A_DEVICES);

	for (size_t i = 0; i < n; i++) {
		struct nlattr *dev = mnl_attr_nest_start(nlh, CBT_A_DEVICE);

		cbt_put_devsel(nlh, &sels[i]);
		if (preserve_from && preserve_from[i])
			mnl_attr_put_u64(nlh, CBT_A_SNAP_PRESERVE_FROM, preserve_from[i]);
		mnl_attr_nest_end(nlh, dev);
	}
	mnl_attr_nest_end(nlh, list);
	if (freeze)
		mnl_attr_put(nlh, CBT_A_FREEZE, 0, NULL);
}

static int parse_snap_dev(const struct nlattr *nest, struct cbt_snap_dev *d)
{
	const struct nlattr *tb[CBT_A_MAX + 1];
	int ret;

	ret = cbt_attr_index(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), tb,
			     CBT_A_MAX, PADS);
	if (!ret)
		ret = get_name(tb, d->name);
	if (!ret)
		ret = get_u32(tb, CBT_A_DEV_MAJOR, &d->major);
	if (!ret)
		ret = get_u32(tb, CBT_A_DEV_MINOR, &d->minor);
	if (!ret)
		ret = get_u64(tb, CBT_A_EPOCH_NUMBER, &d->epoch);
	return ret;
}

int cbt_parse_snapshot_reply(const struct nlmsghdr *nlh, struct cbt_snap_reply *r)
{
	const struct nlattr *tb[CBT_A_MAX + 1], *attr;
	int ret;

	memset(r, 0, sizeof(*r));
	ret = reply_index(nlh, tb, PADS);
	if (!ret)
		ret = need(tb, CBT_A_DEVICES, 0);
	if (!ret)
		ret = get_u64(tb, CBT_A_FREEZE_NS, &r->freeze_ns);
	if (!ret)
		ret = get_u64(tb, CBT_A_HOLD_NS, &r->hold_ns);
	if (!ret) {
		const struct nlattr *dtb[CBT_A_MAX + 1];

		/* Only to check the nest is whole attributes; devices are walked below. */
		ret = cbt_attr_index(mnl_attr_get_payload(tb[CBT_A_DEVICES]),
				     mnl_attr_get_payload_len(tb[CBT_A_DEVICES]), dtb, CBT_A_MAX,
				     PADS | 1ULL << CBT_A_DEVICE);
		if (ret)
			cbt_err_prefix(ret, "CBT_A_DEVICES");
	}
	if (ret)
		return bad(ret);
	mnl_attr_for_each_nested(attr, tb[CBT_A_DEVICES]) {
		struct cbt_snap_dev *d;

		if (mnl_attr_get_type(attr) != CBT_A_DEVICE)
			continue;
		if (r->nr == DM_CBT_MAX_GROUP)
			return bad(cbt_err(-EPROTO, "more than %d devices in CBT_A_DEVICES",
					   DM_CBT_MAX_GROUP));
		d = &r->devs[r->nr];
		ret = parse_snap_dev(attr, d);
		if (ret)
			return bad(cbt_err_prefix(ret, "device %zu of CBT_A_DEVICES", r->nr));
		for (size_t i = 0; i < r->nr; i++)
			if (r->devs[i].major == d->major && r->devs[i].minor == d->minor)
				return bad(cbt_err(-EPROTO, "device %" PRIu32 ":%" PRIu32
						   " listed twice", d->major, d->minor));
		r->nr++;
	}
	if (!r->nr)
		return bad(cbt_err(-EPROTO, "CBT_A_DEVICES lists no device"));
	return 0;
}
