// SPDX-License-Identifier: GPL-2.0
/*
 * The layout of an LVM PV partition for `cbt migrate' (lvm.h): LVM's own
 * report of it (lvm_report.c reads it), and who uses each LV.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/device.h"
#include "migrate/lvm.h"
#include "util/util.h"

/* Run @argv, its standard output into *@out (NUL-terminated); its exit status, or -errno. */
static int capture(const char *const argv[], char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	if (pipe2(pfd, O_CLOEXEC)) {
		free(buf);
		return cbt_err(-errno, "pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		free(buf);
		close(pfd[0]);
		close(pfd[1]);
		return cbt_err(-errno, "cannot run %s: %s", argv[0], strerror(errno));
	}
	if (!pid) {
		dup2(pfd[1], STDOUT_FILENO);
		/* LVM warns of every descriptor it inherits. */
		setenv("LVM_SUPPRESS_FD_WARNINGS", "1", 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		if (len + 1 >= cap) {
			char *b = realloc(buf, cap * 2);

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		n = read(pfd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			free(buf);
			return cbt_err(-errno, "%s: %s", argv[0], strerror(errno));
		}
	if (!WIFEXITED(status)) {
		free(buf);
		return cbt_err(-EIO, "%s was killed by signal %d", argv[0], WTERMSIG(status));
	}
	if (WEXITSTATUS(status) == 127) {
		free(buf);
		return cbt_err(-ENOENT, "cannot run %s (LVM's tools, package lvm2, not installed?)",
			       argv[0]);
	}
	*out = buf;
	return WEXITSTATUS(status);
}

static int read_report(const struct mig_part *p, struct mig_pv *pv)
{
	const char *const argv[] = { "lvm", "pvs", "--devices", p->src, "--segments",
				     "--reportformat", "json", "--units", "b", "--nosuffix",
				     "-o", MIG_LVM_FIELDS, p->src, NULL };
	char *out = NULL;
	int ret;

	ret = capture(argv, &out);
	if (ret > 0)
		ret = cbt_err(-EIO, "`lvm pvs --devices %s --segments %s' failed (exit status %d)",
			      p->src, p->src, ret);
	if (!ret)
		ret = mig_lvm_parse(pv, out, p->src);
	free(out);
	return ret;
}

int mig_lvm_reread(const struct mig_part *p, struct mig_pv *now)
{
	return read_report(p, now);
}

/*
 * Where LVM keeps its file locks: `lvm config --typeconfig full
 * global/locking_dir' says locking_dir="DIR"; /run/lock/lvm (its default)
 * if it says nothing else.
 */
static void lock_dir(struct mig_pv *pv)
{
	const char *const argv[] = { "lvm", "config", "--typeconfig", "full", "global/locking_dir",
				     NULL };
	char *out = NULL, *a, *b;

	snprintf(pv->lock_dir, sizeof(pv->lock_dir), "/run/lock/lvm");
	if (!capture(argv, &out) && (a = strchr(out, '"')) && (b = strchr(a + 1, '"')) &&
	    b > a + 1) {
		*b = '\0';
		snprintf(pv->lock_dir, sizeof(pv->lock_dir), "%s", a + 1);
	}
	cbt_err_clear();
	free(out);
}

/* Each holder of the partition is one of its active LVs. */
static int lv_holder(void *arg, const char *name, dev_t hdev)
{
	const struct mig_part *p = arg;

	for (size_t i = 0; i < p->pv->nlv; i++)
		if (p->pv->lv[i].active && p->pv->lv[i].dev == hdev)
			return 0;
	return cbt_err(-EBUSY, "partition %zu (%s), an LVM PV, is in use by %s, which is none of"
		       " its VG's LVs: it cannot be copied consistently (stop %s)", p->partno + 1,
		       p->src, name, name);
}

static int choose_lv_method(const struct mig_part *p, struct mig_lv *lv,
			    const struct cbt_dev_info *infos, size_t nr)
{
	char other[NAME_MAX + 1];
	struct stat st;

	lv->method = MIG_COPY;
	lv->active = lv->dm_path[0] && !stat(lv->dm_path, &st) && S_ISBLK(st.st_mode);
	if (!lv->active)
		return 0;
	lv->dev = st.st_rdev;
	mig_holders(lv->dev, infos, nr, lv->cbt, sizeof(lv->cbt), other, sizeof(other));
	if (lv->cbt[0]) {
		lv->method = MIG_TRACKED;
		if (!lv->linear)
			return cbt_err(-EOPNOTSUPP, "partition %zu (%s): LV %s is tracked but not"
				       " linear: only a linear LV is cloned live", p->partno + 1,
				       p->src, lv->name);
	} else if (other[0]) {
		return cbt_err(-EBUSY, "partition %zu (%s): LV %s is in use by %s, which is not a"
			       " cbt device: it cannot be copied consistently while in use (track"
			       " it with `cbt attach', or stop %s)", p->partno + 1, p->src,
			       lv->name, other, other);
	} else if (mig_mount_point(lv->dev, lv->mnt, sizeof(lv->mnt))) {
		lv->method = MIG_RECHECK;
	}
	return 0;
}

int mig_lvm_read(struct mig_part *p, const struct cbt_dev_info *infos, size_t nr)
{
	struct mig_pv *pv = calloc(1, sizeof(*pv));
	int ret;

	if (!pv)
		return -ENOMEM;
	p->pv = pv;
	ret = read_report(p, pv);
	if (!ret)
		lock_dir(pv);
	for (size_t i = 0; i < pv->nlv && !ret; i++)
		ret = choose_lv_method(p, &pv->lv[i], infos, nr);
	if (!ret)
		ret = mig_each_holder(p->src_dev, lv_holder, p);
	if (ret) {
		mig_lvm_free(p);
		return ret;
	}
	p->method = MIG_LVM;
	p->copy_bytes = pv->pe_start;
	for (size_t i = 0; i < pv->nlv; i++)
		p->copy_bytes += pv->lv[i].extents * pv->extent;
	return 0;
}
