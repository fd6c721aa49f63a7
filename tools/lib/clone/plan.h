/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure part of `cbt clone': which pass comes next, which blocks a pass
 * copies, how they are cut into I/Os, and the state file that lets an
 * interrupted clone resume from tracking. Nothing here does I/O on a disk
 * or talks to the kernel, so all of it is unit-tested (tests/unit).
 *
 * How a clone runs (run.c):
 *   pass 1      snapshot (closes epoch N1), copy every block (or the blocks
 *               the filesystem uses) from the snapshot to the target
 *   pass k > 1  drop the previous snapshot, take one (closes Nk), copy the
 *               blocks of epochs N(k-1)+1 .. Nk, fsync, commit them
 *   until the blocks changed since the last snapshot are few, would copy
 *   within the final pass's time budget, stop shrinking, or the pass limit
 *   is near; then one final pass, under a filesystem freeze when asked.
 *   Its snapshot is the instant the clone represents.
 */
#ifndef CBT_CLONE_PLAN_H
#define CBT_CLONE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/extents.h"

#define CLONE_DEFAULT_MAX_PASSES 8
/* The changed set is small below min(64 MiB, 1% of the device). */
#define CLONE_CONVERGE_MAX_BYTES (64ULL << 20)
#define CLONE_CONVERGE_PERCENT 1
/*
 * Not shrinking: the next pass would copy more than 80% of the last one.
 * A pass that cuts the set by less than a fifth copies most of it again
 * and leaves the last pass hardly smaller (was 90%, a tenth). Under 13-15
 * MiB/s of 4 KiB random writes the passes shrank by 25-30% each and the
 * clone still ran to the pass limit (tests/bench/README.md, bench_clone).
 */
#define CLONE_SHRINK_NUM 4
#define CLONE_SHRINK_DEN 5
/*
 * The final pass's time budget: when the changed set is predicted to copy
 * within it, at the last pass's measured rate, the next pass is the final
 * one. Half the 1 s a final pass is allowed (tests/bench/README.md): the
 * prediction misses the writes made between the decision and the final
 * snapshot, and a smaller set copies at a lower rate (more seeks, the
 * fixed flush).
 */
#define CLONE_DEFAULT_FINAL_PASS_MS 500
/* Largest single read or write. */
#define CLONE_IO_BYTES (1U << 20)
/*
 * Bytes in flight during a copy: CLONE_INFLIGHT_BYTES / CLONE_IO_BYTES
 * copies of 1 MiB for a whole device, more and smaller ones for scattered
 * blocks (clone_io_shape()).
 */
#define CLONE_INFLIGHT_BYTES (16U << 20)
/* The smallest I/O cut for more copies in flight, and so the most copies. */
#define CLONE_IO_MIN_BYTES (256U << 10)
#define CLONE_QIO_MAX_DEPTH (CLONE_INFLIGHT_BYTES / CLONE_IO_MIN_BYTES)

struct clone_cfg {
	uint64_t dev_bytes;	/* source size */
	uint32_t block_size;	/* tracking block size */
	unsigned int max_passes;	/* >= 1 */
	uint64_t converge_bytes;	/* 0: the default above */
	uint32_t final_pass_ms;	/* the final pass's time budget; 0: no time rule */
	bool freeze;		/* the final pass is taken under a freeze */
};

enum clone_step {
	CLONE_STEP_PASS,	/* an ordinary pass */
	CLONE_STEP_FINAL,	/* the last pass (frozen when cfg->freeze) */
	CLONE_STEP_DONE,	/* the clone is complete */
};

enum clone_why {
	CLONE_WHY_FIRST,	/* nothing copied yet */
	CLONE_WHY_CONVERGING,	/* still shrinking */
	CLONE_WHY_SMALL,	/* the changed set is small */
	CLONE_WHY_NOT_SHRINKING,	/* it stopped shrinking */
	CLONE_WHY_PASS_LIMIT,	/* --max-passes */
	CLONE_WHY_FINISHED,	/* the final pass is done */
	CLONE_WHY_UNCHANGED,	/* nothing changed since the last pass */
	CLONE_WHY_QUICK,	/* it would copy within the final pass's budget */
};

uint64_t clone_nr_blocks(const struct clone_cfg *c);
/* The changed-set size (in blocks) under which the next pass is the last. */
uint64_t clone_converge_blocks(const struct clone_cfg *c);

/*
 * After @done passes (the last one copied @last_blocks blocks in @last_ns,
 * the one before @prev_blocks, and the last was the final one if
 * @last_final), with @pending blocks changed since its snapshot: what
 * next, and why. In this order, the next pass is the final one when:
 *   - @pending is small (clone_converge_blocks());
 *   - @pending would copy within c->final_pass_ms at the last pass's rate
 *     (@last_blocks in @last_ns; @last_ns 0: no rate to go by, as after a
 *     pass that copied the whole device sequentially);
 *   - one pass is left of c->max_passes;
 *   - the changed set stopped shrinking: @pending, or the last pass against
 *     the one before (from pass 3 on: pass 1 copies the whole device), is
 *     not at least 20% smaller.
 */
enum clone_step clone_plan_next(const struct clone_cfg *c, unsigned int done,
				uint64_t prev_blocks, uint64_t last_blocks, uint64_t last_ns,
				bool last_final, uint64_t pending, enum clone_why *why);
/*
 * Whether @pending blocks would copy within c->final_pass_ms at the rate
 * of a pass that copied @last_blocks in @last_ns (false without a rate).
 */
bool clone_fits_final(const struct clone_cfg *c, uint64_t last_blocks, uint64_t last_ns,
		      uint64_t pending);
const char *clone_why_str(enum clone_why why);

/* @out = @a union @b (both sorted); @out must be empty. */
int clone_extents_union(const struct cbt_extents *a, const struct cbt_extents *b,
			struct cbt_extents *out);
/* Append to @out the part of @in at or after block @from. */
int clone_extents_from(const struct cbt_extents *in, uint64_t from, struct cbt_extents *out);
/*
 * Gaps of at most this many bytes between changed blocks are read through:
 * under TCG and on real disks one 32 KiB I/O costs less than two 4 KiB
 * ones with a seek between them.
 */
#define CLONE_GAP_BYTES (32U << 10)
/* Merge extents less than CLONE_GAP_BYTES apart (in @block_size blocks), in place. */
void clone_extents_coalesce(struct cbt_extents *l, uint32_t block_size);
/* Sorted extents clipped to [0, @nr_blocks). */
void clone_extents_clip(struct cbt_extents *l, uint64_t nr_blocks);

/* How a pass's extents are copied: copies in flight, and the largest one. */
struct clone_io_shape {
	unsigned int depth;	/* CLONE_INFLIGHT_BYTES / CLONE_IO_BYTES .. CLONE_QIO_MAX_DEPTH */
	uint32_t io_bytes;	/* CLONE_IO_MIN_BYTES .. CLONE_IO_BYTES, or @block_size if larger */
};
/*
 * The shape for copying @l: the extents' mean size rounded up to a power
 * of two within [CLONE_IO_MIN_BYTES, CLONE_IO_BYTES] (and not under
 * @block_size) as the largest I/O, and as many copies in flight as
 * CLONE_INFLIGHT_BYTES holds of it. A whole device copies 16 at 1 MiB;
 * scattered 64 KiB blocks (a later pass) 64 at once, where 16 left the
 * disks idle between requests. Blocks over 1 MiB: one block per I/O, 16.
 */
void clone_io_shape(const struct cbt_extents *l, uint32_t block_size, uint64_t dev_bytes,
		    struct clone_io_shape *s);

/*
 * Cut extents into I/Os: the next I/O at or after @*pos (a byte offset),
 * at most @max_io bytes (CLONE_IO_BYTES at most; blocks larger than
 * CLONE_IO_BYTES go one per I/O), never across an extent's end or the
 * device end. Returns false when none is left; @*ext is the extent index
 * to start at (updated).
 */
bool clone_next_io(const struct cbt_extents *l, uint32_t block_size, uint64_t dev_bytes,
		   uint32_t max_io, size_t *ext, uint64_t *pos, uint64_t *off, uint32_t *len);
/* Bytes the extents stand for, the last block cut at the device end. */
uint64_t clone_extents_bytes(const struct cbt_extents *l, uint32_t block_size,
			     uint64_t dev_bytes);

/*
 * The state file (/var/lib/cbt/clone-<target id>.json, see docs/clone.md):
 * what the target holds, so a re-run carries on from tracking.
 */
struct clone_state {
	uint8_t uuid[16];	/* the source's tracking identity */
	uint64_t src_bytes;
	uint32_t block_size;
	uint64_t target_bytes;
	uint64_t target_sum;	/* XXH64 of the target's first MiB when written */
	/*
	 * Every block changed since the target's content was read is in the
	 * source's epochs >= resume_epoch.
	 */
	uint64_t resume_epoch;
	bool full_done;		/* the first (full) pass completed */
	uint64_t copied_upto;	/* if not: blocks [0, copied_upto) were copied */
	bool complete;		/* the target is a consistent clone */
	bool used_only;		/* free filesystem blocks were not copied */
	uint64_t last_epoch;	/* the epoch of the snapshot it represents (complete) */
	/*
	 * A run may have left epochs closed from resume_epoch on (it was killed
	 * between a pass's snapshot and its commit): the next run takes those
	 * over. False while every epoch a run closed is committed or aborted,
	 * so that one closed later (a backup's) is never taken for a clone's.
	 */
	bool epochs_held;
	uint64_t updated;	/* seconds since the epoch */
	char source[256];
	char target[256];
};

void clone_state_write(FILE *f, const struct clone_state *s);
/* -EINVAL with a detail for anything malformed or missing. */
int clone_state_parse(const char *text, struct clone_state *s);

/*
 * Whether a re-run may resume from @s: same identity, sizes and block
 * size, the target's first MiB unchanged, and every epoch from
 * s->resume_epoch on still held (@oldest_held .. @current are). If not,
 * @why says why (for the message "starting over: <why>").
 */
bool clone_resume_ok(const struct clone_state *s, const uint8_t uuid[16], uint64_t src_bytes,
		     uint32_t block_size, uint64_t target_bytes, uint64_t target_sum,
		     uint64_t oldest_held, uint64_t current, char *why, size_t why_len);

/* A file name part for @target: "vdb", "mapper-name"; '/' and odd bytes -> '_'. */
void clone_target_id(const char *target, char *buf, size_t len);

#endif /* CBT_CLONE_PLAN_H */
