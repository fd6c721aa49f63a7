// SPDX-License-Identifier: GPL-2.0
/*
 * cbt clone: a live, sector-for-sector clone of a cbt device onto another
 * disk, in passes over point-in-time snapshots (docs/clone.md). The run
 * itself is lib/clone/run.c; this file parses the arguments, calls its
 * steps and prints what they report.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clone/run.h"
#include "subcommands.h"
#include "util/json.h"
#include "util/util.h"

#define DEFAULT_STATE_DIR "/var/lib/cbt"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s clone DEVICE TARGET --cow COW [--used-only] [--force] [--verify]\n"
		"           [--follow --interval SECS] [--max-passes N] [--freeze | --no-freeze]\n"
		"           [--json] [--quiet] [--rate BYTES] [--throttle BYTES] [--converge BYTES]\n"
		"           [--final-pass-ms MS] [--state-dir DIR] [--keep-snapshot]\n\n"
		"Clones the cbt device DEVICE, while it is in use, onto the disk TARGET,\n"
		"sector for sector. Pass 1 copies the whole device from a snapshot; each\n"
		"next pass takes a new snapshot and copies only the blocks written since\n"
		"the last one, until few are left (less than 1%% of the device or 64 MiB),\n"
		"they would copy within --final-pass-ms at the last pass's rate, they stop\n"
		"shrinking, or the pass limit is near; the last pass runs under\n"
		"a filesystem freeze when one is mounted. The target then holds DEVICE as\n"
		"it was at that last snapshot. Epochs are committed only once the target\n"
		"has them (flushed); on any failure they are aborted, tracking stays intact.\n\n"
		"  --cow COW        the snapshots' copy-on-write store (another disk); it\n"
		"                   holds one pass's writes at a time\n"
		"  --used-only      pass 1 copies only the blocks an ext2/3/4 or xfs\n"
		"                   filesystem uses (other filesystems: every block)\n"
		"  --force          write over a TARGET, or use a COW, holding a partition\n"
		"                   table, a filesystem or another signature\n"
		"  --verify         compare the target with the last snapshot afterwards\n"
		"  --follow         keep the clone current: a pass every --interval SECS\n"
		"                   (default 60) until SIGINT or SIGTERM\n"
		"  --max-passes N   passes at most, the last one included (default %d)\n"
		"  --freeze, --no-freeze  freeze the filesystem for the last pass\n"
		"                   (default: when one is mounted on DEVICE)\n"
		"  --json           print the report as JSON (--follow: one line per pass)\n"
		"  --quiet          print nothing but errors\n"
		"  --rate BYTES     copy at most BYTES per second (K, M, G suffixes)\n"
		"  --throttle BYTES let writers of DEVICE change at most BYTES per second\n"
		"                   during a pass: when they are ahead, DEVICE's I/O is held\n"
		"                   (suspended, no filesystem freeze) until time catches up;\n"
		"                   the copy goes on\n"
		"  --converge BYTES the changed set under which the next pass is the last\n"
		"  --final-pass-ms MS  the next pass is the last when the changed set\n"
		"                   would copy within MS at the last pass's rate (default\n"
		"                   %u; 0: no time rule)\n"
		"  --state-dir DIR  where the resume state goes (default " DEFAULT_STATE_DIR ")\n"
		"  --keep-snapshot  leave the last snapshot attached (for checking); drop\n"
		"                   it with `cbt snapshot drop DEVICE'\n\n"
		"TARGET must be at least as large as DEVICE (the rest is left alone), not\n"
		"mounted or in use, and not on a disk under DEVICE. An interrupted clone\n"
		"(signal, I/O error, COW overflow) leaves the target marked incomplete in\n"
		"DIR/clone-<target>.json; running the same command again resumes from\n"
		"tracking when the target still matches, else starts over.\n",
		PROG_NAME, CLONE_DEFAULT_MAX_PASSES, CLONE_DEFAULT_FINAL_PASS_MS);
}

/* ---- Reports ------------------------------------------------------------- */

/* What the command prints, beside the job. */
struct out {
	bool follow, json, quiet, progress;
	struct cbt_json jl;		/* --follow --json: one line per pass */
};

/* "12.3 MiB/s" into @buf. */
static void fmt_rate(uint64_t bytes, uint64_t ns, char buf[CBT_HUMAN_LEN + 4])
{
	char h[CBT_HUMAN_LEN];
	uint64_t bps = ns ? (uint64_t)((double)bytes * 1e9 / (double)ns) : 0;

	snprintf(buf, CBT_HUMAN_LEN + 4, "%s/s", cbt_human_size(bps, h));
}

static void pass_json(struct cbt_json *j, const char *key, const struct cbt_clone_pass *p)
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
	cbt_json_u64(j, "throttle_ns", p->throttle_ns);
	cbt_json_u64(j, "throttle_holds", p->throttle_holds);
	cbt_json_string(j, "reason", clone_why_str(p->why));
	cbt_json_object_end(j);
}

static void report_pass(struct cbt_clone_job *job, const struct cbt_clone_pass *p)
{
	struct out *o = job->report.data;
	char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN], c[CBT_HUMAN_LEN], rate[CBT_HUMAN_LEN + 4];

	if (o->quiet)
		return;
	if (o->json) {
		if (o->follow) {
			cbt_json_init(&o->jl, stdout, true);
			cbt_json_object_begin(&o->jl, NULL);
			cbt_json_string(&o->jl, "event", "pass");
			pass_json(&o->jl, "pass", p);
			cbt_json_object_end(&o->jl);
			cbt_json_finish(&o->jl);
			fflush(stdout);
		}
		return;
	}
	fmt_rate(p->bytes, p->ns, rate);
	printf("pass %u%s%s%s: epoch %" PRIu64 ", %" PRIu64 " block%s (%s) in %.1f s, %s, COW peak %s"
	       " of %s", p->n, p->follow ? " (follow" : p->final ? " (final: " : "",
	       p->final && !p->follow ? clone_why_str(p->why) : "", p->final ? ")" : "", p->epoch,
	       p->blocks, p->blocks == 1 ? "" : "s", cbt_human_size(p->bytes, a),
	       (double)p->ns / 1e9, rate, cbt_human_size(p->cow_peak, b),
	       cbt_human_size(p->cow_total, c));
	if (p->frozen)
		printf(", frozen %.1f ms", (double)p->freeze_ns / 1e6);
	if (p->throttle_holds)
		printf(", writers held %.1f s (%" PRIu64 " time%s)", (double)p->throttle_ns / 1e9,
		       p->throttle_holds, p->throttle_holds == 1 ? "" : "s");
	printf("\n");
	fflush(stdout);
}

static void report_progress(struct cbt_clone_job *r, uint64_t done, uint64_t total)
{
	uint64_t ns = cbt_mono_ns() - r->pass_t0;
	char rate[CBT_HUMAN_LEN + 4];
	uint64_t bs = r->cfg.block_size;

	fmt_rate(done, ns, rate);
	fprintf(stderr, "\r\033[Kpass %u: %" PRIu64 "/%" PRIu64 " blocks, %s", r->pass_n,
		done / bs, (total + bs - 1) / bs, rate);	/* with the gaps read through */
	if (done && total > done)
		fprintf(stderr, ", ETA %" PRIu64 " s",
			(uint64_t)((double)ns * (double)(total - done) / (double)done / 1e9) + 1);
	fflush(stderr);
}

static void clear_progress(struct cbt_clone_job *r)
{
	(void)r;
	fprintf(stderr, "\r\033[K");
}

/*
 * The --json report at the end; @with_verify: --verify ran, with @verify_ret.
 * On failure it stands for the error object (cbt_fail_json_printed()).
 */
static void print_json_summary(struct cbt_clone_job *r, const struct out *o, const char *result,
			       bool with_verify, int verify_ret, const char *err)
{
	struct cbt_json j;
	char u[CBT_UUID_STR_LEN];
	uint64_t total_ns = cbt_clone_total_ns(r);

	cbt_json_init(&j, stdout, o->follow);
	cbt_json_object_begin(&j, NULL);
	if (o->follow)
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
	cbt_json_u64(&j, "final_pass_ms", r->final_pass_ms);
	if (!o->follow) {
		cbt_json_array_begin(&j, "passes");
		for (size_t i = 0; i < r->npasses; i++)
			pass_json(&j, NULL, &r->passes[i]);
		cbt_json_array_end(&j);
	} else {
		cbt_json_u64(&j, "passes", r->npasses);
	}
	if (r->verify && with_verify) {
		cbt_json_object_begin(&j, "verify");
		cbt_json_bool(&j, "ok", !verify_ret);
		cbt_json_u64(&j, "bytes", r->verified);
		cbt_json_string(&j, "xxh3_128", r->digest);
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
	cbt_fail_json_printed();
}

static void print_start(struct cbt_clone_job *r, const struct out *o)
{
	char a[CBT_UUID_STR_LEN], h[CBT_HUMAN_LEN], t[CBT_HUMAN_LEN], bs[CBT_HUMAN_LEN];

	if (o->quiet || o->json)
		return;
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
	else if (r->had_state)
		printf("starting over: %s\n", r->start_why);
	fflush(stdout);
}

#ifdef CBT_TEST_HOOKS
/* The reports the hook passes on to (the terminal's, or none). */
static void (*hook_next)(struct cbt_clone_job *r, uint64_t done, uint64_t total);
static void (*hook_pass_next)(struct cbt_clone_job *r, const struct cbt_clone_pass *p);

/*
 * The test build's CBT_CLONE_HOOK: a shell command run with `sh -c' at
 * fixed points, CBT_CLONE_STEP saying which and CBT_PID the tool's pid:
 * once inside pass 1's copy after its first write ("pass 1 DONE/TOTAL"),
 * and after each pass, its state file written ("pass N done"). For
 * tests/vm to change the world mid-clone without sleeps. A report cannot
 * fail the copy: a failing hook is printed. The installed tool runs
 * nothing from its environment.
 */
static void run_hook(const char *step)
{
	const char *hook = getenv("CBT_CLONE_HOOK");
	char pid[32];

	if (!hook)
		return;
	setenv("CBT_CLONE_STEP", step, 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("CBT_PID", pid, 1);
	fflush(NULL);
	if (system(hook))
		fprintf(stderr, "cbt clone: CBT_CLONE_HOOK `%s' failed at %s\n", hook, step);
}

static void hook_progress(struct cbt_clone_job *r, uint64_t done, uint64_t total)
{
	static bool fired;
	char step[64];

	if (!fired && r->pass_n == 1 && done && done < total) {
		fired = true;
		snprintf(step, sizeof(step), "pass 1 %" PRIu64 "/%" PRIu64, done, total);
		run_hook(step);
	}
	if (hook_next)
		hook_next(r, done, total);
}

static void hook_pass(struct cbt_clone_job *r, const struct cbt_clone_pass *p)
{
	char step[64];

	if (hook_pass_next)
		hook_pass_next(r, p);
	snprintf(step, sizeof(step), "pass %u done", p->n);
	run_hook(step);
}
#endif

/* ---- The run -------------------------------------------------------------- */

static int fail(struct cbt_clone_job *r, struct out *o, int ret)
{
	int status;

	if (o->progress)
		clear_progress(r);
	cbt_clone_fail(r, ret);
	if (o->json && !o->quiet)
		print_json_summary(r, o, ret == -EINTR ? "interrupted" : "failed", false, 0,
				   r->why_failed);
	fprintf(stderr, "cbt clone: %s\n", ret == -EINTR ? "interrupted" : r->why_failed);
	/*
	 * The documented statuses (a device that went away: 5, a target or
	 * state file out of space: 6); a COW store that filled up is not the
	 * storage's fault but the --cow size's: 1, as documented.
	 */
	status = ret == -EINTR || r->cow_filled ? CBT_EXIT_ERROR : cbt_exit_status(ret);
	/* A device gone may be the source's tracking: then it is not intact, say nothing of it. */
	if (status == CBT_EXIT_DEVICE)
		fprintf(stderr, "cbt clone: the target is incomplete (%s); the source is untouched;"
			" run the same command again once the device is back (it starts over if"
			" the source's tracking was lost)\n", r->state_path);
	else
		fprintf(stderr, "cbt clone: the target is incomplete (%s); the source is untouched"
			" and its tracking intact%s%s%s; run the same command again to resume\n",
			r->state_path, r->aborted[0] ? " (epochs " : "", r->aborted,
			r->aborted[0] ? " aborted)" : "");
	return status;
}

static int run_clone(struct cbt_clone_job *r, struct out *o)
{
	bool say = !o->quiet && !o->json;
	int ret, vret = 0;

	ret = cbt_clone_plan(r);
	if (ret)
		return ret;
	print_start(r, o);
	ret = cbt_clone_begin(r);
	if (ret)
		return ret;

	ret = cbt_clone_passes(r);
	if (ret)
		return fail(r, o, ret);
	if (say) {
		char a[CBT_HUMAN_LEN];

		printf("done: %s is a clone of %s as of epoch %" PRIu64 " (%zu pass%s, %s copied in"
		       " %.1f s; %s)\n", r->target, r->info.name, r->st.last_epoch, r->npasses,
		       r->npasses == 1 ? "" : "es", cbt_human_size(r->copied_bytes, a),
		       (double)cbt_clone_total_ns(r) / 1e9, clone_why_str(r->final_why));
	}

	if (r->verify) {
		vret = cbt_clone_verify(r);
		if (!vret && say) {
			char a[CBT_HUMAN_LEN];

			printf("verify: the target matches the snapshot of epoch %" PRIu64 " (%s%s"
			       " compared, XXH3-128 %s)\n", r->st.last_epoch,
			       cbt_human_size(r->verified, a), r->st.used_only ?
			       " of blocks the filesystem uses" : "", r->digest);
		}
		if (vret)
			cbt_perror("cbt clone: verify", vret);
	}

	if (o->follow && !vret) {
		if (say)
			printf("following: a pass every %u s until SIGINT or SIGTERM\n", r->interval);
		fflush(stdout);
		ret = cbt_clone_follow(r);
		if (ret)
			return fail(r, o, ret);
		if (say)
			printf("stopped: %s is a clone of %s as of epoch %" PRIu64 "\n", r->target,
			       r->info.name, r->st.last_epoch);
	}

	if (o->json && !o->quiet)
		print_json_summary(r, o, vret ? "verify-failed" : "complete", r->verify, vret,
				   vret ? "the target differs from the snapshot" : NULL);
	if (r->keep_snapshot && r->have_snap && say)
		printf("snapshot kept: %s (`cbt snapshot drop %s' removes it)\n",
		       r->snap.snap_path, r->info.name);
	ret = cbt_clone_release(r);
	if (ret)
		cbt_perror("cbt clone: dropping the last snapshot", ret);
	if (!vret && r->tgt.bytes > r->cfg.dev_bytes && say) {
		char a[CBT_HUMAN_LEN], b[CBT_HUMAN_LEN];

		printf("%s is %s larger than the source: that space was left alone. To use it,"
		       " grow what is on it: a partition with `growpart %s N', then its filesystem"
		       " (`resize2fs', `xfs_growfs'); a filesystem on the whole disk with `resize2fs"
		       " %s' (%s in all)\n", r->target,
		       cbt_human_size(r->tgt.bytes - r->cfg.dev_bytes, a), r->target, r->target,
		       cbt_human_size(r->tgt.bytes, b));
	}
	return vret ? vret : 0;
}

int clone_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "cow", required_argument, NULL, 'c' },
		{ "used-only", no_argument, NULL, 'u' },
		{ "force", no_argument, NULL, 'f' },
		{ "verify", no_argument, NULL, 'V' },
		{ "follow", no_argument, NULL, 'F' },
		{ "interval", required_argument, NULL, 'i' },
		{ "max-passes", required_argument, NULL, 'm' },
		{ "freeze", no_argument, NULL, 'z' },
		{ "no-freeze", no_argument, NULL, 'Z' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "rate", required_argument, NULL, 'r' },
		{ "throttle", required_argument, NULL, 'W' },
		{ "converge", required_argument, NULL, 'C' },
		{ "final-pass-ms", required_argument, NULL, 'P' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "keep-snapshot", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_clone_job r;
	struct out o = { .follow = false };
	bool interval_given = false;
	int c, ret;
	uint32_t v;

	cbt_clone_job_init(&r);
	r.state_dir = DEFAULT_STATE_DIR;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			r.cow = optarg;
			break;
		case 'u':
			r.used_only = true;
			break;
		case 'f':
			r.force = true;
			break;
		case 'V':
			r.verify = true;
			break;
		case 'F':
			o.follow = true;
			break;
		case 'i':
			if (cbt_parse_u32(optarg, &v) || !v)
				return bad_argument("clone", "--interval takes seconds (1 or more), not",
						    optarg, NULL);
			r.interval = v;
			interval_given = true;
			break;
		case 'm':
			if (cbt_parse_u32(optarg, &v) || !v || v > 1000)
				return bad_argument("clone", "--max-passes takes 1 to 1000, not", optarg,
						    NULL);
			r.max_passes = v;
			break;
		case 'z':
		case 'Z':
			if (r.freeze_opt != -1 && r.freeze_opt != (c == 'z'))
				return bad_argument("clone", "give one of --freeze and --no-freeze, not"
						    " also", argv[optind - 1], NULL);
			r.freeze_opt = c == 'z';
			break;
		case 'j':
			o.json = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'r':
			if (cbt_parse_size(optarg, &r.rate) || !r.rate)
				return bad_argument("clone", "--rate takes bytes per second (as 50M), not",
						    optarg, NULL);
			break;
		case 'W':
			if (cbt_parse_size(optarg, &r.throttle) || !r.throttle)
				return bad_argument("clone", "--throttle takes bytes per second (as"
						    " 16M), not", optarg, NULL);
			break;
		case 'C':
			if (cbt_parse_size(optarg, &r.converge) || !r.converge)
				return bad_argument("clone", "--converge takes a size (as 64M), not",
						    optarg, NULL);
			break;
		case 'P':
			if (cbt_parse_u32(optarg, &v) || v > 3600000)
				return bad_argument("clone", "--final-pass-ms takes milliseconds (0 to"
						    " 3600000), not", optarg, NULL);
			r.final_pass_ms = v;
			break;
		case 's':
			r.state_dir = optarg;
			break;
		case 'k':
			r.keep_snapshot = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("clone", c, argv);
		}
	}
	if (argc - optind < 2) {
		cbt_fail(CBT_EXIT_USAGE, "%s clone: %s", PROG_NAME, argc - optind ?
			 "which TARGET? (the disk to clone onto)" :
			 "which DEVICE and TARGET? (`cbt status' lists the devices)");
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (argc - optind > 2)
		return bad_argument("clone", "takes DEVICE and TARGET, not also", argv[optind + 2],
				    NULL);
	if (!r.cow) {
		cbt_fail(CBT_EXIT_USAGE, "%s clone: --cow COW is needed: the device the snapshots keep old"
			 " data on while a pass copies (another disk than DEVICE's)", PROG_NAME);
		return CBT_EXIT_USAGE;
	}
	if (interval_given && !o.follow)
		return bad_argument("clone", "--interval goes with --follow, given", "--interval",
				    NULL);
	r.dev_arg = argv[optind];
	r.target = argv[optind + 1];
	o.progress = isatty(STDERR_FILENO) && !o.quiet && !o.json;
	r.notes = o.quiet ? NULL : stderr;
	r.report.pass = report_pass;
	r.report.data = &o;
	if (o.progress) {
		r.report.progress = report_progress;
		r.report.progress_end = clear_progress;
	}
#ifdef CBT_TEST_HOOKS
	hook_next = r.report.progress;
	r.report.progress = hook_progress;
	hook_pass_next = r.report.pass;
	r.report.pass = hook_pass;
#endif

	r.stop = catch_stop_signals();
	ret = run_clone(&r, &o);
	cbt_clone_job_free(&r);
	if (ret > 0)
		return ret;
	if (ret) {
		cbt_perror("cbt clone", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
