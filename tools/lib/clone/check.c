// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/fs.h>

#include "clone/check.h"
#include "kernel/signature.h"
#include "util/util.h"

const struct clone_env clone_env_default = { "/sys", "/proc/self/mountinfo" };

/* The first line of a small file, without its newline. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int parse_devt(const char *s, dev_t *dev)
{
	unsigned int ma, mi;
	char c;

	if (sscanf(s, "%u:%u%c", &ma, &mi, &c) != 2)
		return -EINVAL;
	*dev = makedev(ma, mi);
	return 0;
}

/* The sysfs directory of @dev (resolved), or -ENOENT. */
static int dev_dir(const struct clone_env *env, dev_t dev, char *out)
{
	char link[PATH_MAX];

	snprintf(link, sizeof(link), "%s/dev/block/%u:%u", env->sysfs, major(dev), minor(dev));
	if (!realpath(link, out))
		return -errno;
	return 0;
}

static int dir_dev(const char *dir, dev_t *dev)
{
	char path[PATH_MAX + 8], line[64];
	int ret;

	snprintf(path, sizeof(path), "%s/dev", dir);
	ret = read_line(path, line, sizeof(line));
	return ret ? ret : parse_devt(line, dev);
}

bool clone_stack_has(const struct clone_stack *s, dev_t dev)
{
	for (size_t i = 0; i < s->nr; i++)
		if (s->dev[i] == dev)
			return true;
	return false;
}

static bool stack_put(struct clone_stack *s, dev_t dev)
{
	if (clone_stack_has(s, dev) || s->nr == CLONE_MAX_STACK)
		return false;
	s->dev[s->nr++] = dev;
	return true;
}

static void add_dir(const struct clone_env *env, struct clone_stack *s, const char *dir, int depth)
{
	char path[PATH_MAX + 32], sub[PATH_MAX], line[PATH_MAX];
	struct dirent *de;
	struct stat st;
	dev_t dev;
	DIR *d;

	if (depth > 16 || dir_dev(dir, &dev) || !stack_put(s, dev))
		return;
	/* A partition: its disk too. */
	snprintf(path, sizeof(path), "%s/partition", dir);
	if (!access(path, F_OK)) {
		char *parent = strdup(dir), *slash = parent ? strrchr(parent, '/') : NULL;

		if (slash) {
			*slash = '\0';
			add_dir(env, s, parent, depth + 1);
		}
		free(parent);
	}
	/* A loop device: the device its backing file lives on. */
	snprintf(path, sizeof(path), "%s/loop/backing_file", dir);
	if (!read_line(path, line, sizeof(line)) && !stat(line, &st))
		clone_stack_add(env, s, st.st_dev);
	snprintf(path, sizeof(path), "%s/slaves", dir);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char link[PATH_MAX + 300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/slaves/%s", dir, de->d_name);
		if (realpath(link, sub))
			add_dir(env, s, sub, depth + 1);
	}
	closedir(d);
}

void clone_stack_add(const struct clone_env *env, struct clone_stack *s, dev_t dev)
{
	char dir[PATH_MAX];

	if (dev_dir(env, dev, dir)) {
		stack_put(s, dev);	/* not in sysfs: the number alone */
		return;
	}
	add_dir(env, s, dir, 0);
}

bool clone_stacks_meet(const struct clone_stack *a, const struct clone_stack *b, dev_t *common)
{
	for (size_t i = 0; i < a->nr; i++) {
		if (clone_stack_has(b, a->dev[i])) {
			*common = a->dev[i];
			return true;
		}
	}
	return false;
}

const char *clone_dev_name(const struct clone_env *env, dev_t dev, char *buf, size_t len)
{
	char dir[PATH_MAX], *base;

	if (!dev_dir(env, dev, dir) && (base = strrchr(dir, '/')))
		snprintf(buf, len, "%s (%u:%u)", base + 1, major(dev), minor(dev));
	else
		snprintf(buf, len, "%u:%u", major(dev), minor(dev));
	return buf;
}

static bool mounted_one(const struct clone_env *env, dev_t dev)
{
	char line[4096], want[32];
	bool found = false;
	FILE *f = fopen(env->mountinfo, "r");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "%u:%u ", major(dev), minor(dev));
	/* "36 35 98:0 /mnt1 /mnt2 rw ...": the third field is the device. */
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ' ');

		p = p ? strchr(p + 1, ' ') : NULL;
		if (p && !strncmp(p + 1, want, strlen(want)))
			found = true;
	}
	fclose(f);
	return found;
}

bool clone_dev_mounted(const struct clone_env *env, dev_t dev, dev_t *which)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (mounted_one(env, dev)) {
		*which = dev;
		return true;
	}
	if (dev_dir(env, dev, dir) || !(d = opendir(dir)))
		return false;
	while (!found && (de = readdir(d))) {
		dev_t part;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/partition", dir, de->d_name);
		if (access(path, F_OK))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!dir_dev(path, &part) && mounted_one(env, part)) {
			*which = part;
			found = true;
		}
	}
	closedir(d);
	return found;
}

/* The name of the first holder of @dev ("dm-3"), or false. */
static bool held(const struct clone_env *env, dev_t dev, char *name, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (dev_dir(env, dev, dir))
		return false;
	snprintf(path, sizeof(path), "%s/holders", dir);
	d = opendir(path);
	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(name, len, "%.*s", (int)(len > 1 ? len - 1 : 0), de->d_name);
		found = true;
		break;
	}
	closedir(d);
	return found;
}

int clone_check_target(const struct clone_env *env, struct clone_target *t,
		       const struct clone_stack *src, dev_t cow, uint64_t src_bytes, bool force)
{
	struct clone_stack ts = { .nr = 0 };
	char a[128], b[128];
	struct stat st;
	dev_t common, m;
	int fd, ret;

	t->found[0] = '\0';
	if (stat(t->path, &st) && (errno == ENOENT || errno == ENOTDIR))
		return cbt_err_usage(-errno, "target `%s' does not exist: give a disk, or a file"
				     " as large as the source", t->path);
	if (stat(t->path, &st))
		return cbt_err(-errno, "target `%s': %s", t->path, strerror(errno));
	t->is_blk = S_ISBLK(st.st_mode);
	if (!t->is_blk && !S_ISREG(st.st_mode))
		return cbt_err_usage(-EINVAL, "target `%s' is neither a block device nor a file", t->path);
	if (t->is_blk) {
		t->rdev = st.st_rdev;
		if (clone_stack_has(src, st.st_rdev) && src->nr && src->dev[0] == st.st_rdev)
			return cbt_err_usage(-EINVAL, "target `%s' is the source itself", t->path);
		if (cow && st.st_rdev == cow)
			return cbt_err_usage(-EINVAL, "target `%s' is the COW device; give the snapshot"
				       " another one", t->path);
		clone_stack_add(env, &ts, st.st_rdev);
		if (cow && clone_stack_has(&ts, cow))
			return cbt_err_usage(-EINVAL, "target `%s' is built on the COW device %s", t->path,
				       clone_dev_name(env, cow, a, sizeof(a)));
	} else {
		t->fs_dev = st.st_dev;
		clone_stack_add(env, &ts, st.st_dev);
	}
	if (clone_stacks_meet(&ts, src, &common))
		return cbt_err_usage(-EINVAL, "target `%s' %s the source's stack: both use %s; writing it"
			       " would change the source", t->path,
			       t->is_blk ? "is part of" : "is a file on a filesystem in",
			       clone_dev_name(env, common, a, sizeof(a)));
	if (t->is_blk && clone_dev_mounted(env, st.st_rdev, &m))
		return cbt_err_usage(-EBUSY, "target `%s' is mounted%s%s; unmount it first", t->path,
			       m == st.st_rdev ? "" : ": its partition ",
			       m == st.st_rdev ? "" : clone_dev_name(env, m, b, sizeof(b)));
	if (t->is_blk && held(env, st.st_rdev, a, sizeof(a)))
		return cbt_err_usage(-EBUSY, "target `%s' is in use by %s (device-mapper, md or LVM);"
			       " give a device nothing else uses", t->path, a);

	fd = open(t->path, O_RDONLY | O_CLOEXEC | (t->is_blk ? O_EXCL : 0));
	if (fd < 0) {
		if (errno == EBUSY)
			return cbt_err_usage(-EBUSY, "target `%s' is in use (an exclusive open failed:"
				       " mounted, swap, or held by another program)", t->path);
		return cbt_err(-errno, "target `%s': %s", t->path, strerror(errno));
	}
	if (t->is_blk) {
		if (ioctl(fd, BLKGETSIZE64, &t->bytes)) {
			ret = cbt_err(-errno, "target `%s': cannot read its size: %s", t->path,
				      strerror(errno));
			close(fd);
			return ret;
		}
	} else {
		t->bytes = (uint64_t)st.st_size;
	}
	close(fd);
	if (t->bytes < src_bytes)
		return cbt_err_usage(-ENOSPC, "target `%s' is smaller than the source (%s < %s); give"
			       " one at least as large", t->path, cbt_human_size(t->bytes, a),
			       cbt_human_size(src_bytes, b));
	ret = cbt_probe_signature(t->path, t->found, sizeof(t->found));
	if (ret < 0)
		return ret;
	if (ret > 0 && !force)
		return cbt_err_usage(-EEXIST, "target `%s' holds %s; the clone would destroy it (--force"
			       " writes over it)", t->path, t->found);
	return 0;
}
