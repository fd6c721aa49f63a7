// SPDX-License-Identifier: GPL-2.0
/* cbt keygen FILE: a new key for encrypted images (docs/format.md, "Encryption"). */
#include <getopt.h>
#include <stdio.h>

#include "image/crypt.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s keygen FILE\n\n"
		"Writes a new random key for `%s backup --encrypt FILE' to FILE: 64 hex\n"
		"digits and a newline, mode 0600. FILE must not exist (a key is never\n"
		"overwritten: the images encrypted with it would be lost). Keep it away from\n"
		"the backups, and keep a copy: without it no image can be read.\n",
		PROG_NAME, PROG_NAME);
}

int keygen_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("keygen", c, argv);
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	ret = cbt_key_generate(argv[optind]);
	if (ret) {
		cbt_perror("cbt keygen", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
