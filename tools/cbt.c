// SPDX-License-Identifier: GPL-2.0
/*
 * cbt: the dm-cbt changed-block tracking tool. Each subcommand lives in
 * its own file and prints its own usage; the table below is the one list
 * of them (the man page's COMMANDS and the bash completion follow it).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "subcommands.h"
#include "util.h"

const char *PROG_NAME = "cbt";

static const struct {
	const char *subcommand;
	int (*function)(int, char **);
	const char *description;
} subcommands[] = {
	{ "status", status_main, "Shows the tracking state of one or every cbt device" },
	{ "bitmap", bitmap_main, "Lists the blocks changed in an epoch or a range of epochs" },
	{ "epoch", epoch_main, "Closes the open epoch, or commits or aborts a closed one" },
	{ "snapshot", snapshot_main, "Takes, lists and drops point-in-time snapshots" },
	{ "attach", attach_main, "Puts a device in use under tracking, without downtime" },
	{ "detach", detach_main, "Takes a device that cbt attach tracks back out of tracking" },
	{ "setup-boot", setup_boot_main, "Puts a disk (the root disk) under tracking from the next boot" },
	{ "backup", backup_main, "Writes a full, incremental or differential image of a device" },
	{ "restore", restore_main, "Writes a restore point of a chain, or an image, onto a device or file" },
	{ "verify", verify_main, "Checks every checksum and link of a chain or an image" },
	{ "info", info_main, "Shows an image's header and sizes, or a chain's images" },
	{ "export", export_main, "Writes a restore point as a raw or qcow2 file" },
	{ "clone", clone_main, "Clones a device in use onto another disk, sector for sector" },
	{ "monitor", monitor_main, "Prints tracking and snapshot events as they happen" },
	{ "version", version_main, "Shows the versions of the tool and of the kernel interface" },
	{ "help", help_main, "Shows this list, or the usage of one subcommand" },
};

int bad_option(const char *cmd, int c, char *argv[])
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		fprintf(stderr, "%s %s: option `%s' needs a value\n", PROG_NAME, cmd, arg);
	else if (optopt && arg[0] == '-' && arg[1] != '-')
		fprintf(stderr, "%s %s: unknown option `-%c'\n", PROG_NAME, cmd, optopt);
	else
		fprintf(stderr, "%s %s: unknown option `%s'\n", PROG_NAME, cmd, arg);
	fprintf(stderr, "See `%s %s --help'.\n", PROG_NAME, cmd);
	return 1;
}

int bad_argument(const char *cmd, const char *what, const char *arg, const char *hint)
{
	fprintf(stderr, "%s %s: %s `%s'", PROG_NAME, cmd, what, arg);
	if (hint)
		fprintf(stderr, " (%s)", hint);
	fprintf(stderr, "\nSee `%s %s --help'.\n", PROG_NAME, cmd);
	return 1;
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
		fprintf(stderr, "%s help: unknown subcommand `%s'\n", PROG_NAME, argv[1]);
		show_usage(stderr);
		return 1;
	}
	if (argc > 2) {
		fprintf(stderr, "Usage: %s help [SUBCOMMAND]\n", PROG_NAME);
		return 1;
	}
	show_usage(stdout);
	return 0;
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
		if (!strcmp(argv[1], subcommands[i].subcommand))
			return subcommands[i].function(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: unknown subcommand `%s'\n", PROG_NAME, argv[1]);
	show_usage(stderr);
	return 1;
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
