#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dracut pre-mount hook (sourced): create the cbt devices of disks that are
# not root (root's, if tracked, came from the initqueue job the cmdline
# hook queued). Never fails: problems go to the kernel log.
[ -f /etc/cbt/devices.conf ] || return 0
. /usr/share/cbt/cbt-boot.sh
mkdir -p /run
cbt_boot_setup /etc/cbt/devices.conf
