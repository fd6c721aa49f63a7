#!/bin/sh
# The libcbt example (examples/incremental-copy.c, built against the tree
# with pkg-config) keeps a file a copy of a tracked device: each run copies
# exactly the extents written since the previous one (their list is
# compared with what was written, the last one a half block at the device's
# end), the file then equals the device (cmp, checksums), and the epoch is
# committed. Bad input (a COW device that is the origin) fails with a clear
# message and changes nothing: no snapshot left, no epoch closed.
# disks: 32M 16M
# cost: 12
# timeout: 180

COPY=/tmp/libcbt-copy

cleanup() {
	dmsetup remove c-snap 2>/dev/null || true
	dmsetup remove c 2>/dev/null || true
	rm -f "$COPY" /tmp/libcbt-ext /tmp/libcbt-err
}

need_module dm_cbt
need_cmd cbt incremental-copy

# status_field NAME: a number of `cbt status c --json'.
status_field() {
	cbt status c --json | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"
}

# put BLOCK COUNT: random data into 4 KiB blocks of the tracked device.
put() {
	dd if=/dev/urandom of=/dev/mapper/c bs=4096 seek="$1" count="$2" conv=notrunc \
		oflag=direct status=none || fail "writing blocks $1+$2"
}

# copy_and_check WANT: run the example; its extents must be WANT exactly,
# and the copy must equal the device.
copy_and_check() {
	local epoch
	epoch=$(status_field current_epoch)
	log "incremental-copy, epoch $epoch"
	incremental-copy c "$DISK2" "$COPY" >/tmp/libcbt-ext 2>/tmp/libcbt-err ||
		fail "incremental-copy failed: $(cat /tmp/libcbt-err)"
	[ -s /tmp/libcbt-err ] && fail "incremental-copy wrote to stderr: $(cat /tmp/libcbt-err)"
	assert_eq "$(tr '\n' ' ' </tmp/libcbt-ext)" "$1" "extents copied"
	assert_eq "$(stat -c %s "$COPY")" "$((LEN * 512))" "copy size"
	cmp /dev/mapper/c "$COPY" || fail "the copy differs from the device"
	assert_eq "$(md5sum <"$COPY")" "$(md5sum </dev/mapper/c)" "checksums"
	assert_eq "$(status_field last_committed_epoch)" "$epoch" "committed epoch"
	assert_eq "$(status_field current_epoch)" "$((epoch + 1))" "open epoch"
	dmsetup ls | grep -q c-snap && fail "a snapshot device was left behind"
	return 0
}

# 4 KiB tracking blocks, and half a block past the last whole one.
LEN=$(( ($(sectors "$DISK1") / 8 - 1) * 8 + 4 ))
LAST=$((LEN / 8))
assert_cmd dmsetup create c --table "0 $LEN cbt $DISK1 8"

log "first run: blocks 0, 5..7, 100 and the half block at the end"
put 0 1
put 5 3
put 100 1
dd if=/dev/urandom of=/dev/mapper/c bs=512 seek=$((LAST * 8)) count=4 conv=notrunc \
	oflag=direct status=none || fail "writing the last half block"
copy_and_check "0 4096 20480 12288 409600 4096 $((LAST * 4096)) 2048 "

log "second run: block 6 again, 200..201"
put 6 1
put 200 2
copy_and_check "24576 4096 819200 8192 "

log "third run: nothing written, nothing copied"
copy_and_check ""

log "bad input: the origin as COW device"
put 300 1
epoch=$(status_field current_epoch)
if incremental-copy c "$DISK1" "$COPY" >/tmp/libcbt-ext 2>/tmp/libcbt-err; then
	fail "incremental-copy took the origin as its COW device"
fi
grep -q "incremental-copy: .*$DISK1" /tmp/libcbt-err ||
	fail "no clear message naming $DISK1: $(cat /tmp/libcbt-err)"
[ -s /tmp/libcbt-ext ] && fail "extents printed on failure: $(cat /tmp/libcbt-ext)"
assert_eq "$(status_field current_epoch)" "$epoch" "open epoch after the refusal"
dmsetup ls | grep -q c-snap && fail "a snapshot device was left behind"
cbt status c --json | grep -q '"state": *"closed"' && fail "an epoch was left closed"
copy_and_check "1228800 4096 "
pass
