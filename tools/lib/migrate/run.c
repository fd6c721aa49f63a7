// SPDX-License-Identifier: GPL-2.0
/*
 * Carrying out a `cbt migrate' plan (run.h): the target's table, each
 * partition by its method, the resize of the one that changed size.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libfdisk/libfdisk.h>
#include <linux/fs.h>

#include "clone/copy.h"
#include "clone/run.h"
#include "fsmap/fsmap.h"
#include "kernel/dmops.h"
#include "migrate/lvm.h"
#include "migrate/run.h"
#include "util/extents.h"
#include "util/util.h"

#define MIG_IO (1024 * 1024)
/* MIG_RECHECK: reads of a partition that keeps changing before giving up. */
#define MIG_RECHECK_ROUNDS 8
/* The MBR's boot code: what precedes the disk id and the partition entries. */
#define MBR_BOOT_CODE 440

/* Run a tool, its output into j->notes; its exit status, or -errno. */
static int run_tool(struct mig_job *j, const char *const argv[])
{
	pid_t pid;
	int status;

	if (j->notes)
		fflush(j->notes);
	pid = fork();
	if (pid < 0)
		return cbt_err(-errno, "cannot run %s: %s", argv[0], strerror(errno));
	if (!pid) {
		int out = j->notes ? fileno(j->notes) : open("/dev/null", O_WRONLY);

		if (out >= 0) {
			dup2(out, STDOUT_FILENO);
			dup2(out, STDERR_FILENO);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cbt_err(-errno, "%s: %s", argv[0], strerror(errno));
	/* SIGINT from a terminal reaches the tool too: the migration was stopped. */
	if (!WIFEXITED(status) && j->stop && *j->stop)
		return -EINTR;
	if (!WIFEXITED(status))
		return cbt_err(-EIO, "%s was killed by signal %d", argv[0], WTERMSIG(status));
	if (WEXITSTATUS(status) == 127)
		return cbt_err(-ENOENT, "cannot run %s (not installed?)", argv[0]);
	return WEXITSTATUS(status);
}

#ifdef CBT_TEST_HOOKS
int mig_test_hook(const char *step)
{
	const char *hook = getenv("CBT_MIGRATE_HOOK");
	char pid[32];

	if (!hook)
		return 0;
	setenv("CBT_MIGRATE_STEP", step, 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("CBT_PID", pid, 1);
	fflush(NULL);
	if (system(hook))
		return cbt_err(-ECANCELED, "CBT_MIGRATE_HOOK `%s' failed at step `%s'", hook, step);
	return 0;
}
#endif

/* e2fsck -fy: 0 (clean) and 1 (fixed) are fine. */
static int fsck_ext(struct mig_job *j, const char *dev)
{
	const char *const argv[] = { "e2fsck", "-f", "-y", dev, NULL };
	int ret = run_tool(j, argv);

	if (ret < 0)
		return ret;
	if (ret > 1)
		return cbt_err(-EIO, "e2fsck -fy %s: exit status %d", dev, ret);
	return 0;
}

static int resize_ext(struct mig_job *j, const char *dev, uint64_t bytes)
{
	char size[32];
	const char *const argv[] = { "resize2fs", dev, size, NULL };
	int ret = fsck_ext(j, dev);

	if (ret)
		return ret;
	snprintf(size, sizeof(size), "%" PRIu64 "K", bytes / 1024);
	ret = run_tool(j, argv);
	if (ret > 0)
		return cbt_err(-EIO, "resize2fs %s %s: exit status %d", dev, size, ret);
	return ret;
}

static bool is_ext(const char *fstype)
{
	return !strcmp(fstype, "ext2") || !strcmp(fstype, "ext3") || !strcmp(fstype, "ext4");
}

/* ---- The partition table ------------------------------------------------- */

static int add_part(struct fdisk_context *cxt, const struct mig_plan *pl, const struct mig_part *p)
{
	struct fdisk_label *lb = fdisk_get_label(cxt, NULL);
	struct fdisk_partition *pa = fdisk_new_partition();
	struct fdisk_parttype *t;
	bool gpt = !strcmp(pl->label, "gpt");
	int ret;

	if (!pa)
		return -ENOMEM;
	fdisk_partition_partno_follow_default(pa, 0);
	fdisk_partition_start_follow_default(pa, 0);
	fdisk_partition_end_follow_default(pa, 0);
	fdisk_partition_set_partno(pa, p->partno);
	fdisk_partition_set_start(pa, p->new_start);
	fdisk_partition_set_size(pa, p->new_size);
	fdisk_partition_size_explicit(pa, 1);
	t = gpt ? fdisk_label_get_parttype_from_string(lb, p->type) :
		  fdisk_label_get_parttype_from_code(lb, (unsigned int)strtoul(p->type, NULL, 16));
	/* libfdisk may answer a GUID it does not know with a near one: keep ours. */
	if (gpt && (!t || !fdisk_parttype_get_string(t) ||
		    strcasecmp(fdisk_parttype_get_string(t), p->type))) {
		fdisk_unref_parttype(t);
		t = fdisk_new_unknown_parttype(0, p->type);
	}
	if (t) {
		fdisk_partition_set_type(pa, t);
		fdisk_unref_parttype(t);
	}
	if (gpt && p->uuid[0])
		fdisk_partition_set_uuid(pa, p->uuid);
	if (gpt && p->name[0])
		fdisk_partition_set_name(pa, p->name);
	if (gpt && p->attrs[0])
		fdisk_partition_set_attrs(pa, p->attrs);
	ret = fdisk_add_partition(cxt, pa, NULL);
	fdisk_unref_partition(pa);
	if (ret)
		return cbt_err(ret < 0 ? ret : -EIO, "%s: cannot add partition %zu (sectors %" PRIu64
			       "+%" PRIu64 ")", pl->tgt, p->partno + 1, p->new_start, p->new_size);
	if (!gpt && p->bootable)
		fdisk_toggle_partition_flag(cxt, p->partno, DOS_FLAG_ACTIVE);
	return 0;
}

/*
 * The MBR boot code (GRUB's boot.img, under GPT too, in the protective
 * MBR), and on an MBR disk the gap up to the first partition, where GRUB
 * embeds its core image.
 */
static int copy_boot_areas(const struct mig_plan *pl, int tfd)
{
	uint64_t len = !strcmp(pl->label, "dos") ? pl->first_start * pl->sector : 0;
	uint8_t *buf = malloc(MIG_IO);
	int sfd = open(pl->src, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (!buf || sfd < 0) {
		ret = sfd < 0 ? cbt_err(-errno, "%s: %s", pl->src, strerror(errno)) : -ENOMEM;
		goto out;
	}
	ret = cbt_pread_full(sfd, buf, MBR_BOOT_CODE, 0);
	if (!ret && pwrite(tfd, buf, MBR_BOOT_CODE, 0) != MBR_BOOT_CODE)
		ret = -EIO;
	for (uint64_t off = pl->sector; !ret && off < len; off += MIG_IO) {
		size_t n = len - off < MIG_IO ? (size_t)(len - off) : MIG_IO;

		ret = cbt_pread_full(sfd, buf, n, off);
		if (!ret && pwrite(tfd, buf, n, (off_t)off) != (ssize_t)n)
			ret = -EIO;
	}
	if (ret)
		ret = cbt_err(ret, "cannot copy the boot code of %s to %s", pl->src, pl->tgt);
out:
	if (sfd >= 0)
		close(sfd);
	free(buf);
	return ret;
}

int mig_write_table(struct mig_job *j)
{
	struct mig_plan *pl = &j->plan;
	struct fdisk_context *cxt = NULL;
	int fd, ret;

	fd = open(pl->tgt, O_RDWR | O_EXCL | O_CLOEXEC);
	if (fd < 0)
		return cbt_err(-errno, "%s is in use: %s", pl->tgt, strerror(errno));
	cxt = fdisk_new_context();
	if (!cxt) {
		ret = -ENOMEM;
		goto out;
	}
	ret = fdisk_assign_device_by_fd(cxt, fd, pl->tgt, 0);
	if (!ret)
		ret = fdisk_create_disklabel(cxt, pl->label);
	if (ret) {
		ret = cbt_err(ret < 0 ? ret : -EIO, "%s: cannot create a %s label", pl->tgt,
			      pl->label);
		goto out;
	}
	if (pl->disk_id[0] && fdisk_set_disklabel_id_from_string(cxt, pl->disk_id)) {
		ret = cbt_err(-EIO, "%s: cannot set the disk id %s", pl->tgt, pl->disk_id);
		goto out;
	}
	for (size_t i = 0; i < pl->n && !ret; i++)
		ret = add_part(cxt, pl, &pl->p[i]);
	if (!ret && fdisk_write_disklabel(cxt))
		ret = cbt_err(-EIO, "%s: cannot write the partition table", pl->tgt);
	if (!ret)
		ret = copy_boot_areas(pl, fd);
	if (!ret && fsync(fd))
		ret = cbt_err(-errno, "%s: %s", pl->tgt, strerror(errno));
	if (!ret && fdisk_reread_partition_table(cxt))
		ret = cbt_err(-EIO, "%s: the kernel did not take the new partition table", pl->tgt);
out:
	fdisk_unref_context(cxt);
	close(fd);
	return ret;
}

/* ---- Copies -------------------------------------------------------------- */

struct tick {
	struct mig_job *j;
	size_t i;
};

static int on_tick(void *data, uint64_t done, uint64_t total)
{
	struct tick *t = data;

	if (t->j->progress)
		t->j->progress(t->j, t->i, done, total);
	return 0;
}

int mig_copy_ext(struct mig_job *j, size_t i, int sfd, int tfd, const struct cbt_extents *ext,
		 uint32_t bs, bool verify, char digest[33], uint64_t *bytes, uint64_t *mismatch)
{
	struct tick t = { j, i };
	struct clone_copy_opts o = {
		.block_size = bs, .dev_bytes = j->plan.p[i].size * j->plan.sector,
		.stop = j->stop, .stop_level = 1, .tick = on_tick, .tick_data = &t, .tick_ms = 500,
	};
	struct clone_copy_result res = { 0 };
	uint64_t compared;
	int ret;

	if (verify)
		return clone_verify(sfd, tfd, ext, &o, digest, &compared, mismatch);
	ret = clone_copy_extents(sfd, tfd, ext, &o, &res);
	*bytes += res.bytes;
	return ret ? ret : clone_sync(tfd, j->plan.p[i].tgt);
}

/* Copy (@verify: or compare) the first @bytes of @sfd to @tfd, from @from on. */
static int copy_or_verify(struct mig_job *j, size_t i, int sfd, int tfd, uint64_t from,
			  uint64_t bytes, bool verify, struct mig_result *r, uint64_t *mismatch)
{
	struct cbt_extents ext;
	uint64_t first = from / MIG_IO;
	int ret;

	cbt_extents_init(&ext);
	ret = cbt_extents_append(&ext, first, (bytes + MIG_IO - 1) / MIG_IO - first);
	if (!ret)
		ret = mig_copy_ext(j, i, sfd, tfd, &ext, MIG_IO, verify, r->digest, &r->bytes,
				   mismatch);
	cbt_extents_free(&ext);
	return ret;
}

int mig_differs(const char *src, const char *tgt, uint64_t off)
{
	cbt_err_clear();
	/*
	 * EIO, exit status 1: a failed copy, which the same command copies
	 * again; EBADMSG's 4 is a damaged image's (cbt(8) EXIT STATUS).
	 */
	return cbt_err(-EIO, "%s differs from %s at byte %" PRIu64 " once copied: the target"
		       " gave back other data, or something wrote the source during its copy;"
		       " run again", tgt, src, off);
}

/* Whole: copy @bytes, flush, compare. */
static int copy_verify(struct mig_job *j, size_t i, int sfd, int tfd, uint64_t bytes,
		       struct mig_result *r)
{
	const struct mig_part *p = &j->plan.p[i];
	uint64_t mm = 0;
	int ret = copy_or_verify(j, i, sfd, tfd, 0, bytes, false, r, &mm);

	if (!ret)
		ret = copy_or_verify(j, i, sfd, tfd, 0, bytes, true, r, &mm);
	return ret == -EBADMSG ? mig_differs(p->src, p->tgt, mm) : ret;
}

/* A mounted filesystem that cannot freeze: copy, then re-read until both agree. */
static int copy_recheck(struct mig_job *j, size_t i, int sfd, int tfd, uint64_t bytes,
			struct mig_result *r)
{
	const struct mig_part *p = &j->plan.p[i];
	int mfd = open(p->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t from = 0, mm = 0;
	int ret = -EAGAIN;

	for (r->rounds = 1; r->rounds <= MIG_RECHECK_ROUNDS; r->rounds++) {
		/* What the filesystem holds in memory reaches the partition first. */
		if (mfd >= 0)
			syncfs(mfd);
		ret = copy_or_verify(j, i, sfd, tfd, from, bytes, false, r, &mm);
		if (!ret)
			ret = copy_or_verify(j, i, sfd, tfd, 0, bytes, true, r, &mm);
		if (ret != -EBADMSG)
			break;
		from = mm / MIG_IO * MIG_IO;
	}
	if (ret == -EBADMSG)
		ret = cbt_err(-EAGAIN, "%s kept changing: %u copies did not agree with it (copy it"
			      " unmounted)", p->src, MIG_RECHECK_ROUNDS);
	if (mfd >= 0)
		close(mfd);
	return ret;
}

static int copy_frozen(struct mig_job *j, size_t i, int sfd, int tfd, uint64_t bytes,
		       struct mig_result *r)
{
	const struct mig_part *p = &j->plan.p[i];
	int mfd = open(p->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t t0;
	int ret;

	if (mfd < 0)
		return cbt_err(-errno, "%s: %s", p->mnt, strerror(errno));
	if (ioctl(mfd, FIFREEZE, 0)) {
		ret = errno;
		close(mfd);
		if (ret == EOPNOTSUPP)
			return copy_recheck(j, i, sfd, tfd, bytes, r);
		return cbt_err(-ret, "cannot freeze %s: %s", p->mnt, strerror(ret));
	}
	t0 = cbt_mono_ns();
	ret = copy_verify(j, i, sfd, tfd, bytes, r);
	if (ioctl(mfd, FITHAW, 0) && !ret)
		ret = cbt_err(-errno, "cannot thaw %s: %s", p->mnt, strerror(errno));
	r->frozen_ns = cbt_mono_ns() - t0;
	close(mfd);
	return ret;
}

static int make_swap(struct mig_job *j, const struct mig_part *p)
{
	const char *argv[8];
	size_t n = 0;
	int ret;

	argv[n++] = "mkswap";
	if (p->fsuuid[0]) {
		argv[n++] = "-U";
		argv[n++] = p->fsuuid;
	}
	if (p->fslabel[0]) {
		argv[n++] = "-L";
		argv[n++] = p->fslabel;
	}
	argv[n++] = p->tgt;
	argv[n] = NULL;
	ret = run_tool(j, argv);
	if (ret > 0)
		return cbt_err(-EIO, "mkswap %s: exit status %d", p->tgt, ret);
	return ret;
}

/*
 * A copy of a mounted filesystem carries the marks of one in use: an ext
 * journal that, frozen, is empty but still flagged for recovery; a FAT's
 * dirty bit. The copy agrees with the source, so the marks are all the
 * checkers have to clear.
 */
static int tidy_mounted_copy(struct mig_job *j, const struct mig_part *p, const char *target)
{
	const char *const fat[] = { "fsck.fat", "-a", "-w", target, NULL };
	int rc;

	if (is_ext(p->fstype))
		return fsck_ext(j, target);
	if (strcmp(p->fstype, "vfat"))
		return 0;
	rc = run_tool(j, fat);
	if (rc > 1)
		return cbt_err(-EIO, "fsck.fat -a %s: exit status %d", target, rc);
	return rc < 0 ? rc : 0;
}

#ifdef CBT_TEST_HOOKS
/* The hook's "clone TARGET pass 1 DONE/TOTAL": once, inside the first pass's copy. */
static void clone_hook_progress(struct cbt_clone_job *c, uint64_t done, uint64_t total)
{
	bool *fired = c->report.data;
	char step[PATH_MAX + 64];
	int ret;

	if (*fired || c->pass_n != 1 || !done || done >= total)
		return;
	*fired = true;
	snprintf(step, sizeof(step), "clone %s pass 1 %" PRIu64 "/%" PRIu64, c->target, done,
		 total);
	/* A progress report cannot fail the copy: a failing hook is printed. */
	ret = mig_test_hook(step);
	if (ret)
		cbt_perror("cbt migrate", ret);
}
#endif

int mig_clone_live(struct mig_job *j, const char *cbt, const char *target, bool shrink,
		   struct mig_result *r)
{
	struct cbt_clone_job c;
	int ret;
#ifdef CBT_TEST_HOOKS
	bool hook_fired = false;
#endif

	cbt_clone_job_init(&c);
#ifdef CBT_TEST_HOOKS
	c.report.progress = clone_hook_progress;
	c.report.data = &hook_fired;
#endif
	/* migrate has held the device's lock since before it wrote anything: the clone's now. */
	c.dev_lock = mig_plan_take_lock(&j->plan, cbt, &c.dev_lock_dev);
	c.dev_arg = cbt;
	c.target = target;
	c.cow = j->cow;
	c.state_dir = j->state_dir;
	c.stop = j->stop;
	c.notes = j->notes;
	/* The target was just partitioned: what lies in it is no one's. */
	c.force = true;
	c.used_only = true;
	/* A shrinking clone loses the superblock backups past its end: checked below instead. */
	c.verify = !shrink;
	ret = cbt_clone_plan(&c);
	if (!ret)
		ret = cbt_clone_begin(&c);
	if (!ret) {
		char step[PATH_MAX + 8];

		snprintf(step, sizeof(step), "clone %s", target);
		ret = mig_test_hook(step);
	}
	if (!ret)
		ret = cbt_clone_passes(&c);
	if (!ret && c.verify)
		ret = cbt_clone_verify(&c);
	if (ret) {
		char why[1200];

		snprintf(why, sizeof(why), "%s", cbt_err_detail() ? cbt_err_detail() : "");
		cbt_clone_fail(&c, ret);
		/* A clone that differs from its snapshot: a failed copy, as mig_differs() says. */
		ret = cbt_err(ret == -EBADMSG ? -EIO : ret, "%s",
			      c.why_failed[0] ? c.why_failed : why);
	} else {
		ret = cbt_clone_release(&c);
	}
	for (size_t k = 0; k < c.npasses; k++)
		if (c.passes[k].freeze_ns > r->frozen_ns)
			r->frozen_ns = c.passes[k].freeze_ns;
	r->passes = (unsigned int)c.npasses;
	r->bytes += c.copied_bytes;
	r->resumed = c.resumed;
	if (c.verify && !ret)
		snprintf(r->digest, sizeof(r->digest), "%s", c.digest);
	cbt_clone_job_free(&c);
	return ret;
}

/*
 * A partition that shrinks: "cbt-migrate-<partition>", the new partition
 * followed by zeros up to the old size, where the filesystem can be
 * copied whole and then shrunk.
 */
static int shrink_dev(const struct mig_plan *pl, const struct mig_part *p, char *name,
		      size_t len, bool create)
{
	struct cbt_dm_table t = { 0 };
	uint64_t f = pl->sector / 512;
	char params[64];
	struct stat st;
	int ret;

	mig_dm_name(p, NULL, name, len);
	if (!create)
		return cbt_dm_remove(name);
	if (stat(p->tgt, &st))
		return cbt_err(-errno, "%s: %s", p->tgt, strerror(errno));
	snprintf(params, sizeof(params), "%u:%u 0", major(st.st_rdev), minor(st.st_rdev));
	ret = cbt_dm_table_add(&t, 0, p->new_size * f, "linear", params);
	if (!ret)
		ret = cbt_dm_table_add(&t, p->new_size * f, (p->size - p->new_size) * f, "zero", "");
	if (!ret)
		ret = cbt_dm_create(name, "", &t, false, true);
	cbt_dm_table_free(&t);
	/* The plan found dm-zero: gone since (a module unloaded)? Say so, not EINVAL. */
	if (ret == -EINVAL && !cbt_dm_has_target("zero")) {
		cbt_err_clear();
		ret = mig_no_dm_zero(p);
	}
	return ret;
}

int mig_copy_part(struct mig_job *j, size_t i, struct mig_result *r)
{
	const struct mig_plan *pl = &j->plan;
	const struct mig_part *p = &pl->p[i];
	bool shrink = p->new_size < p->size && p->method != MIG_SWAP && p->method != MIG_LVM;
	uint64_t t0 = cbt_mono_ns(), bytes = p->size * pl->sector;
	char name[CBT_DM_NAME_LEN], target[CBT_DM_NAME_LEN + 16];
	bool sdirect, tdirect;
	int sfd = -1, tfd = -1, ret;

	memset(r, 0, sizeof(*r));
	if (p->method == MIG_SWAP)
		return make_swap(j, p);
	if (p->method == MIG_LVM) {
		ret = mig_lvm_copy(j, i, r);
		r->ns = cbt_mono_ns() - t0;
		return ret;
	}
	snprintf(target, sizeof(target), "%s", p->tgt);
	if (shrink) {
		cbt_dm_init();
		shrink_dev(pl, p, name, sizeof(name), false);
		cbt_err_clear();
		ret = shrink_dev(pl, p, name, sizeof(name), true);
		if (ret)
			return ret;
		snprintf(target, sizeof(target), "/dev/mapper/%s", name);
	}
	if (p->method == MIG_TRACKED) {
		ret = mig_clone_live(j, p->cbt, target, shrink, r);
		goto resize;
	}
	sfd = clone_open(p->src, O_RDONLY, &sdirect);
	if (sfd < 0) {
		ret = cbt_err(sfd, "%s: %s", p->src, strerror(-sfd));
		goto out;
	}
	tfd = clone_open(target, O_RDWR | O_EXCL, &tdirect);
	if (tfd < 0) {
		ret = cbt_err(tfd, "%s: %s", target, strerror(-tfd));
		goto out;
	}
	if (p->method == MIG_FROZEN)
		ret = copy_frozen(j, i, sfd, tfd, bytes, r);
	else if (p->method == MIG_RECHECK)
		ret = copy_recheck(j, i, sfd, tfd, bytes, r);
	else
		ret = copy_verify(j, i, sfd, tfd, bytes, r);
	close(tfd);
	tfd = -1;
	if (!ret && p->method != MIG_COPY)
		ret = tidy_mounted_copy(j, p, target);
resize:
	if (!ret && shrink) {
		uint64_t first = 0;
		const char *why = "";
		char h[CBT_HUMAN_LEN];

		/* Again on the copy: the live filesystem may have grown since the plan. */
		ret = cbt_fs_ext_shrink_check(target, p->new_size * pl->sector, false, &first, &why);
		if (ret == -ENOSPC)
			ret = cbt_err(ret, "%s: the filesystem now uses a block at %s, past the new"
				      " end; migrate again to a larger disk", p->src,
				      cbt_human_size(first, h));
		else if (ret)
			ret = cbt_err(ret, "%s: %s", target, why);
		if (!ret)
			ret = resize_ext(j, target, p->new_size * pl->sector);
		if (!ret)
			snprintf(r->resized, sizeof(r->resized), "shrunk with resize2fs");
	}
out:
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (shrink) {
		int rm = shrink_dev(pl, p, name, sizeof(name), false);

		if (!ret && rm)
			ret = rm;
		if (!ret)
			ret = fsck_ext(j, p->tgt);
	}
	r->ns = cbt_mono_ns() - t0;
	return ret;
}

/* ---- Growing ------------------------------------------------------------- */

static int grow_xfs(struct mig_job *j, const struct mig_part *p)
{
	char dir[] = "/tmp/cbt-migrate-XXXXXX";
	const char *const argv[] = { "xfs_growfs", dir, NULL };
	int ret;

	if (!mkdtemp(dir))
		return cbt_err(-errno, "mkdtemp: %s", strerror(errno));
	/* The source is mounted with the same UUID. */
	if (mount(p->tgt, dir, "xfs", 0, "nouuid")) {
		ret = cbt_err(-errno, "cannot mount %s to grow it: %s", p->tgt, strerror(errno));
		rmdir(dir);
		return ret;
	}
	ret = run_tool(j, argv);
	if (ret > 0)
		ret = cbt_err(-EIO, "xfs_growfs %s: exit status %d", p->tgt, ret);
	if (umount(dir) && !ret)
		ret = cbt_err(-errno, "cannot unmount %s: %s", dir, strerror(errno));
	rmdir(dir);
	return ret;
}

/* The PV fills its partition, larger or smaller. */
static int resize_pv(struct mig_job *j, const struct mig_part *p)
{
	/*
	 * --devices: LVM sees the target alone. The source PV, with the same
	 * PV UUID, is visible too, and LVM would pick one of the two.
	 */
	const char *const argv[] = { "lvm", "pvresize", "--devices", p->tgt, p->tgt, NULL };
	int ret = run_tool(j, argv);

	if (ret > 0)
		ret = cbt_err(-EIO, "lvm pvresize %s: exit status %d", p->tgt, ret);
	return ret;
}

int mig_resize_part(struct mig_job *j, size_t i, struct mig_result *r)
{
	const struct mig_part *p = &j->plan.p[i];
	int ret = 0;

	if (p->new_size == p->size || p->method == MIG_SWAP)
		return 0;
	/* Shrunk with the copy (mig_copy_part()), but a PV. */
	if (p->new_size < p->size && p->method != MIG_LVM)
		return 0;
	if (p->method == MIG_LVM || !strcmp(p->fstype, "LVM2_member")) {
		ret = resize_pv(j, p);
		if (!ret)
			snprintf(r->resized, sizeof(r->resized), "%s with pvresize",
				 p->new_size > p->size ? "grown" : "shrunk");
	} else if (is_ext(p->fstype)) {
		ret = resize_ext(j, p->tgt, p->new_size * j->plan.sector);
		if (!ret)
			snprintf(r->resized, sizeof(r->resized), "grown with resize2fs");
	} else if (!strcmp(p->fstype, "xfs")) {
		ret = grow_xfs(j, p);
		if (!ret)
			snprintf(r->resized, sizeof(r->resized), "grown with xfs_growfs");
	} else {
		snprintf(r->resized, sizeof(r->resized), "partition grown, not its content (%s)",
			 p->fstype[0] ? p->fstype : "no filesystem");
	}
	return ret;
}
