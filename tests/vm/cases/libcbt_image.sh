#!/bin/sh
# The libcbt example image-backup (examples/image-backup.c) writes cbt
# images with the library: a full one, then an incremental one holding
# exactly the blocks written since (counted), each restore point read back
# through the library equal to its snapshot (the example checks it), the
# kernel's events seen (epoch-closed, snapshot-taken, epoch-committed).
# The cbt tool reads the chain the library wrote: `cbt verify' passes and
# `cbt restore' gives the device back (cmp). A bad COW device adds nothing.
# disks: 32M 16M
# cost: 5
# timeout: 240

D=/tmp/libcbt-chain

cleanup() {
	dmsetup remove c-snap 2>/dev/null || true
	dmsetup remove c 2>/dev/null || true
	rm -rf "$D" /tmp/libcbt-out /tmp/libcbt-err /tmp/libcbt-restored
}

need_module dm_cbt
need_cmd cbt image-backup

# put BLOCK COUNT: random data into 4 KiB blocks of the tracked device.
put() {
	dd if=/dev/urandom of=/dev/mapper/c bs=4096 seek="$1" count="$2" conv=notrunc \
		oflag=direct status=none || fail "writing blocks $1+$2"
}

# backup WANT EPOCH: run the example; WANT is its image line, EPOCH the
# epoch its snapshot closes.
backup() {
	log "image-backup, epoch $2"
	image-backup c "$DISK2" "$D" >/tmp/libcbt-out 2>/tmp/libcbt-err ||
		fail "image-backup failed: $(cat /tmp/libcbt-err)"
	[ -s /tmp/libcbt-err ] && fail "image-backup wrote to stderr: $(cat /tmp/libcbt-err)"
	assert_eq "$(head -1 /tmp/libcbt-out)" "$1" "image"
	for ev in epoch-closed snapshot-taken epoch-committed; do
		grep -qx "event $ev $2" /tmp/libcbt-out ||
			fail "no $ev event for epoch $2: $(tr '\n' ';' </tmp/libcbt-out)"
	done
	dmsetup ls | grep -q c-snap && fail "a snapshot device was left behind"
	return 0
}

assert_cmd dmsetup create c --table "0 $(sectors "$DISK1") cbt $DISK1 8"
put 0 1
put 10 3
backup "full 000001-full.cbti 4" 1

put 11 1
put 20 3
backup "incremental 000002-incr.cbti 4" 2

log "the cbt tool reads the chain the library wrote"
assert_cmd cbt verify "$D"
assert_cmd cbt restore "$D" /tmp/libcbt-restored
cmp /dev/mapper/c /tmp/libcbt-restored || fail "the restored point differs from the device"

log "bad input: the origin as COW device"
put 30 1
image-backup c "$DISK1" "$D" >/tmp/libcbt-out 2>/tmp/libcbt-err &&
	fail "image-backup took the origin as its COW device"
grep -q "image-backup: .*$DISK1" /tmp/libcbt-err ||
	fail "no clear message naming $DISK1: $(cat /tmp/libcbt-err)"
assert_eq "$(find "$D" -name "*.cbti" | wc -l)" 2 "images in the chain"
dmsetup ls | grep -q c-snap && fail "a snapshot device was left behind"
backup "incremental 000003-incr.cbti 1" 3
pass
