// SPDX-License-Identifier: GPL-2.0
/*
 * cbt mount and cbt unmount: a restore point as a read-only block device
 * and a mounted filesystem, through nbdkit and the kernel's nbd module
 * (lib/mount/nbd.h, docs/mount.md).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "mount/nbd.h"
#include "subcommands.h"
#include "util/util.h"

static void mount_usage(FILE *f)
{
	fprintf(f, "Usage: %s mount DIR|FILE [--at N] [--writable] [--partition N] MOUNTPOINT\n"
		"       %s mount DIR|FILE [--at N] [--writable] --device-only\n\n"
		"Mounts a restore point of chain DIR (the last image, or image --at N), or the\n"
		"full image FILE, read-only "
		"on MOUNTPOINT, without restoring it: nbdkit serves the point on a Unix socket\n"
		"under " CBT_MOUNT_DIR " and a free /dev/nbdX (nbd module, nbd-client) shows\n"
		"it. A chain with a missing, broken or foreign image is refused before\n"
		"anything is attached. A filesystem whose log needs replaying is mounted\n"
		"without replaying it; --writable replays it. `%s unmount' takes it all down.\n"
		"DIR may be a chain in S3, s3://BUCKET/PREFIX (credentials from the\n"
		"environment or --s3-config; docs/storage.md): frames are read with ranged GETs.\n\n"
		"  --at N           mount image number N (a file name or UUID works too)\n"
		"  --writable       writes go to a scratch overlay (nbdkit's cow filter),\n"
		"                   never to the images, and are lost at unmount; the\n"
		"                   filesystem is mounted read-write\n"
		"  --partition N    mount partition N of the point instead of the whole device\n"
		"  --device-only    stop at the block device and print its name\n"
		"  --key FILE       the key of an encrypted chain (docs/format.md)\n"
		"  --s3-config FILE S3 endpoint, region and keys\n",
		PROG_NAME, PROG_NAME, PROG_NAME);
}

int mount_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "at", required_argument, NULL, 'a' },
		{ "image", required_argument, NULL, 'a' },
		{ "writable", no_argument, NULL, 'w' },
		{ "partition", required_argument, NULL, 'p' },
		{ "device-only", no_argument, NULL, 'd' },
		{ "key", required_argument, NULL, KEY_OPT },
		{ "s3-config", required_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_mount_opts o = { 0 };
	bool device_only = false;
	struct cbt_mount m;
	uint32_t part;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o.at = optarg;
			break;
		case 'w':
			o.writable = true;
			break;
		case 'p':
			if (cbt_parse_u32(optarg, &part) || !part)
				return bad_argument("mount", "--partition takes a partition number,"
						    " not", optarg, NULL);
			o.partition = part;
			break;
		case 'd':
			device_only = true;
			break;
		case 'Y':
			o.s3_config = optarg;
			break;
		case KEY_OPT:
			if ((ret = key_option("mount", optarg)))
				return ret;
			break;
		case 'h':
			mount_usage(stdout);
			return 0;
		default:
			return bad_option("mount", c, argv);
		}
	}
	if (argc - optind != (device_only ? 1 : 2) || (device_only && o.partition)) {
		mount_usage(stderr);
		return CBT_EXIT_USAGE;
	}
	ret = chain_argument("mount", argv[optind]);
	if (ret)
		return ret;
	o.chain = argv[optind];
	o.mountpoint = device_only ? NULL : argv[optind + 1];
	ret = cbt_mount_start(&o, &m);
	if (ret) {
		cbt_perror("cbt mount", ret);
		return cbt_exit_status(ret);
	}
	if (device_only)
		printf("%s\n", m.device);
	return 0;
}

static void unmount_usage(FILE *f)
{
	fprintf(f, "Usage: %s unmount MOUNTPOINT|DEVICE\n\n"
		"Takes down what `%s mount' set up: unmounts the filesystem (lazily when it is\n"
		"busy: its readers then get I/O errors), disconnects /dev/nbdX, stops nbdkit\n"
		"and removes the state in " CBT_MOUNT_DIR ". Works after nbdkit died.\n",
		PROG_NAME, PROG_NAME);
}

int unmount_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_mount m;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			unmount_usage(stdout);
			return 0;
		default:
			return bad_option("unmount", c, argv);
		}
	}
	if (argc - optind != 1) {
		unmount_usage(stderr);
		return CBT_EXIT_USAGE;
	}
	ret = cbt_mount_find(argv[optind], &m);
	if (!ret)
		ret = cbt_mount_stop(&m, false);
	if (ret) {
		cbt_perror("cbt unmount", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
