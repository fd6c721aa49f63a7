// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>

#include <linux/dm-cbt.h>

#include "kernel/genl.h"
#include "subcommands.h"
#include "util/util.h"
#include "util/version.h"

int version_main(int argc, char *argv[])
{
	struct cbt_nl *nl;
	int ret;

	if (argc > 1) {
		bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");

		fprintf(help ? stdout : stderr, "Usage: %s version\n\n"
			"Shows the version of the tool and of the dm_cbt netlink interface it\n"
			"speaks, and the interface version of the loaded module, if any.\n", PROG_NAME);
		return !help;
	}
	printf("cbt %s, netlink family %s version %d\n", CBT_VERSION, DM_CBT_GENL_NAME,
	       DM_CBT_GENL_VERSION);
	cbt_nl_need(CBT_NL_ANY);
	ret = cbt_nl_open(&nl);
	if (ret) {
		/* Not an error here: the module may well not be loaded yet. */
		printf("kernel: %s\n", cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
		cbt_err_clear();
		return 0;
	}
	printf("kernel: %s version %u%s\n", DM_CBT_GENL_NAME, nl->version,
	       nl->version == DM_CBT_GENL_VERSION ? "" : " (not this tool's: reload the module,"
	       " modprobe -r dm_cbt; modprobe dm_cbt, or reboot)");
	cbt_nl_close(nl);
	return 0;
}
