#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dracut cmdline hook (sourced): when root= names a disk devices.conf
# tracks, by path or UUID=/PARTUUID=, make dracut wait for and mount
# /dev/mapper/NAME instead (sets $root, as dracut's parse-block does).
[ -f /etc/cbt/devices.conf ] || return 0
. /usr/share/cbt/cbt-boot.sh
_cbt_root=$(getarg root=)
_cbt_line=$(sed -e 's/\r$//' -e 's/#.*//' /etc/cbt/devices.conf | while read -r n src _; do
	[ "$src" = "$_cbt_root" ] && { echo "$n"; break; }
done)
# The job below is a shell command line (initqueue writes it to a script):
# NAME and root= go into it only when they hold no character a shell reads.
# Checked only when a line applies to root: any other root= is not ours.
if [ -n "$_cbt_line" ]; then
	case "$_cbt_line$_cbt_root" in
	*[!A-Za-z0-9=/_.:+@-]*)
		cbt_kmsg 3 "root=$_cbt_root or its name in devices.conf has characters other than letters, digits and =/_.:+@-: not tracked"
		_cbt_line= ;;
	esac
fi
if [ -n "$_cbt_line" ]; then
	root="block:/dev/mapper/$_cbt_line"
	rootok=1
	export root rootok
	cbt_kmsg 6 "root=$_cbt_root is tracked: root is /dev/mapper/$_cbt_line"
	# Create the devices as soon as udev has settled the disks. If root's
	# cannot be made, /dev/mapper/NAME becomes a link to the plain disk, so
	# the boot goes on untracked instead of waiting for a device forever.
	/sbin/initqueue --settled --onetime --unique --name cbt-boot \
		sh -c ". /usr/share/cbt/cbt-boot.sh; mkdir -p /run; cbt_boot_setup /etc/cbt/devices.conf;
		       cbt_boot_fallback '$_cbt_line' '$_cbt_root'"
	wait_for_dev "/dev/mapper/$_cbt_line"
fi
unset _cbt_root _cbt_line
