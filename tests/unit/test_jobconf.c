// SPDX-License-Identifier: GPL-2.0
/* backup/jobconf.c: the job file parser (every refusal names its line) and the schedule's choice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/jobconf.h"
#include "unit.h"

static int parse(const char *text, struct cbt_job_conf *c)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret = cbt_job_parse(f, "web.conf", "web", c);

	fclose(f);
	return ret;
}

#define BASE "device = /dev/mapper/web\nchain = /backup/web\ncow = /dev/vg/cow\n"

static void good_file(void)
{
	struct cbt_job_conf c;

	CHECK_EQ(parse("# a job\n\n" BASE "  compression = zstd:9  \nfreeze = no\nthreads = 2\n"
		       "full_every = 7d\nfull_on = Sun\nbetween = differential\nkeep_last = 3\n"
		       "keep_daily = 7\nkeep_weekly = 4\nkeep_monthly = 12\n"
		       "calendar = *-*-* 02:00\nrandomized_delay = 30min\n"
		       "encrypt = /etc/cbt/keys/web.key\nidle = yes\n", &c), 0);
	CHECK_STR(c.device, "/dev/mapper/web");
	CHECK_STR(c.chain, "/backup/web");
	CHECK_STR(c.cow, "/dev/vg/cow");
	CHECK_EQ(c.compression, CBT_IMG_COMP_ZSTD);
	CHECK_EQ(c.level, 9);
	CHECK(!c.freeze);
	CHECK_EQ(c.threads, 2);
	CHECK_EQ(c.full_every_days, 7);
	CHECK_EQ(c.full_weekday, 0);
	CHECK_EQ(c.between, CBT_IMG_DIFFERENTIAL);
	CHECK_EQ(c.keep.last, 3);
	CHECK_EQ(c.keep.daily, 7);
	CHECK_EQ(c.keep.weekly, 4);
	CHECK_EQ(c.keep.monthly, 12);
	CHECK_STR(c.calendar, "*-*-* 02:00");
	CHECK_STR(c.delay, "30min");
	CHECK_STR(c.encrypt, "/etc/cbt/keys/web.key");
	CHECK(c.idle);
}

static void defaults(void)
{
	struct cbt_job_conf c;

	CHECK_EQ(parse(BASE, &c), 0);
	CHECK_EQ(c.level, 3);
	CHECK(c.freeze);
	CHECK_EQ(c.full_every_days, 0);
	CHECK_EQ(c.full_weekday, -1);
	CHECK_EQ(c.between, CBT_IMG_INCREMENTAL);
	CHECK(cbt_retain_empty(&c.keep));
	CHECK_STR(c.calendar, "daily");
	CHECK_STR(c.encrypt, "");
	CHECK(!c.idle);
}

static void bad_lines(void)
{
	struct cbt_job_conf c;

	CHECK_ERR(parse(BASE "colour = blue\n", &c), -EINVAL, "web.conf:4: unknown key `colour'");
	CHECK_ERR(parse(BASE "just words\n", &c), -EINVAL, "web.conf:4: not `key = value'");
	CHECK_ERR(parse("# x\n" BASE "device = /dev/sdb\n", &c), -EINVAL,
		  "web.conf:5: a second device");
	CHECK_ERR(parse(BASE "freeze = maybe\n", &c), -EINVAL, "web.conf:4: bad freeze `maybe'");
	CHECK_ERR(parse(BASE "idle = idle\n", &c), -EINVAL, "web.conf:4: bad idle `idle'");
	CHECK_ERR(parse(BASE "compression = zstd:20\n", &c), -EINVAL, "web.conf:4: bad compression");
	CHECK_ERR(parse(BASE "full_every = 0\n", &c), -EINVAL, "web.conf:4: bad full_every");
	CHECK_ERR(parse(BASE "full_every = 7w\n", &c), -EINVAL, "web.conf:4: bad full_every");
	CHECK_ERR(parse(BASE "full_on = someday\n", &c), -EINVAL, "web.conf:4: bad full_on");
	CHECK_ERR(parse(BASE "between = full\n", &c), -EINVAL, "web.conf:4: bad between");
	CHECK_ERR(parse(BASE "keep_daily = -1\n", &c), -EINVAL, "web.conf:4: bad keep_daily");
	CHECK_ERR(parse(BASE "threads = 0\n", &c), -EINVAL, "web.conf:4: bad threads");
	CHECK_ERR(parse(BASE "keep_last = 1\nkeep_last = 2\n", &c), -EINVAL,
		  "web.conf:5: `keep_last' is set twice");
	CHECK_ERR(parse("device = dev/sda\n", &c), -EINVAL, "web.conf:1: bad device");
	CHECK_ERR(parse(BASE "calendar = daily\"\n", &c), -EINVAL, "web.conf:4: bad calendar");
	CHECK_ERR(parse(BASE "cow_size = 1G\n", &c), -EINVAL, "does not create COW volumes");
	CHECK_ERR(parse(BASE "encrypt = web.key\n", &c), -EINVAL, "web.conf:4: bad encrypt");
	CHECK_ERR(parse("device = /dev/sda\nchain = /b\n", &c), -EINVAL, "`cow' is missing");
}

static void names(void)
{
	CHECK(cbt_job_name_ok("web-1.db_x"));
	CHECK(!cbt_job_name_ok(""));
	CHECK(!cbt_job_name_ok(".hidden"));
	CHECK(!cbt_job_name_ok("-x"));
	CHECK(!cbt_job_name_ok("a/b"));
	CHECK(!cbt_job_name_ok("a b"));
}

/* 2026-11-02 12:00 UTC, a Monday */
#define MON 1793620800L
#define DAY 86400L

static void decide(void)
{
	struct cbt_job_conf c;
	struct cbt_job_chain_state s = { .empty = true };
	const char *why;

	setenv("TZ", "UTC", 1);
	tzset();
	CHECK_EQ(parse(BASE "full_every = 7\n", &c), 0);
	CHECK_EQ(cbt_job_decide(&c, &s, MON, &why), CBT_IMG_FULL);
	CHECK_STR(why, "the chain holds no image");
	s.empty = false;
	s.full_time = MON - 6 * DAY;
	CHECK_EQ(cbt_job_decide(&c, &s, MON, &why), CBT_IMG_INCREMENTAL);
	s.full_time = MON - 7 * DAY;
	CHECK_EQ(cbt_job_decide(&c, &s, MON, &why), CBT_IMG_FULL);
	/* weekly on Monday: a full once that day */
	CHECK_EQ(parse(BASE "full_on = mon\nbetween = differential\n", &c), 0);
	s.full_time = MON - DAY;
	CHECK_EQ(cbt_job_decide(&c, &s, MON, &why), CBT_IMG_FULL);
	CHECK_STR(why, "full_on is today");
	s.full_time = MON - 3600;
	CHECK_EQ(cbt_job_decide(&c, &s, MON, &why), CBT_IMG_DIFFERENTIAL);
	CHECK_EQ(cbt_job_decide(&c, &s, MON + DAY, &why), CBT_IMG_DIFFERENTIAL);
}

UT_MAIN("jobconf",
	UT_CASE(good_file),
	UT_CASE(defaults),
	UT_CASE(bad_lines),
	UT_CASE(names),
	UT_CASE(decide))
