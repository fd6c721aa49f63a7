#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# dracut module: dm-cbt changed-block tracking from boot. Included when
# /etc/cbt/devices.conf exists; see cbt-boot.sh for its format.

check() {
	[[ -f /etc/cbt/devices.conf ]] || return 255
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
}

install() {
	inst_multiple dmsetup blkid readlink
	inst_simple /etc/cbt/devices.conf
	inst_simple /usr/share/cbt/cbt-boot.sh
	inst_hook cmdline 90 "$moddir/cbt-cmdline.sh"
	inst_hook pre-mount 10 "$moddir/cbt-pre-mount.sh"
}
