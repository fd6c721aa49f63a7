#!/bin/sh
# The COW device fails under writes while a snapshot is active: swapped to
# dm-error, then (another round) to dm-delay. With fio --verify writing to
# the cbt device: no acknowledged origin write is lost; a failed COW device
# turns the snapshot invalid with EIO (the origin never fails a write
# because of it); a slow one changes nothing. Then the snapshot is dropped,
# its epoch aborted (its changes kept), and the next incremental restores
# equal to the device.
# disks: 32M 64M 64M 32M
# cost: 30
# timeout: 600

# shellcheck source=tests/soak/cases/soak.inc
. /harness/cases/soak.inc

cleanup() { soak_cleanup; }

need_module dm_cbt dm_delay
need_cmd cbt fio
rm -rf "$SOAK" && mkdir -p "$SOAK"
TGT=$DISK4

cbt_create c "$DISK1" 8
for mode in error delay; do
	log "=== COW device of an active snapshot: $mode"
	CH=$SOAK/chain-$mode
	assert_cmd cbt backup c --full --all-blocks --to "$CH" --cow "$DISK3" --no-freeze --quiet
	assert_cmd dmsetup create cow --table "0 $(sectors "$DISK2") linear $DISK2 0"
	assert_cmd cbt snapshot take c --cow /dev/mapper/cow --no-freeze
	fio_load /dev/mapper/c "$mode"
	swap cow "$mode" "$DISK2"
	fio_wait
	state=$(cbt status c --json | sed -n '/"snapshot"/,$p' | sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' | head -n 1)
	err=$(cbt status c --json | sed -n 's/.*"errno": *\([0-9]*\).*/\1/p' | head -n 1)
	log "$mode: snapshot $state, errno $err"
	case "$mode" in
	error) assert_eq "$state $err" "invalid 5" "snapshot state and errno after COW errors" ;;
	delay) assert_eq "$state $err" "active 0" "snapshot state and errno after a slow COW" ;;
	esac
	assert_cmd cbt snapshot drop c
	for n in $(closed_epochs c); do assert_cmd cbt epoch abort c "$n"; done
	assert_cmd dmsetup remove cow
	assert_cmd cbt backup c --incremental --to "$CH" --cow "$DISK3" --no-freeze --quiet
	restore_cmp "$CH" /dev/mapper/c "$TGT"
done
pass
