// SPDX-License-Identifier: GPL-2.0
/*
 * backup/runrec.c: when `cbt backup' may continue from the snapshot a
 * killed run into S3 left (docs/storage.md, "A killed cbt backup"), and
 * every case where it must start over instead.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backup/runrec.h"
#include "unit.h"

#define SNAP "device 5a5a5a5a-1111-4222-8333-444444444444 epoch 7 name d-snap cow 254:3"
#define OPTS "to s3://cbt/c type 1 compression 1:3 full-mode 1 preserve 0 key - version 0"

static void round_trip(void)
{
	char rec[2 * CBT_RUNREC_LINE];
	bool frozen = false;

	CHECK_EQ(cbt_runrec_format(rec, sizeof(rec), SNAP, OPTS, true), 0);
	CHECK(cbt_runrec_match(rec, SNAP, OPTS, &frozen) == NULL);
	CHECK(frozen);
	CHECK_EQ(cbt_runrec_format(rec, sizeof(rec), SNAP, OPTS, false), 0);
	CHECK(cbt_runrec_match(rec, SNAP, OPTS, &frozen) == NULL);
	CHECK(!frozen);
	CHECK(cbt_runrec_format(rec, 40, SNAP, OPTS, false) < 0);
}

static void mismatches(void)
{
	char rec[2 * CBT_RUNREC_LINE];
	bool frozen = false;
	const char *why;

	CHECK_EQ(cbt_runrec_format(rec, sizeof(rec), SNAP, OPTS, false), 0);
	/* another epoch, another snapshot device, another identity: another snapshot */
	why = cbt_runrec_match(rec, "device 5a5a5a5a-1111-4222-8333-444444444444 epoch 8 name d-snap"
			       " cow 254:3", OPTS, &frozen);
	CHECK(why && strstr(why, "not the snapshot"));
	why = cbt_runrec_match(rec, "device 5a5a5a5a-1111-4222-8333-444444444445 epoch 7 name d-snap"
			       " cow 254:3", OPTS, &frozen);
	CHECK(why && strstr(why, "not the snapshot"));
	/* another level, kind, key or target: other bytes */
	why = cbt_runrec_match(rec, SNAP, "to s3://cbt/c type 1 compression 1:9 full-mode 1"
			       " preserve 0 key - version 0", &frozen);
	CHECK(why && strstr(why, "options differ"));
	why = cbt_runrec_match(rec, SNAP, "to s3://cbt/d type 1 compression 1:3 full-mode 1"
			       " preserve 0 key - version 0", &frozen);
	CHECK(why && strstr(why, "options differ"));
	/* not a record (empty, another tool's, cut short): nothing to say, start over */
	CHECK_STR(cbt_runrec_match("", SNAP, OPTS, &frozen), "");
	CHECK_STR(cbt_runrec_match("cbt-backup-run 2\n", SNAP, OPTS, &frozen), "");
	rec[strlen(rec) - 3] = '\0';
	CHECK_STR(cbt_runrec_match(rec, SNAP, OPTS, &frozen), "");
}

static void usable(void)
{
	struct cbt_epoch_info ep[2] = {
		{ .number = 7, .state = CBT_EPOCH_CLOSED },
		{ .number = 8, .state = CBT_EPOCH_OPEN },
	};
	struct cbt_dev_info info = { .epochs = ep, .nr_epochs = 2 };
	const char *why;

	info.snap = (struct cbt_snap_info){ .present = true, .state = CBT_SNAP_ACTIVE, .epoch = 7,
					    .has_release = true };
	CHECK(cbt_runrec_snap_usable(&info, false) == NULL);
	/* a preserve set: usable while nothing was released */
	info.snap.preserve_from = 7;
	CHECK(cbt_runrec_snap_usable(&info, true) == NULL);
	CHECK(cbt_runrec_snap_usable(&info, false) != NULL);
	info.snap.released = 1;
	why = cbt_runrec_snap_usable(&info, true);
	CHECK(why && strstr(why, "released"));
	info.snap.released = 0;
	info.snap.preserve_from = 0;
	CHECK(cbt_runrec_snap_usable(&info, true) != NULL);
	info.snap.state = CBT_SNAP_INVALID;
	info.snap.error = 28;
	why = cbt_runrec_snap_usable(&info, false);
	CHECK(why && strstr(why, "not active"));
	info.snap.state = CBT_SNAP_ACTIVE;
	info.snap.error = 0;
	/* an older epoch still closed: its abort would change epoch 7's bitmap */
	ep[0].number = 6;
	ep[1].number = 7;
	ep[1].state = CBT_EPOCH_CLOSED;
	why = cbt_runrec_snap_usable(&info, false);
	CHECK(why && strstr(why, "another epoch"));
	info.snap.present = false;
	CHECK(cbt_runrec_snap_usable(&info, false) != NULL);
}

/*
 * An options line past the old 1023-character copy: matched whole, so two
 * targets that differ only near its end do not match; a line cut by its
 * buffer is refused, never recorded or compared as if whole.
 */
static void long_lines(void)
{
	char rec[4096], a[1400], b[1400], cut[CBT_RUNREC_LINE];
	bool frozen = false;
	const char *why;

	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(a, "to s3://cbt/", 12);
	memcpy(b, a, sizeof(b));
	b[1200] = 'y';
	CHECK_EQ(cbt_runrec_format(rec, sizeof(rec), SNAP, a, true), 0);
	CHECK(cbt_runrec_match(rec, SNAP, a, &frozen) == NULL);
	CHECK(frozen);
	why = cbt_runrec_match(rec, SNAP, b, &frozen);
	CHECK(why && strstr(why, "options differ"));
	/* a line its buffer cut: -ENAMETOOLONG, and what was cut is not kept */
	CHECK_EQ(cbt_runrec_line(cut, sizeof(cut), "to %s key -", a), -ENAMETOOLONG);
	CHECK_STR(cut, "");
	CHECK_EQ(cbt_runrec_line(cut, sizeof(cut), "to %s key -", "s3://cbt/c"), 0);
	CHECK_STR(cut, "to s3://cbt/c key -");
}

/*
 * The record of `cbt snapshot take': it matches the user's snapshot line
 * whole and nothing else; a backup run's record is not one, nor is the
 * take's record a backup run's (so neither is dropped nor continued as the
 * other).
 */
static void take_record(void)
{
	char rec[2 * CBT_RUNREC_LINE], run[2 * CBT_RUNREC_LINE], line[CBT_RUNREC_LINE];
	bool frozen = false;

	CHECK_EQ(cbt_takerec_format(rec, sizeof(rec), SNAP), 0);
	CHECK_STR(rec, "cbt-snapshot-take 1\nsnapshot " SNAP "\n");
	CHECK(cbt_takerec_match(rec, SNAP));
	/* the line both records use, from its format */
	CHECK_EQ(cbt_runrec_line(line, sizeof(line), CBT_RUNREC_SNAP_FMT,
				 "5a5a5a5a-1111-4222-8333-444444444444", (uint64_t)7, "d-snap", 254u, 3u),
		 0);
	CHECK_STR(line, SNAP);
	/* a later snapshot of the same name (epoch 8), another COW, another identity */
	CHECK(!cbt_takerec_match(rec, "device 5a5a5a5a-1111-4222-8333-444444444444 epoch 8 name"
				 " d-snap cow 254:3"));
	CHECK(!cbt_takerec_match(rec, "device 5a5a5a5a-1111-4222-8333-444444444444 epoch 7 name"
				 " d-snap cow 254:4"));
	CHECK(!cbt_takerec_match(rec, "device 5a5a5a5a-1111-4222-8333-444444444445 epoch 7 name"
				 " d-snap cow 254:3"));
	CHECK(!cbt_takerec_match(rec, ""));
	/* cut short, empty, a backup run's record: not the user's */
	CHECK(!cbt_takerec_match("", SNAP));
	CHECK(!cbt_takerec_match("cbt-snapshot-take 1\nsnapshot device 5a5a", SNAP));
	CHECK_EQ(cbt_runrec_format(run, sizeof(run), SNAP, OPTS, false), 0);
	CHECK(!cbt_takerec_match(run, SNAP));
	CHECK_STR(cbt_runrec_match(rec, SNAP, OPTS, &frozen), "");
	CHECK(cbt_takerec_format(rec, 20, SNAP) < 0);
}

UT_MAIN("runrec",
	UT_CASE(round_trip),
	UT_CASE(mismatches),
	UT_CASE(usable),
	UT_CASE(long_lines),
	UT_CASE(take_record))
