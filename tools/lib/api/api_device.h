/* SPDX-License-Identifier: GPL-2.0 */
/* The device handle, for the snapshot and image parts of the API. */
#ifndef CBT_API_DEVICE_H
#define CBT_API_DEVICE_H

#include "kernel/device.h"

struct cbt_device {
	struct cbt_nl *nl;
	struct cbt_devsel sel;
	char name[CBT_NAME_MAX + 1];	/* its dm name, as the kernel said at open */
};

/* GET_DEVICE now; -EINVAL for a NULL handle. Records a detail. */
int cbt_api_device_info(struct cbt_device *dev, struct cbt_dev_info *info);
/* The changes of epochs @first..@last into @ext (initialised here). */
int cbt_api_device_changes(struct cbt_device *dev, const struct cbt_dev_info *info,
			   uint64_t first, uint64_t last, struct cbt_extents *ext);

#endif /* CBT_API_DEVICE_H */
