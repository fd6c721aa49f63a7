// SPDX-License-Identifier: GPL-2.0
/*
 * The plan of `cbt migrate' (plan.h): the source's table through libfdisk,
 * what each partition holds and who uses it, and the layout on the target.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <blkid/blkid.h>
#include <libfdisk/libfdisk.h>
#include <linux/fs.h>

#include "clone/run.h"
#include "fsmap/fsmap.h"
#include "kernel/device.h"
#include "kernel/dmops.h"
#include "migrate/lvm.h"
#include "migrate/plan.h"
#include "util/util.h"

/* GRUB's BIOS boot partition (core.img on a GPT disk). */
#define GPT_BIOS_BOOT "21686148-6449-6E6F-744E-656564454649"

/* The filesystem (or swap) on @path: TYPE, UUID, LABEL; "" when none. */
static void probe_fs(struct mig_part *p)
{
	blkid_probe pr = blkid_new_probe_from_filename(p->src);
	const char *v;

	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
					  BLKID_SUBLKS_LABEL);
	if (!blkid_do_safeprobe(pr)) {
		if (!blkid_probe_lookup_value(pr, "TYPE", &v, NULL))
			snprintf(p->fstype, sizeof(p->fstype), "%s", v);
		if (!blkid_probe_lookup_value(pr, "UUID", &v, NULL))
			snprintf(p->fsuuid, sizeof(p->fsuuid), "%s", v);
		if (!blkid_probe_lookup_value(pr, "LABEL", &v, NULL))
			snprintf(p->fslabel, sizeof(p->fslabel), "%s", v);
	}
	blkid_free_probe(pr);
}

/* Undo mountinfo's octal escapes (\040 for a blank) in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++, d++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*d = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*d = *s;
		}
	}
	*d = '\0';
}

bool mig_mount_point(dev_t dev, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], mnt[PATH_MAX];
	unsigned int ma, mi;
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mnt) == 3 &&
		    makedev(ma, mi) == dev) {
			unescape(mnt);
			snprintf(out, len, "%s", mnt);
			found = true;
		}
	}
	fclose(f);
	return found;
}

int mig_each_holder(dev_t dev, int (*fn)(void *arg, const char *name, dev_t hdev), void *arg)
{
	char dir[128], path[PATH_MAX];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders", major(dev), minor(dev));
	d = opendir(dir);
	if (!d)
		return 0;
	while (!ret && (de = readdir(d))) {
		unsigned int ma = 0, mi = 0;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/dev", dir, de->d_name);
		f = fopen(path, "r");
		if (!f || fscanf(f, "%u:%u", &ma, &mi) != 2)
			ma = mi = 0;
		if (f)
			fclose(f);
		ret = fn(arg, de->d_name, makedev(ma, mi));
	}
	closedir(d);
	return ret;
}

struct holders_of {
	const struct cbt_dev_info *infos;
	size_t nr;
	char *cbt, *other;
	size_t clen, olen;
};

static int holder(void *arg, const char *name, dev_t hdev)
{
	struct holders_of *h = arg;
	bool is_cbt = false;

	for (size_t i = 0; i < h->nr && !is_cbt; i++) {
		is_cbt = makedev(h->infos[i].major, h->infos[i].minor) == hdev;
		if (is_cbt && !h->cbt[0])
			snprintf(h->cbt, h->clen, "%s", h->infos[i].name);
	}
	if (!is_cbt && !h->other[0])
		snprintf(h->other, h->olen, "%s", name);
	return 0;
}

void mig_holders(dev_t dev, const struct cbt_dev_info *infos, size_t nr, char *cbt, size_t clen,
		 char *other, size_t olen)
{
	struct holders_of h = { infos, nr, cbt, other, clen, olen };

	cbt[0] = other[0] = '\0';
	mig_each_holder(dev, holder, &h);
}

/* Filesystems whose FIFREEZE works (vfat's does not). */
static bool can_freeze(const char *fstype)
{
	static const char *const yes[] = { "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (!strcmp(fstype, yes[i]))
			return true;
	return false;
}

static int choose_method(struct mig_part *p, const struct cbt_dev_info *infos, size_t nr)
{
	int ret;

	mig_holders(p->src_dev, infos, nr, p->cbt, sizeof(p->cbt), p->held_by, sizeof(p->held_by));
	probe_fs(p);
	p->biosboot = !strcasecmp(p->type, GPT_BIOS_BOOT);
	if (!strcmp(p->fstype, "swap")) {
		p->method = MIG_SWAP;
	} else if (p->cbt[0]) {
		p->method = MIG_TRACKED;
	} else if (!strcmp(p->fstype, "LVM2_member")) {
		/* Without LVM's tools, a PV nothing uses is copied whole. */
		ret = mig_lvm_read(p, infos, nr);
		if (ret != -ENOENT || p->held_by[0])
			return ret;
		cbt_err_clear();
		p->method = MIG_COPY;
	} else if (mig_mount_point(p->src_dev, p->mnt, sizeof(p->mnt))) {
		p->method = can_freeze(p->fstype) ? MIG_FROZEN : MIG_RECHECK;
	} else {
		p->method = MIG_COPY;
	}
	return 0;
}

static int blk_bytes(const char *path, int fd, uint64_t *bytes)
{
	struct stat st;

	if (fstat(fd, &st))
		return cbt_err(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return cbt_err(-ENOTBLK, "%s is not a block device (a whole disk)", path);
	if (ioctl(fd, BLKGETSIZE64, bytes))
		return cbt_err(-errno, "%s: cannot read its size: %s", path, strerror(errno));
	return 0;
}

/* @path names an existing block device: else -ENODEV or -ENOTBLK (exit status 5). */
static int is_disk(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return errno == ENOENT ? cbt_err(-ENODEV, "%s does not exist", path) :
			cbt_err(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return cbt_err(-ENOTBLK, "%s is not a block device (a whole disk)", path);
	return 0;
}

/* Read the source's label and partitions into @pl. */
static int read_source(struct mig_plan *pl)
{
	struct fdisk_context *cxt;
	struct fdisk_table *tb = NULL;
	struct fdisk_iter *itr = NULL;
	struct fdisk_partition *pa;
	char *id = NULL;
	int ret = is_disk(pl->src);

	if (ret)
		return ret;
	cxt = fdisk_new_context();
	if (!cxt)
		return -ENOMEM;
	ret = fdisk_assign_device(cxt, pl->src, 1);
	if (ret) {
		ret = cbt_err(ret < 0 ? ret : -EIO, "%s: cannot read its partition table", pl->src);
		goto out;
	}
	if (fdisk_is_labeltype(cxt, FDISK_DISKLABEL_GPT)) {
		snprintf(pl->label, sizeof(pl->label), "gpt");
	} else if (fdisk_is_labeltype(cxt, FDISK_DISKLABEL_DOS)) {
		snprintf(pl->label, sizeof(pl->label), "dos");
	} else {
		ret = cbt_err(-EINVAL, "%s has no GPT or MBR partition table", pl->src);
		goto out;
	}
	pl->sector = (uint32_t)fdisk_get_sector_size(cxt);
	pl->src_sectors = fdisk_get_nsectors(cxt);
	pl->src_last = fdisk_get_last_lba(cxt);
	if (!fdisk_get_disklabel_id(cxt, &id) && id)
		snprintf(pl->disk_id, sizeof(pl->disk_id), "%s", id);
	free(id);
	ret = fdisk_get_partitions(cxt, &tb);
	if (ret) {
		ret = cbt_err(-EIO, "%s: cannot list its partitions", pl->src);
		goto out;
	}
	fdisk_table_sort_partitions(tb, fdisk_partition_cmp_start);
	pl->p = calloc(fdisk_table_get_nents(tb) + 1, sizeof(*pl->p));
	itr = fdisk_new_iter(FDISK_ITER_FORWARD);
	if (!pl->p || !itr) {
		ret = -ENOMEM;
		goto out;
	}
	while (!fdisk_table_next_partition(tb, itr, &pa)) {
		struct mig_part *p = &pl->p[pl->n];
		struct fdisk_parttype *t = fdisk_partition_get_type(pa);
		char *name = NULL;
		struct stat st;
		const char *s;

		if (!fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa))
			continue;
		if (fdisk_partition_is_container(pa) || fdisk_partition_is_nested(pa)) {
			ret = cbt_err(-EOPNOTSUPP, "%s: extended and logical MBR partitions are not"
				      " supported", pl->src);
			goto out;
		}
		p->partno = fdisk_partition_get_partno(pa);
		p->start = fdisk_partition_get_start(pa);
		p->size = fdisk_partition_get_size(pa);
		if (t && fdisk_parttype_get_string(t))
			snprintf(p->type, sizeof(p->type), "%s", fdisk_parttype_get_string(t));
		else if (t)
			snprintf(p->type, sizeof(p->type), "0x%x", fdisk_parttype_get_code(t));
		if ((s = fdisk_partition_get_uuid(pa)))
			snprintf(p->uuid, sizeof(p->uuid), "%s", s);
		if ((s = fdisk_partition_get_name(pa)))
			snprintf(p->name, sizeof(p->name), "%s", s);
		if ((s = fdisk_partition_get_attrs(pa)))
			snprintf(p->attrs, sizeof(p->attrs), "%s", s);
		p->bootable = fdisk_partition_is_bootable(pa);
		name = fdisk_partname(pl->src, p->partno + 1);
		if (!name) {
			ret = -ENOMEM;
			goto out;
		}
		snprintf(p->src, sizeof(p->src), "%s", name);
		free(name);
		name = fdisk_partname(pl->tgt, p->partno + 1);
		if (!name) {
			ret = -ENOMEM;
			goto out;
		}
		snprintf(p->tgt, sizeof(p->tgt), "%s", name);
		free(name);
		if (stat(p->src, &st) || !S_ISBLK(st.st_mode)) {
			ret = cbt_err(-ENOENT, "%s: partition %zu has no device %s", pl->src,
				      p->partno + 1, p->src);
			goto out;
		}
		p->src_dev = st.st_rdev;
		if (!pl->n || p->start < pl->first_start)
			pl->first_start = p->start;
		pl->n++;
	}
out:
	fdisk_free_iter(itr);
	fdisk_unref_table(tb);
	fdisk_unref_context(cxt);
	return ret;
}

/*
 * What @fd holds: "" when nothing; a partition table of this source's
 * disk id sets pl->again.
 */
static void target_holds(struct mig_plan *pl, int fd, char *found, size_t len)
{
	blkid_probe pr = blkid_new_probe();
	const char *type = NULL, *id = "";

	found[0] = '\0';
	if (!pr)
		return;
	if (!blkid_probe_set_device(pr, fd, 0, 0)) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_enable_partitions(pr, 1);
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
		if (!blkid_do_safeprobe(pr)) {
			if (!blkid_probe_lookup_value(pr, "PTTYPE", &type, NULL))
				blkid_probe_lookup_value(pr, "PTUUID", &id, NULL);
			else if (blkid_probe_lookup_value(pr, "TYPE", &type, NULL))
				type = "a signature";
		}
	}
	if (type) {
		/* libfdisk says "0x1234abcd" where libblkid says "1234abcd". */
		const char *mine = strncmp(pl->disk_id, "0x", 2) ? pl->disk_id : pl->disk_id + 2;

		pl->again = !strcasecmp(id, mine) && *id;
		snprintf(found, len, "%s%s%s", type, *id ? " id " : "", id);
	}
	blkid_free_probe(pr);
}

/* The target's geometry, and that nothing uses it: an O_EXCL open. */
static int check_target(struct mig_plan *pl, bool force)
{
	char found[128];
	struct stat ss, ts;
	uint64_t bytes;
	int fd, ret;

	if (stat(pl->src, &ss))
		return cbt_err(-errno, "%s: %s", pl->src, strerror(errno));
	if (stat(pl->tgt, &ts))
		return is_disk(pl->tgt);
	if (S_ISBLK(ts.st_mode) && ts.st_rdev == ss.st_rdev)
		return cbt_err(-EINVAL, "%s is the source disk itself", pl->tgt);
	fd = open(pl->tgt, O_RDONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0)
		return cbt_err(-errno, "%s is in use (mounted, or held by another device or"
			       " program): %s", pl->tgt, strerror(errno));
	ret = blk_bytes(pl->tgt, fd, &bytes);
	if (!ret)
		target_holds(pl, fd, found, sizeof(found));
	close(fd);
	if (ret)
		return ret;
	if (found[0] && !pl->again && !force)
		return cbt_err(-EEXIST, "%s holds %s: use --force to write over it", pl->tgt,
			       found);
	pl->tgt_sectors = bytes / pl->sector;
	/* GPT keeps a backup table and header (33 sectors of 512 bytes) at the end. */
	if (!strcmp(pl->label, "gpt"))
		pl->tgt_last = pl->tgt_sectors - 1 - (pl->src_sectors - 1 - pl->src_last);
	else
		pl->tgt_last = pl->tgt_sectors - 1;
	return 0;
}

int mig_check_shrink(const char *part, const char *fstype, uint64_t bytes, uint64_t new_bytes,
		     bool live)
{
	uint64_t first = 0;
	const char *why = NULL;
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];
	int ret;

	if (new_bytes >= bytes)
		return 0;
	if (!strcmp(fstype, "xfs"))
		return cbt_err(-EOPNOTSUPP, "%s holds xfs, which cannot shrink (%s to %s)", part,
			       cbt_human_size(bytes, a), cbt_human_size(new_bytes, b));
	if (strcmp(fstype, "ext2") && strcmp(fstype, "ext3") && strcmp(fstype, "ext4"))
		return cbt_err(-EOPNOTSUPP, "%s would have to shrink (%s to %s), and only"
			       " ext2/3/4 can: it holds %s", part, cbt_human_size(bytes, a),
			       cbt_human_size(new_bytes, b), fstype[0] ? fstype : "no filesystem");
	ret = cbt_fs_ext_shrink_check(part, new_bytes, live, &first, &why);
	if (ret == -ENOSPC)
		return cbt_err(ret, "%s cannot shrink to %s: its filesystem uses a block at %s",
			       part, cbt_human_size(new_bytes, a), cbt_human_size(first, b));
	if (ret)
		return cbt_err(ret, "%s cannot shrink: %s", part, why ? why : strerror(-ret));
	return 0;
}

int mig_no_dm_zero(const struct mig_part *p)
{
	return cbt_err(-EOPNOTSUPP, "partition %zu (%s) must shrink, and shrinking needs the"
		       " kernel's dm-zero target, which this kernel does not have (device-mapper"
		       " could not load module dm_zero): load it (`modprobe dm_zero') and run"
		       " again, or migrate onto a disk large enough for no partition to shrink",
		       p->partno + 1, p->src);
}

/*
 * A partition that shrinks is copied through a device-mapper device that
 * ends in dm-zero (run.c): see that the kernel has that target before
 * anything is written. device-mapper loads a target's module when a table
 * first names it, so a target not loaded yet is tried with a device of
 * one zero sector, made and removed at once.
 */
static int check_dm_zero(const struct mig_part *p)
{
	struct cbt_dm_table t = { 0 };
	char name[CBT_DM_NAME_LEN];
	int ret;

	cbt_dm_init();
	ret = cbt_dm_has_target("zero");
	if (ret < 0)
		return ret;
	if (ret)
		return 0;
	snprintf(name, sizeof(name), "cbt-migrate-probe-%ld", (long)getpid());
	ret = cbt_dm_table_add(&t, 0, 1, "zero", "");
	if (!ret)
		ret = cbt_dm_create(name, "", &t, true, true);
	cbt_dm_table_free(&t);
	if (ret == -ENOMEM)
		return ret;
	if (ret)
		return mig_no_dm_zero(p);
	return cbt_dm_remove(name);
}

int mig_dm_name(const struct mig_part *p, const struct mig_lv *lv, char *name, size_t len)
{
	const char *b = strrchr(p->tgt, '/');

	if (lv)
		return snprintf(name, len, "cbt-migrate-%s-%s", b ? b + 1 : p->tgt, lv->name);
	return snprintf(name, len, "cbt-migrate-%s", b ? b + 1 : p->tgt);
}

/*
 * Whether the cbt device @cbt, on partition @p (or its LV @lv), can be
 * cloned now, as the clone of it will check (a snapshot attached, a closed
 * epoch of a backup): refused here, before the table is written, with the
 * message the clone would give. The clone's target decides which state
 * file says what an earlier run left.
 */
static int check_tracked(const struct mig_part *p, const struct mig_lv *lv, const char *cbt,
			 const struct cbt_dev_info *infos, size_t nr, const char *state_dir)
{
	char target[CBT_DM_NAME_LEN + 16];
	size_t i;
	int ret;

	for (i = 0; i < nr && strcmp(infos[i].name, cbt); i++)
		;
	if (i == nr)
		return 0;
	if (lv || p->new_size < p->size) {
		snprintf(target, sizeof(target), "/dev/mapper/");
		mig_dm_name(p, lv, target + strlen(target), sizeof(target) - strlen(target));
	} else {
		snprintf(target, sizeof(target), "%s", p->tgt);
	}
	ret = cbt_clone_check_source(&infos[i], target, state_dir);
	if (ret && lv)
		cbt_err_prefix(ret, "LV %s", lv->name);
	if (ret)
		cbt_err_prefix(ret, "partition %zu (%s)", p->partno + 1, p->src);
	return ret;
}

/* check_tracked() for partition @p, or for each of its tracked LVs. */
static int check_part_tracked(const struct mig_part *p, const struct cbt_dev_info *infos,
			      size_t nr, const char *state_dir)
{
	int ret = 0;

	if (p->method == MIG_TRACKED)
		ret = check_tracked(p, NULL, p->cbt, infos, nr, state_dir);
	for (size_t k = 0; p->pv && k < p->pv->nlv && !ret; k++)
		if (p->pv->lv[k].method == MIG_TRACKED)
			ret = check_tracked(p, &p->pv->lv[k], p->pv->lv[k].cbt, infos, nr, state_dir);
	return ret;
}

static bool part_tracked(const struct mig_part *p)
{
	bool tracked = p->method == MIG_TRACKED;

	for (size_t k = 0; p->pv && k < p->pv->nlv; k++)
		tracked |= p->pv->lv[k].method == MIG_TRACKED;
	return tracked;
}

int mig_plan_build(struct mig_plan *pl, const char *src, const char *tgt,
		   unsigned int grow_partno, bool force, const char *state_dir)
{
	struct cbt_dev_info *infos = NULL;
	struct cbt_nl *nl = NULL;
	size_t nr = 0;
	int ret;

	memset(pl, 0, sizeof(*pl));
	snprintf(pl->src, sizeof(pl->src), "%s", src);
	snprintf(pl->tgt, sizeof(pl->tgt), "%s", tgt);
	ret = read_source(pl);
	if (!ret)
		ret = check_target(pl, force);
	if (!ret)
		ret = mig_layout(pl, grow_partno);
	if (ret)
		return ret;
	/* No cbt module loaded: nothing is tracked. */
	if (!cbt_nl_open(&nl))
		cbt_list_devices(nl, &infos, &nr);
	cbt_err_clear();
	for (size_t i = 0; i < pl->n && !ret; i++) {
		struct mig_part *p = &pl->p[i];
		uint64_t sb = pl->sector;

		ret = choose_method(p, infos, nr);
		if (ret)
			break;
		/* Written through a layer cbt does not track: no copy of it would be consistent. */
		if (p->method == MIG_COPY && p->held_by[0]) {
			ret = cbt_err(-EBUSY, "partition %zu (%s) is in use by %s, which is not a cbt"
				      " device: it cannot be copied consistently while in use (track"
				      " it with `cbt attach', or stop %s)", p->partno + 1, p->src,
				      p->held_by, p->held_by);
			break;
		}
		ret = check_part_tracked(p, infos, nr, state_dir);
		if (ret)
			break;
		if (p->method == MIG_LVM) {
			pl->copy_bytes += p->copy_bytes;
			if (p->new_size < p->size)
				ret = mig_lvm_check_shrink(p, p->new_size * sb);
			continue;
		}
		p->copy_bytes = p->method == MIG_SWAP ? 0 :
				(p->new_size < p->size ? p->new_size : p->size) * sb;
		pl->copy_bytes += p->copy_bytes;
		if (p->new_size < p->size && p->method != MIG_SWAP)
			ret = mig_check_shrink(p->src, p->fstype, p->size * sb, p->new_size * sb,
					       p->method != MIG_COPY);
		if (!ret && p->new_size < p->size && p->method != MIG_SWAP)
			ret = check_dm_zero(p);
	}
	cbt_dev_infos_free(infos, nr);
	cbt_nl_close(nl);
	return ret;
}

/* The lock of the cbt device @cbt (on partition @p, or its LV @lv): one more in pl->locks. */
static int lock_one(struct mig_plan *pl, const struct mig_part *p, const struct mig_lv *lv,
		    const char *cbt, const struct cbt_dev_info *infos, size_t nr)
{
	struct mig_lock *l;
	size_t i;
	int fd;

	for (i = 0; i < nr && strcmp(infos[i].name, cbt); i++)
		;
	if (i == nr)
		fd = cbt_err(-ENODEV, "cbt device %s went away since the plan", cbt);
	else
		fd = cbt_device_lock(&infos[i]);
	if (fd < 0) {
		if (lv)
			cbt_err_prefix(fd, "LV %s", lv->name);
		return cbt_err_prefix(fd, "partition %zu (%s)", p->partno + 1, p->src);
	}
	l = realloc(pl->locks, (pl->nlocks + 1) * sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	pl->locks = l;
	l += pl->nlocks++;
	snprintf(l->cbt, sizeof(l->cbt), "%s", cbt);
	l->dev = makedev(infos[i].major, infos[i].minor);
	l->fd = fd;
	return 0;
}

int mig_plan_lock(struct mig_plan *pl, const char *state_dir)
{
	struct cbt_dev_info *infos = NULL;
	struct cbt_nl *nl = NULL;
	size_t nr = 0;
	int ret = 0;

	/* What the devices are now: a backup may have begun since the plan. */
	for (size_t i = 0; i < pl->n && !ret && !nl; i++) {
		if (!part_tracked(&pl->p[i]))
			continue;
		ret = cbt_nl_open(&nl);
		if (!ret)
			ret = cbt_list_devices(nl, &infos, &nr);
	}
	/*
	 * Every lock first, then the checks under them. The locks are taken
	 * without waiting (a backup holds one for its whole run: refused, as
	 * a clone is), so no order of them can deadlock.
	 */
	for (size_t i = 0; i < pl->n && !ret; i++) {
		struct mig_part *p = &pl->p[i];

		if (p->method == MIG_TRACKED)
			ret = lock_one(pl, p, NULL, p->cbt, infos, nr);
		for (size_t k = 0; p->pv && k < p->pv->nlv && !ret; k++)
			if (p->pv->lv[k].method == MIG_TRACKED)
				ret = lock_one(pl, p, &p->pv->lv[k], p->pv->lv[k].cbt, infos, nr);
	}
	for (size_t i = 0; i < pl->n && !ret; i++)
		ret = check_part_tracked(&pl->p[i], infos, nr, state_dir);
	cbt_dev_infos_free(infos, nr);
	cbt_nl_close(nl);
	return ret;
}

int mig_plan_take_lock(struct mig_plan *pl, const char *cbt, dev_t *dev)
{
	for (size_t i = 0; i < pl->nlocks; i++) {
		int fd = pl->locks[i].fd;

		if (fd < 0 || strcmp(pl->locks[i].cbt, cbt))
			continue;
		pl->locks[i].fd = -1;
		*dev = pl->locks[i].dev;
		return fd;
	}
	return -1;
}
