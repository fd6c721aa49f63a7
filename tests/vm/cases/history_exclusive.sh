#!/bin/sh
# One metadata device, one origin: a second cbt device naming the first
# one's metadata device (as metadata or as origin), or the first one's
# origin as its metadata, is refused and nothing is written; so is the COW
# store of an attached snapshot as metadata (its zeroed first chunk looks
# blank: it was formatted under the running backup). One cbt target per
# table, starting at sector 0.
# disks: 64M 8M 64M 64M
# cost: 12
# timeout: 120

cleanup() {
	dm_remove d c-snap c
}

need_module dm_cbt
need_cmd md5sum

N=$(sectors "$DISK1")
assert_cmd dmsetup create c --table "0 $N cbt $DISK1 8 2 metadata $DISK2"
dd if=/dev/urandom of=/dev/mapper/c bs=4096 count=1 seek=9 oflag=direct 2>/dev/null
meta=$(md5sum <"$DISK2")
origin=$(md5sum <"$DISK1")
other=$(md5sum <"$DISK3")

refused() {
	if dmsetup create d --table "$1" 2>/dev/null; then
		fail "accepted: $1"
	fi
	dm_remove d
	dmesg | tail -3 | grep -q "$2" || fail "no reason \"$2\" for refusing: $1"
}
refused "0 $N cbt $DISK3 8 2 metadata $DISK2" "is another cbt device's metadata device"
refused "0 $(sectors "$DISK2") cbt $DISK2 8" "origin is another cbt device's metadata"
refused "0 $N cbt $DISK3 8 2 metadata $DISK1" "is another cbt device's origin"
assert_eq "$(md5sum <"$DISK2")" "$meta" "the first device's metadata"
assert_eq "$(md5sum <"$DISK1")" "$origin" "the first device's origin"
assert_eq "$(md5sum <"$DISK3")" "$other" "the refused device's origin"

log "the COW store of c's attached snapshot, as d's metadata"
assert_cmd cbt snapshot take c --cow "$DISK4" --no-freeze
cow=$(md5sum <"$DISK4")
if dmsetup create d --table "0 $N cbt $DISK3 8 2 metadata $DISK4" 2>/dev/null; then
	fail "a snapshot's COW store was accepted as metadata"
fi
dm_remove d
assert_eq "$(md5sum <"$DISK4")" "$cow" "the COW store after the refused table"
assert_cmd cbt snapshot drop c

log "one cbt target per table, from sector 0"
H=$((N / 2))
table_refused create d "0 $H cbt $DISK3 8
$H $H cbt $DISK3 8" "must appear alone in table"
table_refused create d "0 8 linear $DISK3 0
8 $((N - 8)) cbt $DISK3 8" "must appear alone in table"
pass
