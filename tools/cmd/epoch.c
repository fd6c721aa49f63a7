// SPDX-License-Identifier: GPL-2.0
/*
 * cbt epoch close|commit|abort, of one DEVICE (the form scripts have used
 * since the start: close prints the bare number) or of several, or of
 * every cbt device (--all), in one process (a few threads, a netlink
 * socket each): a result line per device, and a device that fails does
 * not stop the others.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/device.h"
#include "util/json.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s epoch close DEVICE... | --all [--json]\n"
		"       %s epoch commit DEVICE... | --all [--epoch N | --oldest] [--json]\n"
		"       %s epoch abort DEVICE... | --all [--epoch N] [--json]\n"
		"       %s epoch commit|abort DEVICE N\n\n"
		"close   freezes the open epoch and opens the next one; prints the number\n"
		"        of the epoch it closed. At most %d epochs wait closed.\n"
		"commit  drops closed epoch N: the backup that read it succeeded. Epochs\n"
		"        are committed oldest first.\n"
		"abort   merges closed epoch N into the open one, keeping its changes for\n"
		"        the next backup.\n\n"
		"Without N, the device's one closed epoch (an error when several are).\n"
		"--oldest commits each device's oldest closed epoch instead.\n"
		"--epoch N applies to every DEVICE; `DEVICE N' is the same for one.\n"
		"--all acts on every cbt device (`cbt status' lists them). Up to 8\n"
		"devices are done at a time; each close is its own instant.\n\n"
		"With one DEVICE, close prints N alone. With several or --all, one line per\n"
		"device (DEVICE: epoch N closed); a device that fails is reported and the\n"
		"others are still done; the exit status is then not 0.\n"
		"A DEVICE is a name, MAJ:MIN or a path; one whose name is a number is\n"
		"given as /dev/mapper/NAME.\n", PROG_NAME, PROG_NAME, PROG_NAME, PROG_NAME,
		DM_CBT_MAX_CLOSED);
}

struct epoch_args {
	const char *action;	/* close, commit or abort */
	const char **devs;	/* entries of argv */
	size_t nr;
	bool all, json, oldest, have_epoch, help;
	uint64_t epoch;
	/* A refusal, for bad_argument(): nothing was done. */
	const char *what, *arg, *hint;
};

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int refuse(struct epoch_args *a, const char *what, const char *arg, const char *hint)
{
	a->what = what;
	a->arg = arg;
	a->hint = hint;
	return -EINVAL;
}

/*
 * The arguments after `epoch', without printing or changing anything (the
 * dispatcher asks epoch_own_json() before the run). -EINVAL with a->what
 * set for a refusal; a->action NULL when there is none.
 */
static int parse(int argc, char *argv[], struct epoch_args *a)
{
	bool opts = true, legacy;
	size_t np = 0;

	memset(a, 0, sizeof(*a));
	a->devs = calloc((size_t)argc + 1, sizeof(*a->devs));
	if (!a->devs)
		return -ENOMEM;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i], *v;

		if (opts && (!strcmp(s, "--help") || !strcmp(s, "-h"))) {
			a->help = true;
			return 0;
		}
		if (opts && !strcmp(s, "--")) {
			opts = false;
		} else if (opts && !strcmp(s, "--all")) {
			a->all = true;
		} else if (opts && !strcmp(s, "--json")) {
			a->json = true;
		} else if (opts && !strcmp(s, "--oldest")) {
			a->oldest = true;
		} else if (opts && (!strcmp(s, "--epoch") || !strncmp(s, "--epoch=", 8))) {
			v = s[7] == '=' ? s + 8 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v)
				return refuse(a, "option needs a value:", "--epoch", "--epoch N");
			if (a->have_epoch)
				return refuse(a, "one --epoch only, not also", v, NULL);
			if (cbt_parse_u64(v, &a->epoch))
				return refuse(a, "N is an epoch number, not", v,
					      "`cbt status DEVICE' lists the epochs");
			a->have_epoch = true;
		} else if (opts && s[0] == '-' && s[1]) {
			return refuse(a, "unknown option", s, NULL);
		} else if (!a->action) {
			a->action = s;
			if (strcmp(s, "close") && strcmp(s, "commit") && strcmp(s, "abort"))
				return refuse(a, "unknown action", s, "it is close, commit or abort");
		} else {
			a->devs[np++] = s;
		}
	}
	if (!a->action)
		return 0;
	/* The old form, `commit|abort DEVICE N': a number after one DEVICE is N. */
	legacy = strcmp(a->action, "close") && np == 2 && is_number(a->devs[1]);
	if (legacy && a->have_epoch)
		return refuse(a, "give N once: --epoch or after DEVICE, not also", a->devs[1], NULL);
	if (legacy) {
		if (cbt_parse_u64(a->devs[1], &a->epoch))
			return refuse(a, "N is an epoch number, not", a->devs[1],
				      "`cbt status DEVICE' lists the epochs");
		a->have_epoch = true;
		np = 1;
	}
	for (size_t i = 0; i < np; i++) {
		if (is_number(a->devs[i]))
			return refuse(a, !strcmp(a->action, "close") ? "too many arguments, from" :
				      "a number is not a DEVICE:", a->devs[i],
				      !strcmp(a->action, "close") ?
				      "close takes DEVICE...; a device named so is /dev/mapper/NAME" :
				      "N of several devices is --epoch N; a device named so is"
				      " /dev/mapper/NAME");
		for (size_t k = 0; k < i; k++)
			if (!strcmp(a->devs[k], a->devs[i]))
				return refuse(a, "a DEVICE given twice:", a->devs[i], NULL);
	}
	a->nr = np;
	if (a->all && np)
		return refuse(a, "give DEVICE... or --all, not both: DEVICE", a->devs[0], NULL);
	if (!strcmp(a->action, "close") && a->have_epoch)
		return refuse(a, "close takes no N:", "--epoch", "it closes the open epoch");
	if (a->oldest && strcmp(a->action, "commit"))
		return refuse(a, "only commit takes", "--oldest", NULL);
	if (a->oldest && a->have_epoch)
		return refuse(a, "give --epoch N or --oldest, not both:", "--oldest", NULL);
	return 0;
}

/* Several devices or --all: one result per device, JSON of epoch's own. */
static bool several(const struct epoch_args *a)
{
	return a->all || a->nr > 1;
}

bool epoch_own_json(int argc, char *argv[])
{
	struct epoch_args a;
	bool own = !parse(argc, argv, &a) && !a.help && a.action && several(&a);

	free(a.devs);
	return own;
}

/*
 * The closed epoch to commit or abort when N was not given: the one
 * closed epoch, or with @oldest the oldest closed one.
 */
static int pick_closed(struct cbt_nl *nl, const struct cbt_devsel *sel, const char *dev,
		       const char *action, bool oldest, uint64_t *epoch)
{
	struct cbt_dev_info info;
	char list[256] = "";
	size_t closed = 0, len = 0;
	int ret = cbt_get_device(nl, sel, &info);

	if (ret)
		return ret;
	for (size_t i = 0; i < info.nr_epochs; i++) {
		if (info.epochs[i].state != CBT_EPOCH_CLOSED)
			continue;
		if (!closed || !oldest || info.epochs[i].number < *epoch)
			*epoch = info.epochs[i].number;
		closed++;
		if (len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%" PRIu64,
						closed > 1 ? ", " : "", info.epochs[i].number);
	}
	cbt_dev_info_free(&info);
	if (!closed)
		return cbt_err(-ENOENT, "%s: no epoch is closed, so there is none to %s (`cbt epoch"
			       " close %s' closes one)", dev, action, dev);
	if (closed > 1 && !oldest)
		return cbt_err(-EINVAL, "%s: epochs %s are closed; say which to %s (`cbt epoch %s"
			       " %s N')", dev, list, action, action, dev);
	return 0;
}

/* @action on the device @sel (named @dev in messages); *@epoch: the one it closed or ended. */
static int act(struct cbt_nl *nl, const struct epoch_args *a, const struct cbt_devsel *sel,
	       const char *dev, uint64_t *epoch)
{
	int ret;

	if (!strcmp(a->action, "close"))
		return cbt_epoch_close(nl, sel, epoch);
	*epoch = a->epoch;
	if (!a->have_epoch) {
		ret = pick_closed(nl, sel, dev, a->action, a->oldest, epoch);
		if (ret)
			return ret;
	}
	if (!strcmp(a->action, "commit"))
		return cbt_epoch_commit(nl, sel, *epoch);
	return cbt_epoch_abort(nl, sel, *epoch);
}

static int one_device(const struct epoch_args *a)
{
	struct cbt_nl *nl = NULL;
	struct cbt_devsel sel;
	uint64_t epoch = 0;
	int ret;

	ret = cbt_dev_lookup(a->devs[0], &nl, &sel, NULL);
	if (!ret)
		ret = act(nl, a, &sel, a->devs[0], &epoch);
	if (!ret && !strcmp(a->action, "close"))
		printf("%" PRIu64 "\n", epoch);
	cbt_nl_close(nl);
	if (ret) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "cbt epoch %s", a->action);
		cbt_perror(prefix, ret);
		return cbt_exit_status(ret);
	}
	return 0;
}

struct result {
	const char *dev;
	struct cbt_devsel sel;
	int err;		/* 0, or the -errno of sel's parse or of the request */
	uint64_t epoch;
	char *detail;
};

static const char *past(const char *action)
{
	return !strcmp(action, "close") ? "closed" : !strcmp(action, "commit") ? "committed" :
	       "aborted";
}

/*
 * Print the results. The exit status: 0, or the failures' status when
 * they agree (all "no such device": 5), else 1.
 */
static int report(const struct epoch_args *a, const struct result *res, size_t nr)
{
	char summary[128] = "";
	size_t bad = 0;
	int status = 0;
	struct cbt_json j;

	for (size_t i = 0; i < nr; i++) {
		int s = cbt_exit_status(res[i].err);

		if (!res[i].err)
			continue;
		status = !bad || s == status ? s : CBT_EXIT_ERROR;
		bad++;
	}
	if (bad)
		snprintf(summary, sizeof(summary), "%s epoch %s: %zu of %zu device%s failed",
			 PROG_NAME, a->action, bad, nr, nr == 1 ? "" : "s");
	if (a->json) {
		cbt_json_init(&j, stdout, false);
		cbt_json_object_begin(&j, NULL);
		if (bad) {
			cbt_json_string(&j, "error", summary);
			cbt_json_u64(&j, "code", (uint64_t)status);
			cbt_fail_json_printed();
		}
		cbt_json_string(&j, "action", a->action);
		cbt_json_array_begin(&j, "devices");
	}
	for (size_t i = 0; i < nr; i++) {
		const struct result *r = &res[i];

		if (a->json) {
			cbt_json_object_begin(&j, NULL);
			cbt_json_string(&j, "device", r->dev);
			cbt_json_bool(&j, "ok", !r->err);
			if (r->err) {
				cbt_json_string(&j, "error", r->detail ? r->detail : strerror(-r->err));
				cbt_json_u64(&j, "code", (uint64_t)cbt_exit_status(r->err));
			} else {
				cbt_json_u64(&j, "epoch", r->epoch);
			}
			cbt_json_object_end(&j);
		} else if (r->err) {
			fprintf(stderr, "%s epoch %s: %s\n", PROG_NAME, a->action,
				r->detail ? r->detail : strerror(-r->err));
		} else {
			printf("%s: epoch %" PRIu64 " %s\n", r->dev, r->epoch, past(a->action));
		}
	}
	if (a->json) {
		cbt_json_array_end(&j);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	}
	return bad ? cbt_fail(status, "%s", summary) : 0;
}

/*
 * Devices at once: each close waits for its device's writes in flight (a
 * percpu_ref kill, so an RCU grace period at least), which a thread of its
 * own overlaps with the others' (the family takes parallel requests).
 */
#define EPOCH_THREADS 8

struct worker {
	const struct epoch_args *a;
	struct result *res;
	size_t nr, first;
	struct cbt_nl *nl;	/* the caller's, for worker 0 */
	pthread_t thread;
	bool started;
};

/* Devices first, first + EPOCH_THREADS, ...: each its own request, its own result. */
static void *work(void *p)
{
	struct worker *w = p;
	struct cbt_nl *nl = w->nl;
	int open_err = nl ? 0 : cbt_nl_open(&nl);
	const char *open_detail = open_err && cbt_err_detail() ? cbt_err_detail() : NULL;

	for (size_t i = w->first; i < w->nr; i += EPOCH_THREADS) {
		struct result *r = &w->res[i];

		if (r->err)
			continue;
		r->err = open_err ? open_err : act(nl, w->a, &r->sel, r->dev, &r->epoch);
		if (r->err)
			r->detail = strdup(open_detail ? open_detail : cbt_err_detail() ?
					   cbt_err_detail() : strerror(-r->err));
		if (!open_err)
			cbt_err_clear();
	}
	if (nl != w->nl)
		cbt_nl_close(nl);
	return NULL;
}

/* Every device of @a (or every cbt device), over EPOCH_THREADS sockets at most. */
static int many_devices(const struct epoch_args *a)
{
	struct cbt_dev_info *infos = NULL;
	struct result *res = NULL;
	struct cbt_nl *nl = NULL;
	size_t nr = a->nr, n_infos = 0, bad = 0;
	int ret = 0, status = 0;

	if (a->all) {
		ret = cbt_nl_open(&nl);
		if (!ret)
			ret = cbt_list_devices(nl, &infos, &n_infos);
		nr = n_infos;
	}
	if (!ret) {
		res = calloc(nr + 1, sizeof(*res));
		if (!res)
			ret = -ENOMEM;
	}
	/* A malformed DEVICE is bad usage: refused before any device is touched. */
	for (size_t i = 0; !ret && i < nr; i++) {
		res[i].dev = a->all ? infos[i].name : a->devs[i];
		res[i].err = cbt_devsel_parse(res[i].dev, &res[i].sel);
		if (res[i].err && cbt_err_is_usage()) {
			ret = res[i].err;	/* its detail goes to cbt_perror() */
			break;
		}
		if (res[i].err)
			res[i].detail = strdup(cbt_err_detail() ? cbt_err_detail() :
					       strerror(-res[i].err));
		cbt_err_clear();
		bad += res[i].err != 0;
	}
	/* No device can be asked (no module, no permission): one error, as for one DEVICE. */
	if (!ret && !nl && bad < nr)
		ret = cbt_nl_open(&nl);
	if (!ret) {
		struct worker w[EPOCH_THREADS];

		for (size_t k = 0; k < EPOCH_THREADS; k++) {
			w[k] = (struct worker){ .a = a, .res = res, .nr = nr, .first = k };
			/* A worker whose thread cannot start runs in this one, below. */
			w[k].started = k && k < nr && !pthread_create(&w[k].thread, NULL, work, &w[k]);
		}
		for (size_t k = 0; k < EPOCH_THREADS; k++) {
			if (k && w[k].started)
				continue;
			w[k].nl = nl;
			work(&w[k]);
		}
		for (size_t k = 1; k < EPOCH_THREADS; k++)
			if (w[k].started)
				pthread_join(w[k].thread, NULL);
	}
	cbt_nl_close(nl);
	if (!ret)
		status = report(a, res, nr);
	for (size_t i = 0; res && i < nr; i++)
		free(res[i].detail);
	free(res);
	cbt_dev_infos_free(infos, n_infos);
	if (ret) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "cbt epoch %s", a->action);
		cbt_perror(prefix, ret);
		return cbt_exit_status(ret);
	}
	return status;
}

int epoch_main(int argc, char *argv[])
{
	struct epoch_args a;
	int ret = parse(argc, argv, &a);

	if (ret == -ENOMEM) {
		perror("cbt epoch");
		return CBT_EXIT_ERROR;
	}
	if (a.help) {
		usage(stdout);
		ret = 0;
	} else if (ret) {
		ret = bad_argument("epoch", a.what, a.arg, a.hint);
	} else if (!a.action) {
		usage(stderr);
		ret = CBT_EXIT_USAGE;
	} else if (!a.nr && !a.all) {
		ret = cbt_fail(CBT_EXIT_USAGE, "%s epoch %s: which DEVICE? (`cbt status' lists them;"
			       " --all for every one)", PROG_NAME, a.action);
	} else if (several(&a)) {
		ret = many_devices(&a);
	} else {
		ret = one_device(&a);
	}
	free(a.devs);
	return ret;
}
