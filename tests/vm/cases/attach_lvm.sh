#!/bin/sh
# `cbt attach' slides tracking under a mounted ext4 LVM volume while fio
# writes and verifies on it: no I/O error, verification clean, the LV keeps
# its name, numbers and UUID, writes after the attach are in the bitmap.
# An injected failure at each step of attach leaves the original table
# live and nothing behind; detach puts the LV's own table back, exactly.
# disks: 256M 8M
# cost: 27
# timeout: 900

VG=cbtvga
LV=$VG-lv0
HID=$LV-cbt-orig
MNT=/mnt/lv

cleanup() {
	bg_kill fio
	unmount "$MNT"
	if dmsetup table "$LV" 2>/dev/null | grep -q ' cbt '; then cbt detach "$LV" >/dev/null 2>&1 || true; fi
	dm_remove "$HID"
	vgremove -f -y "$VG" >/dev/null 2>&1 || true
	pvremove -y -ff "$DISK1" >/dev/null 2>&1 || true
}

need_module dm_cbt dm_mod
need_cmd cbt lvm fio
lvm_setup

# state: what must not change across attach/detach, and nothing left over.
state() { dmsetup info -c --noheadings -o name,major,minor,uuid "$LV"; }
assert_restored() {
	assert_eq "$(dmsetup table "$LV")" "$ORIG" "table of $LV after $1"
	assert_eq "$(state)" "$STATE" "name, numbers, UUID after $1"
	dmsetup info "$LV" | grep -q '^State: *ACTIVE' || fail "$LV is not active after $1"
	dmsetup info "$LV" | grep -q 'Tables present: *LIVE$' || fail "$LV has an inactive table after $1"
	{ [ ! -e "/dev/mapper/$HID" ] && ! dmsetup info "$HID" >/dev/null 2>&1; } ||
		fail "$HID left behind after $1"
}

assert_cmd pvcreate -q "$DISK1"
assert_cmd vgcreate -q "$VG" "$DISK1"
assert_cmd lvcreate -q -y -Zn -W n -n lv0 -L 128M "$VG"
assert_cmd mkfs.ext4 -q -b 4096 "/dev/mapper/$LV"
mkdir -p "$MNT"
assert_cmd mount "/dev/mapper/$LV" "$MNT"
ORIG=$(dmsetup table "$LV")
STATE=$(state)
log "LV: $STATE: $ORIG"

log "start fio: random writes with continuous crc32c verification"
bg_start fio fio --name=wl --filename="$MNT/fio" --size=32M --bs=4k --rw=randwrite --direct=1 \
	--ioengine=libaio --iodepth=8 --verify=crc32c --verify_backlog=64 --verify_fatal=1 \
	--time_based --runtime=3600 --output=/tmp/fio.out
sleep 3
bg_running fio || { cat /tmp/fio.out; fail "fio ended early"; }

for step in 1 2 3 4 5; do
	log "attach with an injected failure at step $step"
	if CBT_ATTACH_FAIL_AT=$step cbt attach "$LV" -b 4k 2>/tmp/err; then
		fail "attach succeeded despite CBT_ATTACH_FAIL_AT=$step"
	fi
	cat /tmp/err
	grep -q "failed on purpose" /tmp/err || fail "no injected-failure message at step $step"
	assert_restored "failed attach (step $step)"
	bg_running fio || { cat /tmp/fio.out; fail "fio died after the failed attach at step $step"; }
done

log "attach for real"
assert_cmd cbt attach "$LV" -b 4k
assert_eq "$(state)" "$STATE" "name, numbers, UUID after attach"
dmsetup table "$LV" | grep -q "^0 [0-9]* cbt [0-9]*:[0-9]* 8\$" || fail "table after attach: $(dmsetup table "$LV")"
assert_eq "$(dmsetup table "$HID")" "$ORIG" "hidden device's table"
assert_eq "$(dmsetup info -c --noheadings -o uuid "$HID")" "$(dmsetup info -c --noheadings -o uuid "$LV")-CBTORIG" "hidden device's UUID"

log "a file written after the attach is in the bitmap"
dd if=/dev/urandom of="$MNT/mark" bs=4096 count=1 oflag=direct conv=fsync 2>/dev/null
sync
blk=$(debugfs -R "bmap /mark 0" "/dev/mapper/$LV" 2>/dev/null)
log "ext4 block of /mark: $blk"
cbt bitmap "$LV" --blocks | awk -v b="$blk" '$1 <= b && b < $1 + $2 { f = 1 } END { exit !f }' ||
	fail "block $blk of /mark is not in the bitmap"
assert_cmd cbt status "$LV"

log "LVM reporting keeps working (the LV's state shows as X: LVM does not know the cbt target)"
assert_cmd lvs -a "$VG"
assert_cmd lvs --noheadings -o lv_name,lv_attr,lv_size,devices "$VG/lv0"

for step in 2 3; do
	log "detach with an injected failure at step $step: still tracked"
	if CBT_DETACH_FAIL_AT=$step cbt detach "$LV" 2>/tmp/err; then fail "detach succeeded at step $step"; fi
	cat /tmp/err
	dmsetup table "$LV" | grep -q ' cbt ' || fail "not tracked after failed detach step $step"
	dmsetup info "$LV" | grep -q '^State: *ACTIVE' || fail "$LV suspended after detach step $step"
	dmsetup info "$LV" | grep -q 'Tables present: *LIVE$' || fail "inactive table after detach step $step"
done

log "detach failing after the swap (step 4) finishes the detach"
if CBT_DETACH_FAIL_AT=4 cbt detach "$LV" 2>/tmp/err; then fail "detach succeeded at step 4"; fi
cat /tmp/err
assert_restored "detach failing at step 4"

assert_cmd cbt attach "$LV"
log "detach failing to remove the hidden device (step 5) says what to do"
if CBT_DETACH_FAIL_AT=5 cbt detach "$LV" 2>/tmp/err; then fail "detach succeeded at step 5"; fi
cat /tmp/err
grep -q "dmsetup remove $HID" /tmp/err || fail "no hint for the left-over hidden device"
assert_cmd dmsetup remove "$HID"
assert_restored "detach failing at step 5"

assert_cmd cbt attach "$LV" -b 64k
sleep 2
assert_cmd cbt detach "$LV"
assert_restored "detach"

log "stop fio: it must have seen no error"
kill -INT "$(bg_pid fio)"
rc=0
bg_wait fio || rc=$?
grep -E "err=|verify|WRITE:" /tmp/fio.out | head -5
grep -q "err= 0" /tmp/fio.out || { cat /tmp/fio.out; fail "fio reported errors (exit $rc)"; }
grep -qi "verify.*fail\|bad magic\|crc32c.*mismatch" /tmp/fio.out && fail "fio verification failed"
assert_cmd umount "$MNT"
assert_cmd e2fsck -fn "/dev/mapper/$LV"
assert_cmd vgchange -an "$VG"
pass
