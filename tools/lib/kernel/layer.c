// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/dm-cbt.h>

#include "kernel/layer.h"
#include "util/util.h"

int cbt_layer_hidden_names(const struct cbt_dm_info *dev, char name[CBT_DM_NAME_LEN],
			   char uuid[CBT_DM_UUID_LEN])
{
	if ((size_t)snprintf(name, CBT_DM_NAME_LEN, "%s" CBT_ORIG_NAME_SUFFIX, dev->name) >=
	    CBT_DM_NAME_LEN)
		return cbt_err(-ENAMETOOLONG, "the name `%s' is too long to add `%s' for the device"
			       " that keeps its table (rename it with `dmsetup rename')",
			       dev->name, CBT_ORIG_NAME_SUFFIX);
	if (dev->uuid[0] ?
	    (size_t)snprintf(uuid, CBT_DM_UUID_LEN, "%s" CBT_ORIG_UUID_SUFFIX, dev->uuid) >=
	    CBT_DM_UUID_LEN :
	    (size_t)snprintf(uuid, CBT_DM_UUID_LEN, CBT_ORIG_UUID_PREFIX "%s", dev->name) >=
	    CBT_DM_UUID_LEN)
		return cbt_err(-ENAMETOOLONG, "the UUID of `%s' is too long to add `%s'", dev->name,
			       CBT_ORIG_UUID_SUFFIX);
	return 0;
}

bool cbt_layer_is_hidden(const struct cbt_dm_info *dev, const struct cbt_dm_info *h)
{
	char name[CBT_DM_NAME_LEN], uuid[CBT_DM_UUID_LEN];

	if (!h->exists || cbt_layer_hidden_names(dev, name, uuid)) {
		cbt_err_clear();
		return false;
	}
	return !strcmp(h->name, name) && !strcmp(h->uuid, uuid);
}

#ifdef CBT_TEST_HOOKS
int cbt_layer_inject(const char *var, int step, const char *what)
{
	const char *v = getenv(var);
	uint32_t n;

	if (!v || cbt_parse_u32(v, &n) || n != (uint32_t)step)
		return 0;
	return cbt_err(-EIO, "step %d (%s) failed on purpose (%s=%s)", step, what, var, v);
}
#endif

int cbt_layer_restore(const char *name, const struct cbt_dm_table *want, bool read_only)
{
	struct cbt_dm_table live;
	struct cbt_dm_info info;
	bool same;
	int ret;

	ret = cbt_dm_info(name, &info);
	if (!ret && !info.exists)
		ret = cbt_err(-ENODEV, "`%s' is gone", name);
	if (!ret)
		ret = cbt_dm_get_table(name, &live);
	if (ret)
		return ret;
	same = cbt_dm_table_equal(&live, want);
	cbt_dm_table_free(&live);

	if (info.inactive_table && (ret = cbt_dm_clear(name)))
		return ret;
	if (!same) {
		/* The swap happened: swap back, the same way. */
		ret = cbt_dm_load(name, want, read_only);
		if (!ret && !info.suspended)
			ret = cbt_dm_suspend(name);
		if (ret)
			return ret;
		info.suspended = true;
	}
	if (info.suspended && (ret = cbt_dm_resume(name)))
		return ret;

	ret = cbt_dm_info(name, &info);
	if (!ret)
		ret = cbt_dm_get_table(name, &live);
	if (ret)
		return ret;
	same = cbt_dm_table_equal(&live, want);
	cbt_dm_table_free(&live);
	if (!same || info.suspended || info.inactive_table)
		return cbt_err(-EIO, "`%s' did not come back to its table (%s%s%s)", name,
			       same ? "" : "other table", info.suspended ? " suspended" : "",
			       info.inactive_table ? " inactive table loaded" : "");
	return 0;
}

int cbt_parse_block_size(const char *s, uint32_t *bytes)
{
	uint64_t v;
	int ret = cbt_parse_size(s, &v);

	if (ret == -EINVAL)
		return ret;
	if (ret || v < DM_CBT_MIN_BLOCK_SIZE || v > DM_CBT_MAX_BLOCK_SIZE || (v & (v - 1)))
		return -ERANGE;
	*bytes = (uint32_t)v;
	return 0;
}

static int parse_devt(const char *s, uint32_t *major, uint32_t *minor)
{
	char extra;

	if (sscanf(s, "%" SCNu32 ":%" SCNu32 "%c", major, minor, &extra) != 2)
		return -EINVAL;
	return 0;
}

int cbt_layer_parse_cbt(const struct cbt_dm_table *t, uint32_t *major, uint32_t *minor,
			uint32_t *meta_major, uint32_t *meta_minor)
{
	char origin[64], bs[32], nr[16], key[32], meta[64];
	int n;

	*meta_major = *meta_minor = 0;
	if (t->nr != 1 || strcmp(t->t[0].type, DM_CBT_TARGET_NAME))
		return -EINVAL;
	n = sscanf(t->t[0].params, "%63s %31s %15s %31s %63s", origin, bs, nr, key, meta);
	if (n < 2 || parse_devt(origin, major, minor))
		return -EINVAL;
	if (n == 5 && !strcmp(key, "metadata") && parse_devt(meta, meta_major, meta_minor))
		return -EINVAL;
	return 0;
}

int cbt_layer_wipe_metadata(uint32_t major, uint32_t minor)
{
	static const char zero[2 * DM_CBT_MD_PAGE_SIZE];
	char path[96], line[160], node[200] = "";
	FILE *f;
	int fd, ret = 0;

	/* The node's name, from sysfs: there may be no udev (initramfs). */
	snprintf(path, sizeof(path), "/sys/dev/block/%" PRIu32 ":%" PRIu32 "/uevent", major, minor);
	f = fopen(path, "re");
	if (!f)
		return cbt_err(-errno, "cannot find the metadata device %" PRIu32 ":%" PRIu32 ": %s",
			       major, minor, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(node, sizeof(node), "/dev/%s", line + 8);
		}
	fclose(f);
	if (!node[0])
		return cbt_err(-ENOENT, "no device node for %" PRIu32 ":%" PRIu32, major, minor);
	fd = open(node, O_WRONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0)
		return cbt_err(-errno, "cannot open the metadata device `%s' to wipe it: %s", node,
			       strerror(errno));
	if (pwrite(fd, zero, sizeof(zero), 0) != (ssize_t)sizeof(zero) || fsync(fd))
		ret = cbt_err(-EIO, "cannot wipe the metadata device `%s': %s", node,
			      strerror(errno));
	close(fd);
	return ret;
}

static int record_path(const char *name, char *buf, size_t len, bool mkdirs)
{
	const char *dir = getenv("CBT_RUN_DIR") ? getenv("CBT_RUN_DIR") : "/run/cbt";

	if (strchr(name, '/') || name[0] == '.')
		return -EINVAL;
	if (mkdirs) {
		snprintf(buf, len, "%s", dir);
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		snprintf(buf, len, "%s/attached", dir);
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
	}
	if ((size_t)snprintf(buf, len, "%s/attached/%s", dir, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int cbt_layer_record(const char *name, uint32_t block_size, const char *meta_path)
{
	char path[4096], tmp[4200], *real = NULL;
	FILE *f;
	int ret;

	ret = record_path(name, path, sizeof(path), true);
	if (ret)
		return cbt_err(ret, "cannot record the attach of `%s' under $CBT_RUN_DIR: %s", name,
			       strerror(-ret));
	if (meta_path) {
		real = realpath(meta_path, NULL);
		if (!real)
			return cbt_err(-errno, "%s: %s", meta_path, strerror(errno));
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f) {
		ret = cbt_err(-errno, "%s: %s", tmp, strerror(errno));
		free(real);
		return ret;
	}
	fprintf(f, "# cbt attach %s; read by cbt-reattach after an LVM reload\n"
		"BLOCK_SIZE=%" PRIu32 "\nMETADATA=%s\n", name, block_size, real ? real : "");
	free(real);
	if (fclose(f) || rename(tmp, path)) {
		ret = cbt_err(-errno, "%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	return ret;
}

void cbt_layer_forget(const char *name)
{
	char path[4096], lock[4200];

	if (record_path(name, path, sizeof(path), false))
		return;
	unlink(path);
	/* the handler's lock beside it (a handler holding it reads no record and stops) */
	snprintf(lock, sizeof(lock), "%s.lock", path);
	unlink(lock);
}

int cbt_layer_hold(const char *name, struct cbt_layer_hold *h)
{
	char path[4096], lock[4200];
	FILE *f;

	*h = (struct cbt_layer_hold){ .lock_fd = -1 };
	if (record_path(name, path, sizeof(path), false))
		return 0;
	snprintf(lock, sizeof(lock), "%s.lock", path);
	/* No run directory: no record, and no handler to keep out. */
	h->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (h->lock_fd < 0)
		return errno == ENOENT ? 0 : cbt_err(-errno, "%s: %s", lock, strerror(errno));
	/* A handler attaching right now finishes first; one after us finds no record. */
	if (flock(h->lock_fd, LOCK_EX)) {
		int ret = cbt_err(-errno, "%s: %s", lock, strerror(errno));

		close(h->lock_fd);
		h->lock_fd = -1;
		return ret;
	}
	f = fopen(path, "re");
	if (f) {
		h->saved = malloc(4096);
		if (h->saved) {
			h->len = fread(h->saved, 1, 4096, f);
			h->had_record = true;
		}
		fclose(f);
	}
	if (unlink(path) && errno != ENOENT)
		return cbt_err(-errno, "%s: %s", path, strerror(errno));
	return 0;
}

void cbt_layer_release(const char *name, struct cbt_layer_hold *h, bool put_back)
{
	char path[4096], tmp[4200];
	FILE *f;

	if (h->lock_fd < 0 || record_path(name, path, sizeof(path), false))
		goto out;
	if (put_back && h->had_record) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		f = fopen(tmp, "we");
		if (f && fwrite(h->saved, 1, h->len, f) == h->len && !fclose(f) &&
		    !rename(tmp, path))
			goto out;
		if (f)
			unlink(tmp);
		fprintf(stderr, "cbt: cannot put back %s: %s (tracking will not come back by itself"
			" after an LVM reload; `cbt attach' it again)\n", path, strerror(errno));
	} else if (!put_back) {
		/* the lock goes with the record, as in cbt_layer_forget() */
		snprintf(tmp, sizeof(tmp), "%s.lock", path);
		unlink(tmp);
	}
out:
	if (h->lock_fd >= 0)
		close(h->lock_fd);
	free(h->saved);
	*h = (struct cbt_layer_hold){ .lock_fd = -1 };
}
