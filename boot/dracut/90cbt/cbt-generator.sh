#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# systemd generator in a dracut initramfs: when root= names a disk
# devices.conf tracks, /sysroot is mounted from /dev/mapper/NAME. Without
# it, systemd-fstab-generator's sysroot.mount mounts root= itself: the
# plain disk, which the cbt device holds open exclusively (the mount fails
# with EBUSY), or, by udev's choice of /dev/disk/by-uuid/ link, either.
# This unit goes to the early generator directory, which overrides the
# normal one fstab-generator writes to (with its fsck of the plain disk).
# The cmdline hook's initqueue job makes /dev/mapper/NAME (a linear,
# untracked stand-in when dm-cbt cannot track it), so the mount never
# waits in vain.
[ -f /etc/cbt/devices.conf ] || exit 0
type getarg >/dev/null 2>&1 || . /lib/dracut-lib.sh
. /usr/share/cbt/cbt-boot.sh
early=${2:-/run/systemd/generator.early}
name=$(cbt_root_name "$(getarg root=)" /etc/cbt/devices.conf) || exit 0
dev=/dev/mapper/$name
unit=$(dev_unit_name "$dev")
opts=$(getarg rootflags=)
if getargbool 0 rw; then opts=${opts:+$opts,}rw; else opts=${opts:+$opts,}ro; fi
fstype=$(getarg rootfstype=)
# The device comes from the settled initqueue, after udev settles: on a
# slow machine later than a device job's default 90 s, which would drop to
# the emergency shell (seen under a loaded TCG host). rd.timeout, as
# dracut's own rootfs-generator does; none by default.
timeout=$(getarg rd.timeout)
mkdir -p "$early/$unit.device.d"
printf '[Unit]\nJobTimeoutSec=%s\nJobRunningTimeoutSec=%s\n' "${timeout:-0}" "${timeout:-0}" \
	>"$early/$unit.device.d/timeout.conf"
cat >"$early/sysroot.mount" <<UNIT
# Written by dracut's cbt module (cbt-generator): root is tracked by dm-cbt.
[Unit]
Description=Root on the dm-cbt device $dev
Before=initrd-root-fs.target
Requires=systemd-fsck@$unit.service
After=systemd-fsck@$unit.service

[Mount]
What=$dev
Where=/sysroot
Type=${fstype:-auto}
Options=$opts
UNIT
exit 0
