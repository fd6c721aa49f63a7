// SPDX-License-Identifier: GPL-2.0
/*
 * cbt migrate: a whole disk, in use, onto another one, larger or smaller
 * (docs/migrate.md). The plan is lib/migrate/plan.c, carrying it out
 * lib/migrate/run.c; this file parses the arguments, prints the plan and
 * what each step did.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/lvm.h"
#include "migrate/plan.h"
#include "migrate/run.h"
#include "subcommands.h"
#include "util/json.h"
#include "util/util.h"

#define DEFAULT_STATE_DIR "/var/lib/cbt"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s migrate SOURCE-DISK TARGET-DISK [--cow COW] [--dry-run] [--grow N]\n"
		"           [--force] [--json] [--quiet] [--state-dir DIR]\n\n"
		"Moves the whole disk SOURCE-DISK, in use, onto TARGET-DISK: its GPT or MBR\n"
		"partition table with every identifier kept (disk GUID or id, partition\n"
		"numbers, GUIDs, types, names, attributes), the boot code, and each\n"
		"partition by the method its use calls for: `tracked' (a cbt device on it:\n"
		"a live clone, as cbt clone), `frozen' (mounted, the filesystem frozen for\n"
		"its copy), `recheck' (mounted, no freeze: copied, then re-read until the\n"
		"copy agrees), `copy' (not in use), `swap' (made anew with its UUID and\n"
		"label). On a larger target the last partition (or --grow's) grows, and\n"
		"its content with it (ext2/3/4, xfs, an LVM PV); on a smaller one it\n"
		"shrinks when its ext2/3/4 filesystem uses no block past the new end. The\n"
		"partitions after it move with it.\n\n"
		"  --cow COW      the snapshots' copy-on-write store, for tracked partitions\n"
		"  --dry-run      print the plan and write nothing\n"
		"  --grow N       partition number N takes the difference (default: the last)\n"
		"  --force        write over a TARGET-DISK holding a partition table or a\n"
		"                 filesystem (an earlier run's table of this disk needs none)\n"
		"  --json         print the plan and the result as JSON\n"
		"  --quiet        print nothing but errors\n"
		"  --state-dir DIR  the tracked partitions' clone state (default "
		DEFAULT_STATE_DIR ")\n\n"
		"TARGET-DISK must not be in use (an O_EXCL open). Nothing is written before\n"
		"the plan passed every check. Interrupted, the same command resumes: the\n"
		"tracked partitions from their clone state, the others copied again.\n",
		PROG_NAME);
}

struct out {
	bool json, quiet, progress;
	struct mig_result *res;		/* per partition, once copied */
	bool *done;
};

static void progress(struct mig_job *j, size_t i, uint64_t done, uint64_t total)
{
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

	fprintf(stderr, "\r\033[Kpartition %zu: %s of %s", j->plan.p[i].partno + 1,
		cbt_human_size(done, a), cbt_human_size(total, b));
	fflush(stderr);
}

static const char *what(const struct mig_part *p)
{
	if (p->biosboot)
		return "BIOS boot";
	if (p->method == MIG_TRACKED)
		return p->cbt;
	if (p->mnt[0])
		return p->mnt;
	return "";
}

/* Under a PV's line: its VG, its resize, then one line per LV. */
static void print_pv_plan(const struct mig_plan *pl, const struct mig_part *p)
{
	const struct mig_pv *pv = p->pv;
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

	printf("       VG %s: %" PRIu64 " of %" PRIu64 " extents of %s in use, metadata %s\n",
	       pv->vg[0] ? pv->vg : "(none)", pv->pe_alloc, pv->pe_count,
	       cbt_human_size(pv->extent, a), cbt_human_size(pv->pe_start, b));
	if (p->new_size != p->size)
		printf("       PV %s with pvresize to %s (extents in use up to %s)\n",
		       p->new_size > p->size ? "grown" : "shrunk",
		       cbt_human_size(p->new_size * pl->sector, a),
		       cbt_human_size(pv->pe_start + pv->used_end * pv->extent, b));
	for (size_t k = 0; k < pv->nlv; k++) {
		const struct mig_lv *lv = &pv->lv[k];

		printf("       LV %-20s %-10s %-8s %s\n", lv->name,
		       cbt_human_size(lv->extents * pv->extent, a), mig_method_str(lv->method),
		       lv->method == MIG_TRACKED ? lv->cbt : lv->mnt[0] ? lv->mnt :
		       lv->active ? "active" : "inactive");
	}
}

static void print_plan(const struct mig_plan *pl)
{
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN], c[CBT_HUMAN_LEN];

	printf("plan: %s (%s, %s) to %s (%s)", pl->src, pl->label,
	       cbt_human_size(pl->src_sectors * pl->sector, a), pl->tgt,
	       cbt_human_size(pl->tgt_sectors * pl->sector, b));
	if (pl->shift)
		printf(", partition %zu %s by %s", pl->p[pl->grow].partno + 1,
		       pl->shift > 0 ? "grows" : "shrinks",
		       cbt_human_size((uint64_t)(pl->shift > 0 ? pl->shift : -pl->shift) *
				      pl->sector, c));
	printf("%s\n", pl->again ? " (the target holds an earlier run's table)" : "");
	printf("  %-4s %-12s %-10s %-10s %-8s %-6s %s\n", "part", "start", "old size", "new size",
	       "method", "fs", "use");
	for (size_t i = 0; i < pl->n; i++) {
		const struct mig_part *p = &pl->p[i];

		printf("  %-4zu %-12" PRIu64 " %-10s %-10s %-8s %-6s %s\n", p->partno + 1,
		       p->new_start, cbt_human_size(p->size * pl->sector, a),
		       cbt_human_size(p->new_size * pl->sector, b), mig_method_str(p->method),
		       p->fstype[0] ? p->fstype : "-", what(p));
		if (p->pv)
			print_pv_plan(pl, p);
	}
	printf("bytes to copy: %" PRIu64 " (%s)\n", pl->copy_bytes,
	       cbt_human_size(pl->copy_bytes, a));
	fflush(stdout);
}

static void print_pv_json(struct cbt_json *js, const struct mig_pv *pv)
{
	cbt_json_object_begin(js, "lvm");
	cbt_json_string(js, "vg", pv->vg);
	cbt_json_string(js, "vg_uuid", pv->vg_uuid);
	cbt_json_string(js, "pv_uuid", pv->pv_uuid);
	cbt_json_u64(js, "pe_start", pv->pe_start);
	cbt_json_u64(js, "extent_bytes", pv->extent);
	cbt_json_u64(js, "pe_count", pv->pe_count);
	cbt_json_u64(js, "pe_alloc_count", pv->pe_alloc);
	cbt_json_array_begin(js, "lvs");
	for (size_t k = 0; k < pv->nlv; k++) {
		const struct mig_lv *lv = &pv->lv[k];

		cbt_json_object_begin(js, NULL);
		cbt_json_string(js, "name", lv->name);
		cbt_json_string(js, "uuid", lv->uuid);
		cbt_json_u64(js, "size_bytes", lv->extents * pv->extent);
		cbt_json_bool(js, "active", lv->active);
		cbt_json_string(js, "method", mig_method_str(lv->method));
		cbt_json_string(js, "cbt_device", lv->cbt);
		cbt_json_string(js, "mountpoint", lv->mnt);
		cbt_json_bool(js, "done", lv->done);
		cbt_json_u64(js, "bytes_copied", lv->r.bytes);
		cbt_json_u64(js, "duration_ms", lv->r.ns / 1000000);
		cbt_json_u64(js, "frozen_ns", lv->r.frozen_ns);
		cbt_json_u64(js, "rounds", lv->r.rounds);
		cbt_json_u64(js, "passes", lv->r.passes);
		cbt_json_bool(js, "resumed", lv->r.resumed);
		cbt_json_string(js, "xxh3_128", lv->r.digest);
		cbt_json_object_end(js);
	}
	cbt_json_array_end(js);
	cbt_json_object_end(js);
}

static void print_json(const struct mig_job *j, const struct out *o, const char *result,
		       int status, uint64_t ns)
{
	const struct mig_plan *pl = &j->plan;
	uint64_t copied = 0;
	struct cbt_json js;

	cbt_json_init(&js, stdout, false);
	cbt_json_object_begin(&js, NULL);
	cbt_json_string(&js, "result", result);
	if (status)
		cbt_json_failure(&js, status, "failed");
	else
		cbt_json_null(&js, "error");
	cbt_json_string(&js, "source", pl->src);
	cbt_json_string(&js, "target", pl->tgt);
	cbt_json_string(&js, "label", pl->label);
	cbt_json_string(&js, "disk_id", pl->disk_id);
	cbt_json_u64(&js, "sector_size", pl->sector);
	cbt_json_u64(&js, "source_bytes", pl->src_sectors * pl->sector);
	cbt_json_u64(&js, "target_bytes", pl->tgt_sectors * pl->sector);
	cbt_json_u64(&js, "grow", pl->n ? pl->p[pl->grow].partno + 1 : 0);
	cbt_json_bool(&js, "again", pl->again);
	cbt_json_u64(&js, "bytes_to_copy", pl->copy_bytes);
	cbt_json_array_begin(&js, "partitions");
	for (size_t i = 0; i < pl->n; i++) {
		const struct mig_part *p = &pl->p[i];
		const struct mig_result *r = &o->res[i];

		cbt_json_object_begin(&js, NULL);
		cbt_json_u64(&js, "number", p->partno + 1);
		cbt_json_string(&js, "source", p->src);
		cbt_json_string(&js, "target", p->tgt);
		cbt_json_u64(&js, "start", p->start);
		cbt_json_u64(&js, "new_start", p->new_start);
		cbt_json_u64(&js, "size_bytes", p->size * pl->sector);
		cbt_json_u64(&js, "new_size_bytes", p->new_size * pl->sector);
		cbt_json_string(&js, "type", p->type);
		cbt_json_string(&js, "uuid", p->uuid);
		cbt_json_string(&js, "name", p->name);
		cbt_json_string(&js, "fstype", p->fstype);
		cbt_json_string(&js, "fs_uuid", p->fsuuid);
		cbt_json_string(&js, "method", mig_method_str(p->method));
		cbt_json_string(&js, "cbt_device", p->cbt);
		cbt_json_string(&js, "mountpoint", p->mnt);
		cbt_json_u64(&js, "copy_bytes", p->copy_bytes);
		cbt_json_bool(&js, "done", o->done[i]);
		cbt_json_u64(&js, "bytes_copied", r->bytes);
		cbt_json_u64(&js, "duration_ms", r->ns / 1000000);
		cbt_json_u64(&js, "frozen_ns", r->frozen_ns);
		cbt_json_u64(&js, "rounds", r->rounds);
		cbt_json_u64(&js, "passes", r->passes);
		cbt_json_bool(&js, "resumed", r->resumed);
		cbt_json_string(&js, "xxh3_128", r->digest);
		cbt_json_string(&js, "resized", r->resized);
		if (p->pv)
			print_pv_json(&js, p->pv);
		cbt_json_object_end(&js);
		copied += r->bytes;
	}
	cbt_json_array_end(&js);
	cbt_json_u64(&js, "bytes_copied", copied);
	cbt_json_u64(&js, "duration_ms", ns / 1000000);
	cbt_json_object_end(&js);
	cbt_json_finish(&js);
}

static void print_part(const struct mig_plan *pl, const struct mig_part *p,
		       const struct mig_result *r)
{
	char a[CBT_HUMAN_LEN];

	printf("partition %zu (%s to %s): %s", p->partno + 1, p->src, p->tgt,
	       mig_method_str(p->method));
	if (p->method == MIG_SWAP)
		printf(", mkswap with UUID %s", p->fsuuid[0] ? p->fsuuid : "(none)");
	else
		printf(", %s in %.1f s", cbt_human_size(r->bytes, a), (double)r->ns / 1e9);
	if (r->passes)
		printf(", %u pass%s%s", r->passes, r->passes == 1 ? "" : "es",
		       r->resumed ? " (resumed)" : "");
	if (r->rounds)
		printf(", %u read%s", r->rounds, r->rounds == 1 ? "" : "s");
	if (r->frozen_ns)
		printf(", frozen %.1f ms", (double)r->frozen_ns / 1e6);
	if (r->digest[0])
		printf(", verified (xxh3-128 %s)", r->digest);
	if (r->resized[0])
		printf(", %s to %s", r->resized, cbt_human_size(p->new_size * pl->sector, a));
	printf("\n");
	for (size_t k = 0; p->pv && k < p->pv->nlv; k++) {
		const struct mig_lv *lv = &p->pv->lv[k];

		printf("  LV %s: %s, %s in %.1f s", lv->name, mig_method_str(lv->method),
		       cbt_human_size(lv->r.bytes, a), (double)lv->r.ns / 1e9);
		if (lv->r.passes)
			printf(", %u pass%s%s", lv->r.passes, lv->r.passes == 1 ? "" : "es",
			       lv->r.resumed ? " (resumed)" : "");
		if (lv->r.rounds)
			printf(", %u read%s", lv->r.rounds, lv->r.rounds == 1 ? "" : "s");
		if (lv->r.frozen_ns)
			printf(", frozen %.1f ms", (double)lv->r.frozen_ns / 1e6);
		if (lv->r.digest[0])
			printf(", verified (xxh3-128 %s)", lv->r.digest);
		printf("\n");
	}
	fflush(stdout);
}

/*
 * A signal (catch_stop_signals()) stopped the migration at partition @i:
 * what that means and what to do, not "Interrupted system call".
 */
static void interrupted(const struct mig_job *j, size_t i)
{
	const struct mig_plan *pl = &j->plan;

	cbt_err_clear();
	cbt_err(-EINTR, "interrupted by a signal (SIGINT, SIGTERM or SIGHUP) at partition %zu"
		" (%s): %s is untouched, %s incomplete; run the same command again to finish (a"
		" tracked partition resumes its copy, the others are copied again)",
		pl->p[i].partno + 1, pl->p[i].src, pl->src, pl->tgt);
}

int migrate_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "cow", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "grow", required_argument, NULL, 'g' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mig_job j = { .state_dir = DEFAULT_STATE_DIR };
	struct out o = { 0 };
	bool dry = false, force = false, tracked = false;
	size_t cur = 0;
	uint32_t grow = 0;
	uint64_t t0;
	int c, ret, status = CBT_EXIT_OK;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': j.cow = optarg; break;
		case 'n': dry = true; break;
		case 'f': force = true; break;
		case 'j': o.json = true; break;
		case 'q': o.quiet = true; break;
		case 's': j.state_dir = optarg; break;
		case 'g':
			if (cbt_parse_u32(optarg, &grow) || !grow)
				return bad_argument("migrate", "--grow wants a partition number",
						    optarg, NULL);
			break;
		case 'h': usage(stdout); return CBT_EXIT_OK;
		default: return bad_option("migrate", c, argv);
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	ret = mig_plan_build(&j.plan, argv[optind], argv[optind + 1], grow, force,
			     j.state_dir);
	if (ret) {
		cbt_perror("migrate", ret);
		status = cbt_exit_status(ret);
		goto out;
	}
	o.res = calloc(j.plan.n, sizeof(*o.res));
	o.done = calloc(j.plan.n, sizeof(*o.done));
	if (!o.res || !o.done) {
		cbt_perror("migrate", -ENOMEM);
		status = CBT_EXIT_ERROR;
		goto out;
	}
	for (size_t i = 0; i < j.plan.n; i++) {
		const struct mig_pv *pv = j.plan.p[i].pv;

		tracked |= j.plan.p[i].method == MIG_TRACKED;
		for (size_t k = 0; pv && k < pv->nlv; k++)
			tracked |= pv->lv[k].method == MIG_TRACKED;
	}
	if (!o.json && !o.quiet)
		print_plan(&j.plan);
	if (dry) {
		if (o.json)
			print_json(&j, &o, "planned", 0, 0);
		goto out;
	}
	if (tracked && !j.cow) {
		status = cbt_fail(CBT_EXIT_USAGE, "cbt migrate: partitions under cbt tracking are"
				  " copied live: --cow COW is needed");
		goto out;
	}
	/* The plan made, nothing written yet: tests/vm's fixed point for a backup starting now. */
	ret = mig_test_hook("plan");
	/*
	 * The tracked devices' locks, held until each one's clone ends: a
	 * backup that began since the plan is refused here, before the
	 * table is written, not by the clone once other partitions are.
	 */
	if (!ret)
		ret = mig_plan_lock(&j.plan, j.state_dir);
	if (ret) {
		cbt_perror("migrate", ret);
		status = cbt_exit_status(ret);
		goto out;
	}
	j.stop = catch_stop_signals();
	o.progress = !o.json && !o.quiet && isatty(STDERR_FILENO);
	j.progress = o.progress ? progress : NULL;
	j.notes = o.json || o.quiet ? NULL : stderr;
	t0 = cbt_mono_ns();
	ret = mig_write_table(&j);
	for (size_t i = 0; !ret && i < j.plan.n; i++) {
		cur = i;
		/* A signal during the last step stops the migration before the next. */
		ret = *j.stop ? -EINTR : mig_copy_part(&j, i, &o.res[i]);
		if (!ret)
			ret = mig_resize_part(&j, i, &o.res[i]);
		if (o.progress)
			fprintf(stderr, "\r\033[K");
		if (ret && ret != -EINTR)
			cbt_err_prefix(ret, "partition %zu (%s)", j.plan.p[i].partno + 1,
				       j.plan.p[i].src);
		o.done[i] = !ret;
		if (!ret && !o.json && !o.quiet)
			print_part(&j.plan, &j.plan.p[i], &o.res[i]);
	}
	if (ret == -EINTR)
		interrupted(&j, cur);
	if (ret) {
		cbt_perror("migrate", ret);
		status = cbt_exit_status(ret);
	} else if (!o.json && !o.quiet) {
		printf("done: %s holds %s (%.1f s)\n", j.plan.tgt, j.plan.src,
		       (double)(cbt_mono_ns() - t0) / 1e9);
	}
	if (o.json) {
		print_json(&j, &o, ret == -EINTR ? "interrupted" : ret ? "failed" : "complete",
			   status, cbt_mono_ns() - t0);
		cbt_fail_json_printed();
	}
out:
	free(o.res);
	free(o.done);
	mig_plan_free(&j.plan);
	return status;
}
