// SPDX-License-Identifier: GPL-2.0
/*
 * layer.c: the reattach record and the handler's lock around `cbt detach'
 * (review: the swap's change uevent could attach a device being detached).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "kernel/layer.h"
#include "unit.h"

const char *PROG_NAME = "cbt";

static char dir[64], rec[128], lockp[160];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cbt-layer-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	setenv("CBT_RUN_DIR", dir, 1);
	snprintf(rec, sizeof(rec), "%s/attached/vg-lv", dir);
	snprintf(lockp, sizeof(lockp), "%s.lock", rec);
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		abort();
}

static int slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return 0;
}

/* held: no record, and a handler's `flock NAME.lock' would wait */
static void hold_removes_record_and_locks(void)
{
	struct cbt_layer_hold h;
	int fd;

	setup();
	CHECK_EQ(cbt_layer_record("vg-lv", 65536, NULL), 0);
	CHECK_EQ(access(rec, F_OK), 0);
	CHECK_EQ(cbt_layer_hold("vg-lv", &h), 0);
	CHECK(access(rec, F_OK) && errno == ENOENT);
	fd = open(lockp, O_RDWR);
	CHECK(fd >= 0);
	CHECK(flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK);
	close(fd);
	cbt_layer_release("vg-lv", &h, false);
	CHECK(access(rec, F_OK) && errno == ENOENT);
	CHECK(access(lockp, F_OK) && errno == ENOENT);
	cleanup();
}

/* a detach that failed before the swap: the record comes back as it was */
static void release_puts_record_back(void)
{
	struct cbt_layer_hold h;
	char before[512], after[512];
	int fd;

	setup();
	CHECK_EQ(cbt_layer_record("vg-lv", 4096, "/dev/null"), 0);
	CHECK_EQ(slurp(rec, before, sizeof(before)), 0);
	CHECK_EQ(cbt_layer_hold("vg-lv", &h), 0);
	cbt_layer_release("vg-lv", &h, true);
	CHECK_EQ(slurp(rec, after, sizeof(after)), 0);
	CHECK_STR(after, before);
	fd = open(lockp, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
	close(fd);
	cleanup();
}

/* nothing recorded (no run directory at all): detach goes on */
static void hold_without_record(void)
{
	struct cbt_layer_hold h;

	setup();
	CHECK_EQ(cbt_layer_hold("vg-lv", &h), 0);
	cbt_layer_release("vg-lv", &h, true);
	CHECK(access(rec, F_OK) && errno == ENOENT);
	cleanup();
}

UT_MAIN("layer",
	UT_CASE(hold_removes_record_and_locks),
	UT_CASE(release_puts_record_back),
	UT_CASE(hold_without_record))
