#!/bin/sh
# `cbt snapshot take' refuses every COW device that would write into what
# the snapshot protects, or that something else uses, with a message that
# names it, and leaves nothing behind (no device, no epoch closed): the
# cbt device itself, its origin, a partition of the origin's disk, a
# device stacked on the cbt device, a loop device over a file on a
# filesystem on the cbt device, a mounted COW, one another dm device uses,
# and without --force one holding a filesystem. Then a good COW works.
# disks: 64M 32M 16M
# cost: 5
# timeout: 200

cleanup() {
	unmount /mnt/o /mnt/x
	losetup -D 2>/dev/null || true
	dm_remove c-snap on-c holder c
}

need_module dm_cbt ext4 loop
need_cmd cbt losetup mkfs.ext4
mkdir -p /mnt/o /mnt/x

# The origin: the first half of DISK1 (via a partition table would need
# sfdisk; a dm-linear slice shares the disk just the same).
half=$(($(sectors "$DISK1") / 2))
assert_cmd dmsetup create c --table "0 $half cbt $DISK1 8"

# refused COW WHAT: the take fails, says WHAT, leaves no snapshot or epoch.
refused() {
	local cow=$1 want=$2 out
	if out=$(cbt snapshot take c --cow "$cow" --no-freeze 2>&1); then
		fail "COW $cow was accepted"
	fi
	echo "$out" | grep -q "$want" || fail "COW $cow refused, but without \"$want\": $out"
	log "refused $cow: $out"
	case "$(dmsetup ls)" in *c-snap*) fail "c-snap left behind" ;; esac
	cbt status c | grep -q "snapshot:" && fail "a snapshot is still attached"
	[ "$(cbt status c --json | sed -n 's/.*"current_epoch": \([0-9]*\).*/\1/p')" = 1 ] ||
		fail "an epoch was closed by a refused take"
}

refused /dev/mapper/c "is the cbt device"
refused "$DISK1" "is the origin"
assert_cmd dmsetup create slice --table "0 1024 linear $DISK1 $half"
refused /dev/mapper/slice "stacked on its origin"
assert_cmd dmsetup remove slice
assert_cmd dmsetup create on-c --table "0 2048 linear /dev/mapper/c 0"
refused /dev/mapper/on-c "stacked on the cbt device"
assert_cmd dmsetup remove on-c
assert_cmd mkfs.ext4 -q /dev/mapper/c
assert_cmd mount -t ext4 /dev/mapper/c /mnt/o
assert_cmd dd if=/dev/zero of=/mnt/o/cow.img bs=1M count=8
loopdev=$(losetup -f --show /mnt/o/cow.img)
refused "$loopdev" "loop file /mnt/o/cow.img"
losetup -d "$loopdev"
assert_cmd mkfs.ext4 -q "$DISK3"
assert_cmd mount -t ext4 "$DISK3" /mnt/x
refused "$DISK3" "is mounted"
assert_cmd umount /mnt/x
# review M2: an unmounted filesystem (a disk renamed at a reboot, say) is
# refused without --force, and left intact
echo precious >/tmp/precious
assert_cmd mount -t ext4 "$DISK3" /mnt/x
assert_cmd cp /tmp/precious /mnt/x/precious
assert_cmd umount /mnt/x
refused "$DISK3" "holds an ext4 filesystem"
if out=$(cbt backup c --full -o /tmp/x.cbti --cow "$DISK3" --no-freeze 2>&1); then
	fail "backup accepted a COW holding ext4"
fi
echo "$out" | grep -q "holds an ext4 filesystem" || fail "backup refused without the reason: $out"
assert_cmd e2fsck -fn "$DISK3"
assert_cmd mount -t ext4 -o ro "$DISK3" /mnt/x
cmp /tmp/precious /mnt/x/precious || fail "the refused COW's filesystem changed"
assert_cmd umount /mnt/x
assert_cmd dmsetup create holder --table "0 1024 linear $DISK2 0"
refused "$DISK2" "in use by"
assert_cmd dmsetup remove holder
refused /mnt/o/cow.img "not a block device"

log "a COW on another disk is fine; with ext4 mounted the default is to freeze"
out=$(cbt snapshot take c --cow "$DISK2" --json) || fail "take with a good COW failed"
echo "$out" | grep -q '"frozen": true' || fail "mounted ext4 but not frozen: $out"
assert_cmd cbt snapshot list
assert_cmd cbt snapshot drop c
log "with --force the COW holding ext4 is used"
assert_cmd cbt snapshot take c --cow "$DISK3" --no-freeze --force
assert_cmd cbt snapshot drop c
assert_cmd umount /mnt/o
assert_cmd dmsetup remove c
pass
