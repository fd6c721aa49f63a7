#!/bin/sh
# Snapshots come and go while the device is written: snapshots taken,
# read and dropped under a running writer (with copies in flight at the
# drop), 25 small snapshots in a row, a second snapshot refused while one
# is attached, `dmsetup remove' of the cbt device refused while a snapshot
# holds it, `rmmod dm_cbt' refused while devices exist. Every write goes
# through and reads back right; the harness checks dmesg for WARN/BUG.
# disks: 64M 64M
# timeout: 400

W=/tmp/conc

stop_writer() {
	: >"$W/stop"
	for p in $(cat "$W/pid" 2>/dev/null); do
		while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
	done
	: >"$W/pid"
}

cleanup() {
	[ -d "$W" ] && stop_writer
	dmsetup remove c-snap 2>/dev/null || true
	dmsetup remove c 2>/dev/null || true
}

need_module dm_cbt
need_cmd cbt stamp stampscan
rm -rf "$W" && mkdir -p "$W"
: >"$W/log"
: >"$W/pid"

assert_cmd dmsetup create c --table "0 $(sectors "$DISK1") cbt $DISK1 8"

rm -f "$W/stop"
(
	g=0
	while [ ! -e "$W/stop" ]; do
		g=$((g + 1))
		stamp write /dev/mapper/c -b 16384 -r "$g" -n 16 -g "$g" -l "$W/log" >/dev/null ||
			{ echo "origin write failed in round $g" >"$W/failed"; exit 1; }
	done
) &
echo $! >"$W/pid"

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

log "10 snapshots taken, read and dropped under the writer"
take_drop 10 0.3
log "25 small snapshots in a row"
take_drop 25 0
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
kill -0 "$(cat "$W/pid")" || fail "the writer died"
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
stop_writer
[ ! -e "$W/failed" ] || fail "$(cat "$W/failed")"
log "$(wc -l <"$W/log") origin writes, all succeeded; checking them"
stampscan /dev/mapper/c -b 16384 >"$W/scan" || fail "reading the origin failed"
awk 'FILENAME == ARGV[1] { last[$1] = $3; next }
	{ want = ($1 in last) ? last[$1] : "zero"
	  if ($2 != want && bad++ < 5) print "origin block " $1 ": " $2 ", expected " want }
	END { exit bad > 0 }' "$W/log" "$W/scan" || fail "the origin lost or mangled writes"
assert_cmd dmsetup remove c
assert_cmd rmmod dm_cbt
pass
