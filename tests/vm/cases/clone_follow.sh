#!/bin/sh
# cbt clone --follow: after the clone, a pass every --interval while files
# keep being written; SIGINT stops it cleanly (exit 0) and the target
# equals the last pass's snapshot byte for byte.
# disks: 64M 64M 32M
# cost: 14
# timeout: 300

SRC=/mnt/flsrc
W=/tmp/clone_follow

cleanup() {
	bg_stop writer
	bg_kill -INT clone
	unmount "$SRC"
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt

rm -rf "$W" && mkdir -p "$W" "$SRC"
cbt_create c "$DISK1" 128
assert_cmd mkfs.ext4 -q -F /dev/mapper/c
assert_cmd mount /dev/mapper/c "$SRC"

log "writer: a new 256 KiB file every 0.3 s, synced"
# writer ROUND: file f<ROUND mod 40> anew, synced.
writer() { dd if=/dev/urandom of="$SRC/f$(($1 % 40))" bs=64k count=4 conv=fsync 2>/dev/null; }
bg_loop writer 0.3 writer

log "+ cbt clone c $DISK2 --cow $DISK3 --follow --interval 2 --json --keep-snapshot --final-pass-ms 250 &"
bg_start clone cbt clone c "$DISK2" --cow "$DISK3" --follow --interval 2 --json --keep-snapshot --final-pass-ms 250 \
	--state-dir "$W/state" >"$W/out" 2>"$W/err"

log "waiting for 3 follow passes"
n=0
for t in $(seq 1 120); do
	n=$(grep -c '"follow":true' "$W/out" 2>/dev/null || true)
	[ "$n" -ge 3 ] && break
	bg_running clone || break
	sleep 1
done
cat "$W/out" "$W/err"
[ "$n" -ge 3 ] || fail "only $n follow passes after $t s"

log "SIGINT stops it at the end of a pass"
kill -INT "$(bg_pid clone)"
rc=0
bg_wait clone || rc=$?
tail -n 2 "$W/out"
cat "$W/err"
assert_eq "$rc" 0 "exit status after SIGINT"
grep -q '"event":"end","result":"complete"' "$W/out" || fail "no complete end record"
grep '"event":"end"' "$W/out" | grep -q '"final_pass_ms":250,' ||
	fail "the end record does not give the final-pass budget in force (--final-pass-ms 250)"
bg_stop writer

log "the target equals the last pass's snapshot"
last=$(grep '"event":"pass"' "$W/out" | tail -n 1 | sed 's/.*"epoch":\([0-9]*\).*/\1/')
assert_eq "$(cbt status c --json | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' | tail -n 1)" "$last" \
	"epoch of the kept snapshot"
assert_same_start /dev/mapper/c-snap "$DISK2" "sha256 of the target"
assert_eq "$(sed -n 's/.*"complete": \([a-z]*\).*/\1/p' "$W/state/clone-${DISK2#/dev/}.json")" true \
	"state file says complete"
assert_cmd cbt snapshot drop c
assert_cmd e2fsck -fn "$DISK2"
pass
