#!/bin/sh
# A COW store too small for a pass: the snapshot turns invalid, cbt clone
# stops saying so (and what to do), the source keeps working, tracking is
# intact (the pass's epoch aborted, no snapshot left), the target is marked
# incomplete; the same clone with a larger COW store resumes and the target
# then equals its last snapshot.
# disks: 64M 64M 8M 64M
# cost: 15
# timeout: 300

W=/tmp/clone_cow_full

cleanup() {
	bg_stop
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt stamp

rm -rf "$W" && mkdir -p "$W"
STATE=$W/state/clone-${DISK2#/dev/}.json
cbt_create c "$DISK1" 128
assert_cmd stamp write /dev/mapper/c -b 1M -n 64 -g 1
assert_eq "$(cbt epoch close c)" 1 "closed epoch"
assert_cmd cbt epoch commit c 1

log "writer: 4 KiB stamped blocks at random places, as fast as it goes"
# writer ROUND: 256 blocks, generation (and seed) 100 + ROUND.
writer() { stamp write /dev/mapper/c -r $((100 + $1)) -n 256 -g $((100 + $1)) >/dev/null; }
bg_loop writer 0 writer

log "+ cbt clone c $DISK2 --cow $DISK3 (8 MiB) --rate 2M"
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --rate 2M --state-dir "$W/state" >"$W/out1" 2>"$W/err1" || rc=$?
cat "$W/out1" "$W/err1"
assert_eq "$rc" 1 "exit status"
grep -q 'the COW store (8[.0-9]* MiB) filled up during pass 1.*give a larger --cow' "$W/err1" ||
	fail "the message does not say the COW store filled up"
grep -q 'run the same command again to resume' "$W/err1" || fail "no hint to resume"
assert_eq "$(sed -n 's/.*"complete": \([a-z]*\).*/\1/p' "$STATE")" false "state: complete"
cbt status c
assert_eq "$(cbt status c | grep -c ': closed')" 0 "closed epochs"
if cbt status c | grep -q 'snapshot:'; then fail "the invalid snapshot was left attached"; fi
bg_running writer || fail "the writer failed while the snapshot overflowed"

log "again with a 64 MiB COW store: resumes"
rc=0
cbt clone c "$DISK2" --cow "$DISK4" --verify --keep-snapshot --state-dir "$W/state" \
	>"$W/out2" 2>"$W/err2" || rc=$?
cat "$W/out2" "$W/err2"
assert_eq "$rc" 0 "exit status with the larger COW store"
grep -q '^resuming the first pass at block' "$W/out2" || fail "it did not resume"
grep -q '^verify: the target matches' "$W/out2" || fail "not verified"
bg_stop writer
assert_same_start /dev/mapper/c-snap "$DISK2" "sha256 of the target against the snapshot"
assert_cmd cbt snapshot drop c
assert_eq "$(cbt status c | grep -c ': closed')" 0 "closed epochs at the end"
pass
