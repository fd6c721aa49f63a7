#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dracut cmdline hook (sourced): when root= names a disk devices.conf
# tracks, by path or UUID=/PARTUUID=, make dracut wait for and mount
# /dev/mapper/NAME instead: $root for dracut's shell init (as its
# parse-block does); under systemd, cbt-generator has already pointed
# sysroot.mount at /dev/mapper/NAME.
[ -f /etc/cbt/devices.conf ] || return 0
. /usr/share/cbt/cbt-boot.sh
_cbt_root=$(getarg root=)
if _cbt_line=$(cbt_root_name "$_cbt_root" /etc/cbt/devices.conf); then
	root="block:/dev/mapper/$_cbt_line"
	rootok=1
	export root rootok
	cbt_kmsg 6 "root=$_cbt_root is listed in /etc/cbt/devices.conf: mounting /dev/mapper/$_cbt_line"
	# Create the devices as soon as udev has settled the disks (all of
	# them: the pre-mount hook then has nothing left to do). If root's
	# cannot be made, /dev/mapper/NAME becomes an untracked stand-in for
	# the plain disk, so the boot goes on instead of waiting forever.
	# initqueue writes the job into a script as words: NAME and root= hold
	# no character a shell reads (cbt_root_name).
	/sbin/initqueue --settled --onetime --unique --name cbt-boot \
		/sbin/cbt-boot-root "$_cbt_line" "$_cbt_root"
	wait_for_dev "/dev/mapper/$_cbt_line"
fi
unset _cbt_root _cbt_line
