// SPDX-License-Identifier: GPL-2.0
/*
 * libcbt's device API (include/cbt/cbt.h) on the simulated dm-cbt of
 * fake_kernel.c, through that header only: open by name, number and the
 * usual failures, status, epochs, and the changed blocks of epochs as
 * extent iterators, exactly (the fake's bitmaps cross chunk and message
 * boundaries and end in a half block).
 */
#include <errno.h>
#include <stdlib.h>

#include <cbt/cbt.h>

#include "libcbt_check.h"
#include "unit.h"

static struct cbt_error err;

#define CHECK_API_ERR(expr, want, needle) CHECK_API_ERR_IN(err, expr, want, needle)

static struct cbt_device *open_dev(const char *scenario, const char *name)
{
	struct cbt_device *dev = NULL;

	setenv("CBT_FAKE", scenario, 1);
	if (cbt_device_open(name, &dev, &err))
		return NULL;
	return dev;
}

static void status_fields(void)
{
	struct cbt_device *dev = open_dev("", "vg-data");
	struct cbt_status st;

	CHECK(dev);
	CHECK_EQ(err.code, 0);
	memset(&st, 0x5a, sizeof(st));
	CHECK_EQ(cbt_device_status(dev, &st, &err), 0);
	CHECK_STR(st.name, "vg-data");
	CHECK(st.major == 253 && st.minor == 3);
	CHECK_EQ(st.uuid[0], 0x1b);
	CHECK_EQ(st.reason, CBT_REASON_CONTINUED);
	CHECK_EQ(st.persistence, CBT_PERSISTENCE_METADATA);
	CHECK_EQ(st.block_size, 65536);
	CHECK_EQ(st.nr_blocks, 100000);
	CHECK_EQ(st.dev_bytes, (100000ULL * 128 - 64) * 512);
	CHECK_EQ(st.epoch, 7);
	CHECK_EQ(st.epoch_blocks, 1);
	CHECK_EQ(st.nr_closed, 2);
	CHECK(st.closed[0] == 5 && st.closed[1] == 6);
	CHECK_EQ(st.closed_blocks[0], 10 + 11 + 4 + 1);
	CHECK_EQ(st.closed_blocks[1], 101);
	CHECK_EQ(st.snapshot_present, 0);
	cbt_device_close(dev);

	dev = open_dev("replaced", "253:3");	/* by number */
	CHECK(dev);
	CHECK_EQ(cbt_device_status(dev, &st, NULL), 0);
	CHECK_EQ(st.reason, CBT_REASON_TABLE_REPLACED);
	CHECK_STR(cbt_reason_str(st.reason), "table-replaced");
	cbt_device_close(dev);
}

static void open_failures(void)
{
	struct cbt_device *dev = (struct cbt_device *)&err;

	setenv("CBT_FAKE", "", 1);
	CHECK_API_ERR(cbt_device_open("nosuch", &dev, &err), -ENODEV, "nosuch");
	CHECK(!dev);
	/* the sentence docs/libcbt.md shows, what to do included */
	CHECK_STR(err.message, "nosuch: No such device: No cbt device by that name or number"
		  " (`cbt status' lists the cbt devices)");
	CHECK_API_ERR(cbt_device_open("1:2:3", &dev, &err), -EINVAL, "1:2:3");
	setenv("CBT_FAKE", "nomodule", 1);
	CHECK_API_ERR(cbt_device_open("vg-data", &dev, &err), -ENOENT, "modprobe dm-cbt");
	setenv("CBT_FAKE", "eperm", 1);
	CHECK_API_ERR(cbt_device_open("vg-data", &dev, &err), -EPERM, "CAP_SYS_ADMIN");
	setenv("CBT_FAKE", "v99", 1);
	CHECK_API_ERR(cbt_device_open("vg-data", &dev, &err), -EPROTO, "99");
	CHECK(!dev);
}

static void changes_exact(void)
{
	struct cbt_device *dev = open_dev("", "vg-data");
	struct cbt_extent_iter *it = NULL;
	uint64_t off, len, last_off = 0, last_len = 0;
	char buf[512];

	CHECK(dev);
	CHECK_EQ(cbt_device_changes(dev, 5, 5, &it, &err), 0);
	/* a run across the chunk boundary at 8192 comes out whole */
	CHECK_STR(extents_str(it, buf, sizeof(buf)),
		  "0+10 8190+11 16384+1 16386+1 16388+1 16390+1 99999+1 ");
	CHECK_EQ(cbt_extents_blocks(it), 26);
	CHECK_EQ(cbt_extents_count(it), 7);
	CHECK_EQ(cbt_extents_block_size(it), 65536);
	cbt_extents_rewind(it);
	while (cbt_extents_next_bytes(it, &off, &len)) {
		last_off = off;
		last_len = len;
	}
	/* the last block is half a block */
	CHECK_EQ(last_off, 99999ULL * 65536);
	CHECK_EQ(last_len, 32768);
	cbt_extents_destroy(it);

	CHECK_EQ(cbt_device_changes(dev, 5, 6, &it, &err), 0);
	CHECK_STR(extents_str(it, buf, sizeof(buf)),
		  "0+10 8190+11 16384+1 16386+1 16388+1 16390+1 20000+100 99999+1 ");
	cbt_extents_destroy(it);
	CHECK_EQ(cbt_device_changes(dev, 7, 7, &it, &err), 0);
	CHECK_STR(extents_str(it, buf, sizeof(buf)), "50+1 ");
	cbt_extents_destroy(it);
	it = (struct cbt_extent_iter *)&err;
	CHECK_API_ERR(cbt_device_changes(dev, 6, 5, &it, &err), -EINVAL, "the first is after");
	CHECK(!it);
	cbt_device_close(dev);
}

/* Bad kernel data is a clear -EPROTO, and no iterator. */
static void changes_bad_reply(void)
{
	struct cbt_device *dev = open_dev("corrupt", "vg-data");
	struct cbt_extent_iter *it = (struct cbt_extent_iter *)&err;

	CHECK(dev);
	CHECK_API_ERR(cbt_device_changes(dev, 5, 5, &it, &err), -EPROTO, "vg-data");
	CHECK(!it);
	cbt_device_close(dev);
}

static void epochs(void)
{
	struct cbt_device *dev = open_dev("", "vg-data");
	struct cbt_status st;
	uint64_t n = 0;

	CHECK(dev);
	CHECK_EQ(cbt_device_epoch_close(dev, &n, &err), 0);
	CHECK_EQ(n, 7);
	CHECK_EQ(cbt_device_status(dev, &st, &err), 0);
	CHECK_EQ(st.epoch, 8);
	CHECK_EQ(st.nr_closed, 3);
	CHECK_API_ERR(cbt_device_epoch_close(dev, &n, &err), -EBUSY, "commit or abort");
	CHECK_API_ERR(cbt_device_epoch_commit(dev, 6, &err), -EINVAL, "older closed epoch");
	CHECK_EQ(cbt_device_epoch_commit(dev, 5, &err), 0);
	CHECK_EQ(cbt_device_epoch_abort(dev, 7, &err), 0);
	CHECK_API_ERR(cbt_device_epoch_abort(dev, 8, &err), -ENOENT, "No such closed epoch");
	cbt_device_close(dev);
}

UT_MAIN("libcbt_device",
	UT_CASE(status_fields),
	UT_CASE(open_failures),
	UT_CASE(changes_exact),
	UT_CASE(changes_bad_reply),
	UT_CASE(epochs))
