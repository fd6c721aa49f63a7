// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_dev_lookup() (device.h), apart from device.c because it opens the
 * socket (cbt_nl_open(): genl_sock.c, or the unit tests' fake kernel).
 */
#include "kernel/device.h"

int cbt_dev_lookup(const char *arg, struct cbt_nl **nlp, struct cbt_devsel *sel,
		   struct cbt_dev_info *info)
{
	int ret = cbt_devsel_parse(arg, sel);

	if (!ret && !*nlp)
		ret = cbt_nl_open(nlp);
	if (!ret && info)
		ret = cbt_get_device(*nlp, sel, info);
	return ret;
}
