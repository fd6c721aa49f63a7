// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>

#include <linux/dm-cbt.h>

#include "kernel/genl.h"
#include "subcommands.h"
#include "util/json.h"
#include "util/util.h"
#include "util/version.h"

int version_main(int argc, char *argv[])
{
	struct cbt_nl *nl;
	struct cbt_json j;
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	int ret;

	if (argc > 1 && !json) {
		bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");

		fprintf(help ? stdout : stderr, "Usage: %s version [--json]\n\n"
			"Shows the version of the tool and of the dm_cbt netlink interface it\n"
			"speaks, and the interface version of the loaded module, if any.\n", PROG_NAME);
		if (!help)
			cbt_fail(CBT_EXIT_USAGE, "%s version: unexpected argument `%s'", PROG_NAME,
				 argv[1]);
		return help ? 0 : CBT_EXIT_USAGE;
	}
	if (json) {
		cbt_json_init(&j, stdout, false);
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "version", CBT_VERSION);
		cbt_json_string(&j, "netlink_family", DM_CBT_GENL_NAME);
		cbt_json_u64(&j, "netlink_version", DM_CBT_GENL_VERSION);
	} else {
		printf("cbt %s, netlink family %s version %d\n", CBT_VERSION, DM_CBT_GENL_NAME,
		       DM_CBT_GENL_VERSION);
	}
	cbt_nl_need(CBT_NL_ANY);
	ret = cbt_nl_open(&nl);
	if (ret) {
		/* Not an error here: the module may well not be loaded yet. */
		const char *why = cbt_err_detail() ? cbt_err_detail() : strerror(-ret);

		if (json)
			cbt_json_string(&j, "kernel_error", why);
		else
			printf("kernel: %s\n", why);
		cbt_err_clear();
	} else {
		if (json)
			cbt_json_u64(&j, "kernel_netlink_version", nl->version);
		else
			printf("kernel: %s version %u%s\n", DM_CBT_GENL_NAME, nl->version,
			       nl->version == DM_CBT_GENL_VERSION ? "" : " (not this tool's:"
			       " reload the module, modprobe -r dm_cbt; modprobe dm_cbt, or reboot)");
		cbt_nl_close(nl);
	}
	if (json) {
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	}
	return 0;
}
