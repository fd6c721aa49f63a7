#!/bin/sh
# A clean remove leaves a fingerprint of the origin (its first and last
# MiB and its size): written there while detached, or with the metadata
# moved beside another origin, the next create starts a new identity,
# reason origin-changed. Untouched, history continues. A write elsewhere
# is not seen (the documented limit).
# disks: 64M 8M 64M
# cost: 6
# timeout: 240

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt mkfs.ext4

N=$(sectors "$DISK1")
CBT="0 $N cbt $DISK1 8 2 metadata $DISK2"
uuid() { dm_status_word c 4; }
reason() { dm_status_word c 11; }
recreate() {
	assert_cmd dmsetup remove c
	"$@"
	assert_cmd dmsetup create c --table "$CBT"
}

assert_cmd dmsetup create c --table "$CBT"
write_block 3
write_block 5000
assert_eq "$(cbt epoch close c)" 1 "closed epoch"
old=$(uuid)

log "clean remove, nothing written, create"
recreate :
assert_eq "$(uuid)" "$old" "identity after an untouched detach"
assert_eq "$(reason)" continued "reason after an untouched detach"

log "clean remove, ext4 made on the bare origin, create"
recreate mkfs.ext4 -q -F "$DISK1"
new=$(uuid)
[ "$new" != "$old" ] || fail "identity kept after mkfs on the bare origin"
assert_eq "$(reason)" origin-changed "reason after mkfs on the bare origin"
dmesg | tail -5 | grep -q "(origin-changed)" || fail "no warning naming the reason"

log "clean remove, the last MiB written on the bare origin, create"
old=$new
recreate dd if=/dev/urandom of="$DISK1" bs=4096 count=1 seek=$((N / 8 - 3)) oflag=direct conv=notrunc 2>/dev/null
[ "$(uuid)" != "$old" ] || fail "identity kept after a write to the last MiB"
assert_eq "$(reason)" origin-changed "reason after a write to the last MiB"

log "documented limit: a write outside both regions is not seen"
old=$(uuid)
recreate dd if=/dev/urandom of="$DISK1" bs=4096 count=1 seek=4000 oflag=direct conv=notrunc 2>/dev/null
assert_eq "$(uuid)" "$old" "identity after a write outside the fingerprint"
assert_eq "$(reason)" continued "reason after a write outside the fingerprint"

log "the metadata moved beside another origin of the same size"
assert_eq "$(sectors "$DISK3")" "$N" "the other origin's size"
dd if=/dev/urandom of="$DISK3" bs=1M count=1 oflag=direct conv=notrunc 2>/dev/null
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "0 $N cbt $DISK3 8 2 metadata $DISK2"
[ "$(uuid)" != "$old" ] || fail "identity kept beside another origin"
assert_eq "$(reason)" origin-changed "reason beside another origin"
assert_cmd dmsetup remove c
pass
