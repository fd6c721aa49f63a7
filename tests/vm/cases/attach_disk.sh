#!/bin/sh
# `cbt attach' on a disk that is not a device-mapper device: refused with a
# pointer to `cbt setup-boot' while it is mounted; unused, it gets a new
# device /dev/mapper/NAME that tracks it; `cbt detach NAME' refuses while
# it is mounted and removes it afterwards.
# disks: 32M
# cost: 5
# timeout: 180

cleanup() {
	unmount /mnt/d
	dm_remove d
}

need_module dm_cbt
need_cmd cbt
assert_cmd mkfs.ext4 -q -b 4096 "$DISK1"
mkdir -p /mnt/d
assert_cmd mount "$DISK1" /mnt/d
log "mounted: refused, pointing at setup-boot"
if cbt attach "$DISK1" --name d 2>/tmp/err; then fail "attach accepted a mounted disk"; fi
cat /tmp/err
grep -q "cbt setup-boot $DISK1" /tmp/err || fail "no pointer to cbt setup-boot"
[ ! -e /dev/mapper/d ] || fail "a device was made over a mounted disk"
assert_cmd umount /mnt/d

log "unused, without --name: asks for one"
if cbt attach "$DISK1" 2>/tmp/err; then fail "attach without --name accepted"; fi
grep -q -- "--name NAME" /tmp/err || { cat /tmp/err; fail "no hint about --name"; }

assert_cmd cbt attach "$DISK1" --name d -b 4k
dmsetup table d | grep -q "^0 $(sectors "$DISK1") cbt [0-9]*:[0-9]* 8\$" || fail "table of d: $(dmsetup table d)"
assert_eq "$(dmsetup info -c --noheadings -o uuid d)" "CBT-DISK-d" "UUID of d"
assert_cmd mount /dev/mapper/d /mnt/d
dd if=/dev/urandom of=/mnt/d/f bs=4096 count=1 oflag=direct conv=fsync 2>/dev/null
[ "$(cbt bitmap d --blocks | wc -l)" -gt 0 ] || fail "no write tracked on d"
log "detach while mounted: refused"
if cbt detach d 2>/tmp/err; then fail "detach removed a mounted device"; fi
cat /tmp/err
grep -q "in use" /tmp/err || fail "no 'in use' in the refusal"
assert_cmd umount /mnt/d
assert_cmd cbt detach d
[ ! -e /dev/mapper/d ] || fail "d still there after detach"
assert_cmd e2fsck -fn "$DISK1"
pass
