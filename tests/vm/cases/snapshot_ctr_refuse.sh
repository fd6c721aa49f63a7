#!/bin/sh
# A cbt-snap table loaded with dmsetup (the tool's checks bypassed) is
# refused when its COW device would write into something that matters, and
# the refusal writes nothing: the origin (its ext4 still passes e2fsck),
# the cbt device, the metadata device (its bytes unchanged), a device
# stacked on the origin or on the metadata, another snapshot's COW store
# (that snapshot still reads as the origin did when it was taken), a
# device another (non-cbt) dm device is built on (its bytes unchanged).
# Also refused: a table with a cbt-snap target not at sector 0, or two of
# them.
# A good COW is still accepted.
# disks: 64M 8M 16M 32M 16M
# cost: 36
# timeout: 300

cleanup() {
	dm_remove s c-snap2 d-snap on-c on-meta on-origin holder d c
}

need_module dm_cbt ext4
need_cmd cbt e2fsck

N=$(sectors "$DISK1")
assert_cmd dmsetup create c --table "0 $N cbt $DISK1 8 2 metadata $DISK2"
assert_cmd mkfs.ext4 -q /dev/mapper/c
sync
e2fsck -fn /dev/mapper/c >/dev/null 2>&1 || fail "e2fsck fails before any test"
meta_sum=$(sha256sum <"$DISK2")
c_sum=$(sha256sum </dev/mapper/c)

# refused COW WHY: dmsetup create s with COW is refused, s is not left.
refused() {
	local cow=$1 out
	if out=$(dmsetup create s --table "0 $N cbt-snap /dev/mapper/c $cow 8" 2>&1); then
		fail "cbt-snap with COW $cow ($2) was accepted"
	fi
	log "refused COW $cow ($2): $out"
	dmsetup info s >/dev/null 2>&1 && fail "s left behind after a refused table"
	e2fsck -fn /dev/mapper/c >/dev/null 2>&1 ||
		fail "the origin's ext4 is damaged after the refused COW $cow ($2)"
	assert_eq "$(sha256sum </dev/mapper/c)" "$c_sum" "the cbt device's bytes after COW $cow"
	assert_eq "$(sha256sum <"$DISK2")" "$meta_sum" "the metadata's bytes after COW $cow"
}

refused "$DISK1" "the origin"
refused /dev/mapper/c "the cbt device"
refused "$DISK2" "the metadata device"
assert_cmd dmsetup create on-origin --table "0 1024 linear $DISK1 0"
refused /dev/mapper/on-origin "stacked on the origin"
assert_cmd dmsetup remove on-origin
assert_cmd dmsetup create on-meta --table "0 1024 linear $DISK2 0"
refused /dev/mapper/on-meta "stacked on the metadata"
assert_cmd dmsetup remove on-meta

log "another cbt device d with a snapshot whose COW is DISK3"
M=$(sectors "$DISK4")
assert_cmd stamp write "$DISK4" -b 4096 -n $((M / 8)) -g 1
assert_cmd dmsetup create d --table "0 $M cbt $DISK4 8"
assert_cmd cbt snapshot take d --cow "$DISK3" --no-freeze
snap_sum=$(sha256sum </dev/mapper/d-snap)
assert_cmd stamp write /dev/mapper/d -b 4096 -n 512 -g 2
refused "$DISK3" "the COW store of d's snapshot"
assert_eq "$(sha256sum </dev/mapper/d-snap)" "$snap_sum" "d's snapshot after the refusal"
refused /dev/mapper/d "another cbt device"
assert_cmd dmsetup create on-c --table "0 1024 cbt /dev/mapper/c 8"
refused /dev/mapper/on-c "a cbt device stacked on the cbt device (the next origin write hung)"
assert_cmd dmsetup remove on-c

# The tool refuses it too (snapshot_cowcheck); dmsetup goes past the tool.
log "a COW another dm device is built on is refused"
assert_cmd stamp write "$DISK5" -b 4096 -n 16 -g 3
holder_sum=$(dd if="$DISK5" bs=4096 count=16 2>/dev/null | sha256sum)
assert_cmd dmsetup create holder --table "0 128 linear $DISK5 0"
refused "$DISK5" "the device under another dm device"
assert_eq "$(dd if=/dev/mapper/holder bs=4096 count=16 2>/dev/null | sha256sum)" \
	"$holder_sum" "the holder's bytes after the refusal"
assert_cmd dmsetup remove holder

if out=$(dmsetup create s --table "0 $N cbt-snap /dev/mapper/c $DISK5 4294967304" 2>&1); then
	fail "a chunk size of 2^32 + 8 sectors was accepted (wrapped to 8)"
fi
log "refused chunk 2^32 + 8: $out"

log "a cbt-snap target not at sector 0, or two in one table, is refused"
half=$((N / 2))
if dmsetup create s --table "0 $half zero
$half $half cbt-snap /dev/mapper/c $DISK5 8" 2>/dev/null; then
	fail "a cbt-snap target at sector $half was accepted"
fi
if dmsetup create s --table "0 $N cbt-snap /dev/mapper/c $DISK5 8
$N $N cbt-snap /dev/mapper/d $DISK5 8" 2>/dev/null; then
	fail "two cbt-snap targets in one table were accepted"
fi
dmsetup info s >/dev/null 2>&1 && fail "s left behind"

log "a good COW is accepted"
assert_cmd dmsetup create s --readonly --table "0 $N cbt-snap /dev/mapper/c $DISK5 8"
assert_cmd dmsetup remove s
assert_cmd cbt snapshot drop d
assert_cmd dmsetup remove d
assert_cmd dmsetup remove c
pass
