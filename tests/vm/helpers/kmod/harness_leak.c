// SPDX-License-Identifier: GPL-2.0
/*
 * harness_leak: a module whose only job is to leak one allocation when
 * loaded, so the VM harness self-test (cases/harness_kmemleak.sh) can prove
 * that kmemleak's scan after a case catches a leak and fails the case.
 */
#include <linux/module.h>
#include <linux/slab.h>

/* Holds the allocation until init drops it: then nothing points to it. */
static void *harness_leak_ptr;

static int __init harness_leak_init(void)
{
	harness_leak_ptr = kmalloc(128, GFP_KERNEL);
	if (!harness_leak_ptr)
		return -ENOMEM;
	memset(harness_leak_ptr, 0x5a, 128);
	WRITE_ONCE(harness_leak_ptr, NULL);
	return 0;
}

static void __exit harness_leak_exit(void)
{
}

module_init(harness_leak_init);
module_exit(harness_leak_exit);
MODULE_DESCRIPTION("dm-cbt VM harness self-test: leak one allocation on load");
MODULE_LICENSE("GPL");
