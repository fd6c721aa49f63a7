// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <libdevmapper.h>
#include <libmnl/libmnl.h>

#include "kernel/device.h"
#include "kernel/signature.h"
#include "kernel/snapdev.h"
#include "util/util.h"

/* How deep stacked devices (dm over loop over a file on dm ...) are followed. */
#define MAX_DEPTH 16

/*----------------------------------------------------------------
 * libdevmapper, quietly: its last error becomes our detail.
 *--------------------------------------------------------------*/

static char dm_msg[512];

__attribute__((format(printf, 5, 6)))
static void dm_logger(int level, const char *file, int line, int dm_errno_or_class,
		      const char *f, ...)
{
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno_or_class;
	/* _LOG_ERR is 3; higher levels are warnings, notices and debug. */
	if ((level & 7) > 3)
		return;
	va_start(ap, f);
	vsnprintf(dm_msg, sizeof(dm_msg), f, ap);
	va_end(ap);
}

static void dm_quiet(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	dm_log_with_errno_init(dm_logger);
	/*
	 * Without a running udev (an initramfs, a container), libdevmapper
	 * must make and remove the /dev/mapper nodes itself.
	 */
	if (access("/run/udev/control", F_OK))
		dm_udev_set_sync_support(0);
}

/* -errno for a failed dm task, with libdevmapper's message in the detail. */
static int dm_fail(struct dm_task *dmt, const char *what, const char *name)
{
	int err = dmt ? dm_task_get_errno(dmt) : 0;

	if (err <= 0)
		err = EIO;
	if (dm_msg[0])
		return cbt_err(-err, "%s %s: %s", what, name, dm_msg);
	return cbt_err(-err, "%s %s: %s", what, name, strerror(err));
}

/* Run @dmt with udev synchronisation (or node fallback), then destroy it. */
static int dm_run(struct dm_task *dmt, const char *what, const char *name)
{
	uint32_t cookie = 0;
	int ret = 0;

	dm_msg[0] = '\0';
	if (!dm_task_set_cookie(dmt, &cookie, 0) || !dm_task_run(dmt))
		ret = dm_fail(dmt, what, name);
	/*
	 * Always: without udev (no cookie) this is what makes or removes the
	 * /dev/mapper node now, not when the program exits.
	 */
	dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	return ret;
}

static int dm_exists(const char *name, bool *exists)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info info;
	int ret = 0;

	if (!dmt)
		return -ENOMEM;
	dm_msg[0] = '\0';
	if (!dm_task_set_name(dmt, name) || !dm_task_run(dmt) || !dm_task_get_info(dmt, &info))
		ret = dm_fail(dmt, "looking up", name);
	else
		*exists = info.exists;
	dm_task_destroy(dmt);
	return ret;
}

/* The origin (first table argument, "MAJ:MIN") of cbt device @dev. */
static int cbt_origin(const char *name, dev_t dev, dev_t *origin)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	char *type = NULL, *params = NULL;
	uint64_t start, len;
	unsigned int ma, mi;
	int ret = 0;

	if (!dmt)
		return -ENOMEM;
	dm_msg[0] = '\0';
	if (!dm_task_set_major(dmt, (int)major(dev)) || !dm_task_set_minor(dmt, (int)minor(dev)) ||
	    !dm_task_run(dmt)) {
		ret = dm_fail(dmt, "reading the table of", name);
		goto out;
	}
	dm_get_next_target(dmt, NULL, &start, &len, &type, &params);
	if (!type || strcmp(type, DM_CBT_TARGET_NAME) || !params ||
	    sscanf(params, "%u:%u", &ma, &mi) != 2) {
		ret = cbt_err(-EINVAL, "%s: the table is not `cbt MAJ:MIN ...' (%s %s)", name,
			      type ? type : "no target", params ? params : "");
		goto out;
	}
	*origin = makedev(ma, mi);
out:
	dm_task_destroy(dmt);
	return ret;
}

/*----------------------------------------------------------------
 * Block devices in sysfs
 *--------------------------------------------------------------*/

static const char *devt_str(dev_t d, char buf[32])
{
	snprintf(buf, 32, "%u:%u", major(d), minor(d));
	return buf;
}

/* "/dev/vdb" style name of @d for messages ("8:16" if sysfs lacks it). */
static const char *dev_name(dev_t d, char buf[64])
{
	char path[64], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u", major(d), minor(d));
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0) {
		snprintf(buf, 64, "%u:%u", major(d), minor(d));
		return buf;
	}
	link[n] = '\0';
	snprintf(buf, 64, "%s (%u:%u)", strrchr(link, '/') + 1, major(d), minor(d));
	return buf;
}

static int read_devt(const char *path, dev_t *d)
{
	unsigned int ma, mi;
	FILE *f = fopen(path, "r");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "%u:%u", &ma, &mi);
	fclose(f);
	if (n != 2)
		return -EINVAL;
	*d = makedev(ma, mi);
	return 0;
}

/* The whole disk @d is on (itself when it is not a partition). */
static dev_t whole_disk(dev_t d)
{
	char path[PATH_MAX], sub[PATH_MAX + 16];
	dev_t w;

	snprintf(sub, sizeof(sub), "/sys/dev/block/%u:%u", major(d), minor(d));
	if (!realpath(sub, path))
		return d;
	snprintf(sub, sizeof(sub), "%s/partition", path);
	if (access(sub, F_OK))
		return d;
	snprintf(sub, sizeof(sub), "%s/../dev", path);
	return read_devt(sub, &w) ? d : w;
}

/* Calls @fn for each device in /sys/dev/block/@d/@dir ("slaves", "holders"). */
static int for_each_rel(dev_t d, const char *dir, int (*fn)(dev_t, void *), void *data)
{
	char path[128], devpath[PATH_MAX];
	struct dirent *e;
	DIR *dp;
	int ret = 0;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s", major(d), minor(d), dir);
	dp = opendir(path);
	if (!dp)
		return 0;
	while (!ret && (e = readdir(dp))) {
		dev_t s;

		if (e->d_name[0] == '.')
			continue;
		snprintf(devpath, sizeof(devpath), "/sys/class/block/%s/dev", e->d_name);
		if (!read_devt(devpath, &s))
			ret = fn(s, data);
	}
	closedir(dp);
	return ret;
}

/* What the COW must stay clear of. */
struct forbid {
	dev_t dev[8];
	const char *what[8];
	size_t nr;
	/* Found: which one, and the chain of devices that led to it. */
	const char *hit_what;
	char chain[512];
	int depth;
	dev_t origin;
};

/* Every other device the cbt device's table uses: its metadata device. */
static int add_used(dev_t d, void *data)
{
	struct forbid *f = data;

	if (f->nr < 8 && d != f->origin) {
		f->dev[f->nr] = d;
		f->what[f->nr++] = "a device the cbt device uses (its metadata)";
	}
	return 0;
}

static int stacked_on(dev_t d, void *data);

/* A loop device's backing file, and the device its filesystem is on. */
static int loop_backing(dev_t d, struct forbid *f)
{
	char path[128], file[PATH_MAX];
	struct stat st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/loop/backing_file", major(d), minor(d));
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	n = fread(file, 1, sizeof(file) - 1, fp);
	fclose(fp);
	file[n] = '\0';
	file[strcspn(file, "\n")] = '\0';
	/* " (deleted)" files and btrfs' anonymous st_dev tell nothing more. */
	if (!file[0] || stat(file, &st))
		return 0;
	if (stacked_on(st.st_dev, f)) {
		char tmp[sizeof(f->chain)];

		/* A long chain is cut short: it is only for the message. */
		if (snprintf(tmp, sizeof(tmp), "loop file %s on %s", file, f->chain) < 0)
			tmp[0] = '\0';
		memcpy(f->chain, tmp, sizeof(tmp));
		return 1;
	}
	return 0;
}

/* 1 if @d is a forbidden device or stacked on one (f->chain says how). */
static int stacked_on(dev_t d, void *data)
{
	struct forbid *f = data;
	char b[64];
	int ret = 0;

	for (size_t i = 0; i < f->nr; i++) {
		if (f->dev[i] == d) {
			f->hit_what = f->what[i];
			snprintf(f->chain, sizeof(f->chain), "%s", dev_name(d, b));
			return 1;
		}
	}
	if (f->depth >= MAX_DEPTH)
		return 0;
	f->depth++;
	ret = for_each_rel(d, "slaves", stacked_on, f);
	if (!ret)
		ret = loop_backing(d, f);
	f->depth--;
	if (ret) {
		char tmp[sizeof(f->chain)];

		if (snprintf(tmp, sizeof(tmp), "%s on %s", dev_name(d, b), f->chain) < 0)
			tmp[0] = '\0';
		memcpy(f->chain, tmp, sizeof(tmp));
	}
	return ret;
}

static int first_holder(dev_t d, void *data)
{
	*(dev_t *)data = d;
	return 1;
}

bool cbt_dev_mounted(uint32_t ma, uint32_t mi)
{
	char line[4096], want[32];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "%u:%u", ma, mi);
	/* "36 35 98:0 /mnt1 /mnt2 rw ...": the third field is the device. */
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line;

		for (int i = 0; i < 2 && p; i++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p && !strncmp(p, want, strlen(want)) && p[strlen(want)] == ' ')
			found = true;
	}
	fclose(f);
	return found;
}

/*
 * Refuse a COW that would write into what the snapshot protects, or that
 * something else uses. @name is the cbt device, @cbt its numbers.
 */
static int check_cow(const char *name, dev_t cbt, const char *cow, uint32_t chunk, bool force,
		     dev_t *cowdev)
{
	struct forbid f = { .nr = 0 };
	char b[64], c[64];
	struct stat st;
	dev_t origin = 0, holder = 0;
	int ret;

	if (stat(cow, &st))
		return cbt_err(-errno, "COW device `%s': %s", cow, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return cbt_err(-ENOTBLK, "COW device `%s' is not a block device (give a partition, an"
			       " LV, or a loop device over a file on another filesystem)", cow);
	*cowdev = st.st_rdev;
	ret = cbt_origin(name, cbt, &origin);
	if (ret)
		return ret;
	if (st.st_rdev == cbt)
		return cbt_err(-EINVAL, "COW device `%s' is the cbt device %s itself: give a device"
			       " the snapshot does not cover", cow, name);
	if (st.st_rdev == origin)
		return cbt_err(-EINVAL, "COW device `%s' is the origin of %s: copies would"
			       " overwrite what they preserve", cow, name);
	if (whole_disk(st.st_rdev) == whole_disk(origin))
		return cbt_err(-EINVAL, "COW device `%s' is on the same disk as %s's origin %s:"
			       " put the COW store on another disk", cow, name,
			       dev_name(origin, b));

	/* The cbt device, and everything its table uses (origin, metadata). */
	f.dev[f.nr] = cbt;
	f.what[f.nr++] = "the cbt device";
	f.dev[f.nr] = origin;
	f.what[f.nr++] = "its origin";
	f.origin = origin;
	for_each_rel(cbt, "slaves", add_used, &f);
	if (stacked_on(st.st_rdev, &f))
		return cbt_err(-EINVAL, "COW device `%s' is stacked on %s of %s (%s): copies would"
			       " land on the device being snapshotted; put the COW store on"
			       " another disk", cow, f.hit_what, name, f.chain);
	if (cbt_dev_mounted(major(st.st_rdev), minor(st.st_rdev)))
		return cbt_err(-EBUSY, "COW device `%s' is mounted: the snapshot would overwrite"
			       " that filesystem; unmount it or give another device", cow);
	for_each_rel(st.st_rdev, "holders", first_holder, &holder);
	if (holder)
		return cbt_err(-EBUSY, "COW device `%s' is in use by %s: give a device nothing"
			       " else uses", cow, dev_name(holder, b));
	{
		uint64_t size = 0;
		char path[64];
		FILE *fp;

		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/size", major(st.st_rdev),
			 minor(st.st_rdev));
		fp = fopen(path, "r");
		if (fp) {
			if (fscanf(fp, "%" SCNu64, &size) != 1)
				size = 0;
			fclose(fp);
		}
		if (fp && size * 512 < chunk)
			return cbt_err(-ENOSPC, "COW device `%s' (%s) is smaller than one chunk of %"
				       PRIu32 " bytes", cow, devt_str(st.st_rdev, c), chunk);
	}
	return cbt_check_cow_signature(cow, force);
}

/*----------------------------------------------------------------
 * Attaching, taking, dropping
 *--------------------------------------------------------------*/

static int remove_dev(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_REMOVE);

	if (!dmt)
		return -ENOMEM;
	/* A udev rule or blkid may still hold it open for a moment. */
	if (!dm_task_set_name(dmt, name) || !dm_task_retry_remove(dmt)) {
		int ret = dm_fail(dmt, "removing", name);

		dm_task_destroy(dmt);
		return ret;
	}
	return dm_run(dmt, "removing snapshot device", name);
}

static int attach(const struct cbt_snap *s, dev_t cbt, dev_t cow, uint32_t chunk)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	char params[128];
	int ret;

	if (!dmt)
		return -ENOMEM;
	snprintf(params, sizeof(params), "%u:%u %u:%u %" PRIu32, major(cbt), minor(cbt),
		 major(cow), minor(cow), chunk / 512);
	dm_msg[0] = '\0';
	if (!dm_task_set_name(dmt, s->snap_name) || !dm_task_set_ro(dmt) ||
	    !dm_task_add_target(dmt, 0, s->sectors, DM_CBT_SNAP_TARGET_NAME, params)) {
		ret = dm_fail(dmt, "preparing", s->snap_name);

		dm_task_destroy(dmt);
		return ret;
	}
	ret = dm_run(dmt, "creating snapshot device", s->snap_name);
	/* Callers open snap_path as soon as this returns, udev or not. */
	if (!ret && access(s->snap_path, F_OK)) {
		ret = cbt_err(-ENOENT, "created %s, but its node %s did not appear: %s",
			      s->snap_name, s->snap_path, strerror(errno));
		remove_dev(s->snap_name);
	}
	return ret;
}

/*
 * Wipe the signatures libblkid finds on COW device @d (its /dev node from
 * sysfs, checked to be @d): a store holds copies of the origin's chunks at
 * other offsets, and one can land where blkid looks for a filesystem
 * (xfs_external_log, say), which would make the next take refuse it.
 * Best effort: a signature left makes the next take ask for --force.
 */
static void wipe_cow(dev_t d)
{
	char path[96], line[128], name[64] = "";
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(d), minor(d));
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "DEVNAME=%63s", name) == 1)
			break;
	fclose(f);
	snprintf(path, sizeof(path), "/dev/%s", name);
	if (name[0] && !strstr(name, "..") && !stat(path, &st) && S_ISBLK(st.st_mode) &&
	    st.st_rdev == d)
		cbt_wipe_signatures(path);
}

int cbt_snap_drop(struct cbt_snap *s)
{
	int ret;

	dm_quiet();
	if (!s->snap_name[0])
		return cbt_err(-EINVAL, "no snapshot device named");
	ret = remove_dev(s->snap_name);
	if (!ret && s->cow)
		wipe_cow(s->cow);
	return ret;
}

int cbt_snap_release(struct cbt_nl *nl, const struct cbt_devsel *sel, uint64_t off, uint64_t len)
{
	struct nlmsghdr *req = cbt_nl_request(nl, CBT_CMD_SNAP_RELEASE, false);

	if ((off | len) % 512)
		return cbt_err(-EINVAL, "release of bytes %" PRIu64 "+%" PRIu64 ": not in whole"
			       " sectors", off, len);
	cbt_put_devsel(req, sel);
	mnl_attr_put_u64(req, CBT_A_RANGE_SECTOR, off / 512);
	mnl_attr_put_u64(req, CBT_A_RANGE_SECTORS, len / 512);
	return cbt_nl_exchange(nl, req, NULL, NULL);
}

static int snap_reply_cb(const struct nlmsghdr *nlh, void *data)
{
	return cbt_parse_snapshot_reply(nlh, data);
}

/*
 * After a failed take: the kernel changes nothing when it refuses, but a
 * reply lost or garbled after it succeeded leaves epochs closed. Fold
 * those back (abort), so the caller's "nothing left behind" holds.
 */
static void undo_taken(struct cbt_nl *nl, const struct cbt_devsel *sels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cbt_dev_info info;

		if (cbt_get_device(nl, &sels[i], &info))
			continue;
		if (info.snap.present && info.snap.state != CBT_SNAP_PREPARED)
			cbt_epoch_abort(nl, &sels[i], info.snap.epoch);
		cbt_dev_info_free(&info);
	}
}

int cbt_snap_take(const char *const *devices, size_t n, const struct cbt_snap_opts *o,
		  struct cbt_snap *out)
{
	uint32_t chunk = o->chunk_bytes ? o->chunk_bytes : CBT_SNAP_CHUNK_DEFAULT;
	dev_t cbt[DM_CBT_MAX_GROUP], cow[DM_CBT_MAX_GROUP];
	struct cbt_devsel sels[DM_CBT_MAX_GROUP];
	struct cbt_snap_reply *reply = NULL;
	struct cbt_nl *nl = NULL;
	size_t created = 0, i, k;
	char saved[1024];
	int ret;

	if (!n || n > DM_CBT_MAX_GROUP)
		return cbt_err(-EINVAL, "%zu devices: a snapshot takes 1 to %d", n, DM_CBT_MAX_GROUP);
	if (!o->cows)
		return cbt_err(-EINVAL, "no COW device given: each device needs one");
	if (chunk < CBT_SNAP_CHUNK_MIN || chunk > CBT_SNAP_CHUNK_MAX || (chunk & (chunk - 1)))
		return cbt_err(-EINVAL, "chunk size %" PRIu32 " is not a power of two from 4 KiB to"
			       " 1 MiB", chunk);
	dm_quiet();
	memset(out, 0, n * sizeof(*out));
	ret = cbt_nl_open(&nl);
	if (ret)
		return ret;

	for (i = 0; i < n; i++) {
		struct cbt_dev_info info;
		struct cbt_snap *s = &out[i];
		bool exists = false;

		if (!o->cows[i]) {
			ret = cbt_err(-EINVAL, "no COW device given for `%s': each device needs one",
				      devices[i]);
			goto out;
		}
		ret = cbt_devsel_parse(devices[i], &sels[i]);
		if (!ret)
			ret = cbt_get_device(nl, &sels[i], &info);
		if (ret)
			goto out;
		/* By number from here: the name the kernel knows is in info. */
		sels[i].by_number = true;
		sels[i].major = info.major;
		sels[i].minor = info.minor;
		cbt[i] = makedev(info.major, info.minor);
		snprintf(s->cbt_name, sizeof(s->cbt_name), "%s", info.name);
		s->sectors = info.dev_sectors;
		s->block_size = info.block_size;
		memcpy(s->uuid, info.uuid, sizeof(s->uuid));
		ret = info.snap.present;
		cbt_dev_info_free(&info);
		if (ret) {
			ret = cbt_err(-EBUSY, "%s has a snapshot device attached already (`cbt snapshot"
				      " drop %s' removes it)", s->cbt_name, s->cbt_name);
			goto out;
		}
		for (k = 0; k < i; k++) {
			if (cbt[k] == cbt[i]) {
				ret = cbt_err(-EINVAL, "`%s' and `%s' are the same device %s",
					      devices[k], devices[i], s->cbt_name);
				goto out;
			}
		}
		if (strlen(s->cbt_name) + strlen("-snap") > CBT_NAME_MAX) {
			ret = cbt_err(-ENAMETOOLONG, "%s: the name is too long to add `-snap' for"
				      " the snapshot device", s->cbt_name);
			goto out;
		}
		snprintf(s->snap_name, sizeof(s->snap_name), "%s-snap", s->cbt_name);
		snprintf(s->snap_path, sizeof(s->snap_path), "%s/%s", dm_dir(), s->snap_name);
		ret = dm_exists(s->snap_name, &exists);
		if (ret)
			goto out;
		if (exists) {
			ret = cbt_err(-EEXIST, "a device-mapper device named %s exists already;"
				      " remove it first (dmsetup remove %s)", s->snap_name, s->snap_name);
			goto out;
		}
		ret = check_cow(s->cbt_name, cbt[i], o->cows[i], chunk, o->force, &cow[i]);
		if (ret)
			goto out;
		s->cow = cow[i];
		for (k = 0; k < i; k++) {
			if (cow[k] == cow[i]) {
				ret = cbt_err(-EINVAL, "COW devices `%s' and `%s' are the same device:"
					      " each snapshot needs its own", o->cows[k], o->cows[i]);
				goto out;
			}
		}
	}

	for (created = 0; created < n; created++) {
		ret = attach(&out[created], cbt[created], cow[created], chunk);
		if (ret) {
			if (ret == -EINVAL)
				cbt_err_hint(ret, "the kernel log says why");
			goto out;
		}
	}

	reply = calloc(1, sizeof(*reply));
	if (!reply) {
		ret = -ENOMEM;
		goto out;
	}
	{
		struct nlmsghdr *req = cbt_nl_request(nl, CBT_CMD_SNAPSHOT, false);

		cbt_put_snapshot_req(req, sels, n, o->preserve_from, o->freeze);
		ret = cbt_nl_exchange(nl, req, snap_reply_cb, reply);
	}
	if (!ret && reply->nr != n)
		ret = cbt_err(-EPROTO, "bad reply from dm-cbt: %zu devices in the answer to"
			      " SNAPSHOT, %zu asked for", reply->nr, n);
	for (i = 0; !ret && i < n; i++) {
		for (k = 0; k < reply->nr; k++)
			if (makedev(reply->devs[k].major, reply->devs[k].minor) == cbt[i])
				break;
		if (k == reply->nr) {
			ret = cbt_err(-EPROTO, "bad reply from dm-cbt: %s missing from the answer"
				      " to SNAPSHOT", out[i].cbt_name);
			break;
		}
		out[i].epoch = reply->devs[k].epoch;
		out[i].freeze_ns = reply->freeze_ns;
		out[i].hold_ns = reply->hold_ns;
	}
	if (ret) {
		if (n > 1 || !cbt_err_detail())
			cbt_err_prefix(ret, "taking the snapshot");
		else
			cbt_err_prefix(ret, "taking the snapshot of %s", out[0].cbt_name);
		snprintf(saved, sizeof(saved), "%s", cbt_err_detail());
		undo_taken(nl, sels, n);
		cbt_err(ret, "%s", saved);
		goto out;
	}
	/* The identity the closed epoch belongs to. */
	for (i = 0; i < n; i++) {
		struct cbt_dev_info info;

		if (cbt_get_device(nl, &sels[i], &info))
			continue;
		memcpy(out[i].uuid, info.uuid, sizeof(out[i].uuid));
		cbt_dev_info_free(&info);
	}
out:
	if (ret && created) {
		snprintf(saved, sizeof(saved), "%s", cbt_err_detail() ? cbt_err_detail() :
			 strerror(-ret));
		while (created--)
			remove_dev(out[created].snap_name);
		cbt_err(ret, "%s", saved);
	}
	free(reply);
	cbt_nl_close(nl);
	return ret;
}

int cbt_snap_find(uint32_t ma, uint32_t mi, struct cbt_snap *s)
{
	struct dm_task *dmt;
	struct dm_names *names;
	unsigned int next = 0;
	char want[32];
	int ret = -ENOENT;

	dm_quiet();
	memset(s, 0, sizeof(*s));
	snprintf(want, sizeof(want), "%u:%u ", ma, mi);
	dmt = dm_task_create(DM_DEVICE_LIST);
	if (!dmt)
		return -ENOMEM;
	dm_msg[0] = '\0';
	if (!dm_task_run(dmt) || !(names = dm_task_get_names(dmt))) {
		ret = dm_fail(dmt, "listing", "device-mapper devices");
		dm_task_destroy(dmt);
		return ret;
	}
	if (names->dev) {
		do {
			struct dm_task *t;
			char *type = NULL, *params = NULL;
			uint64_t start, len;

			names = (struct dm_names *)((char *)names + next);
			next = names->next;
			t = dm_task_create(DM_DEVICE_TABLE);
			if (!t)
				continue;
			if (dm_task_set_name(t, names->name) && dm_task_run(t)) {
				dm_get_next_target(t, NULL, &start, &len, &type, &params);
				if (type && !strcmp(type, DM_CBT_SNAP_TARGET_NAME) && params &&
				    !strncmp(params, want, strlen(want))) {
					unsigned int cma, cmi;

					/* "CBT COW CHUNK", devices as MAJ:MIN */
					if (sscanf(params + strlen(want), "%u:%u", &cma, &cmi) == 2)
						s->cow = makedev(cma, cmi);
					snprintf(s->snap_name, sizeof(s->snap_name), "%s", names->name);
					snprintf(s->snap_path, sizeof(s->snap_path), "%s/%s", dm_dir(),
						 names->name);
					s->sectors = len;
					ret = 0;
				}
			}
			dm_task_destroy(t);
		} while (ret && next);
	}
	dm_task_destroy(dmt);
	return ret;
}
