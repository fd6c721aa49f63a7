// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backup/runrec.h"
#include "kernel/device.h"
#include "util/json.h"
#include "kernel/snapdev.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s snapshot take DEVICE... --cow COW... [--freeze | --no-freeze]\n"
		"                    [--chunk SIZE] [--preserve] [--force] [--json]\n"
		"       %s snapshot release DEVICE OFFSET LENGTH [--force] [--json]\n"
		"       %s snapshot drop DEVICE [--force] [--json]\n"
		"       %s snapshot list [--json]\n\n"
		"take  attaches a read-only snapshot device DEVICE-snap to each DEVICE, with\n"
		"      the matching COW device (one per DEVICE, in order) holding the old\n"
		"      data of blocks written afterwards, and takes them all at one instant,\n"
		"      closing each device's open epoch. Prints each snapshot's path and\n"
		"      closed epoch, and how long filesystems were frozen and writes held.\n"
		"      --freeze freezes the filesystems on the devices around the instant\n"
		"      (the default when one is mounted on a DEVICE); --no-freeze does not.\n"
		"      --chunk is the copy-on-write unit, 4K to 1M (default 4K).\n"
		"      --preserve keeps only the blocks of the epoch the take closes (what\n"
		"      an incremental reads): other chunks are not copied when written,\n"
		"      and reading them from the snapshot then fails (EIO).\n"
		"release  tells the snapshot its reader is done with bytes OFFSET to\n"
		"      OFFSET+LENGTH (sizes like 4K, 1M): the COW chunks wholly inside are\n"
		"      no longer copied, their COW space is freed, reading them fails.\n"
		"drop  removes DEVICE's snapshot device and frees its COW device. The\n"
		"      epoch the snapshot closed stays: commit or abort it (cbt epoch).\n"
		"release and drop are refused while a backup, clone, migrate or serve of\n"
		"      DEVICE runs (or a program holds its snapshot through libcbt);\n"
		"      --force goes ahead anyway.\n"
		"list  shows the attached snapshots: state, epoch, age, COW use.\n\n"
		"A COW device must be on another disk than the origin, and not a device\n"
		"stacked on DEVICE, nor a loop device over a file on it. It must be blank\n"
		"(no partition table, filesystem, LVM or RAID signature) unless --force is\n"
		"given. When it fills up the snapshot becomes invalid; DEVICE keeps working.\n"
		"take is refused while a backup, clone, migrate or serve of a DEVICE runs.\n"
		"A snapshot taken here is yours until drop: `cbt backup' refuses to run\n"
		"(it does not drop it as an interrupted backup's leftover).\n", PROG_NAME, PROG_NAME,
		PROG_NAME, PROG_NAME);
}

static void print_ms(const char *what, uint64_t ns)
{
	printf("%s %" PRIu64 ".%03" PRIu64 " ms", what, ns / 1000000, ns / 1000 % 1000);
}

static void unlock_devices(int *locks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (locks[i] >= 0)
			close(locks[i]);
}

/*
 * Look up each of @devs[0 .. @n) and take its device lock into @locks
 * (-1 where none was taken); *@mounted says whether a filesystem is
 * mounted on one, @preserve gets each one's open epoch. A device named
 * twice is locked once: cbt_snap_take() refuses the pair by name.
 */
static int lock_devices(const char *const *devs, size_t n, int *locks, bool *mounted,
			uint64_t *preserve)
{
	uint32_t ma[DM_CBT_MAX_GROUP], mi[DM_CBT_MAX_GROUP];
	struct cbt_nl *nl = NULL;
	int ret = 0;

	for (size_t i = 0; !ret && i < n; i++) {
		struct cbt_devsel sel;
		struct cbt_dev_info info;
		bool twice = false;

		ret = cbt_dev_lookup(devs[i], &nl, &sel, &info);
		if (ret)
			break;
		*mounted = *mounted || cbt_dev_mounted(info.major, info.minor);
		preserve[i] = info.epoch_current;
		ma[i] = info.major;
		mi[i] = info.minor;
		for (size_t k = 0; k < i; k++)
			twice = twice || (ma[k] == ma[i] && mi[k] == mi[i]);
		if (!twice) {
			locks[i] = cbt_device_lock(&info);
			if (locks[i] < 0)
				ret = locks[i];
		}
		cbt_dev_info_free(&info);
	}
	cbt_nl_close(nl);
	return ret;
}

/*
 * Record snapshot @s in its device's lock file @fd (backup/runrec.h), so
 * that a `cbt backup' finding it later leaves it to its user instead of
 * dropping it as a dead run's. The snapshot is taken either way: a record
 * not written is said, not a failure.
 */
static void record_take(int fd, const struct cbt_snap *s)
{
	char line[CBT_RUNREC_LINE], rec[2 * CBT_RUNREC_LINE], u[CBT_UUID_STR_LEN];
	int ret = -ENAMETOOLONG;

	if (!cbt_runrec_line(line, sizeof(line), CBT_RUNREC_SNAP_FMT, cbt_uuid_str(s->uuid, u),
			     s->epoch, s->snap_name, major(s->cow), minor(s->cow)) &&
	    !cbt_takerec_format(rec, sizeof(rec), line)) {
		ret = 0;
		if (ftruncate(fd, 0) || pwrite(fd, rec, strlen(rec), 0) != (ssize_t)strlen(rec))
			ret = -errno;
	}
	if (ret)
		fprintf(stderr, "%s snapshot take: %s: recording snapshot %s in its lock file: %s;"
			" a `cbt backup' of it would drop it as an interrupted run's\n", PROG_NAME,
			s->cbt_name, s->snap_name, strerror(-ret));
}

static int take(int argc, char *argv[])
{
	const char *devs[DM_CBT_MAX_GROUP], *cows[DM_CBT_MAX_GROUP];
	struct cbt_snap_opts o = { .cows = cows };
	uint64_t preserve[DM_CBT_MAX_GROUP] = { 0 };
	bool want_preserve = false;
	struct cbt_snap *snaps = NULL;
	size_t nd = 0, nc = 0;
	int freeze = -1, ret;
	bool json = false, in_cow = false, mounted = false;
	int locks[DM_CBT_MAX_GROUP];
	uint64_t bytes;
	char u[CBT_UUID_STR_LEN];

	for (size_t i = 0; i < DM_CBT_MAX_GROUP; i++)
		locks[i] = -1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--cow") || !strncmp(a, "--cow=", 6)) {
			in_cow = true;
			if (a[5] != '=')
				continue;
			a += 6;
		} else if (!strcmp(a, "--freeze") || !strcmp(a, "--no-freeze")) {
			if (freeze != -1 && freeze != !strcmp(a, "--freeze"))
				return bad_argument("snapshot take", "give one of --freeze and --no-freeze,"
						    " not also", a, NULL);
			freeze = !strcmp(a, "--freeze");
			in_cow = false;
			continue;
		} else if (!strcmp(a, "--chunk") || !strncmp(a, "--chunk=", 8)) {
			const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v) {
				cbt_fail(CBT_EXIT_USAGE, "%s snapshot take: option `--chunk' needs a value",
					 PROG_NAME);
				return CBT_EXIT_USAGE;
			}
			if (cbt_parse_size(v, &bytes) || bytes < CBT_SNAP_CHUNK_MIN ||
			    bytes > CBT_SNAP_CHUNK_MAX || (bytes & (bytes - 1)))
				return bad_argument("snapshot take", "--chunk takes a power of two from 4K"
						    " to 1M, not", v, NULL);
			o.chunk_bytes = (uint32_t)bytes;
			in_cow = false;
			continue;
		} else if (!strcmp(a, "--json")) {
			json = true;
			in_cow = false;
			continue;
		} else if (!strcmp(a, "--force")) {
			o.force = true;
			in_cow = false;
			continue;
		} else if (!strcmp(a, "--preserve")) {
			want_preserve = true;
			in_cow = false;
			continue;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			return bad_argument("snapshot take", "unknown option", a, NULL);
		}
		if (in_cow) {
			if (nc == DM_CBT_MAX_GROUP)
				return bad_argument("snapshot take", "too many COW devices, from", a,
						    "at most 64");
			cows[nc++] = a;
		} else {
			if (nd == DM_CBT_MAX_GROUP)
				return bad_argument("snapshot take", "too many devices, from", a,
						    "at most 64");
			devs[nd++] = a;
		}
	}
	if (!nd) {
		cbt_fail(CBT_EXIT_USAGE, "%s snapshot take: which DEVICE? (`cbt status' lists them)",
			 PROG_NAME);
		return CBT_EXIT_USAGE;
	}
	if (nc != nd) {
		cbt_fail(CBT_EXIT_USAGE, "%s snapshot take: %zu device%s but %zu COW device%s: give one"
			 " --cow COW per DEVICE, in the same order", PROG_NAME, nd,
			 nd == 1 ? "" : "s", nc, nc == 1 ? "" : "s");
		return CBT_EXIT_USAGE;
	}

	/*
	 * Each device's lock (cbt_device_lock(): the one backup, clone,
	 * migrate and serve hold) for the whole take, taken before anything
	 * is attached: a snapshot taken beside a running one would make it
	 * fail later, after its work, and its leftovers would pass for a dead
	 * run's. While reading the devices: freeze when a filesystem is
	 * mounted on one; preserve from the epoch open now, the one the take
	 * closes.
	 */
	ret = lock_devices(devs, nd, locks, &mounted, preserve);
	if (ret)
		goto out;
	if (freeze == -1)
		freeze = mounted;
	if (want_preserve)
		o.preserve_from = preserve;
	o.freeze = freeze;
	snaps = calloc(nd, sizeof(*snaps));
	if (!snaps) {
		ret = -ENOMEM;
		goto out;
	}
	ret = cbt_snap_take(devs, nd, &o, snaps);
	if (ret)
		goto out;
	/* Still under the locks: no backup sees the snapshots unrecorded. */
	for (size_t i = 0; i < nd; i++)
		if (locks[i] >= 0)
			record_take(locks[i], &snaps[i]);

	if (json) {
		struct cbt_json j;

		cbt_json_init(&j, stdout, false);
		cbt_json_object_begin(&j, NULL);
		cbt_json_array_begin(&j, "snapshots");
		for (size_t i = 0; i < nd; i++) {
			cbt_json_object_begin(&j, NULL);
			cbt_json_string(&j, "device", snaps[i].cbt_name);
			cbt_json_string(&j, "snapshot", snaps[i].snap_name);
			cbt_json_string(&j, "path", snaps[i].snap_path);
			cbt_json_u64(&j, "epoch", snaps[i].epoch);
			cbt_json_string(&j, "uuid", cbt_uuid_str(snaps[i].uuid, u));
			cbt_json_u64(&j, "block_size", snaps[i].block_size);
			cbt_json_u64(&j, "size_bytes", snaps[i].sectors * 512);
			cbt_json_object_end(&j);
		}
		cbt_json_array_end(&j);
		cbt_json_bool(&j, "frozen", o.freeze);
		cbt_json_u64(&j, "freeze_ns", snaps[0].freeze_ns);
		cbt_json_u64(&j, "hold_ns", snaps[0].hold_ns);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	} else {
		for (size_t i = 0; i < nd; i++)
			printf("%s: snapshot %s, epoch %" PRIu64 " closed\n", snaps[i].cbt_name,
			       snaps[i].snap_path, snaps[i].epoch);
		if (o.freeze)
			print_ms("filesystems frozen", snaps[0].freeze_ns);
		else
			printf("not frozen");
		print_ms(", writes held", snaps[0].hold_ns);
		putchar('\n');
	}
out:
	free(snaps);
	unlock_devices(locks, nd);
	if (ret) {
		cbt_perror("cbt snapshot take", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}

static int drop(int argc, char *argv[])
{
	struct cbt_nl *nl = NULL;
	struct cbt_dev_info info;
	struct cbt_devsel sel;
	struct cbt_snap s;
	const char *dev = NULL;
	bool force = false;
	int ret, lock = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--force")) {
			force = true;
		} else if (argv[i][0] == '-') {
			return bad_argument("snapshot drop", "unknown option", argv[i], NULL);
		} else if (dev) {
			return bad_argument("snapshot drop", "takes one DEVICE, not also", argv[i], NULL);
		} else {
			dev = argv[i];
		}
	}
	if (!dev) {
		cbt_fail(CBT_EXIT_USAGE, "%s snapshot drop: which DEVICE? (`cbt snapshot list' lists the"
			 " snapshots)", PROG_NAME);
		return CBT_EXIT_USAGE;
	}
	ret = cbt_dev_lookup(dev, &nl, &sel, &info);
	if (ret)
		goto out;
	/*
	 * The device's lock, held by a backup, clone, migrate or serve (or a
	 * libcbt program) that may be reading this very snapshot: removing it
	 * would fail that run after its work. --force drops it anyway (a
	 * holder that hangs); the lock, free or not, is not needed for that.
	 */
	lock = cbt_device_lock(&info);
	if (lock == -EBUSY && force) {
		fprintf(stderr, "%s snapshot drop: --force: a backup, clone, migrate or serve of %s"
			" (or a libcbt program) holds its lock: dropping the snapshot anyway\n",
			PROG_NAME, info.name);
		cbt_err_clear();
	} else if (lock == -EBUSY) {
		ret = cbt_err_hint(lock, "--force drops the snapshot anyway, failing whoever reads it");
	} else if (lock < 0) {
		ret = lock;
	}
	if (!ret) {
		ret = cbt_snap_find(info.major, info.minor, &s);
		if (ret == -ENOENT)
			cbt_err(ret, "%s has no snapshot device attached (`cbt snapshot list' lists them)",
				info.name);
	}
	cbt_dev_info_free(&info);
	if (!ret)
		ret = cbt_snap_drop(&s);
	/* Gone, the snapshot's record goes too (only ours to clear while we hold the lock). */
	if (!ret && lock >= 0 && ftruncate(lock, 0))
		ret = cbt_err(-errno, "the snapshot is dropped, but clearing its record in the lock"
			      " file failed: %s", strerror(errno));
out:
	if (lock >= 0)
		close(lock);
	cbt_nl_close(nl);
	if (ret) {
		cbt_perror("cbt snapshot drop", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}

static const char *errno_name(uint32_t e)
{
	switch (e) {
	case ENOSPC: return "ENOSPC";
	case EIO: return "EIO";
	case ENOMEM: return "ENOMEM";
	}
	return NULL;
}

static void list_json(struct cbt_json *j, const struct cbt_dev_info *d, const struct cbt_snap *s)
{
	const char *en = errno_name(d->snap.error);

	cbt_json_object_begin(j, NULL);
	cbt_json_string(j, "device", d->name);
	if (s->snap_name[0]) {
		cbt_json_string(j, "snapshot", s->snap_name);
		cbt_json_string(j, "path", s->snap_path);
	} else {
		cbt_json_null(j, "snapshot");
		cbt_json_null(j, "path");
	}
	cbt_json_string(j, "state", cbt_snap_state_name(d->snap.state));
	if (d->snap.error)
		cbt_json_string(j, "error", en ? en : strerror((int)d->snap.error));
	else
		cbt_json_null(j, "error");
	cbt_json_u64(j, "epoch", d->snap.epoch);
	cbt_json_u64(j, "age_ms", d->snap.age_ms);
	cbt_json_u64(j, "chunk_size", d->snap.chunk_size);
	cbt_json_u64(j, "cow_used_bytes", d->snap.cow_used);
	cbt_json_u64(j, "cow_total_bytes", d->snap.cow_total);
	cbt_json_u64(j, "chunks_copied", d->snap.copied);
	cbt_json_u64(j, "size_bytes", d->snap.sectors * 512);
	if (d->snap.has_release) {
		if (d->snap.preserve_from)
			cbt_json_u64(j, "preserve_from", d->snap.preserve_from);
		else
			cbt_json_null(j, "preserve_from");
		cbt_json_u64(j, "chunks_to_read", d->snap.to_read);
		cbt_json_u64(j, "chunks_released", d->snap.released);
		cbt_json_u64(j, "chunks_forfeited", d->snap.forfeited);
	}
	cbt_json_object_end(j);
}

static int list(int argc, char *argv[])
{
	struct cbt_dev_info *devs = NULL;
	struct cbt_nl *nl = NULL;
	struct cbt_json j;
	bool json = false, any = false;
	size_t nr = 0;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-')
			return bad_argument("snapshot list", "unknown option", argv[i], NULL);
		else
			return bad_argument("snapshot list", "takes no DEVICE, not", argv[i],
					    "`cbt status DEVICE' shows one device");
	}
	cbt_nl_need(CBT_NL_READ);
	ret = cbt_nl_open(&nl);
	if (!ret)
		ret = cbt_list_devices(nl, &devs, &nr);
	if (ret)
		goto out;
	if (json) {
		cbt_json_init(&j, stdout, false);
		cbt_json_array_begin(&j, NULL);
	}
	for (size_t i = 0; i < nr; i++) {
		const struct cbt_dev_info *d = &devs[i];
		char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];
		struct cbt_snap s;

		if (!d->snap.present)
			continue;
		if (cbt_snap_find(d->major, d->minor, &s))
			memset(&s, 0, sizeof(s));
		if (json) {
			list_json(&j, d, &s);
			continue;
		}
		any = true;
		printf("%s: %s, %s", d->name, s.snap_name[0] ? s.snap_path : "(snapshot device not found)",
		       cbt_snap_state_name(d->snap.state));
		if (d->snap.error)
			printf(" (%s)", strerror((int)d->snap.error));
		if (d->snap.state != CBT_SNAP_PREPARED)
			printf(", epoch %" PRIu64 ", taken %" PRIu64 ".%" PRIu64 " s ago", d->snap.epoch,
			       d->snap.age_ms / 1000, d->snap.age_ms / 100 % 10);
		printf(", COW %s of %s used", cbt_human_size(d->snap.cow_used, a),
		       cbt_human_size(d->snap.cow_total, b));
		printf(", %" PRIu64 " chunk%s of %s copied", d->snap.copied,
		       d->snap.copied == 1 ? "" : "s", cbt_human_size(d->snap.chunk_size, a));
		if (d->snap.has_release && d->snap.preserve_from)
			printf(", preserving epochs from %" PRIu64, d->snap.preserve_from);
		if (d->snap.has_release)
			printf(", %" PRIu64 " to read, %" PRIu64 " released, %" PRIu64 " forfeited",
			       d->snap.to_read, d->snap.released, d->snap.forfeited);
		putchar('\n');
	}
	if (json) {
		cbt_json_array_end(&j);
		cbt_json_finish(&j);
	} else if (!any) {
		printf("no snapshot attached\n");
	}
out:
	cbt_dev_infos_free(devs, nr);
	cbt_nl_close(nl);
	if (ret) {
		cbt_perror("cbt snapshot list", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}

static int release(int argc, char *argv[])
{
	struct cbt_nl *nl = NULL;
	struct cbt_dev_info info;
	struct cbt_devsel sel;
	const char *pos[3];
	uint64_t off, len;
	bool force = false;
	int ret, lock = -1, np = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--force")) {
			force = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return bad_argument("snapshot release", "unknown option", argv[i], NULL);
		} else if (np == 3) {
			np++;
		} else {
			pos[np++] = argv[i];
		}
	}
	if (np != 3) {
		cbt_fail(CBT_EXIT_USAGE, "%s snapshot release: give DEVICE OFFSET LENGTH", PROG_NAME);
		return CBT_EXIT_USAGE;
	}
	if (cbt_parse_size(pos[1], &off) || off % 512)
		return bad_argument("snapshot release", "OFFSET is a size in whole sectors, not",
				    pos[1], NULL);
	if (cbt_parse_size(pos[2], &len) || len % 512)
		return bad_argument("snapshot release", "LENGTH is a size in whole sectors, not",
				    pos[2], NULL);
	ret = cbt_dev_lookup(pos[0], &nl, &sel, &info);
	if (ret)
		goto out;
	/*
	 * As drop: a backup, clone, migrate or serve holding the device's lock
	 * may still need those bytes (an incremental reads what it has not
	 * released yet): they would read EIO. --force releases anyway.
	 */
	lock = cbt_device_lock(&info);
	if (lock == -EBUSY && force) {
		fprintf(stderr, "%s snapshot release: --force: a backup, clone, migrate or serve of %s"
			" (or a libcbt program) holds its lock: releasing anyway\n", PROG_NAME,
			info.name);
		cbt_err_clear();
	} else if (lock == -EBUSY) {
		ret = cbt_err_hint(lock, "--force releases anyway, failing whoever reads those bytes");
	} else if (lock < 0) {
		ret = lock;
	}
	cbt_dev_info_free(&info);
	if (!ret)
		ret = cbt_snap_release(nl, &sel, off, len);
out:
	if (lock >= 0)
		close(lock);
	cbt_nl_close(nl);
	if (ret) {
		cbt_perror("cbt snapshot release", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}

int snapshot_main(int argc, char *argv[])
{
	if (argc < 2) {
		cbt_fail(CBT_EXIT_USAGE, "%s snapshot: take, release, drop or list?", PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "take"))
		return take(argc - 1, argv + 1);
	if (!strcmp(argv[1], "drop"))
		return drop(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "release"))
		return release(argc - 1, argv + 1);
	return bad_argument("snapshot", "unknown action", argv[1],
			    "it is take, release, drop or list");
}
