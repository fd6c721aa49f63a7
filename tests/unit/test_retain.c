// SPDX-License-Identifier: GPL-2.0
/*
 * retain.c: which points a policy keeps, by dates given here (the images'
 * creation times: no clock), and the prune plan on an index in memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/retain.h"
#include "unit.h"

/* 2026-11-02 00:00:00 UTC, a Monday */
#define T0 1793577600L
#define HOUR 3600L
#define DAY (24 * HOUR)

static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

static void keep_last_and_newest(void)
{
	time_t t[5] = { T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4 };
	struct cbt_retain_policy p = { .last = 2 };
	unsigned why[5];

	utc();
	cbt_retain_select(t, 5, &p, why);
	CHECK_EQ(why[0] | why[1] | why[2], 0);
	CHECK_EQ(why[3], CBT_KEEP_LAST);
	CHECK_EQ(why[4], CBT_KEEP_LAST | CBT_KEEP_NEWEST);
	/* no rule: only the newest, which the next backup builds on */
	memset(&p, 0, sizeof(p));
	CHECK(cbt_retain_empty(&p));
	cbt_retain_select(t, 5, &p, why);
	CHECK_EQ(why[3], 0);
	CHECK_EQ(why[4], CBT_KEEP_NEWEST);
}

/* Four points a day (00, 06, 12, 18 h) for ten days: the last point of each of the newest days. */
static void daily(void)
{
	time_t t[40];
	struct cbt_retain_policy p = { .daily = 3 };
	unsigned why[40];

	utc();
	for (int i = 0; i < 40; i++)
		t[i] = T0 + i * 6 * HOUR;
	cbt_retain_select(t, 40, &p, why);
	for (int i = 0; i < 40; i++) {
		unsigned want = i == 39 || i == 35 || i == 31 ? CBT_KEEP_DAILY : 0;

		if (i == 39)
			want |= CBT_KEEP_NEWEST;
		CHECK_EQ(why[i], want);
	}
}

/* One point a day for 70 days from Monday 2 November: weeks end on Sundays, months on the 30th/31st. */
static void weekly_monthly(void)
{
	time_t t[70];
	struct cbt_retain_policy p = { .weekly = 2, .monthly = 3 };
	unsigned why[70];
	struct tm tm;

	utc();
	for (int i = 0; i < 70; i++)
		t[i] = T0 + i * DAY + 12 * HOUR;
	cbt_retain_select(t, 70, &p, why);
	/* day 69 is Sunday 10 January 2027 (the last of its ISO week); day 62 Sunday 3 January */
	CHECK_EQ(why[69] & CBT_KEEP_WEEKLY, CBT_KEEP_WEEKLY);
	CHECK_EQ(why[62] & CBT_KEEP_WEEKLY, CBT_KEEP_WEEKLY);
	gmtime_r(&t[62], &tm);
	CHECK_EQ(tm.tm_wday, 0);
	/* months: January (day 69), December (day 59 = 31 Dec), November (day 28 = 30 Nov) */
	CHECK_EQ(why[69] & CBT_KEEP_MONTHLY, CBT_KEEP_MONTHLY);
	CHECK_EQ(why[59], CBT_KEEP_MONTHLY);
	CHECK_EQ(why[28], CBT_KEEP_MONTHLY);
	gmtime_r(&t[59], &tm);
	CHECK_EQ(tm.tm_mday, 31);
	int kept = 0;

	for (int i = 0; i < 70; i++)
		kept += why[i] != 0;
	CHECK_EQ(kept, 4);	/* 69 (weekly, monthly, newest), 62, 59, 28 */
}

/* A local day, not a UTC one: 23:30 and 00:30 of a UTC+2 zone are two days. */
static void local_days(void)
{
	time_t t[2] = { T0 + 21 * HOUR + 30 * 60, T0 + 22 * HOUR + 30 * 60 };
	struct cbt_retain_policy p = { .daily = 2 };
	unsigned why[2];

	setenv("TZ", "EET-2", 1);
	tzset();
	cbt_retain_select(t, 2, &p, why);
	CHECK_EQ(why[0], CBT_KEEP_DAILY);
	utc();
	cbt_retain_select(t, 2, &p, why);
	CHECK_EQ(why[0], 0);
}

enum { F, I1, I2, D3, I4, N };

/* full <- i1 <- i2, full <- d3 <- i4 */
static void fake_chain(struct cbt_chain *c)
{
	static struct cbt_chain_entry v[N];

	memset(v, 0, sizeof(v));
	for (int i = 0; i < N; i++) {
		v[i].seq = (uint64_t)i + 1;
		v[i].uuid[0] = (uint8_t)(i + 1);
		v[i].base[0] = 1;
		snprintf(v[i].file, sizeof(v[i].file), "%d", i + 1);
	}
	v[F].type = CBT_IMG_FULL;
	v[I1].type = v[I2].type = v[I4].type = CBT_IMG_INCREMENTAL;
	v[D3].type = CBT_IMG_DIFFERENTIAL;
	v[I1].parent[0] = F + 1;
	v[I2].parent[0] = I1 + 1;
	v[D3].parent[0] = F + 1;
	v[I4].parent[0] = D3 + 1;
	memset(c, 0, sizeof(*c));
	c->dir = (char *)"chain";
	c->v = v;
	c->nr = N;
	c->lock_fd = c->dfd = -1;
}

static void plan_holds_shared_parent(void)
{
	struct cbt_chain c;
	struct cbt_prune_plan pl;
	bool keep[N] = { [I2] = true, [I4] = true };

	fake_chain(&c);
	CHECK_EQ(cbt_prune_plan(&c, keep, &pl), 0);
	CHECK_EQ(pl.ndel, 0);
	CHECK_EQ(pl.nheld, 1);
	CHECK_EQ(pl.held[0], F);	/* two kept points build on it */
	CHECK_EQ(pl.nruns, 2);
	CHECK_EQ(pl.runs[0][0], I1);
	CHECK_EQ(pl.runs[0][1], I2);
	CHECK_EQ(pl.runs[1][0], D3);
	CHECK_EQ(pl.runs[1][1], I4);
	cbt_prune_plan_free(&pl);
}

static void plan_deletes_and_merges(void)
{
	struct cbt_chain c;
	struct cbt_prune_plan pl;
	bool keep[N] = { [I4] = true };

	fake_chain(&c);
	CHECK_EQ(cbt_prune_plan(&c, keep, &pl), 0);
	CHECK_EQ(pl.ndel, 2);
	CHECK_EQ(pl.del[0], I1);
	CHECK_EQ(pl.del[1], I2);
	CHECK_EQ(pl.nheld, 0);
	CHECK_EQ(pl.nruns, 1);
	CHECK_EQ(pl.runs[0][0], F);
	CHECK_EQ(pl.runs[0][1], I4);
	cbt_prune_plan_free(&pl);
}

static void plan_refuses_broken_chain(void)
{
	struct cbt_chain c;
	struct cbt_prune_plan pl;
	bool keep[N] = { [I2] = true };

	fake_chain(&c);
	c.v[I1].parent[0] = 99;	/* its parent is not in the chain */
	CHECK_ERR(cbt_prune_plan(&c, keep, &pl), -ENOENT, "needs parent image");
}

UT_MAIN("retain",
	UT_CASE(keep_last_and_newest),
	UT_CASE(daily),
	UT_CASE(weekly_monthly),
	UT_CASE(local_days),
	UT_CASE(plan_holds_shared_parent),
	UT_CASE(plan_deletes_and_merges),
	UT_CASE(plan_refuses_broken_chain))
