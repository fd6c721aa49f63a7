#!/bin/sh
# An epoch closed without a snapshot (cbt epoch close, and dmsetup message
# close_epoch) is exact: the close waits for writes in flight, so when it
# returns every write the closed epoch lists is on the origin, and a
# reader copying the epoch's blocks from the live device gets their new
# data. Writes are delayed 8 s by dm-delay under the origin (a loaded
# TCG guest can take seconds to notice the write is in flight).
# disks: 16M
# cost: 17
# timeout: 120

cleanup() {
	[ -n "${W:-}" ] && wait "$W" 2>/dev/null
	dm_remove c slow
}

need_module dm_cbt dm_delay
need_cmd cbt stamp stampscan
W=

N=$(sectors "$DISK1")
assert_cmd stamp write "$DISK1" -b 4096 -n $((N / 8)) -g 1
assert_cmd dmsetup create slow --table "0 $N delay $DISK1 0 0 $DISK1 0 8000"
assert_cmd dmsetup create c --table "0 $N cbt /dev/mapper/slow 8"

changed() {
	cbt status c --json | sed -n 's/.*"changed_blocks": \([0-9]*\).*/\1/p' | head -1
}

# close_while_writing EPOCH BLOCK GEN HOW...: write BLOCK with GEN, close
# EPOCH once the write is tracked (so it is in flight), then read BLOCK.
close_while_writing() {
	local epoch=$1 block=$2 gen=$3 got
	shift 3
	stamp write /dev/mapper/c -b 4096 -o $((block * 4096)) -n 1 -g "$gen" >/dev/null &
	W=$!
	until [ "$(changed)" = 1 ]; do
		kill -0 "$W" 2>/dev/null || break
	done
	kill -0 "$W" 2>/dev/null || fail "the write completed before the close (no delay?)"
	assert_cmd "$@"
	got=$(stampscan /dev/mapper/c -b 4096 -o $((block * 4096)) -n 1 | awk '{ print $2 }')
	assert_eq "$got" "$gen" "block $block right after closing epoch $epoch (the write it lists)"
	wait "$W" || fail "the write failed"
	W=
	assert_eq "$(cbt bitmap c --epoch "$epoch" --blocks | tr '\n' ' ')" "$block 1 " "epoch $epoch's blocks"
}

close_while_writing 1 5 2 cbt epoch close c
close_while_writing 2 9 3 dmsetup message c 0 close_epoch
assert_cmd dmsetup remove c
assert_cmd dmsetup remove slow
pass
