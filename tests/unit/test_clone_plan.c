// SPDX-License-Identifier: GPL-2.0
/* clone/plan.c: convergence, the pass limit, extents, I/O cutting, the state file. */
#include <errno.h>
#include <stdlib.h>

#include "clone/plan.h"
#include "unit.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static const struct clone_cfg cfg_1g = {
	.dev_bytes = GiB, .block_size = 64 * 1024, .max_passes = 8, .freeze = true,
};

/* Simulate a clone: pass k copies what changed during pass k-1 (rate-bound). */
static unsigned int simulate(const struct clone_cfg *c, uint64_t write_blocks_per_s,
			     uint64_t copy_blocks_per_s, enum clone_why *final_why,
			     bool *final_seen)
{
	uint64_t copied = clone_nr_blocks(c), prev = 0, pending;
	unsigned int done = 1;
	bool last_final = c->max_passes == 1;
	enum clone_why why;

	*final_seen = last_final;
	for (;;) {
		/* blocks dirtied while the last pass ran, at most the device */
		pending = copied * write_blocks_per_s / copy_blocks_per_s;
		if (pending > clone_nr_blocks(c))
			pending = clone_nr_blocks(c);
		switch (clone_plan_next(c, done, prev, copied, 0, last_final, pending, &why)) {
		case CLONE_STEP_DONE:
			return done;
		case CLONE_STEP_FINAL:
			*final_why = why;
			*final_seen = true;
			last_final = true;
			break;
		case CLONE_STEP_PASS:
			break;
		}
		prev = copied;
		copied = pending;
		done++;
		if (done > 100)
			return done;
	}
}

static void first_pass(void)
{
	enum clone_why why;
	struct clone_cfg one = cfg_1g;

	CHECK_EQ(clone_plan_next(&cfg_1g, 0, 0, 0, 0, false, 0, &why), CLONE_STEP_PASS);
	CHECK_EQ(why, CLONE_WHY_FIRST);
	one.max_passes = 1;
	CHECK_EQ(clone_plan_next(&one, 0, 0, 0, 0, false, 0, &why), CLONE_STEP_FINAL);
	CHECK_EQ(clone_plan_next(&one, 1, 0, 100, 0, true, 5000, &why), CLONE_STEP_DONE);
	CHECK_EQ(why, CLONE_WHY_FINISHED);
}

static void threshold_is_min_of_1pct_and_64mib(void)
{
	struct clone_cfg c = cfg_1g;

	/* 1% of 1 GiB = 10.24 MiB: 163 blocks of 64 KiB */
	CHECK_EQ(clone_converge_blocks(&c), GiB / 100 / (64 * 1024));
	c.dev_bytes = 1024 * GiB;	/* 1% = 10 GiB: capped at 64 MiB */
	CHECK_EQ(clone_converge_blocks(&c), 64 * MiB / (64 * 1024));
	c.dev_bytes = 1 * MiB;		/* tiny: at least one block */
	CHECK_EQ(clone_converge_blocks(&c), 1);
	c.converge_bytes = 10 * MiB;
	CHECK_EQ(clone_converge_blocks(&c), 160);
}

static void small_changed_set_ends_with_a_final_pass(void)
{
	enum clone_why why;

	CHECK_EQ(clone_plan_next(&cfg_1g, 1, 0, 16384, 0, false, 10, &why), CLONE_STEP_FINAL);
	CHECK_EQ(why, CLONE_WHY_SMALL);
	CHECK_EQ(clone_plan_next(&cfg_1g, 2, 0, 10, 0, true, 10, &why), CLONE_STEP_DONE);
}

static void unchanged_without_freeze_is_done(void)
{
	struct clone_cfg c = cfg_1g;
	enum clone_why why;

	c.freeze = false;
	CHECK_EQ(clone_plan_next(&c, 1, 0, 16384, 0, false, 0, &why), CLONE_STEP_DONE);
	CHECK_EQ(why, CLONE_WHY_UNCHANGED);
	/* with a freeze wanted, one frozen pass still follows, even if empty */
	CHECK_EQ(clone_plan_next(&cfg_1g, 1, 0, 16384, 0, false, 0, &why), CLONE_STEP_FINAL);
	CHECK_EQ(why, CLONE_WHY_SMALL);
}

static void converges_when_writes_are_slower(void)
{
	enum clone_why why = CLONE_WHY_FIRST;
	bool final_seen;
	unsigned int passes = simulate(&cfg_1g, 10, 100, &why, &final_seen);

	/* 16384 -> 1638 -> 163 -> 16 (< 163: small) -> final */
	CHECK(final_seen);
	CHECK_EQ(why, CLONE_WHY_SMALL);
	CHECK(passes <= cfg_1g.max_passes);
	CHECK_EQ(passes, 4);
}

static void heavier_workload_stops_when_not_shrinking(void)
{
	enum clone_why why = CLONE_WHY_FIRST;
	bool final_seen;
	/* writes at 95% of the copy rate: pass 3 is hardly smaller than pass 2 */
	unsigned int passes = simulate(&cfg_1g, 95, 100, &why, &final_seen);

	CHECK(final_seen);
	CHECK_EQ(why, CLONE_WHY_NOT_SHRINKING);
	CHECK_EQ(passes, 3);
	/* heavier than the copy rate: the same, never more passes */
	passes = simulate(&cfg_1g, 300, 100, &why, &final_seen);
	CHECK(final_seen);
	CHECK_EQ(why, CLONE_WHY_NOT_SHRINKING);
	CHECK_EQ(passes, 3);
}

static void pass_limit(void)
{
	struct clone_cfg c = cfg_1g;
	enum clone_why why = CLONE_WHY_FIRST;
	bool final_seen;
	unsigned int passes;

	/* writes at 60%: shrinking, but too slowly for 3 passes */
	c.max_passes = 3;
	passes = simulate(&c, 60, 100, &why, &final_seen);
	CHECK(final_seen);
	CHECK_EQ(why, CLONE_WHY_PASS_LIMIT);
	CHECK_EQ(passes, 3);
	c.max_passes = 2;
	passes = simulate(&c, 300, 100, &why, &final_seen);
	CHECK_EQ(why, CLONE_WHY_PASS_LIMIT);
	CHECK_EQ(passes, 2);
	for (unsigned int max = 1; max <= 12; max++) {
		c.max_passes = max;
		for (uint64_t w = 1; w <= 400; w += 37) {
			passes = simulate(&c, w, 100, &why, &final_seen);
			if (passes > max || !final_seen)
				UT_FAIL("max %u, writes %llu%%: %u passes, final %d", max,
					(unsigned long long)w, passes, final_seen);
		}
	}
}

static struct cbt_extents mk(const uint64_t *pairs, size_t n)
{
	struct cbt_extents l;

	cbt_extents_init(&l);
	for (size_t i = 0; i < n; i += 2)
		if (cbt_extents_append(&l, pairs[i], pairs[i + 1]))
			abort();
	return l;
}

static void extents_union_and_from(void)
{
	static const uint64_t a_v[] = { 0, 2, 10, 5, 30, 1 }, b_v[] = { 1, 3, 12, 10, 40, 2 };
	struct cbt_extents a = mk(a_v, 6), b = mk(b_v, 6), u, f;

	cbt_extents_init(&u);
	cbt_extents_init(&f);
	CHECK_EQ(clone_extents_union(&a, &b, &u), 0);
	/* [0,4) [10,22) [30,31) [40,42) */
	CHECK_EQ(u.nr, 4);
	CHECK_EQ(u.v[0].start, 0);
	CHECK_EQ(u.v[0].len, 4);
	CHECK_EQ(u.v[1].start, 10);
	CHECK_EQ(u.v[1].len, 12);
	CHECK_EQ(u.v[3].start, 40);
	CHECK_EQ(u.total, 4 + 12 + 1 + 2);
	CHECK_EQ(clone_extents_from(&u, 15, &f), 0);
	CHECK_EQ(f.nr, 3);
	CHECK_EQ(f.v[0].start, 15);
	CHECK_EQ(f.v[0].len, 7);
	clone_extents_clip(&f, 41);
	CHECK_EQ(f.nr, 3);
	CHECK_EQ(f.v[2].len, 1);
	clone_extents_clip(&f, 31);
	CHECK_EQ(f.nr, 2);
	CHECK_EQ(f.total, 8);
	cbt_extents_free(&a);
	cbt_extents_free(&b);
	cbt_extents_free(&u);
	cbt_extents_free(&f);
}

static void ios_are_cut_at_1mib_and_the_device_end(void)
{
	static const uint64_t v[] = { 0, 20, 30, 2 };
	struct cbt_extents l = mk(v, 4);
	/* 64 KiB blocks; the device ends 4 KiB into block 31 */
	uint64_t dev = 31 * 65536ULL + 4096, pos = 0, off, sum = 0;
	uint32_t len;
	size_t ext = 0;
	int n = 0;

	while (clone_next_io(&l, 65536, dev, CLONE_IO_BYTES, &ext, &pos, &off, &len)) {
		CHECK(len <= CLONE_IO_BYTES);
		CHECK(off + len <= dev);
		sum += len;
		n++;
	}
	CHECK_EQ(n, 3);	/* 1 MiB + 256 KiB, then 64 KiB + 4 KiB */
	CHECK_EQ(sum, 20 * 65536ULL + 65536 + 4096);
	CHECK_EQ(clone_extents_bytes(&l, 65536, dev), sum);
	cbt_extents_free(&l);
}

static void io_shape_follows_the_extents(void)
{
	struct cbt_extents l;
	struct clone_io_shape sh;
	uint64_t pos = 0, off, sum = 0;
	uint32_t len;
	size_t ext = 0;
	int n = 0;

	/* a whole device: 16 copies of 1 MiB, as before */
	cbt_extents_init(&l);
	CHECK_EQ(cbt_extents_append(&l, 0, 32768), 0);
	clone_io_shape(&l, 65536, 2 * GiB, &sh);
	CHECK_EQ(sh.depth, 16);
	CHECK_EQ(sh.io_bytes, CLONE_IO_BYTES);
	cbt_extents_free(&l);
	/* scattered 64 KiB blocks (a later pass): 64 copies, cut at 256 KiB */
	cbt_extents_init(&l);
	for (uint64_t b = 0; b < 1000; b++)
		CHECK_EQ(cbt_extents_append(&l, b * 13, 1), 0);
	CHECK_EQ(cbt_extents_append(&l, 20000, 40), 0);	/* one long run among them */
	clone_io_shape(&l, 65536, 2 * GiB, &sh);
	CHECK_EQ(sh.depth, 64);
	CHECK_EQ(sh.io_bytes, 256 * 1024);
	CHECK_EQ(sh.depth * sh.io_bytes, CLONE_INFLIGHT_BYTES);
	while (clone_next_io(&l, 65536, 2 * GiB, sh.io_bytes, &ext, &pos, &off, &len)) {
		CHECK(len <= sh.io_bytes);
		sum += len;
		n++;
	}
	CHECK_EQ(n, 1000 + 10);	/* the 2.5 MiB run in ten 256 KiB copies */
	CHECK_EQ(sum, 1040 * 65536ULL);
	cbt_extents_free(&l);
	/* runs of 6 blocks (384 KiB) on average: 512 KiB copies, 32 in flight */
	cbt_extents_init(&l);
	for (uint64_t b = 0; b < 100; b++)
		CHECK_EQ(cbt_extents_append(&l, b * 100, 6), 0);
	clone_io_shape(&l, 65536, 2 * GiB, &sh);
	CHECK_EQ(sh.depth, 32);
	CHECK_EQ(sh.io_bytes, 512 * 1024);
	cbt_extents_free(&l);
	/* 512 KiB blocks, even scattered: no copy is cut below a block */
	cbt_extents_init(&l);
	CHECK_EQ(cbt_extents_append(&l, 3, 1), 0);
	CHECK_EQ(cbt_extents_append(&l, 9, 1), 0);
	clone_io_shape(&l, 512 * 1024, 2 * GiB, &sh);
	CHECK_EQ(sh.io_bytes, 512 * 1024);
	CHECK_EQ(sh.depth, 32);
	cbt_extents_free(&l);
	/* 4 MiB blocks: one block per copy, 16 in flight */
	cbt_extents_init(&l);
	CHECK_EQ(cbt_extents_append(&l, 0, 4), 0);
	clone_io_shape(&l, 4 << 20, 2 * GiB, &sh);
	CHECK_EQ(sh.depth, 16);
	CHECK_EQ(sh.io_bytes, 4U << 20);
	cbt_extents_free(&l);
	/* nothing to copy: any valid shape */
	cbt_extents_init(&l);
	clone_io_shape(&l, 65536, 2 * GiB, &sh);
	CHECK(sh.depth >= 16 && sh.depth <= CLONE_QIO_MAX_DEPTH);
	CHECK(sh.depth * sh.io_bytes == CLONE_INFLIGHT_BYTES);
	cbt_extents_free(&l);
}

static struct clone_state sample_state(void)
{
	struct clone_state s = {
		.uuid = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
		.src_bytes = GiB, .block_size = 65536, .target_bytes = 2 * GiB,
		.target_sum = 0xfedcba9876543210ULL, .resume_epoch = 7, .full_done = true,
		.copied_upto = 0, .complete = false, .last_epoch = 6, .updated = 1700000000,
	};

	snprintf(s.source, sizeof(s.source), "data \"x\"\n");
	snprintf(s.target, sizeof(s.target), "/dev/vdb");
	return s;
}

static void state_round_trip(void)
{
	struct clone_state s = sample_state(), t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f);
	clone_state_write(f, &s);
	fclose(f);
	CHECK_EQ(clone_state_parse(buf, &t), 0);
	CHECK(!memcmp(t.uuid, s.uuid, 16));
	CHECK_EQ(t.src_bytes, s.src_bytes);
	CHECK_EQ(t.block_size, s.block_size);
	CHECK_EQ(t.target_bytes, s.target_bytes);
	CHECK_EQ(t.target_sum, s.target_sum);
	CHECK_EQ(t.resume_epoch, 7);
	CHECK_EQ(t.full_done, true);
	CHECK_EQ(t.complete, false);
	CHECK_EQ(t.last_epoch, 6);
	CHECK_STR(t.source, s.source);
	CHECK_STR(t.target, "/dev/vdb");
	CHECK_EQ(t.epochs_held, false);
	free(buf);

	/* epochs_held: written as it is; read from a file before it as !complete. */
	s.epochs_held = true;
	f = open_memstream(&buf, &len);
	CHECK(f);
	clone_state_write(f, &s);
	fclose(f);
	CHECK(strstr(buf, "\"epochs_held\": true"));
	CHECK_EQ(clone_state_parse(buf, &t), 0);
	CHECK_EQ(t.epochs_held, true);
	for (int complete = 0; complete < 2; complete++) {
		char old[512];

		snprintf(old, sizeof(old), "{\"version\": 1, \"source_uuid\": \"01020304-0506-0708-090a-"
			 "0b0c0d0e0f10\", \"source_bytes\": 1, \"block_size\": 4096, \"target_bytes\": 1,"
			 " \"target_sum\": 1, \"resume_epoch\": 3, \"full_done\": false,"
			 " \"copied_upto\": 0, \"complete\": %s, \"used_only\": false,"
			 " \"last_epoch\": 2}", complete ? "true" : "false");
		CHECK_EQ(clone_state_parse(old, &t), 0);
		CHECK_EQ(t.epochs_held, !complete);
	}
	free(buf);
}

static void state_rejects_garbage(void)
{
	struct clone_state t;

	CHECK_ERR(clone_state_parse("", &t), -EINVAL, "not a JSON object");
	CHECK_ERR(clone_state_parse("{\"version\": 2}", &t), -EINVAL, "version 2");
	CHECK_ERR(clone_state_parse("{\"version\": 1}", &t), -EINVAL, "missing");
	CHECK_ERR(clone_state_parse("{\"version\": 1, \"complete\": 3}", &t), -EINVAL,
		  "wrong type");
	CHECK_ERR(clone_state_parse("{\"version\": 1 \"x\": 1}", &t), -EINVAL, "expected");
	CHECK_ERR(clone_state_parse("{\"resume_epoch\": 99999999999999999999999}", &t), -EINVAL,
		  "out of range");
	CHECK_ERR(clone_state_parse("{\"version\": 1} x", &t), -EINVAL, "junk");
	/* review L9 (found by fuzz_state): names are not cut, and must be UTF-8 */
	char big[400] = "{\"version\": 1, \"target\": \"";

	memset(big + strlen(big), 'a', 300);
	strcat(big, "\"}");
	CHECK_ERR(clone_state_parse(big, &t), -EINVAL, "bad string for \"target\"");
	CHECK_ERR(clone_state_parse("{\"version\": 1, \"target\": \"\x93\x9f\"}", &t), -EINVAL,
		  "bad string for \"target\"");
}

static void resume_decision(void)
{
	struct clone_state s = sample_state();
	uint8_t other[16] = { 0 };
	char why[256];

	CHECK(clone_resume_ok(&s, s.uuid, GiB, 65536, 2 * GiB, s.target_sum, 7, 9, why, sizeof(why)));
	CHECK(clone_resume_ok(&s, s.uuid, GiB, 65536, 2 * GiB, s.target_sum, 5, 7, why, sizeof(why)));
	CHECK(!clone_resume_ok(&s, other, GiB, 65536, 2 * GiB, s.target_sum, 7, 9, why, sizeof(why)));
	CHECK(strstr(why, "tracking identity"));
	CHECK(!clone_resume_ok(&s, s.uuid, 2 * GiB, 65536, 2 * GiB, s.target_sum, 7, 9, why,
			       sizeof(why)));
	CHECK(strstr(why, "size"));
	CHECK(!clone_resume_ok(&s, s.uuid, GiB, 65536, 4 * GiB, s.target_sum, 7, 9, why, sizeof(why)));
	CHECK(strstr(why, "target's size"));
	CHECK(!clone_resume_ok(&s, s.uuid, GiB, 65536, 2 * GiB, 1, 7, 9, why, sizeof(why)));
	CHECK(strstr(why, "written since"));
	/* epoch 7 was committed (or aborted) by someone else */
	CHECK(!clone_resume_ok(&s, s.uuid, GiB, 65536, 2 * GiB, s.target_sum, 8, 9, why, sizeof(why)));
	CHECK(strstr(why, "epochs 7..7 were committed or aborted"));
	CHECK(!clone_resume_ok(&s, s.uuid, GiB, 65536, 2 * GiB, s.target_sum, 3, 5, why, sizeof(why)));
}

static void target_ids(void)
{
	char buf[64];

	clone_target_id("/dev/vdb", buf, sizeof(buf));
	CHECK_STR(buf, "vdb");
	clone_target_id("/dev/mapper/a b", buf, sizeof(buf));
	CHECK_STR(buf, "mapper-a_b");
	clone_target_id("/tmp/../x", buf, sizeof(buf));
	CHECK_STR(buf, "-tmp-..-x");
}

static void copied_sizes_stop_shrinking(void)
{
	enum clone_why why;

	/* pass 3 copied 11600 blocks after 12800: less than 10% smaller */
	CHECK_EQ(clone_plan_next(&cfg_1g, 3, 12800, 11600, 0, false, 5000, &why), CLONE_STEP_FINAL);
	CHECK_EQ(why, CLONE_WHY_NOT_SHRINKING);
	CHECK_EQ(clone_plan_next(&cfg_1g, 3, 20000, 11600, 0, false, 5000, &why), CLONE_STEP_PASS);
	CHECK_EQ(why, CLONE_WHY_CONVERGING);
	/* pass 2 against pass 1 (the whole device) says nothing */
	CHECK_EQ(clone_plan_next(&cfg_1g, 2, 16384, 16000, 0, false, 5000, &why), CLONE_STEP_PASS);
	/* 15% smaller is not enough: another pass would copy most of it again */
	CHECK_EQ(clone_plan_next(&cfg_1g, 3, 12800, 10880, 0, false, 5000, &why), CLONE_STEP_FINAL);
	CHECK_EQ(why, CLONE_WHY_NOT_SHRINKING);
	CHECK_EQ(clone_plan_next(&cfg_1g, 2, 16384, 6400, 0, false, 5400, &why), CLONE_STEP_FINAL);
	CHECK_EQ(why, CLONE_WHY_NOT_SHRINKING);
	/* 25% smaller, both: one more pass */
	CHECK_EQ(clone_plan_next(&cfg_1g, 3, 12800, 9600, 0, false, 7200, &why), CLONE_STEP_PASS);
	CHECK_EQ(why, CLONE_WHY_CONVERGING);
}

/* Gaps up to 32 KiB are read through, larger ones are not; the total counts the gaps. */
static void extents_coalesce(void)
{
	struct cbt_extents l;

	cbt_extents_init(&l);
	CHECK_EQ(cbt_extents_append(&l, 0, 1), 0);
	CHECK_EQ(cbt_extents_append(&l, 9, 2), 0);	/* gap of 8 4 KiB blocks: merged */
	CHECK_EQ(cbt_extents_append(&l, 20, 1), 0);	/* gap of 9: kept apart */
	CHECK_EQ(cbt_extents_append(&l, 22, 1), 0);	/* gap of 1: merged */
	CHECK_EQ(cbt_extents_append(&l, 1000, 3), 0);
	clone_extents_coalesce(&l, 4096);
	CHECK_EQ(l.nr, 3);
	CHECK_EQ(l.v[0].start, 0);
	CHECK_EQ(l.v[0].len, 11);
	CHECK_EQ(l.v[1].start, 20);
	CHECK_EQ(l.v[1].len, 3);
	CHECK_EQ(l.v[2].start, 1000);
	CHECK_EQ(l.v[2].len, 3);
	CHECK_EQ(l.total, 17);
	/* 64 KiB blocks: a gap of one block is already more than 32 KiB */
	clone_extents_coalesce(&l, 65536);
	CHECK_EQ(l.nr, 3);
	CHECK_EQ(l.total, 17);
	/* 16 KiB blocks: a gap of 2 blocks is merged, 3 is not */
	cbt_extents_free(&l);
	cbt_extents_init(&l);
	CHECK_EQ(cbt_extents_append(&l, 5, 1), 0);
	CHECK_EQ(cbt_extents_append(&l, 8, 1), 0);
	CHECK_EQ(cbt_extents_append(&l, 12, 1), 0);
	clone_extents_coalesce(&l, 16384);
	CHECK_EQ(l.nr, 2);
	CHECK_EQ(l.v[0].len, 4);
	CHECK_EQ(l.total, 5);
	cbt_extents_free(&l);
	/* empty */
	cbt_extents_init(&l);
	clone_extents_coalesce(&l, 4096);
	CHECK_EQ(l.nr, 0);
	cbt_extents_free(&l);
}

/* ---- The final pass's time budget ---------------------------------------- */

static void fits_final_at_the_last_rate(void)
{
	struct clone_cfg c = cfg_1g;

	c.final_pass_ms = 500;
	/* 6000 blocks in 1 s: 3000 copy in 500 ms exactly, 3001 do not */
	CHECK(clone_fits_final(&c, 6000, 1000000000ULL, 3000));
	CHECK(!clone_fits_final(&c, 6000, 1000000000ULL, 3001));
	CHECK(clone_fits_final(&c, 6000, 1000000000ULL, 0));
	/* no rate to go by, or no budget: never */
	CHECK(!clone_fits_final(&c, 6000, 0, 1));
	CHECK(!clone_fits_final(&c, 0, 1000000000ULL, 1));
	c.final_pass_ms = 0;
	CHECK(!clone_fits_final(&c, 6000, 1000000000ULL, 0));
	/* extremes do not overflow */
	c.final_pass_ms = 3600000;
	CHECK(!clone_fits_final(&c, 1, UINT64_MAX, UINT64_MAX));
	CHECK(clone_fits_final(&c, UINT64_MAX, 1, UINT64_MAX));
}

static void final_pass_budget_order(void)
{
	/* 3357 blocks in 560 ms: 2318 pending copy in ~387 ms, 3300 in ~551 ms */
	static const struct {
		const char *what;
		uint32_t budget_ms;
		unsigned int max, done;
		uint64_t prev, last, last_ms;
		bool last_final, freeze;
		uint64_t pending;
		enum clone_step step;
		enum clone_why why;
	} t[] = {
		{ "within the budget", 500, 8, 2, 16384, 3357, 560, false, true, 2318,
		  CLONE_STEP_FINAL, CLONE_WHY_QUICK },
		{ "the old rule: 31% smaller, one more pass", 0, 8, 2, 16384, 3357, 560, false, true,
		  2318, CLONE_STEP_PASS, CLONE_WHY_CONVERGING },
		{ "slower: ~773 ms", 500, 8, 2, 16384, 3357, 1120, false, true, 2318,
		  CLONE_STEP_PASS, CLONE_WHY_CONVERGING },
		{ "no rate after the whole-device pass", 500, 8, 1, 0, 16384, 0, false, true, 2318,
		  CLONE_STEP_PASS, CLONE_WHY_CONVERGING },
		{ "a resumed run's first pass has a rate", 500, 8, 1, 0, 3357, 560, false, true,
		  2318, CLONE_STEP_FINAL, CLONE_WHY_QUICK },
		{ "a small set is reported first", 500, 8, 2, 16384, 3357, 560, false, true, 100,
		  CLONE_STEP_FINAL, CLONE_WHY_SMALL },
		{ "the budget before the pass limit", 500, 3, 2, 16384, 3357, 560, false, true, 2318,
		  CLONE_STEP_FINAL, CLONE_WHY_QUICK },
		{ "over the budget at the pass limit", 500, 3, 2, 16384, 3357, 1120, false, true,
		  3300, CLONE_STEP_FINAL, CLONE_WHY_PASS_LIMIT },
		{ "just over the budget, not shrinking", 500, 8, 3, 3400, 3357, 560, false, true,
		  3300, CLONE_STEP_FINAL, CLONE_WHY_NOT_SHRINKING },
		{ "after the final pass", 500, 8, 3, 3357, 2318, 386, true, true, 1500,
		  CLONE_STEP_DONE, CLONE_WHY_FINISHED },
		{ "nothing changed, no freeze", 500, 8, 2, 16384, 3357, 560, false, false, 0,
		  CLONE_STEP_DONE, CLONE_WHY_UNCHANGED },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct clone_cfg c = cfg_1g;
		enum clone_why why = CLONE_WHY_FIRST;
		enum clone_step step;

		c.final_pass_ms = t[i].budget_ms;
		c.max_passes = t[i].max;
		c.freeze = t[i].freeze;
		step = clone_plan_next(&c, t[i].done, t[i].prev, t[i].last,
				       t[i].last_ms * 1000000ULL, t[i].last_final, t[i].pending, &why);
		if (step != t[i].step || why != t[i].why)
			UT_FAIL("%s: step %d (%s), want %d (%s)", t[i].what, step,
				clone_why_str(why), t[i].step, clone_why_str(t[i].why));
	}
}

/*
 * A timed clone of a 2 GiB device in 64 KiB blocks (bench_clone's): pass 1
 * copies every block at @seq_bps blocks a second, later passes their
 * changed blocks at @copy_bps; the writers dirty @write_bps blocks a second
 * (at most the device) during a pass and the @gap_ms after it. Returns the
 * passes; @copied: blocks copied in all, @final_ns: the last pass's time.
 */
static unsigned int simulate_timed(const struct clone_cfg *c, uint64_t seq_bps, uint64_t copy_bps,
				   uint64_t write_bps, uint64_t gap_ms, uint64_t *copied,
				   uint64_t *final_ns, enum clone_why *final_why)
{
	uint64_t nr = clone_nr_blocks(c), prev = 0, last = 0, last_ns = 0;
	unsigned int done = 0;
	bool last_final = false;
	enum clone_why why;

	*copied = 0;
	*final_ns = 0;
	for (;;) {
		uint64_t pending = 0, blocks;

		if (done) {
			pending = write_bps * (last_ns + gap_ms * 1000000ULL) / 1000000000ULL;
			if (pending > nr)
				pending = nr;
		}
		/* pass 1's sequential rate is not the run's rate (run.c passes 0) */
		switch (clone_plan_next(c, done, prev, last, done == 1 ? 0 : last_ns, last_final,
					pending, &why)) {
		case CLONE_STEP_DONE:
			return done;
		case CLONE_STEP_FINAL:
			*final_why = why;
			last_final = true;
			break;
		case CLONE_STEP_PASS:
			break;
		}
		blocks = done ? pending : nr;
		prev = last;
		last = blocks;
		last_ns = blocks * 1000000000ULL / (done ? copy_bps : seq_bps);
		*copied += blocks;
		if (last_final)
			*final_ns = last_ns;
		if (++done > 100)
			return done;
	}
}

/*
 * bench_clone at 16 MiB/s of 4 KiB random writes (4000 64 KiB blocks a
 * second) against a copy of 6000 changed blocks a second: each pass is
 * 25-30% smaller than the one before, which no shrink rule calls stopping,
 * so the old rules ran to the pass limit and copied 1.32x the device
 * (tests/bench/README.md measured 1.37-1.38 with 8 passes). With the 500 ms
 * budget the third pass is the final one: 1.17x, the final pass ~390 ms.
 */
static void final_pass_budget_bounds_the_copy(void)
{
	struct clone_cfg c = { .dev_bytes = 2 * GiB, .block_size = 64 * 1024, .max_passes = 8,
			       .final_pass_ms = 500 };
	uint64_t nr = clone_nr_blocks(&c), copied, final_ns;
	enum clone_why why = CLONE_WHY_FIRST;
	unsigned int passes;

	passes = simulate_timed(&c, 40000, 6000, 4000, 20, &copied, &final_ns, &why);
	CHECK_EQ(passes, 3);
	CHECK_EQ(why, CLONE_WHY_QUICK);
	if (copied * 10 > nr * 13)
		UT_FAIL("copied %llu blocks of %llu: more than 1.3x",
			(unsigned long long)copied, (unsigned long long)nr);
	CHECK(final_ns <= 500000000ULL);
	/* the old rules on the same load: the pass limit, over 1.3x */
	c.final_pass_ms = 0;
	passes = simulate_timed(&c, 40000, 6000, 4000, 20, &copied, &final_ns, &why);
	CHECK_EQ(passes, 8);
	CHECK_EQ(why, CLONE_WHY_PASS_LIMIT);
	CHECK(copied * 10 > nr * 13);
	/* a load the copy cannot outrun still ends by the other rules */
	c.final_pass_ms = 500;
	passes = simulate_timed(&c, 40000, 6000, 12000, 20, &copied, &final_ns, &why);
	CHECK_EQ(why, CLONE_WHY_NOT_SHRINKING);
	CHECK(passes <= c.max_passes);
}

UT_MAIN("clone_plan",
	UT_CASE(copied_sizes_stop_shrinking),
	UT_CASE(first_pass),
	UT_CASE(threshold_is_min_of_1pct_and_64mib),
	UT_CASE(small_changed_set_ends_with_a_final_pass),
	UT_CASE(unchanged_without_freeze_is_done),
	UT_CASE(converges_when_writes_are_slower),
	UT_CASE(heavier_workload_stops_when_not_shrinking),
	UT_CASE(pass_limit),
	UT_CASE(fits_final_at_the_last_rate),
	UT_CASE(final_pass_budget_order),
	UT_CASE(final_pass_budget_bounds_the_copy),
	UT_CASE(extents_union_and_from),
	UT_CASE(extents_coalesce),
	UT_CASE(ios_are_cut_at_1mib_and_the_device_end),
	UT_CASE(io_shape_follows_the_extents),
	UT_CASE(state_round_trip),
	UT_CASE(state_rejects_garbage),
	UT_CASE(resume_decision),
	UT_CASE(target_ids))
