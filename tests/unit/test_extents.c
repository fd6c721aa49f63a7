// SPDX-License-Identifier: GPL-2.0
/* extents.c: append, coalescing, ordering, streaming. */
#include <errno.h>

#include "util/extents.h"
#include "unit.h"

static void append_and_coalesce(void)
{
	struct cbt_extents l;

	cbt_extents_init(&l);
	CHECK_EQ(cbt_extents_append(&l, 10, 5), 0);
	CHECK_EQ(cbt_extents_append(&l, 15, 5), 0);	/* touches: merged */
	CHECK_EQ(cbt_extents_append(&l, 21, 1), 0);	/* gap of one: new extent */
	CHECK_EQ(l.nr, 2);
	CHECK_EQ(l.v[0].start, 10);
	CHECK_EQ(l.v[0].len, 10);
	CHECK_EQ(l.v[1].start, 21);
	CHECK_EQ(l.v[1].len, 1);
	CHECK_EQ(l.total, 11);
	CHECK_EQ(cbt_extents_end(&l), 22);
	cbt_extents_free(&l);
	CHECK_EQ(l.nr, 0);
	CHECK_EQ(cbt_extents_end(&l), 0);
}

static void rejects_backwards_and_empty(void)
{
	struct cbt_extents l;

	cbt_extents_init(&l);
	CHECK_EQ(cbt_extents_append(&l, 10, 0), -EINVAL);
	CHECK_EQ(cbt_extents_append(&l, 10, 10), 0);
	CHECK_EQ(cbt_extents_append(&l, 19, 2), -EINVAL);	/* overlaps */
	CHECK_EQ(cbt_extents_append(&l, 5, 1), -EINVAL);	/* before */
	CHECK_EQ(cbt_extents_append(&l, UINT64_MAX - 1, 5), -EOVERFLOW);
	CHECK_EQ(l.nr, 1);
	CHECK_EQ(l.total, 10);
	cbt_extents_free(&l);
}

static void grows_past_initial_capacity(void)
{
	struct cbt_extents l;

	cbt_extents_init(&l);
	for (uint64_t i = 0; i < 10000; i++)
		CHECK_EQ(cbt_extents_append(&l, 2 * i, 1), 0);
	CHECK_EQ(l.nr, 10000);
	CHECK_EQ(l.v[9999].start, 19998);
	cbt_extents_free(&l);
}

static void keep_last_streams(void)
{
	struct cbt_extents l;

	cbt_extents_init(&l);
	CHECK_EQ(cbt_extents_append(&l, 0, 1), 0);
	CHECK_EQ(cbt_extents_append(&l, 5, 1), 0);
	cbt_extents_keep_last(&l);
	CHECK_EQ(l.nr, 1);
	CHECK_EQ(l.v[0].start, 5);
	/* the kept extent still grows */
	CHECK_EQ(cbt_extents_append(&l, 6, 4), 0);
	CHECK_EQ(l.nr, 1);
	CHECK_EQ(l.v[0].len, 5);
	CHECK_EQ(l.total, 6);
	cbt_extents_free(&l);
}

UT_MAIN("extents",
	UT_CASE(append_and_coalesce),
	UT_CASE(rejects_backwards_and_empty),
	UT_CASE(grows_past_initial_capacity),
	UT_CASE(keep_last_streams))
