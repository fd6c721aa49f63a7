// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kernel/device.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s epoch close DEVICE\n"
		"       %s epoch commit DEVICE [N]\n"
		"       %s epoch abort DEVICE [N]\n\n"
		"close   freezes the open epoch and opens the next one; prints the number\n"
		"        of the epoch it closed. At most %d epochs wait closed.\n"
		"commit  drops closed epoch N: the backup that read it succeeded. Epochs\n"
		"        are committed oldest first.\n"
		"abort   merges closed epoch N into the open one, keeping its changes for\n"
		"        the next backup.\n\n"
		"N may be left out when exactly one epoch is closed.\n", PROG_NAME, PROG_NAME,
		PROG_NAME, DM_CBT_MAX_CLOSED);
}

/* The one closed epoch, when N was not given. */
static int only_closed(struct cbt_nl *nl, const struct cbt_devsel *sel, const char *dev,
		       const char *action, uint64_t *epoch)
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
	if (closed > 1)
		return cbt_err(-EINVAL, "%s: epochs %s are closed; say which to %s (`cbt epoch %s"
			       " %s N')", dev, list, action, action, dev);
	return 0;
}

int epoch_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_nl *nl = NULL;
	struct cbt_devsel sel;
	const char *action, *dev;
	uint64_t epoch = 0;
	bool have_epoch;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("epoch", c, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2) {
		if (argc == 1 && strcmp(argv[0], "close") && strcmp(argv[0], "commit") &&
		    strcmp(argv[0], "abort"))
			return bad_argument("epoch", "unknown action", argv[0],
					    "it is close, commit or abort");
		if (argc == 1)
			cbt_fail(CBT_EXIT_USAGE, "%s epoch %s: which DEVICE? (`cbt status' lists them)",
				 PROG_NAME, argv[0]);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	action = argv[0];
	dev = argv[1];
	if (strcmp(action, "close") && strcmp(action, "commit") && strcmp(action, "abort"))
		return bad_argument("epoch", "unknown action", action, "it is close, commit or abort");
	if (argc > 3 || (argc == 3 && !strcmp(action, "close")))
		return bad_argument("epoch", "too many arguments, from", argv[2],
				    "close takes DEVICE; commit and abort DEVICE [N]");
	have_epoch = argc == 3;
	if (have_epoch && cbt_parse_u64(argv[2], &epoch))
		return bad_argument("epoch", "N is an epoch number, not", argv[2],
				    "`cbt status DEVICE' lists the epochs");

	ret = cbt_dev_lookup(dev, &nl, &sel, NULL);
	if (ret)
		goto out;
	if (!strcmp(action, "close")) {
		ret = cbt_epoch_close(nl, &sel, &epoch);
		if (!ret)
			printf("%" PRIu64 "\n", epoch);
		goto out;
	}
	if (!have_epoch) {
		ret = only_closed(nl, &sel, dev, action, &epoch);
		if (ret)
			goto out;
	}
	if (!strcmp(action, "commit"))
		ret = cbt_epoch_commit(nl, &sel, epoch);
	else
		ret = cbt_epoch_abort(nl, &sel, epoch);
out:
	cbt_nl_close(nl);
	if (ret) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "cbt epoch %s", action);
		cbt_perror(prefix, ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
