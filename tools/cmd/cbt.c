// SPDX-License-Identifier: GPL-2.0
/*
 * cbt: the dm-cbt changed-block tracking tool. Each subcommand lives in
 * its own file and prints its own usage; the table below is the one list
 * of them (the man page's COMMANDS and the bash completion follow it).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/json.h"
#include "image/crypt.h"
#include "store/s3.h"
#include "subcommands.h"
#include "util/util.h"

const char *PROG_NAME = "cbt";

/*
 * JSON_STREAM: the subcommand's --json output is a stream of objects, or
 * its own summary even on failure (monitor's events, clone's passes), so
 * it goes out as written; the others' is collected and printed only when
 * the run succeeds (see run_json()). JSON_WRAP: the subcommand has no JSON
 * of its own (its output is a few lines for a person); cbt takes --json off
 * its arguments and prints {"command", "output": [lines]} on success.
 */
enum { JSON_BUFFER, JSON_STREAM, JSON_WRAP };

static const struct {
	const char *subcommand;
	int (*function)(int, char **);
	const char *description;
	int json;
} subcommands[] = {
	{ "status", status_main, "Shows the tracking state of one or every cbt device",
	  JSON_BUFFER },
	{ "bitmap", bitmap_main, "Lists the blocks changed in an epoch or a range of epochs",
	  JSON_BUFFER },
	{ "epoch", epoch_main, "Closes open epochs, or commits or aborts closed ones, of one or many devices",
	  JSON_WRAP },
	{ "snapshot", snapshot_main, "Takes, releases, lists and drops point-in-time snapshots",
	  JSON_BUFFER },
	{ "attach", attach_main, "Puts a device in use under tracking, without downtime",
	  JSON_WRAP },
	{ "detach", detach_main, "Takes a device that cbt attach tracks back out of tracking",
	  JSON_WRAP },
	{ "setup-boot", setup_boot_main, "Puts a disk (the root disk) under tracking from the next boot",
	  JSON_WRAP },
	{ "backup", backup_main, "Writes a full, incremental or differential image of a device",
	  JSON_BUFFER },
	{ "restore", restore_main, "Writes a restore point of a chain, or an image, onto a device or file",
	  JSON_BUFFER },
	{ "mount", mount_main, "Mounts a restore point read-only, without restoring it",
	  JSON_WRAP },
	{ "unmount", unmount_main, "Takes down what cbt mount set up", JSON_WRAP },
	{ "serve", serve_main, "Exports a restore point, or a live snapshot with its changed blocks, over NBD",
	  JSON_WRAP },
	{ "verify", verify_main, "Checks every checksum and link of a chain or an image",
	  JSON_BUFFER },
	{ "info", info_main, "Shows an image's header and sizes, or a chain's images",
	  JSON_BUFFER },
	{ "export", export_main, "Writes a restore point as a raw or qcow2 file", JSON_WRAP },
	{ "merge", merge_main, "Folds a run of a chain's images into one, without the device",
	  JSON_BUFFER },
	{ "prune", prune_main, "Removes restore points by a retention policy, merging as needed",
	  JSON_BUFFER },
	{ "keygen", keygen_main, "Writes a new key for encrypted backups", JSON_WRAP },
	{ "job", job_main, "Runs, lists and shows the backup jobs of /etc/cbt/jobs.d", JSON_BUFFER },
	{ "clone", clone_main, "Clones a device in use onto another disk, sector for sector",
	  JSON_STREAM },
	{ "migrate", migrate_main, "Moves a whole disk in use onto a larger or smaller one",
	  JSON_BUFFER },
	{ "monitor", monitor_main, "Prints tracking and snapshot events as they happen",
	  JSON_STREAM },
	{ "version", version_main, "Shows the versions of the tool and of the kernel interface",
	  JSON_BUFFER },
	{ "help", help_main, "Shows this list, or the usage of one subcommand", JSON_WRAP },
};

volatile sig_atomic_t cbt_stop;

static void count_stop_signal(int sig)
{
	(void)sig;
	if (cbt_stop < 100)
		cbt_stop++;
}

volatile sig_atomic_t *catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = count_stop_signal, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return &cbt_stop;
}

int bad_option(const char *cmd, int c, char *argv[])
{
	const char *arg = argv[optind - 1];

	/*
	 * An unknown short option before the end of a cluster (`-zq') leaves
	 * optind on the cluster: arg is then the argument before it, so a
	 * short one is named by optopt, never by arg (glibc sets optopt to 0
	 * for an unknown long option, and to its value for `--json=x').
	 */
	if (c == ':')
		cbt_fail(CBT_EXIT_USAGE, "%s %s: option `%s' needs a value", PROG_NAME, cmd, arg);
	else if (optopt && !(arg[0] == '-' && arg[1] == '-'))
		cbt_fail(CBT_EXIT_USAGE, "%s %s: unknown option `-%c'", PROG_NAME, cmd, optopt);
	else
		cbt_fail(CBT_EXIT_USAGE, "%s %s: unknown option `%s'", PROG_NAME, cmd, arg);
	fprintf(stderr, "See `%s %s --help'.\n", PROG_NAME, cmd);
	return CBT_EXIT_USAGE;
}

int key_option(const char *cmd, const char *path)
{
	int ret;

	if (cbt_key_isset())
		return bad_argument(cmd, "one key only: a second --key", path, NULL);
	ret = cbt_key_use(path);
	if (ret) {
		char pfx[64];

		snprintf(pfx, sizeof(pfx), "%s %s", PROG_NAME, cmd);
		cbt_perror(pfx, ret);
		return cbt_exit_status(ret);
	}
	return 0;
}

int threads_option(const char *cmd, const char *arg, int *n)
{
	uint32_t t32;

	if (cbt_parse_u32(arg, &t32) || !t32 || t32 > 64)
		return bad_argument(cmd, "--threads takes 1 to 64, not", arg, NULL);
	*n = (int)t32;
	return 0;
}

int bad_argument(const char *cmd, const char *what, const char *arg, const char *hint)
{
	cbt_fail(CBT_EXIT_USAGE, "%s %s: %s `%s'%s%s%s", PROG_NAME, cmd, what, arg,
		 hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
	fprintf(stderr, "See `%s %s --help'.\n", PROG_NAME, cmd);
	return CBT_EXIT_USAGE;
}

int chain_argument(const char *cmd, const char *arg)
{
	struct stat st;

	if (!strcmp(arg, "-") || cbt_s3_is_url(arg) || !stat(arg, &st) ||
	    (errno != ENOENT && errno != ENOTDIR))
		return 0;
	return bad_argument(cmd, "no chain directory or image file", arg,
			    "give the DIR of `cbt backup --to DIR', or an image FILE");
}

int device_path_errno(int e)
{
	return e == ENOENT || e == ENOTDIR ? -ENODEV : -e;
}

static void show_usage(FILE *file)
{
	fprintf(file, "Usage: %s <cmd> [<args>]\n\n", PROG_NAME);
	fprintf(file, "Available subcommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(file, "  %-10s %s\n", subcommands[i].subcommand, subcommands[i].description);
	fprintf(file, "You may pass `--help' to any of these subcommands to view usage.\n");
}

int help_main(int argc, char *argv[])
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: %s help [SUBCOMMAND]\n\nLists the subcommands, or shows the usage of one.\n",
		       PROG_NAME);
		return 0;
	}
	if (argc == 2) {
		for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++) {
			if (!strcmp(argv[1], subcommands[i].subcommand)) {
				char *sub_argv[] = { argv[1], (char *)"--help", NULL };

				return subcommands[i].function(2, sub_argv);
			}
		}
		cbt_fail(CBT_EXIT_USAGE, "%s help: unknown subcommand `%s'", PROG_NAME, argv[1]);
		show_usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (argc > 2) {
		cbt_fail(CBT_EXIT_USAGE, "%s help: one SUBCOMMAND only, not also `%s'", PROG_NAME,
			 argv[2]);
		fprintf(stderr, "Usage: %s help [SUBCOMMAND]\n", PROG_NAME);
		return CBT_EXIT_USAGE;
	}
	show_usage(stdout);
	return 0;
}

static bool wants_json(int argc, char *argv[])
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--json"))
			return true;
	return false;
}

/*
 * A subcommand's exit status: 2 when what it printed is about a malformed
 * or refused argument (cbt_err_usage()), whatever its errno; else 1 (any
 * error) becomes the specific status the errno it printed calls for (a
 * lost history, damage).
 */
static int call(int i, int argc, char *argv[])
{
	int ret = subcommands[i].function(argc, argv);

	if (ret && cbt_failure_usage())
		ret = CBT_EXIT_USAGE;
	else if (ret == CBT_EXIT_ERROR && cbt_failure_errno())
		ret = cbt_exit_status(cbt_failure_errno());
	return ret;
}

/*
 * Under --json, stdout is collected in memory and printed only when the
 * subcommand succeeds; when it fails, one error object goes out instead,
 * never half of the result (to stderr when stdout is an image: backup -o -).
 */
static int run_json(int i, int mode, int argc, char *argv[])
{
	FILE *real = stdout, *mem;
	char *buf = NULL, fallback[128];
	size_t len = 0;
	int ret;

	mem = open_memstream(&buf, &len);
	if (!mem)
		return call(i, argc, argv);
	stdout = mem;	/* glibc's stdout is an assignable variable */
	ret = call(i, argc, argv);
	stdout = real;
	if (fclose(mem)) {
		free(buf);
		perror("cbt: collecting the output");
		return CBT_EXIT_ERROR;
	}
	if (!ret && mode == JSON_WRAP) {
		struct cbt_json j;

		cbt_json_init(&j, stdout, false);
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "command", argv[0]);
		cbt_json_array_begin(&j, "output");
		for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			if (nl)
				*nl = 0;
			cbt_json_string(&j, NULL, line);
		}
		cbt_json_array_end(&j);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	} else if (!ret || cbt_failure_json_printed()) {
		fwrite(buf, 1, len, stdout);
	} else {
		struct cbt_json j;

		snprintf(fallback, sizeof(fallback), ret == CBT_EXIT_USAGE ?
			 "%s %s: bad usage (see `%s %s --help')" : "%s %s failed", PROG_NAME,
			 argv[0], PROG_NAME, argv[0]);
		cbt_json_init(&j, cbt_stdout_data() ? stderr : stdout, false);
		cbt_json_object_begin(&j, NULL);
		cbt_json_failure(&j, ret, fallback);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	}
	free(buf);
	return ret;
}

/* Take the first --json (before any "--") off @argv, which has @argc entries and a NULL. */
static void strip_json(int argc, char *argv[])
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--json")) {
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
			return;
		}
	}
}

/*
 * A streaming subcommand prints its own JSON as it goes, and clone its
 * summary on failure; any other failure (a usage error before anything,
 * monitor's) ends the stream with the error object, on one line as the
 * stream's objects are.
 */
static int run_stream_json(int i, int argc, char *argv[])
{
	int ret = call(i, argc, argv);

	if (ret && !cbt_failure_json_printed()) {
		struct cbt_json j;
		char fallback[128];

		snprintf(fallback, sizeof(fallback), ret == CBT_EXIT_USAGE ?
			 "%s %s: bad usage (see `%s %s --help')" : "%s %s failed", PROG_NAME,
			 argv[0], PROG_NAME, argv[0]);
		cbt_json_init(&j, stdout, true);
		cbt_json_object_begin(&j, NULL);
		cbt_json_failure(&j, ret, fallback);
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	}
	return ret;
}

/*
 * How subcommand @i handles --json in @argv (its name first): snapshot drop
 * and release print nothing of their own, so they are wrapped as epoch of
 * one DEVICE is; epoch of several devices prints its per-device results.
 */
static int json_mode(size_t i, int argc, char *argv[])
{
	if (!strcmp(subcommands[i].subcommand, "snapshot") && argc > 1 &&
	    (!strcmp(argv[1], "drop") || !strcmp(argv[1], "release")))
		return JSON_WRAP;
	if (!strcmp(subcommands[i].subcommand, "epoch") && epoch_own_json(argc, argv))
		return JSON_BUFFER;
	return subcommands[i].json;
}

static int run(int argc, char *argv[])
{
	if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")))
		return version_main(1, argv + 1);
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return help_main(1, argv + 1);
	if (argc == 1) {
		char *new_argv[] = { (char *)"status", NULL };

		return status_main(1, new_argv);
	}
	for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++) {
		int mode;

		if (strcmp(argv[1], subcommands[i].subcommand))
			continue;
		mode = json_mode(i, argc - 1, argv + 1);
		if (mode == JSON_WRAP && wants_json(argc - 1, argv + 1)) {
			strip_json(argc - 1, argv + 1);
			return run_json((int)i, mode, argc - 2, argv + 1);
		}
		if (mode == JSON_BUFFER && wants_json(argc - 1, argv + 1))
			return run_json((int)i, mode, argc - 1, argv + 1);
		if (wants_json(argc - 1, argv + 1))
			return run_stream_json((int)i, argc - 1, argv + 1);
		return call((int)i, argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: unknown subcommand `%s'\n", PROG_NAME, argv[1]);
	show_usage(stderr);
	return CBT_EXIT_USAGE;
}

int main(int argc, char *argv[])
{
	int ret = run(argc, argv);

	/* Output that did not make it (a full disk, a closed pipe) is an error too. */
	if (fflush(stdout) || ferror(stdout)) {
		perror("cbt: writing the output");
		return 1;
	}
	return ret;
}
