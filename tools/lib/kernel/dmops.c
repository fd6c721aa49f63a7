// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <libdevmapper.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/dmops.h"
#include "util/util.h"

/* The last error libdevmapper logged, quoted in our own messages. */
static char dm_last[512];

static void dm_log(int level, const char *file, int line, int dm_errno, const char *fmt, ...)
{
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno;
	if ((level & 7) > 3)	/* _LOG_ERR: errors only */
		return;
	va_start(ap, fmt);
	vsnprintf(dm_last, sizeof(dm_last), fmt, ap);
	va_end(ap);
}

void cbt_dm_init(void)
{
	dm_log_with_errno_init(dm_log);
}

/* -errno for a failed task, with what libdevmapper said and a hint. */
static int dm_fail(struct dm_task *dmt, const char *what, const char *name)
{
	int err = dmt ? dm_task_get_errno(dmt) : ENOMEM;

	if (err <= 0)
		err = EIO;
	if (dmt)
		dm_task_destroy(dmt);
	if (dm_last[0])
		cbt_err(-err, "%s `%s': %s (the kernel log may say more: `dmesg | tail')", what,
			name, dm_last);
	else
		cbt_err(-err, "%s `%s': %s", what, name, strerror(err));
	dm_last[0] = '\0';
	return -err;
}

static int get_info(struct dm_task *dmt, struct cbt_dm_info *info)
{
	struct dm_info i;
	const char *s;

	memset(info, 0, sizeof(*info));
	if (!dm_task_get_info(dmt, &i))
		return -EIO;
	if (!i.exists)
		return 0;
	info->exists = true;
	info->suspended = i.suspended;
	info->live_table = i.live_table;
	info->inactive_table = i.inactive_table;
	info->read_only = i.read_only;
	info->open_count = i.open_count;
	info->major = (uint32_t)i.major;
	info->minor = (uint32_t)i.minor;
	s = dm_task_get_name(dmt);
	snprintf(info->name, sizeof(info->name), "%s", s ? s : "");
	s = dm_task_get_uuid(dmt);
	snprintf(info->uuid, sizeof(info->uuid), "%s", s ? s : "");
	return 0;
}

static int info_task(struct dm_task *dmt, const char *label, struct cbt_dm_info *info)
{
	int ret;

	if (!dm_task_run(dmt)) {
		/* An unknown device is not an error here. */
		if (dm_task_get_errno(dmt) == ENXIO) {
			dm_task_destroy(dmt);
			dm_last[0] = '\0';
			memset(info, 0, sizeof(*info));
			return 0;
		}
		return dm_fail(dmt, "cannot read the state of", label);
	}
	ret = get_info(dmt, info);
	dm_task_destroy(dmt);
	if (ret)
		return cbt_err(ret, "cannot read the state of `%s'", label);
	return 0;
}

int cbt_dm_info(const char *name, struct cbt_dm_info *info)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);

	if (!dmt || !dm_task_set_name(dmt, name))
		return dm_fail(dmt, "cannot ask device-mapper about", name);
	return info_task(dmt, name, info);
}

int cbt_dm_info_dev(uint32_t major, uint32_t minor, struct cbt_dm_info *info)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	char label[32];

	snprintf(label, sizeof(label), "%" PRIu32 ":%" PRIu32, major, minor);
	if (!dmt || !dm_task_set_major(dmt, (int)major) || !dm_task_set_minor(dmt, (int)minor))
		return dm_fail(dmt, "cannot ask device-mapper about", label);
	return info_task(dmt, label, info);
}

void cbt_dm_table_free(struct cbt_dm_table *table)
{
	for (size_t i = 0; i < table->nr; i++) {
		struct cbt_dm_target *t = &table->t[i];

		if (t->params)
			explicit_bzero(t->params, strlen(t->params));
		free(t->params);
		free(t->type);
	}
	free(table->t);
	table->t = NULL;
	table->nr = 0;
}

int cbt_dm_table_add(struct cbt_dm_table *table, uint64_t start, uint64_t len, const char *type,
		     const char *params)
{
	struct cbt_dm_target *v = realloc(table->t, (table->nr + 1) * sizeof(*v));

	if (!v)
		return cbt_err(-ENOMEM, "out of memory for a table");
	table->t = v;
	v = &table->t[table->nr];
	v->start = start;
	v->len = len;
	v->type = strdup(type);
	v->params = strdup(params ? params : "");
	if (!v->type || !v->params) {
		free(v->type);
		free(v->params);
		return cbt_err(-ENOMEM, "out of memory for a table");
	}
	table->nr++;
	return 0;
}

int cbt_dm_get_table(const char *name, struct cbt_dm_table *table)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_TABLE);
	uint64_t start, len;
	char *type, *params;
	void *next = NULL;
	int ret = 0;

	table->nr = 0;
	table->t = NULL;
	/* secure_data: the kernel wipes its buffer (dm-crypt keys). */
	if (!dmt || !dm_task_set_name(dmt, name) || !dm_task_secure_data(dmt))
		return dm_fail(dmt, "cannot ask device-mapper about", name);
	if (!dm_task_run(dmt))
		return dm_fail(dmt, "cannot read the table of", name);
	do {
		next = dm_get_next_target(dmt, next, &start, &len, &type, &params);
		if (type)
			ret = cbt_dm_table_add(table, start, len, type, params);
	} while (next && !ret);
	/* libdevmapper's copy of the table may hold a key too. */
	dm_task_destroy(dmt);
	if (ret)
		cbt_dm_table_free(table);
	return ret;
}

bool cbt_dm_table_equal(const struct cbt_dm_table *a, const struct cbt_dm_table *b)
{
	if (a->nr != b->nr)
		return false;
	for (size_t i = 0; i < a->nr; i++) {
		if (a->t[i].start != b->t[i].start || a->t[i].len != b->t[i].len ||
		    strcmp(a->t[i].type, b->t[i].type) || strcmp(a->t[i].params, b->t[i].params))
			return false;
	}
	return true;
}

uint64_t cbt_dm_table_sectors(const struct cbt_dm_table *table)
{
	uint64_t end = 0;

	for (size_t i = 0; i < table->nr; i++)
		if (table->t[i].start + table->t[i].len > end)
			end = table->t[i].start + table->t[i].len;
	return end;
}

static int add_targets(struct dm_task *dmt, const struct cbt_dm_table *table)
{
	for (size_t i = 0; i < table->nr; i++)
		if (!dm_task_add_target(dmt, table->t[i].start, table->t[i].len, table->t[i].type,
					table->t[i].params))
			return -ENOMEM;
	return 0;
}

/* Run @dmt, then wait for udev to have handled its event (if udev runs). */
static int run_sync(struct dm_task *dmt, uint16_t udev_flags, const char *what, const char *name)
{
	uint32_t cookie = 0;

	if (!dm_task_set_cookie(dmt, &cookie, udev_flags))
		return dm_fail(dmt, what, name);
	if (!dm_task_run(dmt)) {
		dm_udev_wait(cookie);
		return dm_fail(dmt, what, name);
	}
	dm_task_destroy(dmt);
	dm_udev_wait(cookie);
	return 0;
}

int cbt_dm_create(const char *name, const char *uuid, const struct cbt_dm_table *table,
		  bool read_only, bool hidden)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_CREATE);
	uint16_t flags = hidden ? DM_UDEV_DISABLE_SUBSYSTEM_RULES_FLAG |
			 DM_UDEV_DISABLE_DISK_RULES_FLAG | DM_UDEV_DISABLE_OTHER_RULES_FLAG : 0;

	if (!dmt || !dm_task_set_name(dmt, name) || (uuid[0] && !dm_task_set_uuid(dmt, uuid)) ||
	    !dm_task_secure_data(dmt) || (read_only && !dm_task_set_ro(dmt)) ||
	    add_targets(dmt, table))
		return dm_fail(dmt, "cannot set up the creation of", name);
	return run_sync(dmt, flags, "cannot create", name);
}

int cbt_dm_load(const char *name, const struct cbt_dm_table *table, bool read_only)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_RELOAD);

	if (!dmt || !dm_task_set_name(dmt, name) || !dm_task_secure_data(dmt) ||
	    (read_only && !dm_task_set_ro(dmt)) || add_targets(dmt, table))
		return dm_fail(dmt, "cannot set up a table load into", name);
	if (!dm_task_run(dmt))
		return dm_fail(dmt, "cannot load a new table into", name);
	dm_task_destroy(dmt);
	return 0;
}

static int simple(int type, const char *name, const char *what)
{
	struct dm_task *dmt = dm_task_create(type);

	if (!dmt || !dm_task_set_name(dmt, name))
		return dm_fail(dmt, what, name);
	if (type == DM_DEVICE_RESUME || type == DM_DEVICE_REMOVE)
		return run_sync(dmt, 0, what, name);
	if (!dm_task_run(dmt))
		return dm_fail(dmt, what, name);
	dm_task_destroy(dmt);
	return 0;
}

int cbt_dm_clear(const char *name)
{
	return simple(DM_DEVICE_CLEAR, name, "cannot clear the inactive table of");
}

int cbt_dm_suspend(const char *name)
{
	/* libdevmapper flushes and freezes the filesystem unless told not to. */
	return simple(DM_DEVICE_SUSPEND, name, "cannot suspend");
}

int cbt_dm_hold(const char *name)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_SUSPEND);

	if (!dmt || !dm_task_set_name(dmt, name) || !dm_task_skip_lockfs(dmt) ||
	    !dm_task_run(dmt))
		return dm_fail(dmt, "cannot suspend", name);
	dm_task_destroy(dmt);
	return 0;
}

int cbt_dm_resume(const char *name)
{
	return simple(DM_DEVICE_RESUME, name, "cannot resume");
}

int cbt_dm_remove(const char *name)
{
	return simple(DM_DEVICE_REMOVE, name, "cannot remove");
}

int cbt_dm_has_target(const char *type)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST_VERSIONS);
	struct dm_versions *v, *last;
	int found = 0;

	if (!dmt || !dm_task_run(dmt))
		return dm_fail(dmt, "cannot list the targets of", "device-mapper");
	v = dm_task_get_versions(dmt);
	do {
		last = v;
		if (!strcmp(v->name, type))
			found = 1;
		v = (struct dm_versions *)((char *)v + v->next);
	} while (last != v && !found);
	dm_task_destroy(dmt);
	return found;
}
