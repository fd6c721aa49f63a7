#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dracut initqueue job the cmdline hook queues when root is tracked:
# `cbt-boot-root NAME ROOT' creates every device devices.conf lists, then
# makes sure /dev/mapper/NAME exists (an untracked stand-in for the plain
# disk ROOT when dm-cbt could not track it), so the boot never waits for
# it in vain. Leaves /run/cbt-boot.done for the pre-mount hook.
. /usr/share/cbt/cbt-boot.sh
mkdir -p /run
: >/run/cbt-boot.done
cbt_boot_setup /etc/cbt/devices.conf
cbt_boot_fallback "$1" "$2"
exit 0
