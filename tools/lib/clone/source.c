// SPDX-License-Identifier: GPL-2.0
/*
 * The source's checks of `cbt clone' (source.h), shared by cbt_clone_plan()
 * and callers that must refuse before they write anything (cbt migrate's
 * plan), and the state file they read to tell an earlier run's epochs
 * from someone else's, which the run (run.c) writes with clone_state_save().
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clone/run.h"
#include "clone/source.h"
#include "store/safefile.h"
#include "util/util.h"

/* ---- The state file ------------------------------------------------------ */

void clone_state_path(const char *state_dir, const char *target, char *buf, size_t len)
{
	char id[200];

	clone_target_id(target, id, sizeof(id));
	snprintf(buf, len, "%s/clone-%s.json", state_dir, id);
}

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Room taken for the next state file: more than its JSON with the longest paths. */
#define STATE_ROOM (16 * 1024)

/*
 * Write the state file. Before a pass (@room false) in a new temporary
 * file, then room is taken for the next one, so that a filesystem full
 * or read-only stops the run there, before the pass's snapshot. After a
 * pass's commit (@room true) into that room: a filesystem that filled
 * during the pass still lets it be recorded (else the state left would
 * name an epoch the commit ended, and a target sum the pass changed: the
 * next run could not resume); the next pass then stops on its own state.
 */
int clone_state_save(struct cbt_clone_job *r, bool room)
{
	struct cbt_tmpfile tf;
	FILE *f;
	int ret;

	r->st.updated = cbt_real_ns() / 1000000000ULL;
	ret = mkdir_p(r->state_dir);
	if (ret)
		return cbt_err(ret, "cannot create %s: %s", r->state_dir, strerror(-ret));
	if (room && r->have_spare) {
		tf = r->spare;
		r->have_spare = false;
		ret = cbt_tmpfile_reopen(&tf);
	} else {
		ret = cbt_tmpfile_create(&tf, r->state_path);
	}
	if (ret)
		return ret;
	f = cbt_tmpfile_fdopen(&tf);
	if (!f)
		return -ENOMEM;
	clone_state_write(f, &r->st);
	ret = cbt_tmpfile_commit_stdio(&tf, f);
	if (ret || room || r->have_spare)
		return ret;
	ret = cbt_tmpfile_create(&r->spare, r->state_path);
	if (!ret)
		ret = cbt_tmpfile_reserve(&r->spare, STATE_ROOM);
	r->have_spare = !ret;
	return ret;
}

/*
 * The temporary files ".clone-<target>.json.XXXXXXXX.partial" that runs
 * killed before they could remove them left, with the room they took
 * (clone_state_save()). Called with the target open O_EXCL: no live run
 * writes this state file.
 */
void clone_state_remove_partials(const struct cbt_clone_job *r)
{
	const char *base = strrchr(r->state_path, '/');
	char prefix[PATH_MAX + 2];
	size_t pl;
	DIR *d = opendir(r->state_dir);
	struct dirent *e;

	if (!d)
		return;
	snprintf(prefix, sizeof(prefix), ".%s.", base ? base + 1 : r->state_path);
	pl = strlen(prefix);
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		/* PREFIX, 8 random characters, ".partial" (cbt_tmpfile_create_at()) */
		if (l == pl + 16 && !strncmp(e->d_name, prefix, pl) &&
		    !strcmp(e->d_name + l - 8, ".partial"))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

int clone_state_load(const char *path, struct clone_state *s)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return clone_state_parse(buf, s);
}

/* ---- The source ---------------------------------------------------------- */

int clone_check_snapshot(const struct cbt_dev_info *info)
{
	if (info->snap.present)
		return cbt_err(-EBUSY, "%s already has a snapshot attached (`cbt snapshot list');"
			       " drop it first (`cbt snapshot drop %s')", info->name, info->name);
	return 0;
}

/*
 * Closed epochs that are not this clone's belong to someone else. A
 * killed run on this target (its state @old, when it is this device's,
 * says epochs_held) may have left one closed, from its resume_epoch on:
 * that one is ours to commit or abort. One closed after a run that
 * stopped cleanly is not. @first_ours: the first closed epoch that is ours.
 */
int clone_check_epochs(const struct cbt_dev_info *info, const struct clone_state *old,
		       uint64_t *first_ours)
{
	*first_ours = info->epoch_current;
	if (old && old->epochs_held && old->resume_epoch < *first_ours)
		*first_ours = old->resume_epoch;
	for (size_t i = 0; i < info->nr_epochs; i++) {
		const struct cbt_epoch_info *e = &info->epochs[i];

		if (e->state == CBT_EPOCH_CLOSED && e->number < *first_ours)
			return cbt_err(-EBUSY, "%s has epoch %" PRIu64 " closed, waiting for commit or"
				       " abort (a backup in progress?); finish it first (`cbt epoch"
				       " commit|abort %s %" PRIu64 "')", info->name, e->number,
				       info->name, e->number);
	}
	return 0;
}

int cbt_clone_check_source(const struct cbt_dev_info *info, const char *target,
			   const char *state_dir)
{
	struct clone_state old;
	char path[PATH_MAX];
	uint64_t first_ours;
	bool ours;
	int ret = clone_check_snapshot(info);

	if (ret)
		return ret;
	clone_state_path(state_dir, target, path, sizeof(path));
	ours = !clone_state_load(path, &old) && !memcmp(old.uuid, info->uuid, 16);
	cbt_err_clear();
	return clone_check_epochs(info, ours ? &old : NULL, &first_ours);
}
