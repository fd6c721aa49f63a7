// SPDX-License-Identifier: GPL-2.0
/*
 * asuser: run a command as another user with chosen capabilities (guest
 * helper; busybox has no setpriv).
 *
 *   asuser [-c CAP]... UID CMD [ARG...]
 *
 * Switches to UID (group UID, no supplementary groups), keeping only the
 * capabilities given by number with -c (e.g. -c 12 for CAP_NET_ADMIN,
 * -c 21 for CAP_SYS_ADMIN), raised as ambient so CMD inherits them, then
 * executes CMD. Exits 127 if it cannot.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

static int die(const char *what)
{
	fprintf(stderr, "asuser: %s: %s\n", what, strerror(errno));
	return 127;
}

int main(int argc, char *argv[])
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	int caps[8], ncaps = 0, i, opt;
	char *end;
	long uid;

	memset(data, 0, sizeof(data));
	while ((opt = getopt(argc, argv, "+c:")) != -1) {
		if (opt != 'c' || ncaps == 8) {
			fprintf(stderr, "usage: asuser [-c CAP]... UID CMD [ARG...]\n");
			return 127;
		}
		caps[ncaps] = atoi(optarg);
		if (caps[ncaps] < 0 || caps[ncaps] > CAP_LAST_CAP)
			return die("bad capability");
		ncaps++;
	}
	if (argc - optind < 2) {
		fprintf(stderr, "usage: asuser [-c CAP]... UID CMD [ARG...]\n");
		return 127;
	}
	uid = strtol(argv[optind], &end, 10);
	if (*end || uid <= 0)
		return die("bad uid");
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) ||
	    setgid((gid_t)uid) || setuid((uid_t)uid))
		return die("switching user");
	for (i = 0; i < ncaps; i++) {
		unsigned int bit = 1U << (caps[i] % 32);

		data[caps[i] / 32].effective |= bit;
		data[caps[i] / 32].permitted |= bit;
		data[caps[i] / 32].inheritable |= bit;
	}
	if (syscall(SYS_capset, &hdr, data))
		return die("capset");
	for (i = 0; i < ncaps; i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, caps[i], 0, 0))
			return die("raising an ambient capability");
	execvp(argv[optind + 1], &argv[optind + 1]);
	return die(argv[optind + 1]);
}
