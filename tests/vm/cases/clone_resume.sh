#!/bin/sh
# An interrupted cbt clone resumes from tracking. SIGINT during pass 1
# (slowed with --rate) leaves the source untouched, tracking intact (the
# pass's epoch aborted, no snapshot left) and a state file saying how far
# the target got; the same command then resumes pass 1 where it stopped
# instead of starting over, and a later run refreshes the finished clone
# with the changes only. A run killed with SIGKILL leaves its snapshot and
# epoch; once the snapshot is dropped the next run takes the epoch over.
# Each time the target equals the last snapshot. A run stopped cleanly (by
# SIGTERM) takes over no epoch: one a backup closes after it makes the next
# refuse.
# disks: 64M 64M 64M
# cost: 26
# timeout: 400
# busybox sh has local.
# shellcheck disable=SC3043

W=/tmp/clone_resume

cleanup() {
	bg_stop writer writer2
	bg_kill -KILL clone
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt stamp

rm -rf "$W" && mkdir -p "$W"
STATE=$W/state/clone-${DISK2#/dev/}.json
cbt_create c "$DISK1" 128
assert_cmd stamp write /dev/mapper/c -b 1M -n 64 -g 1
log "the fill is history: an earlier backup committed it"
assert_eq "$(cbt epoch close c)" 1 "closed epoch"
assert_cmd cbt epoch commit c 1

log "writer: stamped 4 KiB blocks at random places"
# writer ROUND: 16 blocks, generation (and seed) 100 + ROUND.
writer() { stamp write /dev/mapper/c -r $((100 + $1)) -n 16 -g $((100 + $1)) >/dev/null; }
bg_loop writer 0.2 writer

# target_written: the clone wrote the first block of the target (it
# writes in order; the source has no zero block). flushbufs drops the
# page cache of the target, which an earlier poll filled with its zeros.
# No grep -q at the end of a pipe: under pipefail, the SIGPIPE it leaves
# the writer makes a match a failure.
target_written() {
	local hex
	blockdev --flushbufs "$DISK2" || return 1
	hex=$(dd if="$DISK2" bs=64k count=1 2>/dev/null | od -An -tx1 | tr -d ' 0*\n')
	[ -n "$hex" ]
}

# snapshot_attached: c has a snapshot (a clone's pass began).
snapshot_attached() {
	case "$(cbt status c)" in *snapshot:*) return 0 ;; esac
	return 1
}

# same_as_snapshot: the target's first bytes equal the kept snapshot.
same_as_snapshot() {
	assert_same_start /dev/mapper/c-snap "$DISK2" "sha256 of the target against the snapshot"
	assert_cmd cbt snapshot drop c
}

log "+ cbt clone c $DISK2 --cow $DISK3 --rate 8M &, then SIGINT during pass 1"
bg_start clone cbt clone c "$DISK2" --cow "$DISK3" --rate 8M --state-dir "$W/state" >"$W/out1" 2>"$W/err1"
# SIGINT once pass 1 has put its first block on the (zeroed) target, the
# rest 8 s away at 8 MB/s
until target_written; do
	bg_running clone || fail "the clone ended before the SIGINT: $(cat "$W/out1" "$W/err1")"
	sleep 0.1
done
kill -INT "$(bg_pid clone)"
rc=0
bg_wait clone || rc=$?
cat "$W/out1" "$W/err1" "$STATE"
assert_eq "$rc" 1 "exit status when interrupted"
grep -q 'interrupted' "$W/err1" || fail "no word of the interruption"
grep -q 'run the same command again to resume' "$W/err1" || fail "no hint to resume"
assert_eq "$(sed -n 's/.*"complete": \([a-z]*\).*/\1/p' "$STATE")" false "state: complete"
assert_eq "$(sed -n 's/.*"full_done": \([a-z]*\).*/\1/p' "$STATE")" false "state: full pass done"
upto=$(sed -n 's/.*"copied_upto": \([0-9]*\).*/\1/p' "$STATE")
log "pass 1 got to block $upto of 1024"
if [ "$upto" -le 0 ] || [ "$upto" -ge 1024 ]; then fail "copied_upto $upto is not within pass 1"; fi
cbt status c
assert_eq "$(cbt status c | grep -c ': closed')" 0 "closed epochs after the interruption"
if snapshot_attached; then fail "the snapshot was left attached"; fi

log "the same command resumes pass 1"
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --rate 64M --verify --keep-snapshot --state-dir "$W/state" \
	>"$W/out2" 2>"$W/err2" || rc=$?
cat "$W/out2" "$W/err2"
assert_eq "$rc" 0 "exit status of the resumed clone"
grep -q "^resuming the first pass at block $upto of 1024" "$W/out2" || fail "it did not resume"
p1=$(sed -n 's/^pass 1: epoch [0-9]*, \([0-9]*\) blocks.*/\1/p' "$W/out2")
[ "$p1" -lt 1024 ] || fail "the resumed pass 1 copied every block ($p1)"
grep -q '^verify: the target matches' "$W/out2" || fail "not verified"
same_as_snapshot

log "a later run copies the changes only: exactly the open epoch's blocks"
# The writer stops first: with it running, the count grew with the time the
# steps above took (1087 of 2048 blocks on a loaded host), not with what
# the refresh must copy.
bg_stop writer
writer 1
changed=$(cbt status c | sed -n 's/.*epoch [0-9]*: open, \([0-9]*\) changed block.*/\1/p')
log "the open epoch holds $changed changed blocks"
{ [ -n "$changed" ] && [ "$changed" -gt 0 ]; } || fail "no open epoch with changes: '$changed'"
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --keep-snapshot --state-dir "$W/state" >"$W/out3" 2>"$W/err3" ||
	rc=$?
cat "$W/out3" "$W/err3"
assert_eq "$rc" 0 "exit status of the refresh"
grep -q '^resuming: the target holds the source up to epoch' "$W/out3" || fail "it did not resume"
p1=$(sed -n 's/^pass 1: epoch [0-9]*, \([0-9]*\) blocks.*/\1/p' "$W/out3")
assert_eq "$p1" "$changed" "blocks the refresh copied"
same_as_snapshot
bg_loop writer2 0.2 writer

log "SIGKILL mid pass 1 (a new state dir: a full copy): the snapshot stays; once dropped, the next run takes over the closed epoch"
bg_start clone cbt clone c "$DISK2" --cow "$DISK3" --rate 8M --state-dir "$W/state2" >"$W/out4" 2>"$W/err4"
# the target holds the earlier clone: wait for this one's snapshot
until snapshot_attached; do
	bg_running clone || fail "the clone ended before the SIGKILL: $(cat "$W/out4" "$W/err4")"
	sleep 0.1
done
bg_kill -KILL clone
cbt status c
assert_eq "$(cbt status c | grep -c ': closed')" 1 "closed epochs after SIGKILL"
# partials DIR: the temporary state files in DIR (the room a run takes for its next state).
partials() { find "$1" -name '.clone-*.partial' | wc -l; }
[ "$(partials "$W/state2")" -ge 1 ] || fail "the killed run left no temporary state file: $(ls -a "$W/state2")"
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --state-dir "$W/state2" >"$W/out5" 2>"$W/err5" || rc=$?
cat "$W/err5"
assert_eq "$rc" 1 "exit status with the killed run's snapshot attached"
grep -q 'already has a snapshot attached' "$W/err5" || fail "no word of the snapshot"
assert_cmd cbt snapshot drop c
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --verify --keep-snapshot --state-dir "$W/state2" \
	>"$W/out6" 2>"$W/err6" || rc=$?
cat "$W/out6" "$W/err6"
assert_eq "$rc" 0 "exit status after the SIGKILL"
assert_eq "$(partials "$W/state2")" 0 "temporary state files left after the run after the SIGKILL"
grep -q '^verify: the target matches' "$W/out6" || fail "not verified"
bg_stop writer2
same_as_snapshot
assert_eq "$(cbt status c | grep -c ': closed')" 0 "closed epochs at the end"

log "SIGTERM mid pass 1 (a new state dir), then a backup closes an epoch: the next run refuses, leaving it closed"
bg_start clone cbt clone c "$DISK2" --cow "$DISK3" --rate 8M --state-dir "$W/state3" >"$W/out7" 2>"$W/err7"
until snapshot_attached; do
	bg_running clone || fail "the clone ended before the SIGINT: $(cat "$W/out7" "$W/err7")"
	sleep 0.1
done
kill -TERM "$(bg_pid clone)"
rc=0
bg_wait clone || rc=$?
cat "$W/err7" "$W/state3"/clone-*.json
assert_eq "$rc" 1 "exit status when stopped by SIGTERM"
grep -q 'interrupted' "$W/err7" || fail "no word of the interruption by SIGTERM"
assert_eq "$(sed -n 's/.*"epochs_held": \([a-z]*\).*/\1/p' "$W/state3"/clone-*.json)" false \
	"state: epochs held after a clean stop"
backup=$(cbt epoch close c)
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --state-dir "$W/state3" >"$W/out8" 2>"$W/err8" || rc=$?
cat "$W/out8" "$W/err8"
assert_eq "$rc" 1 "exit status with a backup's epoch closed"
grep -q "c has epoch $backup closed, waiting for commit or abort" "$W/err8" ||
	fail "no word of the backup's closed epoch $backup"
cbt status c
cbt status c | grep -q "epoch $backup: closed" || fail "the backup's epoch $backup is no longer closed"
if snapshot_attached; then fail "the refused clone attached a snapshot"; fi
assert_cmd cbt epoch abort c "$backup"
pass
