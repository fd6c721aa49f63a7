// SPDX-License-Identifier: GPL-2.0
/*
 * cbt attach: put a live device-mapper device under tracking without
 * unmounting it. The steps (CBT_ATTACH_FAIL_AT=N makes step N fail after
 * it did its work, for tests):
 *   1  read NAME's live table
 *   2  create HIDDEN with that table (no udev disk rules: no by-uuid links)
 *   3  load "cbt HIDDEN ..." as NAME's inactive table
 *   4  suspend NAME (flush, freeze the filesystem)
 *   5  resume NAME: the cbt table goes live, I/O flows again
 * A failure at any step puts NAME back on its own table, resumed, and
 * removes HIDDEN. Open files and mounts on NAME see a short pause only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libdevmapper.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/dm-cbt.h>

#include "kernel/device.h"
#include "kernel/devsel.h"
#include "kernel/dmops.h"
#include "kernel/genl.h"
#include "kernel/layer.h"
#include "kernel/proto.h"
#include "subcommands.h"
#include "util/util.h"

#define FAIL_VAR "CBT_ATTACH_FAIL_AT"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s attach DEVICE [--block-size SIZE] [--metadata DEV]\n"
		"       %s attach DISK --name NAME [--block-size SIZE] [--metadata DEV]\n\n"
		"Puts DEVICE, a device-mapper device in use (an LVM logical volume, a\n"
		"dm-crypt or multipath device), under tracking without downtime: its table\n"
		"moves to a hidden device NAME-cbt-orig and the cbt target takes its place,\n"
		"in one suspend/resume. DEVICE keeps its name, numbers and UUID; mounts and\n"
		"open files carry on. `%s detach DEVICE' undoes it.\n\n"
		"A DISK that is not a device-mapper device (/dev/sdb, a partition) gets a new\n"
		"device /dev/mapper/NAME over it, if nothing uses the disk; a disk in use\n"
		"(the root disk) is put under tracking at boot: `%s setup-boot DISK'.\n\n"
		"  -b, --block-size SIZE  tracking block size, 4k to 1M, a power of two\n"
		"                         (default 64k)\n"
		"  -m, --metadata DEV     keep the bitmaps on DEV (all zeros, or dm-cbt\n"
		"                         metadata of this device), so tracking survives reboots\n"
		"  -n, --name NAME        the new device's name (DISK only)\n",
		PROG_NAME, PROG_NAME, PROG_NAME, PROG_NAME);
}

/*
 * Targets whose table can be loaded twice at once while one copy is idle:
 * they keep no state of their own beyond the table line.
 */
static const char *const safe_targets[] = { "linear", "striped", "crypt", "zero", "error",
					    "verity", "multipath" };

static int check_targets(const char *name, const struct cbt_dm_table *t)
{
	for (size_t i = 0; i < t->nr; i++) {
		const char *type = t->t[i].type;
		bool ok = false;

		if (!strcmp(type, DM_CBT_TARGET_NAME) || !strcmp(type, DM_CBT_SNAP_TARGET_NAME))
			return cbt_err(-EEXIST, "`%s' is under tracking already (`cbt status %s')",
				       name, name);
		for (size_t j = 0; j < ARRAY_SIZE(safe_targets); j++)
			ok |= !strcmp(type, safe_targets[j]);
		if (!ok)
			return cbt_err(-EOPNOTSUPP, "`%s' uses the `%s' target, which keeps state a"
				       " second copy of its table would share (thin, cache, raid,"
				       " mirror, snapshot, integrity and era do); cbt attach works"
				       " on linear, striped, crypt and multipath devices. Track the"
				       " disks under it instead, at boot: `cbt setup-boot DISK'",
				       name, type);
	}
	if (!t->nr)
		return cbt_err(-ENODATA, "`%s' has no table", name);
	return 0;
}

/* "maj:min" of a block device path, for the metadata feature. */
static int block_devt(const char *path, char out[32], uint32_t *major, uint32_t *minor)
{
	struct stat st;

	if (stat(path, &st))
		return cbt_err(device_path_errno(errno), "cannot find `%s': %s", path,
			       strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return cbt_err(-ENOTBLK, "`%s' is not a block device", path);
	*major = major(st.st_rdev);
	*minor = minor(st.st_rdev);
	snprintf(out, 32, "%" PRIu32 ":%" PRIu32, *major, *minor);
	return 0;
}

static int cbt_table(struct cbt_dm_table *t, uint64_t sectors, const char *origin,
		     uint32_t block_size, const char *meta)
{
	char params[160];

	if (meta)
		snprintf(params, sizeof(params), "%s %" PRIu32 " 2 metadata %s", origin,
			 block_size / 512, meta);
	else
		snprintf(params, sizeof(params), "%s %" PRIu32, origin, block_size / 512);
	return cbt_dm_table_add(t, 0, sectors, DM_CBT_TARGET_NAME, params);
}

/*
 * @h, named as our hidden device, is a left-over nobody uses: what a reload
 * of @dev by another tool leaves when it replaces the cbt layer. Its table
 * must map the same sectors as @dev's live table (LVM may have grown it).
 */
static bool stale_hidden(const struct cbt_dm_info *dev, const struct cbt_dm_info *h,
			 const struct cbt_dm_table *live)
{
	struct cbt_dm_table t;
	bool stale;

	if (!cbt_layer_is_hidden(dev, h) || h->open_count)
		return false;
	if (cbt_dm_get_table(h->name, &t)) {
		cbt_err_clear();
		return false;
	}
	stale = t.nr && live->nr && !strcmp(t.t[0].type, live->t[0].type) &&
		!strcmp(t.t[0].params, live->t[0].params);
	cbt_dm_table_free(&t);
	return stale;
}

/* Undo after a failure from step 2 on; says what is left when that fails too. */
static void roll_back(const struct cbt_dm_info *dev, const struct cbt_dm_table *orig,
		      const char *hidden)
{
	struct cbt_dm_info h;
	char detail[1024];
	int ret;

	/* Keep the first error for the user. */
	snprintf(detail, sizeof(detail), "%s", cbt_err_detail() ? cbt_err_detail() : "");
	ret = cbt_layer_restore(dev->name, orig, dev->read_only);
	if (ret) {
		fprintf(stderr, "%s attach: could not put `%s' back on its own table: %s\n"
			"Its table is in `%s' (`dmsetup table --showkeys %s'); load it with"
			" `dmsetup reload %s' and `dmsetup resume %s'.\n", PROG_NAME, dev->name,
			cbt_err_detail() ? cbt_err_detail() : strerror(-ret), hidden, hidden,
			dev->name, dev->name);
	} else {
		ret = cbt_dm_info(hidden, &h);
		if (!ret && h.exists)
			ret = cbt_dm_remove(hidden);
		if (ret)
			fprintf(stderr, "%s attach: `%s' is back on its own table, but `%s' is"
				" left over: %s (remove it with `dmsetup remove %s')\n", PROG_NAME,
				dev->name, hidden, cbt_err_detail() ? cbt_err_detail() : "",
				hidden);
		else
			fprintf(stderr, "%s attach: `%s' is back on its own table, unchanged\n",
				PROG_NAME, dev->name);
	}
	cbt_err(-EIO, "%s", detail);
}

static int attach_dm(const char *name, uint32_t block_size, const char *meta)
{
	struct cbt_dm_table orig = { 0 }, cbt = { 0 }, live = { 0 };
	char hidden[CBT_DM_NAME_LEN], huuid[CBT_DM_UUID_LEN], origin[32];
	struct cbt_dm_info dev, h;
	uint32_t om, on, mm, mn;
	bool created = false;
	int ret;

	ret = cbt_dm_info(name, &dev);
	if (ret)
		return ret;
	if (!dev.exists)
		return cbt_err(-ENODEV, "no device-mapper device `%s' (`dmsetup ls' lists them;"
			       " name a disk by its path, /dev/sdb)", name);
	if (dev.suspended)
		return cbt_err(-EBUSY, "`%s' is suspended; resume it first (`dmsetup resume %s')",
			       dev.name, dev.name);
	if (dev.inactive_table)
		return cbt_err(-EBUSY, "`%s' has an inactive table loaded: another tool is changing"
			       " it. Try again when it is done, or drop it with `dmsetup clear %s'",
			       dev.name, dev.name);
	if (!dev.live_table)
		return cbt_err(-ENODATA, "`%s' has no table", dev.name);

	/* 1: the live table */
	ret = cbt_dm_get_table(dev.name, &orig);
	if (!ret)
		ret = check_targets(dev.name, &orig);
	if (!ret)
		ret = cbt_layer_inject(FAIL_VAR, 1, "read the table");
	if (!ret)
		ret = cbt_layer_hidden_names(&dev, hidden, huuid);
	if (!ret)
		ret = cbt_dm_info(hidden, &h);
	if (!ret && h.exists && stale_hidden(&dev, &h, &orig)) {
		/* LVM (lvchange --refresh, lvextend) reloaded NAME over our layer. */
		fprintf(stderr, "%s attach: removing `%s', left idle by a reload that dropped the"
			" cbt layer\n", PROG_NAME, hidden);
		ret = cbt_dm_remove(hidden);
		if (!ret)
			ret = cbt_dm_info(hidden, &h);
	}
	if (!ret && h.exists)
		ret = cbt_err(-EEXIST, "`%s' exists already: left over from an interrupted"
			      " attach? Compare `dmsetup table %s' with `dmsetup table %s', then"
			      " remove it with `dmsetup remove %s'", hidden, hidden, dev.name, hidden);
	if (ret)
		goto out;

	/* 2: HIDDEN holds the table; idle until the swap. */
	ret = cbt_dm_create(hidden, huuid, &orig, dev.read_only, true);
	created = !ret;
	if (!ret)
		ret = cbt_layer_inject(FAIL_VAR, 2, "create the hidden device");
	if (!ret)
		ret = cbt_dm_info(hidden, &h);
	if (!ret && !h.exists)
		ret = cbt_err(-ENODEV, "`%s' vanished after it was created", hidden);
	if (ret)
		goto undo;
	snprintf(origin, sizeof(origin), "%" PRIu32 ":%" PRIu32, h.major, h.minor);

	/* 3: the cbt table, inactive */
	ret = cbt_table(&cbt, cbt_dm_table_sectors(&orig), origin, block_size, meta);
	if (!ret)
		ret = cbt_dm_load(dev.name, &cbt, dev.read_only);
	if (!ret)
		ret = cbt_layer_inject(FAIL_VAR, 3, "load the cbt table");
	if (ret)
		goto undo;

	/* 4, 5: one suspend and resume swaps the tables. */
	ret = cbt_dm_suspend(dev.name);
	if (!ret)
		ret = cbt_layer_inject(FAIL_VAR, 4, "suspend");
	if (!ret)
		ret = cbt_dm_resume(dev.name);
	if (!ret)
		ret = cbt_layer_inject(FAIL_VAR, 5, "resume");
	if (ret)
		goto undo;

	/* The live table must be cbt over HIDDEN now. */
	ret = cbt_dm_get_table(dev.name, &live);
	if (!ret && (cbt_layer_parse_cbt(&live, &om, &on, &mm, &mn) || om != h.major ||
		     on != h.minor))
		ret = cbt_err(-EIO, "after the resume, the table of `%s' is not cbt over `%s'",
			      dev.name, hidden);
	cbt_dm_table_free(&live);
	if (ret)
		goto undo;
	printf("%s: tracking at %" PRIu32 " KiB blocks%s; its former table is in %s\n",
	       dev.name, block_size / 1024, meta ? " with metadata" : " in memory", hidden);
	goto out;

undo:
	if (created)
		roll_back(&dev, &orig, hidden);
	ret = ret ? ret : -EIO;
out:
	cbt_dm_table_free(&orig);
	cbt_dm_table_free(&cbt);
	return ret;
}

/* A disk that is not a device-mapper device: a new device over it, if unused. */
static int attach_disk(const char *path, const struct stat *st, const char *name,
		       uint32_t block_size, const char *meta)
{
	struct cbt_dm_table t = { 0 };
	char origin[32], uuid[CBT_DM_UUID_LEN];
	struct cbt_dm_info info;
	uint64_t bytes = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0 && errno == EBUSY)
		return cbt_err(-EBUSY, "`%s' is in use (mounted, or held by another device) and"
			       " is not a device-mapper device, so nothing can be slid under it"
			       " live. Put it under tracking at the next boot: `cbt setup-boot %s'",
			       path, path);
	if (fd < 0)
		return cbt_err(-errno, "cannot open `%s': %s", path, strerror(errno));
	if (ioctl(fd, BLKGETSIZE64, &bytes))
		ret = cbt_err(-errno, "cannot read the size of `%s': %s", path, strerror(errno));
	else
		ret = 0;
	close(fd);
	if (ret)
		return ret;
	if (!name)
		return cbt_err(-EINVAL, "`%s' is not a device-mapper device: say what to call the"
			       " tracked device, `cbt attach %s --name NAME'", path, path);
	ret = cbt_dm_info(name, &info);
	if (ret)
		return ret;
	if (info.exists)
		return cbt_err(-EEXIST, "a device-mapper device `%s' exists already; choose"
			       " another --name", name);
	if ((size_t)snprintf(uuid, sizeof(uuid), CBT_DISK_UUID_PREFIX "%s", name) >= sizeof(uuid))
		return cbt_err(-ENAMETOOLONG, "the name `%s' is too long", name);
	snprintf(origin, sizeof(origin), "%u:%u", major(st->st_rdev), minor(st->st_rdev));
	ret = cbt_table(&t, bytes / 512, origin, block_size, meta);
	if (!ret)
		ret = cbt_dm_create(name, uuid, &t, false, false);
	cbt_dm_table_free(&t);
	if (!ret)
		printf("%s: tracking %s at %" PRIu32 " KiB blocks; use /dev/mapper/%s from now on\n",
		       name, path, block_size / 1024, name);
	return ret;
}

/*
 * Whether the device's history went on from its metadata or a new one
 * began, and why: after a re-attach that decides if the chain needs a full
 * image. Informational; a failure to ask is not an attach failure.
 */
static void report_identity(const char *name)
{
	struct cbt_dev_info info = { 0 };
	struct cbt_nl *nl = NULL;
	struct cbt_devsel sel;
	char u[CBT_UUID_STR_LEN];

	if (cbt_dev_lookup(name, &nl, &sel, &info)) {
		cbt_err_clear();
		cbt_nl_close(nl);
		return;
	}
	if (info.identity_reason == CBT_IDENTITY_CONTINUED)
		printf("%s: history continued (identity %s): the next incremental follows on\n",
		       name, cbt_uuid_str(info.uuid, u));
	else if (info.identity_reason == CBT_IDENTITY_UNKNOWN)
		printf("%s: identity %s (this dm-cbt module does not say whether the history"
		       " continued; cbt backup compares it with the chain's)\n", name,
		       cbt_uuid_str(info.uuid, u));
	else
		printf("%s: a new history began (identity %s), reason %s: %s; the next image of"
		       " a chain must be a full one (cbt backup --auto-full does that)\n", name,
		       cbt_uuid_str(info.uuid, u), cbt_identity_reason_name(info.identity_reason),
		       cbt_identity_reason_text(info.identity_reason));
	cbt_dev_info_free(&info);
	cbt_nl_close(nl);
}

int attach_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "block-size", required_argument, NULL, 'b' },
		{ "metadata", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t block_size = DM_CBT_DEFAULT_BLOCK_SIZE, mmaj, mmin;
	const char *meta_path = NULL, *name = NULL, *dev;
	char meta[32], dmname[CBT_DM_NAME_LEN];
	struct stat st;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:m:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (cbt_parse_block_size(optarg, &block_size))
				return bad_argument("attach", "bad block size", optarg,
						    "a power of two from 4k to 1M, like 64k");
			break;
		case 'm':
			meta_path = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("attach", c, argv);
		}
	}
	if (optind + 1 != argc) {
		if (optind < argc)
			return bad_argument("attach", "one DEVICE only, not also", argv[optind + 1],
					    NULL);
		cbt_fail(CBT_EXIT_USAGE, "%s attach: which DEVICE? (`dmsetup ls' lists"
			 " device-mapper devices)", PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	dev = argv[optind];
	cbt_dm_init();

	ret = meta_path ? block_devt(meta_path, meta, &mmaj, &mmin) : 0;
	if (ret)
		goto out;
	if (strchr(dev, '/')) {
		struct cbt_dm_info info;

		if (stat(dev, &st)) {
			ret = cbt_err(device_path_errno(errno), "cannot find `%s': %s", dev,
				      strerror(errno));
			goto out;
		}
		if (!S_ISBLK(st.st_mode)) {
			ret = cbt_err(-ENOTBLK, "`%s' is not a block device", dev);
			goto out;
		}
		if (!dm_is_dm_major(major(st.st_rdev))) {
			ret = attach_disk(dev, &st, name, block_size, meta_path ? meta : NULL);
			if (!ret)
				report_identity(name);
			goto out;
		}
		ret = cbt_dm_info_dev(major(st.st_rdev), minor(st.st_rdev), &info);
		if (!ret && !info.exists)
			ret = cbt_err(-ENODEV, "`%s' is not a device-mapper device any more", dev);
		if (ret)
			goto out;
		snprintf(dmname, sizeof(dmname), "%s", info.name);
	} else {
		snprintf(dmname, sizeof(dmname), "%s", dev);
	}
	if (name) {
		ret = cbt_err(-EINVAL, "--name is for disks that are not device-mapper devices;"
			      " `%s' keeps its name", dmname);
		goto out;
	}
	ret = attach_dm(dmname, block_size, meta_path ? meta : NULL);
	if (!ret && cbt_layer_record(dmname, block_size, meta_path)) {
		fprintf(stderr, "%s attach: warning: %s; after an LVM reload (lvextend, lvchange"
			" --refresh) attach again by hand\n", PROG_NAME, cbt_err_detail());
		cbt_err_clear();
	}
	if (!ret)
		report_identity(dmname);
out:
	dm_lib_release();
	if (ret) {
		cbt_perror("cbt attach", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
