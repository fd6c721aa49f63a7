// SPDX-License-Identifier: GPL-2.0
/* The record of a backup run into S3 (backup/runrec.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backup/runrec.h"

#define MAGIC "cbt-backup-run 1\n"

int cbt_runrec_format(char *buf, size_t len, const char *snap_line, const char *opts_line,
		      bool fs_frozen)
{
	int n = snprintf(buf, len, MAGIC "snapshot %s\noptions %s\nfs-frozen %d\n", snap_line,
			 opts_line, fs_frozen);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The text after "@key " on its own line of @rec into @out; false when absent. */
static bool field(const char *rec, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	for (const char *p = rec; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *end = strchr(p, '\n');
		size_t n;

		if (!end || strncmp(p, key, k) || p[k] != ' ')
			continue;
		n = (size_t)(end - p) - k - 1;
		if (n >= len)
			return false;
		memcpy(out, p + k + 1, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

const char *cbt_runrec_match(const char *rec, const char *snap_line, const char *opts_line,
			     bool *fs_frozen)
{
	char snap[CBT_RUNREC_LINE], opts[CBT_RUNREC_LINE], ff[8];

	if (strncmp(rec, MAGIC, strlen(MAGIC)) || !field(rec, "snapshot", snap, sizeof(snap)) ||
	    !field(rec, "options", opts, sizeof(opts)) || !field(rec, "fs-frozen", ff, sizeof(ff)) ||
	    (strcmp(ff, "0") && strcmp(ff, "1")))
		return "";
	if (strcmp(snap, snap_line))
		return "it is not the snapshot the interrupted run recorded";
	if (strcmp(opts, opts_line))
		return "this run's target or options differ from the interrupted run's";
	*fs_frozen = ff[0] == '1';
	return NULL;
}

const char *cbt_runrec_snap_usable(const struct cbt_dev_info *info, bool preserve)
{
	const struct cbt_snap_info *s = &info->snap;

	if (!s->present || s->state != CBT_SNAP_ACTIVE || s->error)
		return "the snapshot is not active (its COW store filled up or failed)";
	for (size_t i = 0; i < info->nr_epochs; i++)
		if (info->epochs[i].state == CBT_EPOCH_CLOSED && info->epochs[i].number != s->epoch)
			return "another epoch is closed besides the snapshot's";
	if (!preserve != !s->preserve_from)
		return "its preserve set is not this run's";
	if (s->has_release && s->released)
		return "the interrupted run released ranges it had read, which cannot be read again";
	return NULL;
}
