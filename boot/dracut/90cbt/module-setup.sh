#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# dracut module: dm-cbt changed-block tracking from boot. Included when
# /etc/cbt/devices.conf exists; see cbt-boot.sh for its format.
# CBT_CONF and CBT_BOOT_LIB: other paths, for tests/boot/run only.

check() {
	[[ -f ${CBT_CONF:-/etc/cbt/devices.conf} ]] || return 255
	require_binaries dmsetup || return 1
	return 0
}

depends() {
	echo dm
	return 0
}

installkernel() {
	# A kernel without the module still boots: the hook says why, untracked.
	hostonly='' instmods dm-cbt || :
	if ! modinfo -k "$kernel" dm-cbt >/dev/null 2>&1; then
		dwarn "cbt: no dm-cbt module for kernel $kernel: that kernel boots without tracking"
	fi
}

install() {
	# What cbt-boot.sh runs besides shell builtins (dracut's base module
	# has only some of them).
	inst_multiple dmsetup blkid readlink grep head cut dd sync cat uname sed tr ls dmesg sleep mkdir ln
	inst_simple "${CBT_CONF:-/etc/cbt/devices.conf}" /etc/cbt/devices.conf
	inst_simple "${CBT_BOOT_LIB:-/usr/share/cbt/cbt-boot.sh}" /usr/share/cbt/cbt-boot.sh
	inst_script "$moddir/cbt-boot-root.sh" /sbin/cbt-boot-root
	inst_hook cmdline 90 "$moddir/cbt-cmdline.sh"
	inst_hook pre-mount 10 "$moddir/cbt-pre-mount.sh"
	# Under systemd the initqueue (the cmdline hook's job) runs only in an
	# initramfs that says it needs it.
	dracut_need_initqueue
	if dracut_module_included systemd; then
		inst_script "$moddir/cbt-generator.sh" "$systemdutildir/system-generators/dracut-cbt-generator"
	fi
}
