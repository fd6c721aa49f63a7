// SPDX-License-Identifier: GPL-2.0
/* Job files and the schedule's choice of image type (conf.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backup/jobconf.h"
#include "store/safefile.h"
#include "util/util.h"

static const char *const weekdays[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

bool cbt_job_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > CBT_JOB_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

const char *cbt_job_confdir(const char *opt)
{
	const char *env = getenv("CBT_CONFIG_DIR");

	return opt ? opt : env && *env ? env : CBT_JOB_CONFDIR;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_count(const char *v, unsigned *out, unsigned max)
{
	uint32_t n;

	if (cbt_parse_u32(v, &n) || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

/* "7" or "7d": days. */
static int parse_days(const char *v, unsigned *out)
{
	char buf[16];
	size_t n = strlen(v);

	if (!strcmp(v, "never")) {
		*out = 0;
		return 0;
	}
	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, n + 1);
	if (buf[n - 1] == 'd')
		buf[n - 1] = 0;
	return parse_count(buf, out, 3660) || !*out ? -EINVAL : 0;
}

/* A path value: absolute, no control characters (it goes into messages and unit files). */
static int parse_path(const char *v, char *out, size_t len)
{
	if (v[0] != '/' || strlen(v) >= len)
		return -EINVAL;
	for (const char *p = v; *p; p++)
		if (iscntrl((unsigned char)*p))
			return -EINVAL;
	strcpy(out, v);
	return 0;
}

/* systemd.time values: printable, no blanks at the ends, no quotes (written into a drop-in). */
static int parse_text(const char *v, char *out, size_t len)
{
	if (!*v || strlen(v) >= len)
		return -EINVAL;
	for (const char *p = v; *p; p++)
		if (!isprint((unsigned char)*p) || strchr("\"'\\", *p))
			return -EINVAL;
	strcpy(out, v);
	return 0;
}

enum key {
	K_DEVICE, K_CHAIN, K_COW, K_COW_SIZE, K_COMPRESSION, K_FREEZE, K_THREADS, K_FULL_EVERY,
	K_FULL_ON, K_BETWEEN, K_KEEP_LAST, K_KEEP_DAILY, K_KEEP_WEEKLY, K_KEEP_MONTHLY,
	K_CALENDAR, K_DELAY, K_ENCRYPT, K_IDLE, K_NR
};

static const char *const keys[K_NR] = {
	"device", "chain", "cow", "cow_size", "compression", "freeze", "threads", "full_every",
	"full_on", "between", "keep_last", "keep_daily", "keep_weekly", "keep_monthly",
	"calendar", "randomized_delay", "encrypt", "idle",
};

/* One value: 0, or -EINVAL with what was expected in @hint. */
static int set_key(struct cbt_job_conf *c, enum key k, const char *v, const char **hint)
{
	switch (k) {
	case K_DEVICE:
		*hint = "an absolute device path";
		return parse_path(v, c->device, sizeof(c->device));
	case K_CHAIN:
		*hint = "an absolute directory path";
		return parse_path(v, c->chain, sizeof(c->chain));
	case K_COW:
		*hint = "an absolute device path";
		return parse_path(v, c->cow, sizeof(c->cow));
	case K_COW_SIZE:
		*hint = "not supported: the tool does not create COW volumes; give cow = DEVICE";
		return -EINVAL;
	case K_COMPRESSION:
		*hint = "zstd, zstd:LEVEL with LEVEL 1-19, or none";
		return cbt_img_parse_compress(v, &c->compression, &c->level);
	case K_FREEZE:
		*hint = "yes or no";
		return parse_bool(v, &c->freeze);
	case K_THREADS:
		*hint = "1 to 64";
		return parse_count(v, &c->threads, 64) || !c->threads ? -EINVAL : 0;
	case K_FULL_EVERY:
		*hint = "a number of days (7 or 7d, 1-3660) or never";
		return parse_days(v, &c->full_every_days);
	case K_FULL_ON:
		*hint = "a weekday: sun, mon, tue, wed, thu, fri or sat";
		for (int d = 0; d < 7; d++) {
			if (!strcasecmp(v, weekdays[d])) {
				c->full_weekday = d;
				return 0;
			}
		}
		return -EINVAL;
	case K_BETWEEN:
		*hint = "incremental or differential";
		if (!strcmp(v, "incremental"))
			c->between = CBT_IMG_INCREMENTAL;
		else if (!strcmp(v, "differential"))
			c->between = CBT_IMG_DIFFERENTIAL;
		else
			return -EINVAL;
		return 0;
	case K_KEEP_LAST:
	case K_KEEP_DAILY:
	case K_KEEP_WEEKLY:
	case K_KEEP_MONTHLY:
		*hint = "a count, 0 to 100000";
		return parse_count(v, k == K_KEEP_LAST ? &c->keep.last : k == K_KEEP_DAILY ?
				   &c->keep.daily : k == K_KEEP_WEEKLY ? &c->keep.weekly :
				   &c->keep.monthly, 100000);
	case K_CALENDAR:
		*hint = "a systemd.time(7) calendar event, as OnCalendar= takes";
		return parse_text(v, c->calendar, sizeof(c->calendar));
	case K_DELAY:
		*hint = "a systemd.time(7) time span, as RandomizedDelaySec= takes";
		return parse_text(v, c->delay, sizeof(c->delay));
	case K_ENCRYPT:
		*hint = "the absolute path of a key file (cbt keygen)";
		return parse_path(v, c->encrypt, sizeof(c->encrypt));
	case K_IDLE:
		*hint = "yes or no";
		return parse_bool(v, &c->idle);
	case K_NR:
		break;
	}
	return -EINVAL;
}

/* @s without leading and trailing blanks (in place). */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

int cbt_job_parse(FILE *f, const char *path, const char *name, struct cbt_job_conf *c)
{
	bool seen[K_NR] = { false };
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int ret = 0;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->compression = CBT_IMG_COMP_ZSTD;
	c->level = 3;
	c->freeze = true;
	c->full_weekday = -1;
	c->between = CBT_IMG_INCREMENTAL;
	snprintf(c->calendar, sizeof(c->calendar), "daily");
	snprintf(c->delay, sizeof(c->delay), "15min");
	while (!ret && getline(&line, &cap, f) > 0) {
		char *s, *eq, *k, *v;
		const char *hint = "";
		int i;

		lineno++;
		line[strcspn(line, "\n")] = 0;
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			ret = cbt_err(-EINVAL, "%s:%u: not `key = value': `%s'", path, lineno, s);
			break;
		}
		*eq = 0;
		k = trim(s);
		v = trim(eq + 1);
		for (i = 0; i < K_NR && strcmp(k, keys[i]); i++)
			;
		if (i == K_NR)
			ret = cbt_err(-EINVAL, "%s:%u: unknown key `%s'", path, lineno, k);
		else if (seen[i] && i == K_DEVICE)
			ret = cbt_err(-EINVAL, "%s:%u: a second device: a job backs up one device"
				      " (the tool has no consistency groups yet; one job per device)",
				      path, lineno);
		else if (seen[i])
			ret = cbt_err(-EINVAL, "%s:%u: `%s' is set twice", path, lineno, k);
		else if (set_key(c, (enum key)i, v, &hint))
			ret = cbt_err(-EINVAL, "%s:%u: bad %s `%s' (%s)", path, lineno, k, v, hint);
		else
			seen[i] = true;
	}
	free(line);
	if (ret)
		return ret;
	if (ferror(f))
		return cbt_err(-EIO, "%s: read error", path);
	for (int i = K_DEVICE; i <= K_COW; i++)
		if (!seen[i])
			return cbt_err(-EINVAL, "%s: `%s' is missing (device, chain and cow are"
				       " needed)", path, keys[i]);
	return 0;
}

int cbt_job_load(const char *confdir, const char *name, struct cbt_job_conf *c)
{
	char path[4096];
	FILE *f;
	int fd, ret;

	if (!cbt_job_name_ok(name))
		return cbt_err(-EINVAL, "bad job name `%s' (1-64 letters, digits, `_', `.', `-',"
			       " not starting with `.' or `-')", name);
	if ((size_t)snprintf(path, sizeof(path), "%s/jobs.d/%s.conf", confdir, name) >=
	    sizeof(path))
		return cbt_err(-ENAMETOOLONG, "%s: path too long", confdir);
	fd = cbt_open_regular(AT_FDCWD, path, path, false);
	if (fd == -ENOENT)
		return cbt_err(-ENOENT, "no job `%s': %s does not exist (`cbt job list' lists the"
			       " jobs)", name, path);
	if (fd < 0)
		return fd;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	ret = cbt_job_parse(f, path, name, c);
	fclose(f);
	return ret;
}

uint32_t cbt_job_decide(const struct cbt_job_conf *c, const struct cbt_job_chain_state *s,
			time_t now, const char **why)
{
	struct tm a, b;

	if (s->empty) {
		*why = "the chain holds no image";
		return CBT_IMG_FULL;
	}
	if (c->full_every_days && now - s->full_time >= (time_t)c->full_every_days * 86400) {
		*why = "the full image is full_every days old";
		return CBT_IMG_FULL;
	}
	localtime_r(&now, &a);
	localtime_r(&s->full_time, &b);
	if (c->full_weekday == a.tm_wday &&
	    (a.tm_year != b.tm_year || a.tm_yday != b.tm_yday)) {
		*why = "full_on is today";
		return CBT_IMG_FULL;
	}
	*why = "scheduled";
	return c->between;
}
