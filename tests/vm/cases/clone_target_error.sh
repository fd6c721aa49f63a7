#!/bin/sh
# The target fails during a pass (dm-flakey starts failing writes): cbt
# clone stops with the write error, the source is untouched and its
# tracking intact (no closed epoch, no snapshot left), the target is marked
# incomplete; once the target works again the same command resumes and
# the target equals the last snapshot.
# disks: 64M 64M 32M
# cost: 12
# timeout: 300

W=/tmp/clone_target_error

cleanup() {
	dm_remove c-snap c flaky
}

need_module dm_cbt dm_flakey
need_cmd cbt stamp

rm -rf "$W" && mkdir -p "$W"
sz=$(sectors "$DISK2")
cbt_create c "$DISK1" 128
assert_cmd stamp write /dev/mapper/c -b 1M -n 64 -g 1
sum0=$(dd if="$DISK1" bs=1M 2>/dev/null | sha256sum | cut -d' ' -f1)
log "target: writes fail 3 s after the table is loaded"
assert_cmd dmsetup create flaky --table "0 $sz flakey $DISK2 0 3 600 1 error_writes"

rc=0
cbt clone c /dev/mapper/flaky --cow "$DISK3" --rate 8M --state-dir "$W/state" >"$W/out1" \
	2>"$W/err1" || rc=$?
cat "$W/out1" "$W/err1"
assert_eq "$rc" 1 "exit status"
grep -q 'writing the target at byte [0-9]*: Input/output error' "$W/err1" ||
	fail "the message does not name the target's write error"
grep -q 'the source is untouched and its tracking intact' "$W/err1" || fail "no word on the source"
assert_eq "$(sed -n 's/.*"complete": \([a-z]*\).*/\1/p' "$W/state/clone-mapper-flaky.json")" false \
	"state: complete"
assert_eq "$(dd if="$DISK1" bs=1M 2>/dev/null | sha256sum | cut -d' ' -f1)" "$sum0" "the source's data"
assert_eq "$(cbt status c | grep -c ': closed')" 0 "closed epochs"
if cbt status c | grep -q 'snapshot:'; then fail "the snapshot was left attached"; fi

log "the target works again: the same command resumes"
assert_cmd dmsetup reload flaky --table "0 $sz linear $DISK2 0"
assert_cmd dmsetup resume flaky
stamp write /dev/mapper/c -r 7 -n 64 -g 7 >/dev/null
rc=0
cbt clone c /dev/mapper/flaky --cow "$DISK3" --verify --keep-snapshot --state-dir "$W/state" \
	>"$W/out2" 2>"$W/err2" || rc=$?
cat "$W/out2" "$W/err2"
assert_eq "$rc" 0 "exit status once the target works"
grep -q '^resuming the first pass at block' "$W/out2" || fail "it did not resume"
grep -q '^verify: the target matches' "$W/out2" || fail "not verified"
assert_same_start /dev/mapper/c-snap "$DISK2" "sha256 of the target against the snapshot"
assert_cmd cbt snapshot drop c
pass
