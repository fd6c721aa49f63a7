// SPDX-License-Identifier: GPL-2.0
/*
 * libcbtsnap: what docs/libcbt.md promises of snapshots and events, through
 * <cbt/cbt.h> only (tests/vm/cases/libcbt_snapshot.sh drives it). Not in the
 * Makefile's HELPERS: it links libcbt, and tests/vm/run builds it with
 * pkg-config beside the examples.
 *
 *   libcbtsnap die DEVICE COW    take a snapshot and exit without dropping
 *                                it (a process that dies); prints the epoch
 *   libcbtsnap find DEVICE       cbt_snapshot_find() gives it back: drop it,
 *                                abort the closed epochs cbt_device_status()
 *                                lists; prints "EPOCH PATH" of what it found
 *   libcbtsnap busy DEVICE COW COW2
 *                                with a snapshot taken: a second take and a
 *                                find are -EBUSY; released, the device stays
 *                                and find gives it back to drop
 *   libcbtsnap events DEVICE     two event handles each get the
 *                                epoch-closed event of an epoch closed here
 *
 * Prints "FAIL: ..." and exits 1 at the first promise not kept.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cbt/cbt.h>

static struct cbt_error err;

#define FAIL(...) do { printf("FAIL: " __VA_ARGS__); printf(" (%s)\n", err.message); \
		       return 1; } while (0)

static int die(const char *dev, const char *cow)
{
	struct cbt_snapshot *snap = NULL;

	if (cbt_snapshot_take(&dev, &cow, 1, 0, 0, &snap, &err))
		FAIL("take %s", dev);
	printf("%" PRIu64 "\n", cbt_snapshot_epoch(snap, 0));
	fflush(stdout);
	_exit(0);	/* no drop, no release: as a crash leaves it */
}

static int find(const char *name)
{
	struct cbt_snapshot *snap = NULL;
	struct cbt_device *dev = NULL;
	struct cbt_status st;
	char path[256];
	uint64_t epoch;

	if (cbt_snapshot_find(name, &snap, &err) != 0 || !snap)
		FAIL("find %s", name);
	epoch = cbt_snapshot_epoch(snap, 0);
	snprintf(path, sizeof(path), "%s", cbt_snapshot_path(snap, 0));
	if (cbt_snapshot_count(snap) != 1 || access(path, F_OK))
		FAIL("found %zu snapshots, path %s", cbt_snapshot_count(snap), path);
	if (cbt_snapshot_drop(snap, &err))
		FAIL("drop");
	if (!access(path, F_OK))
		FAIL("%s is still there after the drop", path);
	if (cbt_device_open(name, &dev, &err) || cbt_device_status(dev, &st, &err))
		FAIL("status of %s", name);
	if (st.snapshot_present)
		FAIL("the status still lists a snapshot");
	for (uint32_t i = 0; i < st.nr_closed; i++)
		if (cbt_device_epoch_abort(dev, st.closed[i], &err))
			FAIL("abort %" PRIu64, st.closed[i]);
	cbt_device_close(dev);
	printf("%" PRIu64 " %s\n", epoch, path);
	return 0;
}

static int busy(const char *name, const char *cow, const char *cow2)
{
	struct cbt_snapshot *snap = NULL, *other = (struct cbt_snapshot *)&err;
	char path[256];
	int r;

	if (cbt_snapshot_take(&name, &cow, 1, 0, 0, &snap, &err))
		FAIL("take %s", name);
	snprintf(path, sizeof(path), "%s", cbt_snapshot_path(snap, 0));
	r = cbt_snapshot_take(&name, &cow2, 1, 0, 0, &other, &err);
	if (r != -EBUSY || other || err.code != -EBUSY || !strstr(err.message, name))
		FAIL("a second take returned %d, handle %p", r, (void *)other);
	other = (struct cbt_snapshot *)&err;
	r = cbt_snapshot_find(name, &other, &err);
	if (r != -EBUSY || other)
		FAIL("find beside a live handle returned %d", r);
	cbt_snapshot_release(snap);
	if (access(path, F_OK))
		FAIL("%s went with the released handle", path);
	return find(name);
}

/* Wait (10 s at most) for @ev's next event; 1 and *@e filled, or 0. */
static int next_event(struct cbt_events *ev, struct cbt_event_info *e)
{
	struct pollfd p = { .fd = cbt_events_fd(ev), .events = POLLIN };
	int r;

	while ((r = cbt_events_next(ev, e, &err)) == 0)
		if (poll(&p, 1, 10000) != 1)
			return 0;
	return r == 1;
}

static int events(const char *name)
{
	struct cbt_events *ev[2] = { NULL, NULL };
	struct cbt_device *dev = NULL;
	struct cbt_event_info e;
	uint64_t epoch = 0;

	if (cbt_events_open(&ev[0], &err) || cbt_events_open(&ev[1], &err))
		FAIL("events_open");
	if (cbt_device_open(name, &dev, &err) || cbt_device_epoch_close(dev, &epoch, &err))
		FAIL("closing an epoch of %s", name);
	for (int i = 0; i < 2; i++) {
		do {
			if (!next_event(ev[i], &e))
				FAIL("handle %d got no epoch-closed event", i);
		} while (e.type != CBT_EV_EPOCH_CLOSED);
		if (strcmp(e.device, name) || !e.has_epoch || e.epoch != epoch)
			FAIL("handle %d: epoch-closed of %s, epoch %" PRIu64 ", want %s %" PRIu64,
			     i, e.device, e.epoch, name, epoch);
		cbt_events_close(ev[i]);
	}
	if (cbt_device_epoch_abort(dev, epoch, &err))
		FAIL("abort %" PRIu64, epoch);
	cbt_device_close(dev);
	printf("%" PRIu64 "\n", epoch);
	return 0;
}

int main(int argc, char *argv[])
{
	if (argc == 4 && !strcmp(argv[1], "die"))
		return die(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "find"))
		return find(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "busy"))
		return busy(argv[2], argv[3], argv[4]);
	if (argc == 3 && !strcmp(argv[1], "events"))
		return events(argv[2]);
	fprintf(stderr, "usage: libcbtsnap die|find|busy|events DEVICE [COW [COW2]]\n");
	return 2;
}
