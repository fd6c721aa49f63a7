// SPDX-License-Identifier: GPL-2.0
/* The record of a backup run into S3 (backup/runrec.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backup/runrec.h"

#define MAGIC "cbt-backup-run 1\n"
#define TAKE_MAGIC "cbt-snapshot-take 1\n"

int cbt_runrec_format(char *buf, size_t len, const char *snap_line, const char *opts_line,
		      bool fs_frozen)
{
	int n = snprintf(buf, len, MAGIC "snapshot %s\noptions %s\nfs-frozen %d\n", snap_line,
			 opts_line, fs_frozen);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cbt_runrec_line(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < len)
		return 0;
	/* A cut line would compare equal to another cut the same way: keep none of it. */
	if (len)
		buf[0] = '\0';
	return -ENAMETOOLONG;
}

/*
 * The text after "@key " on its own line of @rec: *@out and *@n; false
 * when absent. Pointed to, not copied, so a line is compared whole
 * whatever its length.
 */
static bool field(const char *rec, const char *key, const char **out, size_t *n)
{
	size_t k = strlen(key);

	for (const char *p = rec; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *end = strchr(p, '\n');

		if (!end || strncmp(p, key, k) || p[k] != ' ')
			continue;
		*out = p + k + 1;
		*n = (size_t)(end - *out);
		return true;
	}
	return false;
}

static bool same(const char *v, size_t n, const char *line)
{
	return strlen(line) == n && !memcmp(v, line, n);
}

const char *cbt_runrec_match(const char *rec, const char *snap_line, const char *opts_line,
			     bool *fs_frozen)
{
	const char *snap, *opts, *ff;
	size_t snap_n, opts_n, ff_n;

	if (strncmp(rec, MAGIC, strlen(MAGIC)) || !field(rec, "snapshot", &snap, &snap_n) ||
	    !field(rec, "options", &opts, &opts_n) || !field(rec, "fs-frozen", &ff, &ff_n) ||
	    (!same(ff, ff_n, "0") && !same(ff, ff_n, "1")))
		return "";
	if (!same(snap, snap_n, snap_line))
		return "it is not the snapshot the interrupted run recorded";
	if (!same(opts, opts_n, opts_line))
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

int cbt_takerec_format(char *buf, size_t len, const char *snap_line)
{
	int n = snprintf(buf, len, TAKE_MAGIC "snapshot %s\n", snap_line);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool cbt_takerec_match(const char *rec, const char *snap_line)
{
	const char *snap;
	size_t n;

	return !strncmp(rec, TAKE_MAGIC, strlen(TAKE_MAGIC)) && *snap_line &&
	       field(rec, "snapshot", &snap, &n) && same(snap, n, snap_line);
}
