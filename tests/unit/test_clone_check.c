// SPDX-License-Identifier: GPL-2.0
/*
 * clone/check.c: which targets `cbt clone' refuses. The device stack is
 * read from a fake sysfs tree, mounts from a fake mountinfo, and the size
 * and signature checks run on plain files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "clone/check.h"
#include "kernel/signature.h"
#include "unit.h"

static char root[256];
static struct clone_env env;
static char sysfs[300], mountinfo[300];

static void put(const char *rel, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		abort();
}

static void dir(const char *rel)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (mkdir(path, 0755) && errno != EEXIST)
		abort();
}

static void link_to(const char *target, const char *rel)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (symlink(target, path))
		abort();
}

/*
 * vda (252:0) with partitions vda1 (252:1) and vda2 (252:2); vdb (252:16)
 * whole; dm-0 (253:0) the cbt device on vda1; dm-1 (253:1) linear on vda2;
 * dm-2 (253:2) on dm-0 (stacked over the source); vdc (252:32) held by dm-3.
 */
static void build_tree(void)
{
	snprintf(root, sizeof(root), "/tmp/cbt-unit-clone.%d", (int)getpid());
	dir("");
	dir("sys");
	dir("sys/dev");
	dir("sys/dev/block");
	dir("sys/devices");
	dir("sys/devices/vda");
	put("sys/devices/vda/dev", "252:0\n");
	dir("sys/devices/vda/vda1");
	put("sys/devices/vda/vda1/dev", "252:1\n");
	put("sys/devices/vda/vda1/partition", "1\n");
	dir("sys/devices/vda/vda2");
	put("sys/devices/vda/vda2/dev", "252:2\n");
	put("sys/devices/vda/vda2/partition", "2\n");
	dir("sys/devices/vdb");
	put("sys/devices/vdb/dev", "252:16\n");
	dir("sys/devices/vdc");
	put("sys/devices/vdc/dev", "252:32\n");
	dir("sys/devices/vdc/holders");
	link_to("../../dm-3", "sys/devices/vdc/holders/dm-3");
	for (int i = 0; i < 4; i++) {
		char rel[64], dev[24];

		snprintf(rel, sizeof(rel), "sys/devices/dm-%d", i);
		dir(rel);
		snprintf(rel, sizeof(rel), "sys/devices/dm-%d/dev", i);
		snprintf(dev, sizeof(dev), "253:%d\n", i);
		put(rel, dev);
		snprintf(rel, sizeof(rel), "sys/devices/dm-%d/slaves", i);
		dir(rel);
	}
	link_to("../../vda/vda1", "sys/devices/dm-0/slaves/vda1");
	link_to("../../vda/vda2", "sys/devices/dm-1/slaves/vda2");
	link_to("../../dm-0", "sys/devices/dm-2/slaves/dm-0");
	link_to("../../vdc", "sys/devices/dm-3/slaves/vdc");
	link_to("../../devices/vda", "sys/dev/block/252:0");
	link_to("../../devices/vda/vda1", "sys/dev/block/252:1");
	link_to("../../devices/vda/vda2", "sys/dev/block/252:2");
	link_to("../../devices/vdb", "sys/dev/block/252:16");
	link_to("../../devices/vdc", "sys/dev/block/252:32");
	for (int i = 0; i < 4; i++) {
		char rel[64], to[64];

		snprintf(rel, sizeof(rel), "sys/dev/block/253:%d", i);
		snprintf(to, sizeof(to), "../../devices/dm-%d", i);
		link_to(to, rel);
	}
	put("mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n"
	    "30 1 252:16 / /mnt rw - ext4 /dev/vdb rw\n");
	snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
	snprintf(mountinfo, sizeof(mountinfo), "%s/mountinfo", root);
	env.sysfs = sysfs;
	env.mountinfo = mountinfo;
}

static void source_stack(void)
{
	struct clone_stack s = { .nr = 0 };

	clone_stack_add(&env, &s, makedev(253, 0));
	CHECK(clone_stack_has(&s, makedev(253, 0)));
	CHECK(clone_stack_has(&s, makedev(252, 1)));
	CHECK(clone_stack_has(&s, makedev(252, 0)));	/* the partition's disk */
	CHECK(!clone_stack_has(&s, makedev(252, 2)));
	CHECK(!clone_stack_has(&s, makedev(252, 16)));
	CHECK_EQ(s.nr, 3);
}

static void same_disk_meets(void)
{
	struct clone_stack src = { .nr = 0 }, other = { .nr = 0 }, up = { .nr = 0 }, b = { .nr = 0 };
	dev_t common;

	clone_stack_add(&env, &src, makedev(253, 0));
	/* dm-1 is on vda2, another partition of the source's disk */
	clone_stack_add(&env, &other, makedev(253, 1));
	CHECK(clone_stacks_meet(&other, &src, &common));
	CHECK_EQ(common, makedev(252, 0));
	/* dm-2 is stacked over the source */
	clone_stack_add(&env, &up, makedev(253, 2));
	CHECK(clone_stacks_meet(&up, &src, &common));
	clone_stack_add(&env, &b, makedev(252, 16));
	CHECK(!clone_stacks_meet(&b, &src, &common));
}

static void mounted(void)
{
	dev_t which;

	CHECK(clone_dev_mounted(&env, makedev(252, 16), &which));
	CHECK_EQ(which, makedev(252, 16));
	CHECK(!clone_dev_mounted(&env, makedev(252, 32), &which));
	put("mountinfo", "30 1 252:2 / /mnt rw - ext4 /dev/vda2 rw\n");
	/* a partition of vda is mounted: vda counts as mounted */
	CHECK(clone_dev_mounted(&env, makedev(252, 0), &which));
	CHECK_EQ(which, makedev(252, 2));
	put("mountinfo", "30 1 252:16 / /mnt rw - ext4 /dev/vdb rw\n");
}

static char *make_file(const char *name, uint64_t bytes)
{
	static char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)bytes) || close(fd))
		abort();
	return path;
}

static void file_targets(void)
{
	struct clone_stack src = { .nr = 0 };
	struct clone_target t = { 0 };
	char cmd[1024];

	clone_stack_add(&env, &src, makedev(253, 0));
	t.path = make_file("small.img", 1 << 20);
	CHECK_ERR(clone_check_target(&env, &t, &src, 0, 2 << 20, false), -ENOSPC,
		  "smaller than the source (1 MiB < 2 MiB)");
	t.path = make_file("big.img", 4 << 20);
	CHECK_EQ(clone_check_target(&env, &t, &src, 0, 2 << 20, false), 0);
	CHECK_EQ(t.bytes, 4 << 20);
	CHECK_STR(t.found, "");
	/* an ext4 filesystem on it: refused without --force, named */
	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F -L clonetest '%s' >/dev/null 2>&1", t.path);
	if (system(cmd)) {
		printf("# mkfs.ext4 not available: signature case not run\n");
		return;
	}
	CHECK_ERR(clone_check_target(&env, &t, &src, 0, 2 << 20, false), -EEXIST,
		  "holds an ext4 filesystem (UUID ");
	CHECK_ERR(clone_check_target(&env, &t, &src, 0, 2 << 20, false), -EEXIST,
		  "label clonetest)");
	CHECK_EQ(clone_check_target(&env, &t, &src, 0, 2 << 20, true), 0);
	CHECK(strstr(t.found, "ext4"));
	t.path = "/nonexistent/x";
	CHECK_ERR(clone_check_target(&env, &t, &src, 0, 2 << 20, false), -ENOENT, "target");
	t.path = root;	/* a directory */
	CHECK_ERR(clone_check_target(&env, &t, &src, 0, 2 << 20, false), -EINVAL,
		  "neither a block device nor a file");
}

/* A 4 MiB file @name with an MBR: one Linux partition from sector 2048, 4096 sectors. */
static char *make_mbr_file(const char *name)
{
	char *path = make_file(name, 4 << 20);
	unsigned char mbr[512] = { 0 };
	int fd = open(path, O_WRONLY);

	mbr[446 + 4] = 0x83;
	mbr[446 + 8] = 0x00; mbr[446 + 9] = 0x08;	/* LBA 2048 */
	mbr[446 + 12] = 0x00; mbr[446 + 13] = 0x10;	/* 4096 sectors */
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	if (fd < 0 || pwrite(fd, mbr, sizeof(mbr), 0) != 512 || close(fd))
		abort();
	return path;
}

static void partition_table_signature(void)
{
	char *path = make_mbr_file("pt.img"), buf[256];

	CHECK_EQ(cbt_probe_signature(path, buf, sizeof(buf)), 1);
	CHECK_STR(buf, "a dos partition table");
	path = make_file("zero.img", 1 << 20);
	CHECK_EQ(cbt_probe_signature(path, buf, sizeof(buf)), 0);
}

/* review M2: a COW device is used only when blank, or with --force */
static void cow_signature(void)
{
	char *path = make_file("cow.img", 4 << 20), cmd[1024];

	CHECK_EQ(cbt_check_cow_signature(path, false), 0);
	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F -L cowtest '%s' >/dev/null 2>&1", path);
	if (system(cmd)) {
		printf("# mkfs.ext4 not available: signature case not run\n");
		return;
	}
	CHECK_ERR(cbt_check_cow_signature(path, false), -EEXIST,
		  "holds an ext4 filesystem (UUID ");
	CHECK_ERR(cbt_check_cow_signature(path, false), -EEXIST, "--force");
	CHECK_EQ(cbt_check_cow_signature(path, true), 0);
	/* what cbt_snap_drop() does to a COW it used: blank again */
	cbt_wipe_signatures(path);
	CHECK_EQ(cbt_check_cow_signature(path, false), 0);
	path = make_mbr_file("cowpt.img");
	CHECK_ERR(cbt_check_cow_signature(path, false), -EEXIST, "a dos partition table");
	cbt_wipe_signatures(path);
	CHECK_EQ(cbt_check_cow_signature(path, false), 0);
}

static void cleanup(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		UT_FAIL("cannot remove %s", root);
}

static void setup(void)
{
	build_tree();
}

UT_MAIN("clone_check",
	UT_CASE(setup),
	UT_CASE(source_stack),
	UT_CASE(same_disk_meets),
	UT_CASE(mounted),
	UT_CASE(file_targets),
	UT_CASE(partition_table_signature),
	UT_CASE(cow_signature),
	UT_CASE(cleanup))
