// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kernel/devsel.h"
#include "util/util.h"

static int parse_numbers(const char *arg, const char *colon, struct cbt_devsel *sel)
{
	char maj[16], min[16];
	size_t lmaj = (size_t)(colon - arg), lmin = strlen(colon + 1);
	uint32_t a, b;

	if (!lmaj || !lmin || lmaj >= sizeof(maj) || lmin >= sizeof(min))
		goto bad;
	memcpy(maj, arg, lmaj);
	maj[lmaj] = '\0';
	memcpy(min, colon + 1, lmin + 1);
	if (cbt_parse_u32(maj, &a) || cbt_parse_u32(min, &b))
		goto bad;
	if (a > CBT_MAJOR_MAX || b > CBT_MINOR_MAX)
		return cbt_err_usage(-EINVAL, "device number `%s' out of range (major at most %u, minor"
			       " at most %u)", arg, CBT_MAJOR_MAX, CBT_MINOR_MAX);
	sel->by_number = true;
	sel->major = a;
	sel->minor = b;
	return 0;
bad:
	return cbt_err_usage(-EINVAL, "device `%s' is not MAJ:MIN (two decimal numbers, as in 253:0);"
		       " give a name that looks like this as /dev/mapper/NAME", arg);
}

static int parse_path(const char *arg, struct cbt_devsel *sel)
{
	struct stat st;

	/* No such node is no such cbt device, as for a name the kernel does not know. */
	if (stat(arg, &st) && (errno == ENOENT || errno == ENOTDIR))
		return cbt_err(-ENODEV, "device `%s' does not exist (`cbt status' lists the cbt"
			       " devices)", arg);
	if (stat(arg, &st))
		return cbt_err(-errno, "device `%s': %s", arg, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return cbt_err(-ENOTBLK, "device `%s' is not a block device node (use /dev/mapper/NAME,"
			       " /dev/dm-N, NAME or MAJ:MIN)", arg);
	sel->by_number = true;
	sel->major = major(st.st_rdev);
	sel->minor = minor(st.st_rdev);
	return 0;
}

int cbt_devsel_parse(const char *arg, struct cbt_devsel *sel)
{
	const char *colon = strchr(arg, ':');
	size_t len = strlen(arg);

	memset(sel, 0, sizeof(*sel));
	if (!len)
		return cbt_err_usage(-EINVAL, "empty device name (give NAME, MAJ:MIN or /dev/mapper/NAME)");
	if (strchr(arg, '/'))
		return parse_path(arg, sel);
	if (colon && (arg[0] == ':' || (arg[0] >= '0' && arg[0] <= '9')))
		return parse_numbers(arg, colon, sel);
	if (len > CBT_NAME_MAX)
		return cbt_err_usage(-ENAMETOOLONG, "device name `%.32s...' is %zu bytes long;"
			       " device-mapper names have at most %d", arg, len, CBT_NAME_MAX);
	memcpy(sel->name, arg, len + 1);
	return 0;
}

const char *cbt_devsel_str(const struct cbt_devsel *sel, char buf[CBT_NAME_MAX + 1])
{
	if (sel->by_number)
		snprintf(buf, CBT_NAME_MAX + 1, "%u:%u", sel->major, sel->minor);
	else
		snprintf(buf, CBT_NAME_MAX + 1, "%s", sel->name);
	return buf;
}
