#!/bin/sh
# Snapshots come and go while the device is written: snapshots taken,
# read and dropped under a running writer (with copies in flight at the
# drop), 25 small snapshots in a row (3 and 6 on the debug kernel: reps), a second snapshot refused while one
# is attached, `dmsetup remove' of the cbt device refused while a snapshot
# holds it, `rmmod dm_cbt' refused while devices exist. Every write goes
# through and reads back right; the harness checks dmesg for WARN/BUG.
# disks: 64M 64M
# kernels: all
# timeout: 400

W=/tmp/conc

cleanup() {
	bg_stop
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt stamp stampscan
rm -rf "$W" && mkdir -p "$W"
: >"$W/log"

cbt_create c "$DISK1" 8

# writer ROUND: 16 KiB stamped blocks, generation (and seed) ROUND, logged.
writer() { stamp write /dev/mapper/c -b 16384 -r "$1" -n 16 -g "$1" -l "$W/log" >/dev/null; }
bg_loop writer 0 writer

# take_drop N PAUSE: N snapshots taken, read, dropped, their epochs committed.
take_drop() {
	local i epoch
	for i in $(seq 1 "$1"); do
		epoch=$(cbt snapshot take c --cow "$DISK2" --no-freeze --json |
			sed -n 's/.*"epoch": \([0-9]*\).*/\1/p')
		[ -n "$epoch" ] || fail "take $i failed"
		[ "$2" = 0 ] || sleep "$2"
		dd if=/dev/mapper/c-snap of=/dev/null bs=256k count=32 iflag=direct 2>/dev/null ||
			fail "reading snapshot $i failed"
		cbt snapshot drop c || fail "drop $i failed"
		cbt epoch commit c "$epoch" || fail "commit of epoch $epoch failed"
	done
}

n=$(reps 10 3)
log "$n snapshots taken, read and dropped under the writer"
take_drop "$n" 0.3
n=$(reps 25 6)
log "$n small snapshots in a row"
take_drop "$n" 0
cbt status c | sed -n '/current epoch/p'

log "one snapshot at a time"
assert_cmd cbt snapshot take c --cow "$DISK2" --no-freeze
if cbt snapshot take c --cow "$DISK2" --no-freeze 2>"$W/err"; then
	fail "a second snapshot was attached"
fi
grep -q "attached already" "$W/err" || fail "unclear refusal: $(cat "$W/err")"
log "refused: $(cat "$W/err")"
assert_eq "$(dmsetup ls | grep -c snap)" 1 "snapshot devices"

log "the cbt device cannot be removed under its snapshot"
if dmsetup remove c 2>"$W/err"; then
	fail "dmsetup remove c succeeded with a snapshot attached"
fi
log "refused: $(cat "$W/err")"
bg_running writer || fail "the writer died"
dmsetup info c >/dev/null || fail "c is gone"
cbt status c | grep -q "snapshot: active" || fail "the snapshot is no longer active"

log "the module cannot go while devices exist"
if rmmod dm_cbt 2>"$W/err"; then
	fail "rmmod dm_cbt succeeded with cbt devices present"
fi
log "refused: $(cat "$W/err")"
[ -d /sys/module/dm_cbt ] || fail "dm_cbt was unloaded"

log "drop while the writer is copying"
assert_cmd cbt snapshot drop c
bg_stop writer
bg_check writer "origin write failed"
log "$(wc -l <"$W/log") origin writes, all succeeded; checking them"
stamps_match_log /dev/mapper/c "$W/log" "the origin lost or mangled writes" -b 16384
assert_cmd dmsetup remove c
assert_cmd rmmod dm_cbt
pass
