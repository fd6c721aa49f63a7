// SPDX-License-Identifier: GPL-2.0
/*
 * cbt setup-boot: put a disk under tracking from the next boot on, by a
 * line in /etc/cbt/devices.conf (format in boot/cbt-boot.sh) and a new
 * initramfs. For disks in use that are not device-mapper devices, the
 * root disk above all, which nothing can slide under while mounted.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <blkid/blkid.h>
#include <linux/dm-cbt.h>

#include "kernel/layer.h"
#include "store/safefile.h"
#include "subcommands.h"
#include "util/util.h"

#define DEFAULT_CONF "/etc/cbt/devices.conf"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s setup-boot DISK [--name NAME] [--block-size SIZE] [--metadata DEV]\n"
		"       %s setup-boot --remove NAME\n\n"
		"Puts DISK (a disk or partition, the root one too) under tracking from the\n"
		"next boot: the initramfs creates /dev/mapper/NAME over it before anything\n"
		"mounts it, and mounts root from there when DISK holds root. Writes the line\n"
		"to " DEFAULT_CONF " (disks by PARTUUID or UUID) and regenerates the\n"
		"initramfs (update-initramfs -u, or dracut -f). A boot where the module or\n"
		"the line is missing or bad boots untracked, and says why in the kernel log.\n\n"
		"  -n, --name NAME        the device-mapper name (default cbt-<disk>)\n"
		"  -b, --block-size SIZE  tracking block size, 4k to 1M (default 64k)\n"
		"  -m, --metadata DEV     keep the bitmaps on DEV across reboots\n"
		"      --remove NAME      take NAME's line out (tracking stops at the next boot)\n"
		"      --no-initramfs     write the configuration only\n\n"
		"Environment: CBT_CONF overrides the configuration file (tests).\n",
		PROG_NAME, PROG_NAME);
}

/* @tag's value (libblkid: "PART_ENTRY_UUID", "UUID") on @path, or "". */
static void probe_value(const char *path, const char *tag, char *val, size_t len)
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	const char *v = NULL;

	val[0] = '\0';
	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_UUID);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
	if (!blkid_do_safeprobe(pr) && !blkid_probe_lookup_value(pr, tag, &v, NULL) && v)
		snprintf(val, len, "%s", v);
	blkid_free_probe(pr);
}

/* A /dev/disk/by-id link to @rdev (the first in name order), or "". */
static void by_id(dev_t rdev, char *out, size_t len)
{
	struct dirent **names = NULL;
	int n = scandir("/dev/disk/by-id", &names, NULL, alphasort);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char p[600];
		struct stat st;

		snprintf(p, sizeof(p), "/dev/disk/by-id/%s", names[i]->d_name);
		if (!out[0] && names[i]->d_name[0] != '.' && !strpbrk(p, " \t#") &&
		    !stat(p, &st) && S_ISBLK(st.st_mode) && st.st_rdev == rdev)
			snprintf(out, len, "%s", p);
		free(names[i]);
	}
	free(names);
}

/*
 * The most stable name of a block device: PARTUUID=, UUID= (libblkid), a
 * /dev/disk/by-id link, or, with a warning, its path, which may name
 * another disk after a reboot (a blank metadata disk has no UUID).
 */
static int stable_source(const char *path, char *out, size_t len)
{
	static const char *const tags[][2] = {
		{ "PARTUUID", "PART_ENTRY_UUID" }, { "UUID", "UUID" },
	};
	struct stat st;

	if (stat(path, &st))
		return cbt_err(device_path_errno(errno), "cannot find `%s': %s", path,
			       strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return cbt_err(-ENOTBLK, "`%s' is not a block device", path);
	for (size_t i = 0; i < ARRAY_SIZE(tags); i++) {
		char val[200];

		probe_value(path, tags[i][1], val, sizeof(val));
		if (val[0] && !strpbrk(val, " \t#\r\n")) {
			snprintf(out, len, "%s=%s", tags[i][0], val);
			return 0;
		}
	}
	by_id(st.st_rdev, out, len);
	if (out[0])
		return 0;
	fprintf(stderr, "%s setup-boot: warning: `%s' has no PARTUUID, UUID or /dev/disk/by-id"
		" name: written as its path, which may name another disk after disk names change"
		" at a reboot\n", PROG_NAME, path);
	snprintf(out, len, "%s", path);
	return 0;
}

static int run(const char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (!pid) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -EIO;
}

static bool have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return !system(cmd);
}

/*
 * Every installed kernel's initramfs, not only the newest or the running
 * one: a boot of another kernel without the hook would write the disk
 * untracked (and could not mark the metadata stale).
 */
static int update_initramfs(void)
{
	static const char *const deb[] = { "update-initramfs", "-u", "-k", "all", NULL };
	static const char *const rh[] = { "dracut", "--regenerate-all", "-f", NULL };

	if (have("update-initramfs")) {
		if (access("/usr/share/initramfs-tools/hooks/cbt", F_OK))
			fprintf(stderr, "%s setup-boot: warning: the initramfs-tools hook is not"
				" installed (`make install-boot'): the next boot will not track\n",
				PROG_NAME);
		return run(deb) ? cbt_err(-EIO, "`update-initramfs -u -k all' failed; run it"
					  " again and see what it says") : 0;
	}
	if (have("dracut")) {
		if (access("/usr/lib/dracut/modules.d/90cbt", F_OK))
			fprintf(stderr, "%s setup-boot: warning: the dracut module is not installed"
				" (`make install-boot'): the next boot will not track\n", PROG_NAME);
		return run(rh) ? cbt_err(-EIO, "`dracut --regenerate-all -f' failed; run it"
					 " again and see what it says") : 0;
	}
	return cbt_err(-ENOENT, "neither update-initramfs nor dracut is installed: the"
		       " configuration is written, but no initramfs reads it");
}

/* Rewrite @conf without lines for @name or @source, plus @line if not NULL. */
static int rewrite_conf(const char *conf, const char *name, const char *source,
			const char *line, bool *found)
{
	char buf[1024], dir[4096];
	struct cbt_tmpfile tf;
	FILE *in, *out;
	int ret;

	*found = false;
	snprintf(dir, sizeof(dir), "%s", conf);
	mkdir(dirname(dir), 0755);
	ret = cbt_tmpfile_create(&tf, conf);
	if (ret)
		return ret;
	out = cbt_tmpfile_fdopen(&tf);
	if (!out)
		return -ENOMEM;
	in = fopen(conf, "re");
	if (!in)
		fprintf(out, "# dm-cbt: disks tracked from boot, written by `cbt setup-boot'.\n"
			"# NAME SOURCE [block-size=SIZE] [metadata=SOURCE]\n");
	while (in && fgets(buf, sizeof(buf), in)) {
		char n[256] = "", s[512] = "";

		if (buf[0] != '#' && sscanf(buf, "%255s %511s", n, s) >= 1 &&
		    (!strcmp(n, name) || (source && !strcmp(s, source)))) {
			*found = true;
			continue;
		}
		fputs(buf, out);
	}
	if (in)
		fclose(in);
	if (line)
		fprintf(out, "%s\n", line);
	return cbt_tmpfile_commit_stdio(&tf, out);
}

int setup_boot_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "metadata", required_argument, NULL, 'm' },
		{ "remove", required_argument, NULL, 'r' },
		{ "no-initramfs", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = getenv("CBT_CONF") ? getenv("CBT_CONF") : DEFAULT_CONF;
	const char *name = NULL, *meta = NULL, *bs_arg = NULL, *remove_name = NULL;
	char source[600], msource[600], line[1400], defname[128];
	uint32_t block_size = DM_CBT_DEFAULT_BLOCK_SIZE;
	bool no_initramfs = false, found;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:b:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'b':
			bs_arg = optarg;
			if (cbt_parse_block_size(optarg, &block_size))
				return bad_argument("setup-boot", "bad block size", optarg,
						    "a power of two from 4k to 1M, like 64k");
			break;
		case 'm':
			meta = optarg;
			break;
		case 'r':
			remove_name = optarg;
			break;
		case 'N':
			no_initramfs = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("setup-boot", c, argv);
		}
	}
	if (remove_name) {
		if (optind != argc)
			return bad_argument("setup-boot", "--remove takes a NAME only, not also",
					    argv[optind], NULL);
		ret = rewrite_conf(conf, remove_name, NULL, NULL, &found);
		if (!ret && !found)
			ret = cbt_err(-ENOENT, "no line for `%s' in `%s'", remove_name, conf);
		if (!ret && !no_initramfs)
			ret = update_initramfs();
		if (!ret)
			printf("%s: no longer tracked from the next boot\n", remove_name);
		goto out;
	}
	if (optind + 1 != argc) {
		cbt_fail(CBT_EXIT_USAGE, "%s setup-boot: which DISK? (a disk or partition, like /dev/sda2)",
			 PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	if (!name) {
		char *d = strdup(argv[optind]);

		snprintf(defname, sizeof(defname), "cbt-%s", d ? basename(d) : "disk");
		free(d);
		name = defname;
	}
	if (!*name || strpbrk(name, "/ \t#") || name[0] == '-' || strlen(name) > CBT_DM_NAME_LEN - 1)
		return bad_argument("setup-boot", "bad name", name,
				    "no '/', blanks or '#', at most 127 characters");
	ret = stable_source(argv[optind], source, sizeof(source));
	if (!ret && meta)
		ret = stable_source(meta, msource, sizeof(msource));
	if (!ret && meta && !strcmp(source, msource))
		ret = cbt_err(-EINVAL, "the metadata device `%s' is the disk itself", meta);
	if (ret)
		goto out;
	snprintf(line, sizeof(line), "%s %s%s%s%s%s", name, source, bs_arg ? " block-size=" : "",
		 bs_arg ? bs_arg : "", meta ? " metadata=" : "", meta ? msource : "");
	ret = rewrite_conf(conf, name, source, line, &found);
	if (!ret)
		printf("%s: `%s' in %s%s\n", name, line, conf, found ? " (replacing the old line)" : "");
	if (!ret && !no_initramfs)
		ret = update_initramfs();
	if (!ret)
		printf("%s: %s is tracked as /dev/mapper/%s from the next boot\n", name,
		       argv[optind], name);
out:
	if (ret) {
		cbt_perror("cbt setup-boot", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
