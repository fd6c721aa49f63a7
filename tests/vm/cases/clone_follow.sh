#!/bin/sh
# cbt clone --follow: after the clone, a pass every --interval while files
# keep being written; SIGINT stops it cleanly (exit 0) and the target
# equals the last pass's snapshot byte for byte.
# disks: 64M 64M 32M
# timeout: 300

SRC=/mnt/flsrc
W=/tmp/clone_follow

stop_writer() {
	: >"$W/stop"
	if [ -f "$W/writer.pid" ]; then
		wait "$(cat "$W/writer.pid")" 2>/dev/null || true
		rm -f "$W/writer.pid"
	fi
}

cleanup() {
	stop_writer
	if [ -f "$W/clone.pid" ]; then
		kill -INT "$(cat "$W/clone.pid")" 2>/dev/null || true
		wait "$(cat "$W/clone.pid")" 2>/dev/null || true
		rm -f "$W/clone.pid"
	fi
	umount "$SRC" 2>/dev/null || true
	dmsetup remove c-snap 2>/dev/null || true
	dmsetup remove c 2>/dev/null || true
}

need_module dm_cbt
need_cmd cbt

rm -rf "$W" && mkdir -p "$W" "$SRC"
assert_cmd dmsetup create c --table "0 $(sectors "$DISK1") cbt $DISK1 128"
assert_cmd mkfs.ext4 -q -F /dev/mapper/c
assert_cmd mount /dev/mapper/c "$SRC"

log "writer: a new 256 KiB file every 0.3 s, synced"
(
	i=0
	while [ ! -e "$W/stop" ]; do
		i=$((i + 1))
		dd if=/dev/urandom of="$SRC/f$((i % 40))" bs=64k count=4 conv=fsync 2>/dev/null
		sleep 0.3
	done
) &
echo $! >"$W/writer.pid"

log "+ cbt clone c $DISK2 --cow $DISK3 --follow --interval 2 --json --keep-snapshot &"
cbt clone c "$DISK2" --cow "$DISK3" --follow --interval 2 --json --keep-snapshot \
	--state-dir "$W/state" >"$W/out" 2>"$W/err" &
echo $! >"$W/clone.pid"

log "waiting for 3 follow passes"
n=0
for t in $(seq 1 120); do
	n=$(grep -c '"follow":true' "$W/out" 2>/dev/null || true)
	[ "$n" -ge 3 ] && break
	kill -0 "$(cat "$W/clone.pid")" 2>/dev/null || break
	sleep 1
done
cat "$W/out" "$W/err"
[ "$n" -ge 3 ] || fail "only $n follow passes after $t s"

log "SIGINT stops it at the end of a pass"
kill -INT "$(cat "$W/clone.pid")"
rc=0
wait "$(cat "$W/clone.pid")" || rc=$?
rm -f "$W/clone.pid"
tail -n 2 "$W/out"
cat "$W/err"
assert_eq "$rc" 0 "exit status after SIGINT"
grep -q '"event":"end","result":"complete"' "$W/out" || fail "no complete end record"
stop_writer

log "the target equals the last pass's snapshot"
last=$(grep '"event":"pass"' "$W/out" | tail -n 1 | sed 's/.*"epoch":\([0-9]*\).*/\1/')
assert_eq "$(cbt status c --json | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' | tail -n 1)" "$last" \
	"epoch of the kept snapshot"
mib=$(($(sectors /dev/mapper/c) / 2048))
s1=$(dd if=/dev/mapper/c-snap bs=1M 2>/dev/null | sha256sum | cut -d' ' -f1)
s2=$(dd if="$DISK2" bs=1M count="$mib" 2>/dev/null | sha256sum | cut -d' ' -f1)
assert_eq "$s2" "$s1" "sha256 of the target"
assert_eq "$(sed -n 's/.*"complete": \([a-z]*\).*/\1/p' "$W/state/clone-${DISK2#/dev/}.json")" true \
	"state file says complete"
assert_cmd cbt snapshot drop c
assert_cmd e2fsck -fn "$DISK2"
pass
