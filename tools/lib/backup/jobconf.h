/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Backup jobs (docs/jobs.md): CONFDIR/jobs.d/NAME.conf, one "key = value"
 * per line, parsed strictly (an unknown key, a repeated one or a bad value
 * is refused with its line number), and the choice a run makes between a
 * full image and the job's incremental or differential one.
 */
#ifndef CBT_BACKUP_JOBCONF_H
#define CBT_BACKUP_JOBCONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "image/retain.h"

#define CBT_JOB_CONFDIR "/etc/cbt"
#define CBT_JOB_NAME_MAX 64

struct cbt_job_conf {
	char name[CBT_JOB_NAME_MAX + 1];
	char device[4096];
	char chain[4096];
	char cow[4096];
	uint32_t compression, level;
	bool freeze;
	bool idle;			/* the copy under SCHED_IDLE (cbt backup --idle) */
	unsigned threads;		/* 0: the writer's default */
	unsigned full_every_days;	/* 0: never by age */
	int full_weekday;		/* 0 Sunday .. 6 Saturday, -1 none */
	uint32_t between;		/* CBT_IMG_INCREMENTAL or CBT_IMG_DIFFERENTIAL */
	struct cbt_retain_policy keep;
	char calendar[128];		/* OnCalendar= of the timer (cbt job enable) */
	char delay[32];			/* RandomizedDelaySec= */
	char encrypt[4096];		/* key file of an encrypted chain (--encrypt), or "" */
};

/* A job name: 1-64 of [A-Za-z0-9_.-], not starting with '.' or '-'. */
bool cbt_job_name_ok(const char *name);
/* Parse @f (named @path in messages) into @c: 0 or -EINVAL with "PATH:LINE: why". */
int cbt_job_parse(FILE *f, const char *path, const char *name, struct cbt_job_conf *c);
/* Open and parse CONFDIR/jobs.d/NAME.conf. */
int cbt_job_load(const char *confdir, const char *name, struct cbt_job_conf *c);
/* The configuration directory: @opt, else $CBT_CONFIG_DIR, else /etc/cbt. */
const char *cbt_job_confdir(const char *opt);

/* What the chain looks like to the schedule. */
struct cbt_job_chain_state {
	bool empty;		/* no image yet (or no chain) */
	time_t full_time;	/* creation of the full image the last image builds on */
};

/*
 * The image type a run at @now takes: a full one for an empty chain, when
 * the full image is full_every_days old or older, or on full_weekday when
 * the full image is not from that (local) day; the job's other type
 * otherwise. @why gets a phrase for the report.
 */
uint32_t cbt_job_decide(const struct cbt_job_conf *c, const struct cbt_job_chain_state *s,
			time_t now, const char **why);

#endif /* CBT_BACKUP_JOBCONF_H */
