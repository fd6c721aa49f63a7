#!/bin/sh
# Review L12: a devices.conf with DOS line endings (CRLF, as an editor on
# another system leaves it) is read as if it had none, and the kernel log
# says so; before, "block-size=4k\r" was a bad block size and the disk
# booted untracked.
# disks: 32M
# cost: 10
# timeout: 120

LIB=/usr/share/cbt/cbt-boot.sh

cleanup() {
	dm_remove tc
	rm -rf /etc/cbt
}

need_module dm_cbt
need_cmd dmsetup
mkdir -p /etc/cbt
printf '# tracked disks\r\ntc %s block-size=4k\r\n' "$DISK1" >/etc/cbt/devices.conf
dmesg -c >/dev/null
assert_cmd sh "$LIB" /etc/cbt/devices.conf
[ -b /dev/mapper/tc ] || { dmesg | grep cbt-boot; fail "no /dev/mapper/tc from a CRLF line"; }
assert_eq "$(dmsetup table tc | awk '{ print $5 }')" 8 "block size in sectors"
dmesg | grep "cbt-boot: .*DOS line endings" >/dev/null || { dmesg | grep cbt-boot; fail "no word about the CRs"; }
assert_cmd dmsetup remove tc
pass
