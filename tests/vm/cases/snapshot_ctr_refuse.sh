#!/bin/sh
# A cbt-snap table loaded with dmsetup (the tool's checks bypassed) is
# refused when its COW device would write into something that matters, and
# the refusal writes nothing: the origin (its ext4 still passes e2fsck),
# the cbt device, the metadata device (its bytes unchanged), a device
# stacked on the origin or on the metadata, another snapshot's COW store
# (that snapshot still reads as the origin did when it was taken), a
# device another (non-cbt) dm device is built on (its bytes unchanged).
# Also refused, with the kernel's reason and nothing written: a table with
# a cbt-snap target not at sector 0, or two of them, of another length
# than the cbt device's, a bad chunk size, over a device that is not a cbt
# device or one with a snapshot attached, a COW smaller than two chunks.
# `cbt snapshot release' without a snapshot, past its end or before it is
# taken is refused with the kernel's reason, nothing released.
# A good COW is still accepted: a table only loaded writes nothing, its
# first resume zeroes the COW's first chunk and nothing else.
# disks: 64M 8M 16M 32M 16M
# cost: 36
# timeout: 300

cleanup() {
	dm_remove s tiny c-snap2 d-snap on-c on-meta on-origin holder d c
}
W=/tmp/ctrrefuse
mkdir -p "$W"

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

# refused_table TABLE MESSAGE: dmsetup create s with TABLE is refused with
# the kernel's MESSAGE (docs/snapshot.md, "What the constructor refuses"),
# s is not left, and $DISK5 (the COW of most) still holds its stamps.
refused_table() {
	table_refused create s "$1" "$2"
	assert_eq "$(dd if="$DISK5" bs=4096 count=16 2>/dev/null | sha256sum)" "$holder_sum" \
		"$DISK5's first blocks after: $1"
}
# dm runs the first line's constructor before it refuses the second: a good
# cbt-snap line then another must still write nothing (the COW's first
# chunk is zeroed at the first resume, not by the constructor)
half=$((N / 2))
refused_table "0 $half error
$half $half cbt-snap /dev/mapper/c $DISK5 8" "must appear alone in table"
refused_table "0 $N cbt-snap /dev/mapper/c $DISK5 8
$N $N cbt-snap /dev/mapper/d $DISK5 8" "must appear alone in table"
refused_table "0 $N cbt-snap /dev/mapper/c $DISK5 8
$N 8 error" "must appear alone in table"
refused_table "0 $((N - 8)) cbt-snap /dev/mapper/c $DISK5 8" "The snapshot's length must be the cbt device's"
refused_table "0 $N cbt-snap /dev/mapper/c $DISK5 4" "Invalid chunk size (a power of two from 8 to 2048"
refused_table "0 $N cbt-snap /dev/mapper/c $DISK5 4096" "Invalid chunk size (a power of two from 8 to 2048"
refused_table "0 $N cbt-snap $DISK1 $DISK5 8" "Not a cbt device"
refused_table "0 $M cbt-snap /dev/mapper/d $DISK5 8" \
	"The cbt device has a snapshot attached already; remove it first"
assert_eq "$(sha256sum </dev/mapper/d-snap)" "$snap_sum" "d's snapshot after the refused second one"
assert_cmd dmsetup create tiny --table "0 15 linear $DISK5 8192"
tiny_sum=$(sha256sum </dev/mapper/tiny)
refused_table "0 $N cbt-snap /dev/mapper/c /dev/mapper/tiny 8" "The COW device is smaller than two chunks"
assert_eq "$(sha256sum </dev/mapper/tiny)" "$tiny_sum" "the too small COW's bytes"
assert_cmd dmsetup remove tiny

# cbt snapshot release: the kernel's reason, and nothing released
log "release without a snapshot, past the snapshot's end"
if cbt snapshot release c 0 4K 2>"$W/err"; then fail "release without a snapshot succeeded"; fi
grep -q "No snapshot device attached" "$W/err" || fail "release without a snapshot: $(cat "$W/err")"
for range in "$((M * 512)) 4K" "0 $((M * 512 + 512))" "$((M * 512 - 4096)) 8K"; do
	# shellcheck disable=SC2086 # OFFSET LENGTH, split on purpose
	if cbt snapshot release d $range 2>"$W/err"; then fail "release of $range past the end succeeded"; fi
	grep -q "The range passes the end of the snapshot" "$W/err" || fail "release of $range: $(cat "$W/err")"
done
assert_eq "$(dm_status_word d-snap 9)" 0 "d's snapshot's released chunks after the refusals (dmsetup status)"
assert_eq "$(sha256sum </dev/mapper/d-snap)" "$snap_sum" "d's snapshot after the refused releases"

log "a good COW is accepted; a table only loaded writes nothing, the first resume zeroes its first chunk"
rest_sum=$(dd if="$DISK5" bs=4096 skip=1 count=15 2>/dev/null | sha256sum)
assert_cmd dmsetup create s --notable
assert_cmd dmsetup load s --readonly --table "0 $N cbt-snap /dev/mapper/c $DISK5 8"
assert_eq "$(dd if="$DISK5" bs=4096 count=16 2>/dev/null | sha256sum)" "$holder_sum" \
	"$DISK5's first blocks with the table loaded, not resumed"
assert_cmd dmsetup resume s
# s holds DISK5 open: its page cache still has what was read before the write
assert_cmd blockdev --flushbufs "$DISK5"
cmp -s -n 4096 "$DISK5" /dev/zero || fail "the COW's first chunk is not zero after the resume"
assert_eq "$(dd if="$DISK5" bs=4096 skip=1 count=15 2>/dev/null | sha256sum)" "$rest_sum" \
	"the COW's blocks after its first chunk, after the resume"
log "release of a snapshot not taken yet (prepared) is refused"
if cbt snapshot release c 0 4K 2>"$W/err"; then fail "release of a prepared snapshot succeeded"; fi
grep -q "The snapshot is not active" "$W/err" || fail "release of a prepared snapshot: $(cat "$W/err")"
assert_cmd dmsetup remove s
assert_cmd cbt snapshot drop d
assert_cmd dmsetup remove d
assert_cmd dmsetup remove c
pass
