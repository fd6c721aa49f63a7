#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dracut pre-mount hook (sourced): create the cbt devices when root is not
# tracked (a tracked root's initqueue job, queued by the cmdline hook, made
# them all and left /run/cbt-boot.done). Never fails: problems go to the
# kernel log.
[ -f /etc/cbt/devices.conf ] || return 0
[ -e /run/cbt-boot.done ] && return 0
. /usr/share/cbt/cbt-boot.sh
mkdir -p /run
: >/run/cbt-boot.done
cbt_boot_setup /etc/cbt/devices.conf
# A tracked root whose initqueue job never ran: sysroot.mount waits for
# /dev/mapper/NAME without a timeout, so it must exist, tracked or not.
if _cbt_line=$(cbt_root_name "$(getarg root=)" /etc/cbt/devices.conf 2>/dev/null); then
	cbt_boot_fallback "$_cbt_line" "$(getarg root=)"
fi
unset _cbt_line
