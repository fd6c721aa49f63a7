// SPDX-License-Identifier: GPL-2.0
/* cbt monitor: print the kernel's dm_cbt events as they happen. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/dm-cbt.h>

#include "kernel/device.h"
#include "kernel/genl.h"
#include "util/json.h"
#include "kernel/proto.h"
#include "subcommands.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s monitor [--json] [--count N]\n\n"
		"Prints each dm_cbt event as the kernel announces it, one line per event:\n"
		"epoch-closed, epoch-committed, epoch-aborted, tracking-lost (a full image\n"
		"is due; with the identity reason), snapshot-taken, snapshot-invalid (with\n"
		"the reason) and cow-low\n"
		"(the COW store passed 80%%). For daemons that follow devices without polling.\n"
		"When events came faster than they were read and the kernel dropped some,\n"
		"it prints events-lost, then a state line per device (its current epoch),\n"
		"and goes on.\n\n"
		"  --json     one JSON object per line\n"
		"  --count N  exit after N events\n", PROG_NAME);
}

/* Not the kernel's: a device's state after events were lost (resync()). */
#define EVENT_STATE 0xffffffffU

static const char *event_name(uint32_t event)
{
	switch (event) {
	case CBT_EVENT_EPOCH_CLOSED:
		return "epoch-closed";
	case CBT_EVENT_EPOCH_COMMITTED:
		return "epoch-committed";
	case CBT_EVENT_EPOCH_ABORTED:
		return "epoch-aborted";
	case CBT_EVENT_TRACKING_LOST:
		return "tracking-lost";
	case CBT_EVENT_SNAPSHOT_TAKEN:
		return "snapshot-taken";
	case CBT_EVENT_SNAPSHOT_INVALID:
		return "snapshot-invalid";
	case CBT_EVENT_COW_LOW:
		return "cow-low";
	case EVENT_STATE:
		return "state";
	default:
		return "unknown";
	}
}

static void print_event(const struct cbt_event_msg *ev, bool json)
{
	char u[CBT_UUID_STR_LEN];

	cbt_uuid_str(ev->uuid, u);
	if (json) {
		struct cbt_json j;

		cbt_json_init(&j, stdout, true);
		cbt_json_object_begin(&j, NULL);
		cbt_json_string(&j, "event", event_name(ev->event));
		cbt_json_string(&j, "device", ev->name);
		cbt_json_u64(&j, "major", ev->major);
		cbt_json_u64(&j, "minor", ev->minor);
		cbt_json_string(&j, "uuid", u);
		if (ev->has_epoch)
			cbt_json_u64(&j, "epoch", ev->epoch);
		if (ev->event == CBT_EVENT_TRACKING_LOST)
			cbt_json_string(&j, "identity_reason", cbt_identity_reason_name(ev->reason));
		cbt_json_object_end(&j);
		cbt_json_finish(&j);
	} else {
		printf("%s %s %" PRIu32 ":%" PRIu32 " uuid %s", event_name(ev->event),
		       *ev->name ? ev->name : "-", ev->major, ev->minor, u);
		if (ev->has_epoch)
			printf(" epoch %" PRIu64, ev->epoch);
		if (ev->event == CBT_EVENT_TRACKING_LOST)
			printf(" reason %s", cbt_identity_reason_name(ev->reason));
		putchar('\n');
	}
	fflush(stdout);
}

/*
 * After ENOBUFS (events came faster than they were read, and the kernel
 * dropped some): an "events-lost" line, then one "state" line per device
 * with its current epoch, so a daemon can start over from there.
 */
#define RESYNC_TRIES 100

static int resync(struct cbt_nl *nl, bool json)
{
	struct cbt_dev_info *devs = NULL;
	size_t nr = 0;
	int ret;

	if (json)
		printf("{\"event\": \"events-lost\"}\n");
	else
		printf("events-lost\n");
	/* a reader acts on it even when the dump below fails */
	fflush(stdout);
	/*
	 * A device added or removed during the dump (NLM_F_DUMP_INTR, -EAGAIN):
	 * dump again rather than end the monitor; the kernel bumps its
	 * sequence only on such a change, so this settles at once.
	 */
	for (int tries = 0; tries < RESYNC_TRIES; tries++) {
		ret = cbt_list_devices(nl, &devs, &nr);
		if (ret != -EAGAIN)
			break;
		cbt_err_clear();
	}
	if (ret)
		return cbt_err_prefix(ret, "events were lost, and reading the devices' state");
	for (size_t i = 0; i < nr; i++) {
		struct cbt_event_msg ev = { .major = devs[i].major, .minor = devs[i].minor,
					.event = EVENT_STATE, .epoch = devs[i].epoch_current,
					.has_epoch = true, .reason = CBT_IDENTITY_UNKNOWN };

		memcpy(ev.name, devs[i].name, sizeof(ev.name));
		memcpy(ev.uuid, devs[i].uuid, sizeof(ev.uuid));
		print_event(&ev, json);
	}
	cbt_dev_infos_free(devs, nr);
	return 0;
}

int monitor_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char buf[CBT_NL_RX_SIZE];
	struct mnl_socket *sock = NULL;
	struct cbt_nl *nl = NULL;
	uint64_t count = 0, seen = 0;
	unsigned int group;
	bool json = false;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'c':
			if (cbt_parse_u64(optarg, &count) || !count)
				return bad_argument("monitor", "--count takes a positive number, not",
						    optarg, NULL);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("monitor", c, argv);
		}
	}
	if (optind < argc)
		return bad_argument("monitor", "unexpected argument", argv[optind],
				    "it watches every cbt device");

	/* The family lookup tells the group's id; events come on a socket of their own. */
	cbt_nl_need(CBT_NL_READ);
	ret = cbt_nl_open(&nl);
	if (ret)
		goto out;
	group = nl->mcgrp_events;
	if (!group) {
		ret = cbt_err(-EPROTO, "the dm_cbt family has no events group");
		goto out;
	}
	sock = mnl_socket_open(NETLINK_GENERIC);
	if (!sock || mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(sock, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0) {
		ret = cbt_err(-errno, "cannot listen to dm_cbt events: %s", strerror(errno));
		goto out;
	}
	/* Ready: scripts wait for this line before they act. */
	if (!json)
		fprintf(stderr, "%s monitor: listening\n", PROG_NAME);
	while (!count || seen < count) {
		ssize_t n = mnl_socket_recvfrom(sock, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* The socket overflowed: say so, show where each device is now, go on. */
			if (errno == ENOBUFS) {
				ret = resync(nl, json);
				if (ret)
					goto out;
				continue;
			}
			ret = cbt_err(-errno, "reading events: %s", strerror(errno));
			goto out;
		}
		left = (int)n;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			struct cbt_event_msg ev;

			if (nlh->nlmsg_type != nl->family)
				continue;
			/* As every reply of the module: a malformed event is -EPROTO (exit 5). */
			ret = cbt_parse_event(nlh, &ev);
			if (ret)
				goto out;
			print_event(&ev, json);
			if (count && ++seen >= count)
				break;
		}
	}
out:
	if (sock)
		mnl_socket_close(sock);
	cbt_nl_close(nl);
	if (ret) {
		cbt_perror("cbt monitor", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
