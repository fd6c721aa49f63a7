/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The DEVICE argument of every subcommand, turned into the selector the
 * kernel takes (CBT_A_DEV_NAME, or CBT_A_DEV_MAJOR + CBT_A_DEV_MINOR):
 *
 *   NAME              a device-mapper name (as `dmsetup ls' shows it)
 *   MAJ:MIN           device numbers; an argument that starts with a digit
 *                     or ':' and holds a ':' is read this way and must be
 *                     exactly two decimal numbers
 *   /dev/mapper/NAME  any argument with a '/' is a path: the block device
 *   /dev/dm-N         node is stat()ed for its numbers
 */
#ifndef CBT_DEVSEL_H
#define CBT_DEVSEL_H

#include <stdbool.h>
#include <stdint.h>

/* DM_NAME_LEN (128) less the NUL. */
#define CBT_NAME_MAX 127
/* Linux dev_t: 12-bit major, 20-bit minor. */
#define CBT_MAJOR_MAX 4095U
#define CBT_MINOR_MAX 1048575U

struct cbt_devsel {
	bool by_number;
	uint32_t major;
	uint32_t minor;
	char name[CBT_NAME_MAX + 1];
};

/* Parse @arg; -EINVAL (bad form), -ENAMETOOLONG, -ENOENT/-ENOTBLK (paths). */
int cbt_devsel_parse(const char *arg, struct cbt_devsel *sel);
/* Name the selection in messages: the dm name or "MAJ:MIN". */
const char *cbt_devsel_str(const struct cbt_devsel *sel, char buf[CBT_NAME_MAX + 1]);

#endif /* CBT_DEVSEL_H */
