// SPDX-License-Identifier: GPL-2.0
/* Setting up a `cbt clone' run, its state file and its reports (clone_run.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "clone/copy.h"
#include "clone_run.h"
#include "store/safefile.h"

int clone_load_state(struct run *r, struct clone_state *s)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(r->state_path, "r");

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return clone_state_parse(buf, s);
}

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int clone_save_state(struct run *r)
{
	struct cbt_tmpfile tf;
	FILE *f;
	int ret;

	r->st.updated = cbt_real_ns() / 1000000000ULL;
	ret = mkdir_p(r->state_dir);
	if (ret)
		return cbt_err(ret, "cannot create %s: %s", r->state_dir, strerror(-ret));
	ret = cbt_tmpfile_create(&tf, r->state_path);
	if (ret)
		return ret;
	f = cbt_tmpfile_fdopen(&tf);
	if (!f)
		return -ENOMEM;
	clone_state_write(f, &r->st);
	return cbt_tmpfile_commit_stdio(&tf, f);
}

void clone_fmt_rate(uint64_t bytes, uint64_t ns, char buf[CBT_HUMAN_LEN + 4])
{
	char h[CBT_HUMAN_LEN];
	uint64_t bps = ns ? (uint64_t)((double)bytes * 1e9 / (double)ns) : 0;

	snprintf(buf, CBT_HUMAN_LEN + 4, "%s/s", cbt_human_size(bps, h));
}

static void pass_json(struct cbt_json *j, const char *key, const struct pass_report *p)
{
	cbt_json_object_begin(j, key);
	cbt_json_u64(j, "pass", p->n);
	cbt_json_u64(j, "epoch", p->epoch);
	cbt_json_u64(j, "blocks", p->blocks);
	cbt_json_u64(j, "bytes", p->bytes);
	cbt_json_u64(j, "duration_ms", p->ns / 1000000);
	cbt_json_u64(j, "rate_bytes_per_s", p->ns ? (uint64_t)((double)p->bytes * 1e9 / (double)p->ns) : 0);
	cbt_json_u64(j, "cow_peak_bytes", p->cow_peak);
	cbt_json_u64(j, "cow_total_bytes", p->cow_total);
	cbt_json_bool(j, "final", p->final);
	cbt_json_bool(j, "follow", p->follow);
	cbt_json_bool(j, "frozen", p->frozen);
	cbt_json_u64(j, "freeze_ns", p->freeze_ns);
	cbt_json_u64(j, "hold_ns", p->hold_ns);
	cbt_json_string(j, "reason", clone_why_str(p->why));
	cbt_json_object_end(j);
}

void clone_report_pass(struct run *r, const struct pass_report *p)
{
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN], c[CBT_HUMAN_LEN], rate[CBT_HUMAN_LEN + 4];

	if (r->quiet)
		return;
	if (r->json) {
		if (r->follow) {
			cbt_json_init(&r->jl, stdout, true);
			cbt_json_object_begin(&r->jl, NULL);
			cbt_json_string(&r->jl, "event", "pass");
			pass_json(&r->jl, "pass", p);
			cbt_json_object_end(&r->jl);
			cbt_json_finish(&r->jl);
			fflush(stdout);
		}
		return;
	}
	clone_fmt_rate(p->bytes, p->ns, rate);
	printf("pass %u%s%s%s: epoch %" PRIu64 ", %" PRIu64 " block%s (%s) in %.1f s, %s, COW peak %s"
	       " of %s", p->n, p->follow ? " (follow" : p->final ? " (final: " : "",
	       p->final && !p->follow ? clone_why_str(p->why) : "", p->final ? ")" : "", p->epoch,
	       p->blocks, p->blocks == 1 ? "" : "s", cbt_human_size(p->bytes, a),
	       (double)p->ns / 1e9, rate, cbt_human_size(p->cow_peak, b),
	       cbt_human_size(p->cow_total, c));
	if (p->frozen)
		printf(", frozen %.1f ms", (double)p->freeze_ns / 1e6);
	printf("\n");
	fflush(stdout);
}

void clone_print_json_summary(struct run *r, const char *result, const char *verify_digest,
			       uint64_t verified, int verify_ret, const char *err)
{
	struct cbt_json j;
	char u[CBT_UUID_STR_LEN];
	uint64_t total_ns = 0;

	for (size_t i = 0; i < r->npasses; i++)
		total_ns += r->passes[i].ns;
	cbt_json_init(&j, stdout, r->follow);
	cbt_json_object_begin(&j, NULL);
	if (r->follow)
		cbt_json_string(&j, "event", "end");
	cbt_json_string(&j, "result", result);
	if (err)
		cbt_json_string(&j, "error", err);
	else
		cbt_json_null(&j, "error");
	cbt_json_string(&j, "source", r->info.name);
	cbt_json_string(&j, "target", r->target);
	cbt_json_string(&j, "uuid", cbt_uuid_str(r->info.uuid, u));
	cbt_json_u64(&j, "block_size", r->cfg.block_size);
	cbt_json_u64(&j, "size_bytes", r->cfg.dev_bytes);
	cbt_json_u64(&j, "target_bytes", r->tgt.bytes);
	cbt_json_bool(&j, "resumed", r->resumed);
	cbt_json_bool(&j, "used_only", r->st.used_only);
	cbt_json_u64(&j, "epoch", r->st.last_epoch);
	cbt_json_u64(&j, "bytes_copied", r->copied_bytes);
	cbt_json_u64(&j, "duration_ms", total_ns / 1000000);
	cbt_json_string(&j, "final_reason", r->npasses ? clone_why_str(r->final_why) : "");
	if (!r->follow) {
		cbt_json_array_begin(&j, "passes");
		for (size_t i = 0; i < r->npasses; i++)
			pass_json(&j, NULL, &r->passes[i]);
		cbt_json_array_end(&j);
	} else {
		cbt_json_u64(&j, "passes", r->npasses);
	}
	if (r->verify && verify_digest) {
		cbt_json_object_begin(&j, "verify");
		cbt_json_bool(&j, "ok", !verify_ret);
		cbt_json_u64(&j, "bytes", verified);
		cbt_json_string(&j, "xxh3_128", verify_digest);
		cbt_json_object_end(&j);
	} else {
		cbt_json_null(&j, "verify");
	}
	if (r->keep_snapshot && r->have_snap)
		cbt_json_string(&j, "snapshot", r->snap.snap_path);
	else
		cbt_json_null(&j, "snapshot");
	cbt_json_string(&j, "state_file", r->state_path);
	cbt_json_object_end(&j);
	cbt_json_finish(&j);
}

uint64_t clone_oldest_held(const struct cbt_dev_info *d)
{
	return d->nr_epochs ? d->epochs[0].number : d->epoch_current;
}

/* ---- Setup --------------------------------------------------------------- */

int clone_setup(struct run *r)
{
	struct clone_stack src = { .nr = 0 };
	struct clone_state old;
	struct stat st;
	dev_t cow = 0;
	char id[200], a[CBT_UUID_STR_LEN];
	bool have_old, ours = false;
	int ret;

	ret = cbt_dev_lookup(r->dev_arg, &r->nl, &r->sel, &r->info);
	if (ret)
		return ret;
	r->dev_lock = cbt_device_lock(&r->info);
	if (r->dev_lock < 0)
		return r->dev_lock;
	r->cfg.dev_bytes = cbt_dev_bytes(&r->info);
	r->cfg.block_size = r->info.block_size;
	r->cfg.max_passes = r->max_passes;
	r->cfg.converge_bytes = r->converge;
	r->fs_mounted = cbt_dev_mounted(r->info.major, r->info.minor);
	r->freeze = r->freeze_opt == -1 ? r->fs_mounted : r->freeze_opt;
	r->cfg.freeze = r->freeze;

	if (r->info.snap.present)
		return cbt_err(-EBUSY, "%s already has a snapshot attached (`cbt snapshot list');"
			       " drop it first (`cbt snapshot drop %s')", r->info.name, r->info.name);

	/* What the source is built on, and the COW device. */
	clone_stack_add(&clone_env_default, &src, makedev(r->info.major, r->info.minor));
	if (stat(r->cow, &st))
		return cbt_err(-errno, "COW device `%s': %s", r->cow, strerror(errno));
	if (S_ISBLK(st.st_mode))
		cow = st.st_rdev;

	/* A state file from an earlier run on this target. */
	clone_target_id(r->target, id, sizeof(id));
	snprintf(r->state_path, sizeof(r->state_path), "%s/clone-%s.json", r->state_dir, id);
	have_old = !clone_load_state(r, &old);
	cbt_err_clear();
	ours = have_old && !memcmp(old.uuid, r->info.uuid, 16);

	r->tgt.path = r->target;
	/* A target holding our own earlier clone needs no --force to be resumed. */
	ret = clone_check_target(&clone_env_default, &r->tgt, &src, cow, r->cfg.dev_bytes,
				 r->force || ours);
	if (ret)
		return ret;

	if (have_old) {
		uint64_t sum = clone_head_sum(r->target);

		r->resumed = clone_resume_ok(&old, r->info.uuid, r->cfg.dev_bytes, r->cfg.block_size,
					     r->tgt.bytes, sum, clone_oldest_held(&r->info),
					     r->info.epoch_current, r->start_why,
					     sizeof(r->start_why));
		if (!r->resumed && ours && r->tgt.found[0] && !r->force)
			return cbt_err(-EEXIST, "target `%s' holds %s from an earlier clone that cannot"
				       " be resumed (%s); --force starts over", r->target,
				       r->tgt.found, r->start_why);
	}

	/*
	 * Closed epochs that are not this clone's belong to someone else. A
	 * killed run on this target (its state says incomplete) may have left
	 * one closed, from its resume_epoch on: that one is ours to commit or
	 * abort.
	 */
	r->first_ours = r->info.epoch_current;
	if (ours && !old.complete && old.resume_epoch < r->first_ours)
		r->first_ours = old.resume_epoch;
	for (size_t i = 0; i < r->info.nr_epochs; i++) {
		const struct cbt_epoch_info *e = &r->info.epochs[i];

		if (e->state == CBT_EPOCH_CLOSED && e->number < r->first_ours)
			return cbt_err(-EBUSY, "%s has epoch %" PRIu64 " closed, waiting for commit or"
				       " abort (a backup in progress?); finish it first (`cbt epoch"
				       " commit|abort %s %" PRIu64 "')", r->info.name, e->number,
				       r->info.name, e->number);
	}

	if (r->resumed) {
		r->st = old;
		r->st.used_only = old.used_only || r->used_only;
	} else {
		memset(&r->st, 0, sizeof(r->st));
		memcpy(r->st.uuid, r->info.uuid, 16);
		r->st.src_bytes = r->cfg.dev_bytes;
		r->st.block_size = r->cfg.block_size;
		r->st.resume_epoch = r->info.epoch_current;
		r->st.used_only = r->used_only;
	}
	r->st.target_bytes = r->tgt.bytes;
	snprintf(r->st.source, sizeof(r->st.source), "%s", r->info.name);
	snprintf(r->st.target, sizeof(r->st.target), "%s", r->target);

	/* Keep the target to ourselves while we write it. */
	r->tfd = clone_open(r->target, O_WRONLY | (r->tgt.is_blk ? O_EXCL : 0), &r->tdirect);
	if (r->tfd < 0) {
		if (r->tfd == -EBUSY)
			return cbt_err(-EBUSY, "target `%s' is in use (an exclusive open failed)",
				       r->target);
		return cbt_err(r->tfd, "opening target `%s': %s", r->target, strerror(-r->tfd));
	}

	if (!r->quiet && !r->json) {
		char h[CBT_HUMAN_LEN], t[CBT_HUMAN_LEN], bs[CBT_HUMAN_LEN];

		printf("cbt clone: %s (%s, %s blocks, identity %s) onto %s (%s)\n", r->info.name,
		       cbt_human_size(r->cfg.dev_bytes, h), cbt_human_size(r->cfg.block_size, bs),
		       cbt_uuid_str(r->info.uuid, a), r->target, cbt_human_size(r->tgt.bytes, t));
		if (r->tgt.found[0] && !r->resumed)
			printf("writing over %s (--force)\n", r->tgt.found);
		if (r->resumed && r->st.full_done)
			printf("resuming: the target holds the source up to epoch %" PRIu64 "; copying"
			       " the changes since (epochs %" PRIu64 " on)\n",
			       r->st.resume_epoch - 1, r->st.resume_epoch);
		else if (r->resumed)
			printf("resuming the first pass at block %" PRIu64 " of %" PRIu64 ", with the"
			       " changes to the blocks before it since epoch %" PRIu64 "\n",
			       r->st.copied_upto, clone_nr_blocks(&r->cfg), r->st.resume_epoch);
		else if (have_old)
			printf("starting over: %s\n", r->start_why);
		fflush(stdout);
	}
	/* Marked incomplete before the first write. */
	r->st.complete = false;
	r->st.target_sum = clone_head_sum(r->target);
	return clone_save_state(r);
}

/* Sleep until @until_ns (CLOCK_MONOTONIC) or a signal. */
