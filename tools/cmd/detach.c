// SPDX-License-Identifier: GPL-2.0
/*
 * cbt detach: take the cbt layer `cbt attach' put under a live device out
 * again. Steps (CBT_DETACH_FAIL_AT=N makes step N fail after its work):
 *   1  read NAME's cbt table and HIDDEN's table (NAME's own)
 *   2  load HIDDEN's table as NAME's inactive table
 *   3  suspend NAME (flush, freeze the filesystem)
 *   4  resume NAME: its own table is live again
 *   5  remove HIDDEN
 * Up to the swap, a failure leaves NAME tracked as before; after it, the
 * rest goes on (NAME's writes are no longer tracked by then).
 * Then the metadata device, if any, is wiped: writes made while detached
 * are not tracked, so its history must not be trusted by a later attach.
 * Before step 1 the reattach record goes, under the handler's lock, held to
 * the end (put back if NAME is still tracked after a failure). And NAME's
 * device lock (the one backup, clone, migrate and serve hold) is taken,
 * held to the end: refused while one of them runs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libdevmapper.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kernel/device.h"
#include "kernel/dmops.h"
#include "kernel/layer.h"
#include "subcommands.h"
#include "util/util.h"

#define FAIL_VAR "CBT_DETACH_FAIL_AT"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s detach DEVICE [--keep-metadata]\n\n"
		"Stops tracking DEVICE, which `%s attach' put under tracking: its own table\n"
		"goes back in one suspend/resume, and the hidden device NAME-cbt-orig is\n"
		"removed. A device `cbt attach DISK --name NAME' made is removed (unmount it\n"
		"first). The tracking history is dropped: the metadata device's superblocks\n"
		"are wiped, so the next attach starts a new identity and a full image is due.\n"
		"Refused while a backup, clone, migrate or serve of DEVICE runs.\n\n"
		"  --keep-metadata  leave the metadata device as it is (only if nothing\n"
		"                   writes to DEVICE until it is attached again)\n",
		PROG_NAME, PROG_NAME);
}

static int detach_layer(const struct cbt_dm_info *dev, const struct cbt_dm_table *cbt,
			const struct cbt_dm_info *h)
{
	struct cbt_dm_table orig = { 0 }, live = { 0 };
	bool swapped;
	int ret, ret2;

	ret = cbt_dm_get_table(h->name, &orig);
	if (!ret)
		ret = cbt_layer_inject(FAIL_VAR, 1, "read the tables");
	if (!ret)
		ret = cbt_dm_load(dev->name, &orig, dev->read_only);
	if (!ret)
		ret = cbt_layer_inject(FAIL_VAR, 2, "load the original table");
	if (!ret)
		ret = cbt_dm_suspend(dev->name);
	if (!ret)
		ret = cbt_layer_inject(FAIL_VAR, 3, "suspend");
	if (!ret)
		ret = cbt_dm_resume(dev->name);
	if (!ret)
		ret = cbt_layer_inject(FAIL_VAR, 4, "resume");
	if (ret && orig.nr) {
		char detail[1024];

		snprintf(detail, sizeof(detail), "%s", cbt_err_detail() ? cbt_err_detail() : "");
		ret2 = cbt_dm_get_table(dev->name, &live);
		swapped = !ret2 && cbt_dm_table_equal(&live, &orig);
		cbt_dm_table_free(&live);
		/* Before the swap: back to tracking. After it: finish. */
		ret2 = cbt_layer_restore(dev->name, swapped ? &orig : cbt, dev->read_only);
		if (ret2)
			fprintf(stderr, "%s detach: `%s' is in an unexpected state: %s (`dmsetup info"
				" %s')\n", PROG_NAME, dev->name, cbt_err_detail(), dev->name);
		else if (!swapped)
			fprintf(stderr, "%s detach: `%s' is still tracked, as before\n", PROG_NAME,
				dev->name);
		cbt_err(ret, "%s", detail);
		if (!swapped || ret2)
			goto out;
		fprintf(stderr, "%s detach: `%s' is on its own table: removing `%s'\n", PROG_NAME,
			dev->name, h->name);
	}
	ret2 = cbt_layer_inject(FAIL_VAR, 5, "remove the hidden device");
	if (!ret2)
		ret2 = cbt_dm_remove(h->name);
	if (ret2) {
		cbt_err_hint(ret2, "`%s' is on its own table again; remove the left-over `%s' with"
			     " `dmsetup remove %s'", dev->name, h->name, h->name);
		ret = ret2;
	}
out:
	cbt_dm_table_free(&orig);
	return ret;
}

/*
 * @dev is not tracked. If our hidden device is still there, unused, a tool
 * reloaded @dev over the cbt layer (lvchange --refresh, lvextend): remove
 * the left-over and say so.
 */
static int left_over(const struct cbt_dm_info *dev)
{
	char name[CBT_DM_NAME_LEN], uuid[CBT_DM_UUID_LEN];
	struct cbt_dm_info h;
	int ret;

	ret = cbt_layer_hidden_names(dev, name, uuid);
	if (!ret)
		ret = cbt_dm_info(name, &h);
	if (ret)
		return ret;
	if (!h.exists || !cbt_layer_is_hidden(dev, &h))
		return cbt_err(-EINVAL, "`%s' is not under tracking (its table is not one cbt"
			       " target)", dev->name);
	if (h.open_count)
		return cbt_err(-EBUSY, "`%s' is not under tracking, and `%s' is in use by"
			       " something else (`dmsetup ls --tree')", dev->name, name);
	ret = cbt_dm_remove(name);
	if (!ret)
		printf("%s: not tracked any more (a reload replaced the cbt layer); removed the idle"
		       " `%s'\n", dev->name, name);
	return ret;
}

int detach_main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "keep-metadata", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cbt_dm_table cbt = { 0 };
	struct cbt_layer_hold hold = { .lock_fd = -1 };
	struct cbt_dm_info dev = { 0 }, h;
	uint32_t om, on, mm, mn;
	bool keep = false;
	const char *arg;
	int c, ret, dev_lock = -1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keep = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return bad_option("detach", c, argv);
		}
	}
	if (optind + 1 != argc) {
		if (optind < argc)
			return bad_argument("detach", "one DEVICE only, not also", argv[optind + 1],
					    NULL);
		cbt_fail(CBT_EXIT_USAGE, "%s detach: which DEVICE? (`cbt status' lists them)", PROG_NAME);
		usage(stderr);
		return CBT_EXIT_USAGE;
	}
	arg = argv[optind];
	cbt_dm_init();

	if (strchr(arg, '/')) {
		struct stat st;

		if (stat(arg, &st)) {
			ret = cbt_err(device_path_errno(errno), "cannot find `%s': %s", arg,
				      strerror(errno));
			goto out;
		}
		ret = S_ISBLK(st.st_mode) && dm_is_dm_major(major(st.st_rdev)) ?
		      cbt_dm_info_dev(major(st.st_rdev), minor(st.st_rdev), &dev) :
		      cbt_err(-ENOTBLK, "`%s' is not a device-mapper device", arg);
	} else {
		ret = cbt_dm_info(arg, &dev);
	}
	if (!ret && !dev.exists)
		ret = cbt_err(-ENODEV, "no device-mapper device `%s' (`cbt status' lists the"
			      " tracked ones)", arg);
	/*
	 * The swap's resume is a change uevent: with the record still there,
	 * cbt-reattach would attach NAME again. Record gone (and its lock held)
	 * before any device-mapper operation.
	 */
	if (!ret)
		ret = cbt_layer_hold(dev.name, &hold);
	if (!ret && (dev.suspended || dev.inactive_table))
		ret = cbt_err(-EBUSY, "`%s' is suspended or has an inactive table: another tool is"
			      " changing it; try again when it is done", dev.name);
	if (!ret)
		ret = cbt_dm_get_table(dev.name, &cbt);
	if (ret)
		goto out;
	if (cbt_layer_parse_cbt(&cbt, &om, &on, &mm, &mn)) {
		ret = left_over(&dev);
		goto out;
	}
	/*
	 * The device's lock (cbt_device_lock()), held to the end: a backup,
	 * clone, migrate or serve of it would see its snapshot go invalid
	 * (the cbt table replaced) and fail after its work.
	 */
	{
		struct cbt_dev_info li = { .major = dev.major, .minor = dev.minor };

		snprintf(li.name, sizeof(li.name), "%s", dev.name);
		dev_lock = cbt_device_lock(&li);
		if (dev_lock < 0) {
			ret = dev_lock;
			goto out;
		}
	}
	ret = cbt_dm_info_dev(om, on, &h);
	if (ret)
		goto out;
	if (cbt_layer_is_hidden(&dev, &h)) {
		ret = detach_layer(&dev, &cbt, &h);
	} else if (!strncmp(dev.uuid, CBT_DISK_UUID_PREFIX, strlen(CBT_DISK_UUID_PREFIX))) {
		ret = dev.open_count ?
		      cbt_err(-EBUSY, "`%s' is in use (mounted?); stop using it, then detach"
			      " again", dev.name) :
		      cbt_dm_remove(dev.name);
	} else {
		ret = cbt_err(-EINVAL, "`%s' was not set up by `cbt attach' (its origin is not"
			      " `%s" CBT_ORIG_NAME_SUFFIX "'); remove it with `dmsetup remove'",
			      dev.name, dev.name);
	}
	if (!ret && mm && !keep)
		ret = cbt_layer_wipe_metadata(mm, mn);
	if (!ret && cbt.nr && !strcmp(cbt.t[0].type, "cbt"))
		printf("%s: tracking stopped%s\n", dev.name,
		       mm ? (keep ? "; metadata kept" : "; metadata wiped") : "");
out:
	/*
	 * Detached on purpose (or its layer was gone): the handler must leave it
	 * so. Still tracked after a failure (before the swap): put it back.
	 */
	if (hold.lock_fd >= 0) {
		struct cbt_dm_table live = { 0 };
		bool tracked = false;
		char detail[1024];

		if (ret && hold.had_record) {
			/* the failure's own message, not the look-up's */
			snprintf(detail, sizeof(detail), "%s",
				 cbt_err_detail() ? cbt_err_detail() : strerror(-ret));
			tracked = !cbt_dm_get_table(dev.name, &live) && live.nr &&
				  !strcmp(live.t[0].type, "cbt");
			cbt_dm_table_free(&live);
			cbt_err(ret, "%s", detail);
		}
		cbt_layer_release(dev.name, &hold, tracked);
	}
	cbt_dm_table_free(&cbt);
	dm_lib_release();
	if (dev_lock >= 0)
		close(dev_lock);
	if (ret) {
		cbt_perror("cbt detach", ret);
		return cbt_exit_status(ret);
	}
	return 0;
}
