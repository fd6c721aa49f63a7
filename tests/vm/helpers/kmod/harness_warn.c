// SPDX-License-Identifier: GPL-2.0
/*
 * harness_warn: a module whose only job is to WARN when loaded, so the VM
 * harness self-test (cases/harness_warn.sh) can prove that a kernel warning
 * in a case is caught and reported as that case failing. With panic_on_warn=1
 * the guest panics; the harness must report it and go on in a fresh boot.
 */
#include <linux/module.h>
#include <linux/bug.h>

static int __init harness_warn_init(void)
{
	WARN(1, "harness_warn: deliberate warning for the VM harness self-test\n");
	return 0;
}

static void __exit harness_warn_exit(void)
{
}

module_init(harness_warn_init);
module_exit(harness_warn_exit);
MODULE_DESCRIPTION("dm-cbt VM harness self-test: WARN on load");
MODULE_LICENSE("GPL");
