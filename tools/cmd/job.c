// SPDX-License-Identifier: GPL-2.0
/*
 * cbt job: backups described by job files (backup/jobconf.h, docs/jobs.md).
 * `run' takes the image the schedule calls for (a full one by itself when
 * the chain's history is lost), applies the job's retention, and records
 * the outcome in the chain directory (.cbt-job-NAME.state) for `status'.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/job.h"
#include "image/chain.h"
#include "image/crypt.h"
#include "backup/jobconf.h"
#include "store/safefile.h"
#include "subcommands.h"
#include "util/json.h"
#include "util/util.h"


static void usage(FILE *f)
{
	fprintf(f, "Usage: %s job run NAME [--json]\n"
		"       %s job list [--json]\n"
		"       %s job status [NAME] [--json]\n"
		"       %s job enable NAME [--unit-dir DIR] [--json]\n"
		"  (each with [--config-dir DIR]; default $CBT_CONFIG_DIR, else /etc/cbt)\n\n"
		"Backups described by DIR/jobs.d/NAME.conf (docs/jobs.md).\n"
		"run     takes the image the job's schedule calls for: a full one when the\n"
		"        chain is empty, the full image is full_every days old or full_on is\n"
		"        today, or the chain's history is lost (said on standard error and as\n"
		"        \"history_lost\"); the job's incremental or differential one otherwise.\n"
		"        Then applies the job's keep_* retention (cbt prune).\n"
		"list    the jobs and their settings\n"
		"status  the last run (time, result, exit status, image), the next run's type,\n"
		"        the chain's images and bytes\n"
		"enable  writes the units' drop-ins into DIR (default /etc/systemd/system):\n"
		"        cbt-job@NAME.timer.d/schedule.conf (OnCalendar= from calendar,\n"
		"        RandomizedDelaySec= from randomized_delay) and\n"
		"        cbt-job@NAME.service.d/paths.conf (ReadWritePaths= the chain); then\n"
		"        systemctl daemon-reload && systemctl enable --now cbt-job@NAME.timer\n",
		PROG_NAME, PROG_NAME, PROG_NAME, PROG_NAME);
}

/* The clock, which the test build takes from CBT_NOW (seconds since the epoch). */
static time_t now(void)
{
#ifdef CBT_TEST_HOOKS
	const char *v = getenv("CBT_NOW");
	uint64_t t;

	if (v && !cbt_parse_u64(v, &t))
		return (time_t)t;
#endif
	return time(NULL);
}

/* The schedule's view of the chain: empty, or when its full image was taken. */
/* The job's key (encrypt = FILE) as the process key, or none: jobs may differ. */
static int job_key(const struct cbt_job_conf *c)
{
	if (!c->encrypt[0]) {
		cbt_key_clear();
		return 0;
	}
	return cbt_key_use(c->encrypt);
}

static int chain_state(const char *dir, struct cbt_job_chain_state *s, size_t *images,
		       uint64_t *bytes)
{
	struct cbt_chain ch = { .lock_fd = -1 };
	int ret;

	memset(s, 0, sizeof(*s));
	*images = 0;
	*bytes = 0;
	s->empty = true;
	if (access(dir, F_OK))
		return 0;
	ret = cbt_chain_open(&ch, dir, true, false);
	if (ret == -EBADMSG && !ch.nr)
		ret = 0;	/* an emptied index: a full image starts again */
	for (size_t i = 0; !ret && i < ch.nr; i++) {
		struct stat st;

		if (!fstatat(ch.dfd, ch.v[i].file, &st, AT_SYMLINK_NOFOLLOW))
			*bytes += (uint64_t)st.st_size;
	}
	if (!ret && ch.nr) {
		long f = cbt_chain_find_full(&ch, ch.v[ch.nr - 1].base);
		struct cbt_img_header h;
		struct cbt_img_trailer t;

		*images = ch.nr;
		/* No full image to build on: the backup finds the lost history itself. */
		if (f >= 0 && !cbt_chain_read_ends(&ch, (size_t)f, &h, &t)) {
			s->empty = false;
			s->full_time = (time_t)(h.created_ns / 1000000000ULL);
			cbt_extents_free(&t.map);
		} else {
			cbt_err_clear();
			s->empty = f < 0;
		}
	}
	cbt_chain_close(&ch);
	return ret;
}

#define STATE_FMT ".cbt-job-%s.state"

struct run_state {
	uint64_t time, code;
	char result[16], type[16], image[256], lost[32], error[1024];
	bool valid;
};

/* Record the run in the chain directory (made when missing, as a full backup would). */
static int save_state(const struct cbt_job_conf *c, const struct run_state *st)
{
	struct cbt_tmpfile tf;
	char name[128], shown[4300];
	FILE *f;
	int dfd = cbt_dir_open_private(c->chain, true), ret;

	if (dfd < 0)
		return dfd;
	snprintf(name, sizeof(name), STATE_FMT, c->name);
	snprintf(shown, sizeof(shown), "%s/%s", c->chain, name);
	ret = cbt_tmpfile_create_at(&tf, dfd, name, shown);
	if (!ret) {
		f = cbt_tmpfile_fdopen(&tf);
		if (!f) {
			ret = -ENOMEM;
		} else {
			fprintf(f, "time=%" PRIu64 "\nresult=%s\ncode=%" PRIu64 "\ntype=%s\n"
				"image=%s\nhistory_lost=%s\nerror=%s\n", st->time, st->result,
				st->code, st->type, st->image, st->lost, st->error);
			ret = cbt_tmpfile_commit_stdio(&tf, f);
		}
	}
	close(dfd);
	return ret;
}

static void load_state(const struct cbt_job_conf *c, struct run_state *st)
{
	char path[4200], *line = NULL;
	size_t cap = 0;
	FILE *f;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/" STATE_FMT, c->chain, c->name);
	f = fopen(path, "re");
	if (!f)
		return;
	st->valid = true;
	while (getline(&line, &cap, f) > 0) {
		char *v = strchr(line, '=');

		line[strcspn(line, "\n")] = 0;
		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "time"))
			st->valid &= !cbt_parse_u64(v, &st->time);
		else if (!strcmp(line, "code"))
			st->valid &= !cbt_parse_u64(v, &st->code);
		else if (!strcmp(line, "result"))
			snprintf(st->result, sizeof(st->result), "%s", v);
		else if (!strcmp(line, "type"))
			snprintf(st->type, sizeof(st->type), "%s", v);
		else if (!strcmp(line, "image"))
			snprintf(st->image, sizeof(st->image), "%s", v);
		else if (!strcmp(line, "history_lost"))
			snprintf(st->lost, sizeof(st->lost), "%s", v);
		else if (!strcmp(line, "error"))
			snprintf(st->error, sizeof(st->error), "%s", v);
	}
	free(line);
	fclose(f);
}

static int job_run(const char *confdir, const char *name, bool json)
{
	struct cbt_job_conf c;
	struct cbt_job_chain_state cs;
	struct cbt_backup_job job = { .req = { .full_mode = CBT_FULL_FS, .stop = &cbt_stop } };
	struct run_state st = { 0 };
	const char *why;
	size_t images;
	uint64_t bytes;
	uint32_t type;
	int ret, status;

	ret = cbt_job_load(confdir, name, &c);
	if (ret) {
		cbt_perror("cbt job run", ret);
		return CBT_EXIT_USAGE;
	}
	ret = job_key(&c);
	if (!ret)
		ret = chain_state(c.chain, &cs, &images, &bytes);
	if (ret) {
		cbt_perror("cbt job run", ret);
		return cbt_exit_status(ret);
	}
	type = cbt_job_decide(&c, &cs, now(), &why);
	job.dev = c.device;
	job.cow = c.cow;
	job.freeze = c.freeze;
	job.idle = c.idle;
	job.req.type = type;
	job.req.dir = c.chain;
	job.req.compression = c.compression;
	job.req.level = c.level;
	job.req.threads = (int)c.threads;
	job.req.auto_full = type != CBT_IMG_FULL;
	job.notes = stderr;
	cbt_backup_job_init(&job);
	catch_stop_signals();
	ret = cbt_backup_steps(&job);

	st.time = (uint64_t)now();
	if (ret) {
		status = cbt_fail(cbt_exit_status(ret), "cbt job run: %s: %s failed while %s: %s",
				  name, c.device, job.step, job.why_failed);
		snprintf(st.result, sizeof(st.result), "failed");
		st.code = (uint64_t)status;
		snprintf(st.type, sizeof(st.type), "%s", cbt_img_type_name(type));
		snprintf(st.error, sizeof(st.error), "%s", cbt_failure());
		for (char *p = st.error; *p; p++)
			if (*p == '\n')
				*p = ' ';
		save_state(&c, &st);
		return status;
	}
	if (job.lost[0])
		fprintf(stderr, "cbt job run: %s: the chain's history was lost (%s): took a full"
			" image instead of %s %s one\n", name, job.lost,
			type == CBT_IMG_INCREMENTAL ? "an" : "a", cbt_img_type_name(type));
	snprintf(st.result, sizeof(st.result), "ok");
	snprintf(st.type, sizeof(st.type), "%s", cbt_img_type_name(job.res.h.type));
	snprintf(st.image, sizeof(st.image), "%.255s", strrchr(job.res.file, '/') ?
		 strrchr(job.res.file, '/') + 1 : job.res.file);
	snprintf(st.lost, sizeof(st.lost), "%s", job.lost);

	/* Retention after the image is in: a failed prune fails the run, the image stays. */
	if (!cbt_retain_empty(&c.keep)) {
		struct cbt_merge_opts mo = { .keep_compression = true, .threads = (int)c.threads };

		ret = prune_chain(c.chain, NULL, &c.keep, false, &mo, false, true);
		if (ret) {
			cbt_perror("cbt job run: the image was taken, but pruning failed", ret);
			snprintf(st.result, sizeof(st.result), "failed");
			st.code = (uint64_t)cbt_exit_status(ret);
			snprintf(st.error, sizeof(st.error), "%s", cbt_failure());
			save_state(&c, &st);
			return cbt_exit_status(ret);
		}
	}
	ret = save_state(&c, &st);
	if (ret) {
		cbt_perror("cbt job run: recording the run", ret);
		return cbt_exit_status(ret);
	}
	if (json) {
		struct cbt_json j;

		cbt_json_init(&j, stdout, false);
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "job", name);
		cbt_json_string(&j, "device", c.device);
		cbt_json_string(&j, "chain", c.chain);
		cbt_json_string(&j, "scheduled", cbt_img_type_name(type));
		cbt_json_string(&j, "why", why);
		cbt_json_string(&j, "type", st.type);
		if (job.lost[0])
			cbt_json_string(&j, "history_lost", job.lost);
		cbt_json_string(&j, "image", st.image);
		cbt_json_u64(&j, "epoch", job.snap.epoch);
		cbt_json_u64(&j, "blocks", job.res.blocks);
		cbt_json_u64(&j, "stored_bytes", job.res.stored_bytes);
		cbt_json_bool(&j, "pruned", !cbt_retain_empty(&c.keep));
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	} else {
		printf("%s: %s image %s (%s)\n", name, st.type, st.image, job.lost[0] ?
		       "history lost: a full image" : why);
	}
	return 0;
}

/* The names of CONFDIR/jobs.d/\*.conf, sorted; NULL-terminated in *@names. */
static int job_names(const char *confdir, char ***names, size_t *n)
{
	char path[4096];
	struct dirent **list;
	int nr;

	*names = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/jobs.d", confdir);
	nr = scandir(path, &list, NULL, alphasort);
	if (nr < 0)
		return errno == ENOENT ? 0 : cbt_err(-errno, "%s: %s", path, strerror(errno));
	*names = calloc((size_t)nr + 1, sizeof(**names));
	for (int i = 0; i < nr; i++) {
		size_t l = strlen(list[i]->d_name);

		if (*names && l > 5 && !strcmp(list[i]->d_name + l - 5, ".conf") &&
		    list[i]->d_name[0] != '.') {
			list[i]->d_name[l - 5] = 0;
			(*names)[(*n)++] = strdup(list[i]->d_name);
		}
		free(list[i]);
	}
	free(list);
	return *names ? 0 : -ENOMEM;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void conf_json(struct cbt_json *j, const struct cbt_job_conf *c)
{
	static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

	cbt_json_string(j, "device", c->device);
	cbt_json_string(j, "chain", c->chain);
	cbt_json_string(j, "cow", c->cow);
	cbt_json_u64(j, "full_every_days", c->full_every_days);
	if (c->full_weekday >= 0)
		cbt_json_string(j, "full_on", days[c->full_weekday]);
	cbt_json_string(j, "between", cbt_img_type_name(c->between));
	cbt_json_string(j, "calendar", c->calendar);
}

/* list (@one NULL) or status (of @one, or every job). */
static int job_show(const char *confdir, const char *one, bool status, bool json)
{
	char **names = NULL, *single[2] = { (char *)one, NULL };
	size_t n = 0, bad = 0;
	struct cbt_json j;
	int ret;

	if (one) {
		names = single;
		n = 1;
	} else {
		ret = job_names(confdir, &names, &n);
		if (ret) {
			cbt_perror(status ? "cbt job status" : "cbt job list", ret);
			return cbt_exit_status(ret);
		}
	}
	if (json) {
		cbt_json_init(&j, stdout, false);
		cbt_json_array_begin(&j, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		struct cbt_job_conf c;
		struct cbt_job_chain_state cs;
		struct run_state st;
		const char *why;
		size_t images = 0;
		uint64_t bytes = 0;
		uint32_t next = 0;

		ret = cbt_job_load(confdir, names[i], &c);
		if (ret && one) {
			/* As for run and enable: a job that does not load is bad usage. */
			if (json)
				cbt_json_array_end(&j);
			cbt_perror(status ? "cbt job status" : "cbt job list", ret);
			return CBT_EXIT_USAGE;
		}
		if (!ret && status)
			ret = job_key(&c);
		if (!ret && status)
			ret = chain_state(c.chain, &cs, &images, &bytes);
		if (ret && one) {
			if (json)
				cbt_json_array_end(&j);
			cbt_perror(status ? "cbt job status" : "cbt job list", ret);
			return ret == -EINVAL ? CBT_EXIT_USAGE : cbt_exit_status(ret);
		}
		if (ret) {
			/* One bad file does not hide the others; the exit status says it. */
			fprintf(stderr, "cbt job: %s\n", cbt_err_detail() ? cbt_err_detail() :
				strerror(-ret));
			if (json) {
				cbt_json_object_begin(&j, NULL);
				cbt_json_string(&j, "job", names[i]);
				cbt_json_string(&j, "error", cbt_err_detail() ? cbt_err_detail() :
						strerror(-ret));
				cbt_json_object_end(&j);
			}
			cbt_err_clear();
			bad++;
			continue;
		}
		if (status) {
			load_state(&c, &st);
			next = cbt_job_decide(&c, &cs, now(), &why);
		}
		if (json) {
			cbt_json_object_begin(&j, NULL);
			cbt_json_string(&j, "job", c.name);
			conf_json(&j, &c);
			if (status) {
				if (st.valid) {
					cbt_json_u64(&j, "last_run", st.time);
					cbt_json_string(&j, "result", st.result);
					cbt_json_u64(&j, "code", st.code);
					cbt_json_string(&j, "last_type", st.type);
					if (st.image[0])
						cbt_json_string(&j, "last_image", st.image);
					if (st.lost[0])
						cbt_json_string(&j, "history_lost", st.lost);
					if (st.error[0])
						cbt_json_string(&j, "last_error", st.error);
				} else {
					cbt_json_null(&j, "last_run");
				}
				cbt_json_string(&j, "next_type", cbt_img_type_name(next));
				cbt_json_string(&j, "next_why", why);
				cbt_json_u64(&j, "images", images);
				cbt_json_u64(&j, "chain_bytes", bytes);
			}
			cbt_json_object_end(&j);
		} else if (status) {
			char h[CBT_HUMAN_LEN], when[64] = "never";
			time_t t = (time_t)st.time;
			struct tm tm;

			if (st.valid && localtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			printf("%s: %s -> %s\n  last run: %s%s%s%s%s\n  next: %s image (%s)\n"
			       "  chain: %zu images, %s\n", c.name, c.device, c.chain, when,
			       st.valid ? ", " : "", st.valid ? st.result : "",
			       st.valid && st.image[0] ? ", " : "", st.valid ? st.image : "",
			       cbt_img_type_name(next), why, images, cbt_human_size(bytes, h));
			if (st.valid && st.error[0])
				printf("  error: %s\n", st.error);
		} else {
			printf("%-20s %s -> %s (%s)\n", c.name, c.device, c.chain, c.calendar);
		}
	}
	if (json) {
		cbt_json_array_end(&j);
		cbt_json_finish(&j);
	}
	if (!one)
		free_names(names, n);
	if (bad)
		return cbt_fail(CBT_EXIT_USAGE, "cbt job: %zu job file%s refused", bad,
				bad == 1 ? "" : "s");
	return 0;
}

/*
 * Write @text as UNIT_DIR/UNIT.d/FILE (the directory made when missing);
 * its path goes to stdout, or into the JSON array @j.
 */
static int write_dropin(const char *unit_dir, const char *unit, const char *file, const char *text,
			struct cbt_json *j)
{
	struct cbt_tmpfile tf;
	char dir[4096], path[4200];
	FILE *f;
	int ret;

	snprintf(dir, sizeof(dir), "%s/%s.d", unit_dir, unit);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return cbt_err(-errno, "%s: %s", dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	ret = cbt_tmpfile_create(&tf, path);
	if (ret)
		return ret;
	f = cbt_tmpfile_fdopen(&tf);
	if (!f)
		return -ENOMEM;
	fputs(text, f);
	ret = cbt_tmpfile_commit_stdio(&tf, f);
	if (!ret && j)
		cbt_json_string(j, NULL, path);
	else if (!ret)
		printf("%s\n", path);
	return ret;
}

static int job_enable(const char *confdir, const char *name, const char *unit_dir, bool json)
{
	struct cbt_job_conf c;
	char unit[128], text[8192], next[256];
	struct cbt_json j;
	int ret = cbt_job_load(confdir, name, &c);

	if (ret) {
		cbt_perror("cbt job enable", ret);
		return CBT_EXIT_USAGE;
	}
	if (strpbrk(c.chain, " \t\"'\\")) {
		cbt_fail(CBT_EXIT_USAGE, "cbt job enable: %s: the chain directory `%s' has blanks or"
			 " quotes, which ReadWritePaths= would split", name, c.chain);
		return CBT_EXIT_USAGE;
	}
	if (json) {
		cbt_json_init(&j, stdout, false);
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "job", name);
		cbt_json_array_begin(&j, "dropins");
	}
	/* ProtectSystem=strict: the chain directory is the one place the run writes. */
	snprintf(unit, sizeof(unit), "cbt-job@%s.service", name);
	snprintf(text, sizeof(text), "# Written by `cbt job enable %s' from %s/jobs.d/%s.conf\n"
		 "[Service]\nReadWritePaths=%s\n", name, confdir, name, c.chain);
	ret = write_dropin(unit_dir, unit, "paths.conf", text, json ? &j : NULL);
	if (!ret) {
		snprintf(unit, sizeof(unit), "cbt-job@%s.timer", name);
		/* An empty OnCalendar= first: the template's daily is replaced, not added to. */
		snprintf(text, sizeof(text), "# Written by `cbt job enable %s' from"
			 " %s/jobs.d/%s.conf\n[Timer]\nOnCalendar=\nOnCalendar=%s\n"
			 "RandomizedDelaySec=%s\n", name, confdir, name, c.calendar, c.delay);
		ret = write_dropin(unit_dir, unit, "schedule.conf", text, json ? &j : NULL);
	}
	if (ret) {
		cbt_perror("cbt job enable", ret);
		return cbt_exit_status(ret);
	}
	snprintf(next, sizeof(next), "systemctl daemon-reload && systemctl enable --now"
		 " cbt-job@%s.timer", name);
	if (json) {
		cbt_json_array_end(&j);
		cbt_json_string(&j, "next", next);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	} else {
		printf("Now: %s\n", next);
	}
	return 0;
}

int job_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config-dir", required_argument, NULL, 'c' },
		{ "unit-dir", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *confdir = NULL, *unit_dir = "/etc/systemd/system", *verb;
	bool json = false;
	int c, args;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			confdir = optarg;
			break;
		case 'u':
			unit_dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("job", c, argv);
		}
	}
	confdir = cbt_job_confdir(confdir);
	args = argc - optind;
	verb = args ? argv[optind] : "";
	if (!strcmp(verb, "run") && args == 2)
		return job_run(confdir, argv[optind + 1], json);
	if (!strcmp(verb, "list") && args == 1)
		return job_show(confdir, NULL, false, json);
	if (!strcmp(verb, "status") && (args == 1 || args == 2))
		return job_show(confdir, args == 2 ? argv[optind + 1] : NULL, true, json);
	if (!strcmp(verb, "enable") && args == 2)
		return job_enable(confdir, argv[optind + 1], unit_dir, json);
	cbt_fail(CBT_EXIT_USAGE, "%s job: %s", PROG_NAME, !args ? "run, list, status or enable?" :
		 "bad arguments (see `cbt job --help')");
	usage(stderr);
	return CBT_EXIT_USAGE;
}
