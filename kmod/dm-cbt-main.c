// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbt: changed-block tracking for device-mapper.
 */
#include <linux/module.h>
#include <linux/random.h>
#include <net/genetlink.h>

#include "dm-cbt.h"

static int __init dm_cbt_init(void)
{
	int r;

	/* Tells this module load's dm devices from those of another (dm-cbt-history.c). */
	cbt_module_nonce = get_random_u64();
	r = cbt_md_init();
	if (r) {
		DMERR("Cannot allocate the metadata bio pool: %d", r);
		return r;
	}
	r = cbt_target_register();
	if (r) {
		DMERR("Cannot register the cbt target: %d", r);
		goto err_target;
	}
	r = cbt_snap_register();
	if (r) {
		DMERR("Cannot register the cbt-snap target: %d", r);
		goto err_snap;
	}
	r = cbt_netlink_init();
	if (r) {
		DMERR("Cannot register the %s netlink family: %d", DM_CBT_GENL_NAME, r);
		goto err_netlink;
	}
	return 0;

err_netlink:
	cbt_snap_unregister();
err_snap:
	cbt_target_unregister();
err_target:
	cbt_md_exit();
	return r;
}

static void __exit dm_cbt_exit(void)
{
	cbt_netlink_exit();
	cbt_snap_unregister();
	cbt_target_unregister();
	cbt_md_exit();
}

module_init(dm_cbt_init);
module_exit(dm_cbt_exit);

MODULE_DESCRIPTION(DM_NAME " changed-block tracking target");
MODULE_AUTHOR("dm-cbt developers");
MODULE_LICENSE("GPL");
MODULE_ALIAS_GENL_FAMILY(DM_CBT_GENL_NAME);
MODULE_ALIAS("dm-" DM_CBT_SNAP_TARGET_NAME);
