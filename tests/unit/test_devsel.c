// SPDX-License-Identifier: GPL-2.0
/* devsel.c: the DEVICE argument. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kernel/devsel.h"
#include "unit.h"
#include "util/util.h"

static void by_name(void)
{
	struct cbt_devsel s;
	char buf[CBT_NAME_MAX + 1];

	CHECK_EQ(cbt_devsel_parse("vg-data", &s), 0);
	CHECK(!s.by_number);
	CHECK_STR(s.name, "vg-data");
	CHECK_STR(cbt_devsel_str(&s, buf), "vg-data");
	/* a colon that does not follow a digit is part of a name */
	CHECK_EQ(cbt_devsel_parse("vg:data", &s), 0);
	CHECK_STR(s.name, "vg:data");
	CHECK_EQ(cbt_devsel_parse("dm-3", &s), 0);
	CHECK_STR(s.name, "dm-3");
	/* digits alone are a name too */
	CHECK_EQ(cbt_devsel_parse("253", &s), 0);
	CHECK_STR(s.name, "253");
}

static void by_number(void)
{
	struct cbt_devsel s;
	char buf[CBT_NAME_MAX + 1];

	CHECK_EQ(cbt_devsel_parse("253:0", &s), 0);
	CHECK(s.by_number);
	CHECK_EQ(s.major, 253);
	CHECK_EQ(s.minor, 0);
	CHECK_STR(cbt_devsel_str(&s, buf), "253:0");
	CHECK_EQ(cbt_devsel_parse("4095:1048575", &s), 0);
	CHECK_EQ(s.major, 4095);
	CHECK_EQ(s.minor, 1048575);
	CHECK_EQ(cbt_devsel_parse("008:001", &s), 0);
	CHECK_EQ(s.major, 8);
	CHECK_EQ(s.minor, 1);
}

static void bad_numbers(void)
{
	static const char *const bad[] = {
		"8:", ":1", ":", "8:1x", "8x:1", "8:1:2", "8::1", "8:-1", "8:+1", "8: 1",
		"99999999999999999999:1", "8:99999999999999999999",
	};
	struct cbt_devsel s;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cbt_err_clear();
		CHECK_EQ(cbt_devsel_parse(bad[i], &s), -EINVAL);
		CHECK(strstr(ut_detail(), bad[i]));	/* the message quotes the input */
		CHECK(strstr(ut_detail(), "MAJ:MIN"));
	}
}

static void numbers_out_of_range(void)
{
	struct cbt_devsel s;

	CHECK_ERR(cbt_devsel_parse("4096:0", &s), -EINVAL, "`4096:0' out of range");
	CHECK_ERR(cbt_devsel_parse("8:1048576", &s), -EINVAL, "out of range");
}

static void name_lengths(void)
{
	char name[200];
	struct cbt_devsel s;

	memset(name, 'n', sizeof(name));
	name[127] = '\0';
	CHECK_EQ(cbt_devsel_parse(name, &s), 0);
	CHECK_EQ(strlen(s.name), 127);
	name[127] = 'n';
	name[128] = '\0';
	CHECK_ERR(cbt_devsel_parse(name, &s), -ENAMETOOLONG, "128 bytes long");
	name[199] = '\0';
	CHECK_ERR(cbt_devsel_parse(name, &s), -ENAMETOOLONG, "at most 127");
	CHECK_ERR(cbt_devsel_parse("", &s), -EINVAL, "empty device name");
}

static void paths(void)
{
	char tmp[] = "/tmp/cbt-devsel-XXXXXX";
	struct cbt_devsel s;
	int fd = mkstemp(tmp);

	CHECK(fd >= 0);
	close(fd);
	CHECK_ERR(cbt_devsel_parse(tmp, &s), -ENOTBLK, "is not a block device");
	unlink(tmp);
	/* no such node: no such cbt device (exit status 5, as for an unknown name) */
	CHECK_ERR(cbt_devsel_parse(tmp, &s), -ENODEV, "does not exist");
	CHECK_ERR(cbt_devsel_parse("/dev/null", &s), -ENOTBLK, "`/dev/null' is not a block device");
	/* a relative path with a slash is a path, not a name */
	CHECK_ERR(cbt_devsel_parse("./no-such-node", &s), -ENODEV, "./no-such-node");
}

/* A block device node gives its numbers: made with mknod where allowed (root). */
static void block_device_node(void)
{
	static const char *const nodes[] = { "/dev/loop0", "/dev/sda", "/dev/vda", "/dev/nvme0n1" };
	char tmp[] = "/tmp/cbt-devsel-XXXXXX", node[64];
	struct cbt_devsel s;
	struct stat st;

	CHECK(mkdtemp(tmp));
	snprintf(node, sizeof(node), "%s/dm-77", tmp);
	if (!mknod(node, S_IFBLK | 0600, makedev(253, 77))) {
		int ret = cbt_devsel_parse(node, &s);

		unlink(node);
		rmdir(tmp);
		CHECK_EQ(ret, 0);
		CHECK(s.by_number);
		CHECK_EQ(s.major, 253);
		CHECK_EQ(s.minor, 77);
		return;
	}
	rmdir(tmp);
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
		if (stat(nodes[i], &st) || !S_ISBLK(st.st_mode))
			continue;
		CHECK_EQ(cbt_devsel_parse(nodes[i], &s), 0);
		CHECK(s.by_number);
		CHECK_EQ(s.major, major(st.st_rdev));
		CHECK_EQ(s.minor, minor(st.st_rdev));
		return;
	}
	/* neither mknod nor any block device node here: nothing more to check */
}

UT_MAIN("devsel",
	UT_CASE(by_name),
	UT_CASE(by_number),
	UT_CASE(bad_numbers),
	UT_CASE(numbers_out_of_range),
	UT_CASE(name_lengths),
	UT_CASE(paths),
	UT_CASE(block_device_node))
