#!/bin/sh
# cbt clone's documented failures (docs/clone.md, Exit status), each made
# to happen at a fixed point (the test build's CBT_CLONE_HOOK, run inside
# pass 1's copy or after a pass; no sleeps):
# - TARGET is held O_EXCL while the clone runs: a mount of it in the middle
#   of pass 1 fails busy, the same mount works once the clone is done;
# - --verify that finds a difference (dm-flakey corrupting TARGET's writes)
#   exits 4 naming the first differing byte, reports verify-failed, marks
#   the clone incomplete, and the next run copies every block again;
# - the state file's filesystem read-only or full: exit 6, TARGET untouched,
#   no epoch left closed, no snapshot left;
# - the state file's filesystem full or read-only between passes (the
#   hook's "pass 1 done"), or full during pass 1: exit 6, no epoch left
#   closed, the writes since still tracked, and the same command resumes
#   once it has room;
# - the source's tracking going away mid-pass (its cbt table replaced):
#   exit 5, TARGET incomplete, the message does not call that tracking
#   intact, and the same command completes the clone once the source is
#   tracked again.
# disks: 32M 32M 16M
# cost: 14
# timeout: 480

W=/tmp/clone_exit
MNT=/mnt/clexit

cleanup() {
	unmount "$MNT" "$W/ro" "$W/full" "$W/bp"
	dm_remove c-snap c flaky
}

need_module dm_cbt dm_flakey
need_cmd cbt

rm -rf "$W" && mkdir -p "$W" "$MNT" "$W/ro" "$W/full"
sz=$(sectors "$DISK1")
cbt_create c "$DISK1" 128
assert_cmd mkfs.ext4 -q -F /dev/mapper/c
# ext4 leaves its first KiB alone: zeros there, so a corrupted byte 0 differs.
assert_cmd dd if=/dev/zero of=/dev/mapper/c bs=1k count=1 conv=notrunc oflag=direct status=none
sum() { dd if="$1" bs=1M iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1; }
src=$(sum /dev/mapper/c)
field() { grep -o "\"$1\": [^,]*" "$2" | tail -n 1 | sed 's/^[^:]*: //; s/"//g'; }
no_leftovers() {
	assert_eq "$(cbt status c | grep -c ': closed')" 0 "$1: closed epochs"
	if cbt status c | grep -q 'snapshot:'; then fail "$1: the snapshot was left attached"; fi
}

log "TARGET held O_EXCL: a mount of it in the middle of pass 1 fails"
rc=0
CBT_CLONE_HOOK="case \$CBT_CLONE_STEP in *done) exit 0 ;; esac; mount -o ro -t ext4 $DISK2 $MNT >$W/mount.out 2>&1; echo \$? >$W/mount.rc" \
	cbt clone c "$DISK2" --cow "$DISK3" --state-dir "$W/state" >"$W/out1" 2>"$W/err1" || rc=$?
cat "$W/out1" "$W/err1" "$W/mount.out"
assert_eq "$rc" 0 "exit status"
[ -s "$W/mount.rc" ] || fail "the hook did not run"
[ "$(cat "$W/mount.rc")" != 0 ] || fail "TARGET was mounted while the clone ran"
grep -qi 'busy' "$W/mount.out" || fail "the mount did not fail busy"
assert_eq "$(sum "$DISK2")" "$src" "the target after the clone"
assert_cmd mount -o ro -t ext4 "$DISK2" "$MNT"
assert_cmd umount "$MNT"

# Writes corrupted, not reads: 6.1's dm-flakey corrupts no read (its end_io
# looks at a bio already advanced past its data).
log "--verify finds a difference (TARGET's writes corrupted at byte 0): exit 4"
assert_cmd dmsetup create flaky --table "0 $sz flakey $DISK2 0 0 1 5 corrupt_bio_byte 1 w 90 0"
rc=0
cbt clone c /dev/mapper/flaky --cow "$DISK3" --force --verify --json --state-dir "$W/state" \
	>"$W/out2" 2>"$W/err2" || rc=$?
cat "$W/out2" "$W/err2"
assert_eq "$rc" 4 "exit status of a verify that found a difference"
grep -q 'verify: the target differs from the snapshot at byte 0 (tracking block 0)' "$W/err2" ||
	fail "the message does not name the first differing byte"
assert_eq "$(field result "$W/out2")" verify-failed "JSON result"
assert_eq "$(field complete "$W/state/clone-mapper-flaky.json")" false "state: complete"
assert_eq "$(field full_done "$W/state/clone-mapper-flaky.json")" false "state: full_done"
no_leftovers "verify failed"

log "TARGET writes right again: the next run copies every block again"
assert_cmd dmsetup reload flaky --table "0 $sz linear $DISK2 0"
assert_cmd dmsetup resume flaky
rc=0
cbt clone c /dev/mapper/flaky --cow "$DISK3" --force --verify --state-dir "$W/state" \
	>"$W/out3" 2>"$W/err3" || rc=$?
cat "$W/out3" "$W/err3"
assert_eq "$rc" 0 "exit status once TARGET writes right"
grep -q '^pass 1: epoch [0-9]*, 512 blocks (32 MiB)' "$W/out3" || fail "pass 1 did not copy every block"
grep -q '^verify: the target matches' "$W/out3" || fail "no verify line"
assert_cmd dmsetup remove flaky

log "the state file's filesystem read-only: exit 6, nothing written"
assert_cmd mount -t tmpfs -o ro,size=1m none "$W/ro"
tgt=$(sum "$DISK2")
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --force --state-dir "$W/ro" >"$W/out4" 2>"$W/err4" || rc=$?
cat "$W/out4" "$W/err4"
assert_eq "$rc" 6 "exit status with a read-only state directory"
grep -q 'Read-only file system' "$W/err4" || fail "the message does not say read-only"
assert_eq "$(sum "$DISK2")" "$tgt" "the target"
no_leftovers "read-only state"

log "the state file's filesystem full: exit 6, nothing written"
assert_cmd mount -t tmpfs -o size=64k none "$W/full"
dd if=/dev/zero of="$W/full/fill" bs=4k 2>/dev/null || true
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --force --state-dir "$W/full" >"$W/out5" 2>"$W/err5" || rc=$?
cat "$W/out5" "$W/err5"
assert_eq "$rc" 6 "exit status with a full state directory"
grep -q 'No space left on device' "$W/err5" || fail "the message does not say out of space"
assert_eq "$(sum "$DISK2")" "$tgt" "the target"
no_leftovers "full state"

log "the source's tracking goes away in the middle of pass 1: exit 5"
stamp_before=$(sum /dev/mapper/c)
rc=0
CBT_CLONE_HOOK="case \$CBT_CLONE_STEP in *done) exit 0 ;; esac; dmsetup reload c --table '0 $sz linear $DISK1 0' && dmsetup resume c" \
	cbt clone c "$DISK2" --cow "$DISK3" --force --state-dir "$W/s5" >"$W/out6" 2>"$W/err6" || rc=$?
cat "$W/out6" "$W/err6"
assert_eq "$rc" 5 "exit status when the tracking went away"
grep -q 'the target is incomplete (.*); the source is untouched; run the same command again once the device is back' \
	"$W/err6" || fail "no word on the target and the source"
if grep -q 'tracking intact' "$W/err6"; then fail "the tracking that went away is said intact"; fi
assert_eq "$(field complete "$W/s5/clone-$(echo "${DISK2#/dev/}" | tr / -).json")" false "state: complete"
assert_eq "$(sum "$DISK1")" "$stamp_before" "the source's data"

log "tracked again: the same command completes the clone"
dm_remove c-snap
assert_cmd dmsetup reload c --table "0 $sz cbt $DISK1 128"
assert_cmd dmsetup resume c
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --force --state-dir "$W/s5" >"$W/out7" 2>"$W/err7" || rc=$?
cat "$W/out7" "$W/err7"
assert_eq "$rc" 0 "exit status of the run after"
assert_eq "$(sum "$DISK2")" "$src" "the target"
no_leftovers "after"

# At the hook's step STEP the hook writes blocks 100 and 300 of the
# source and the state file's filesystem fills up, or turns read-only:
# - between passes ("pass 1 done": pass 1 copied, committed and recorded):
#   pass 2 cannot record that it began;
# - during pass 1's copy ("pass 1 DONE/TOTAL"): the pass records its end
#   in room taken before it began (its report printed), then, the page its
#   old state freed filled too (at "pass 1 done"), pass 2 cannot begin.
# Either way exit 6 saying why, no epoch of the clone left closed, no
# snapshot, the source as the hook left it and its two blocks still
# tracked; once the filesystem has room again (or is writable) the same
# command resumes from pass 1 and copies those two blocks alone, the
# target then the source's and the snapshot's.
# state_fails WHAT STEP-PATTERN MAKE-IT-FAIL UNDO MESSAGE [AT-PASS-END]
state_fails() {
	local what=$1 step=$2 make_fail=$3 undo=$4 msg=$5 then=${6:-} state=$W/bp rc=0 before
	log "the state file's filesystem $what: exit 6, then the same command resumes"
	unmount "$state"
	mkdir -p "$state"
	assert_cmd mount -t tmpfs -o size=64k none "$state"
	cat >"$W/hook" <<-EOF
	case "\$CBT_CLONE_STEP" in 'pass 1 done') $then ;; esac
	case "\$CBT_CLONE_STEP" in $step) ;; *) exit 0 ;; esac
	dd if=/dev/urandom of=/dev/mapper/c bs=64k seek=100 count=1 oflag=direct status=none
	dd if=/dev/urandom of=/dev/mapper/c bs=64k seek=300 count=1 oflag=direct status=none
	$make_fail
	EOF
	CBT_CLONE_HOOK="sh $W/hook" cbt clone c "$DISK2" --cow "$DISK3" --force --state-dir "$state" \
		>"$W/bp.out" 2>"$W/bp.err" || rc=$?
	cat "$W/bp.out" "$W/bp.err"
	ls -las "$state"
	assert_eq "$rc" 6 "$what: exit status"
	grep -q '^pass 1: ' "$W/bp.out" || fail "$what: pass 1 was not reported"
	grep -q "$msg" "$W/bp.err" || fail "$what: the message does not say \"$msg\""
	grep -q "^cbt clone: the target is incomplete (.*); the source is untouched and its tracking intact; run the same command again to resume" \
		"$W/bp.err" || fail "$what: no word on the target, the source and its tracking"
	no_leftovers "$what"
	assert_eq "$(marked_blocks c)" "100 300 " "$what: the source's tracked blocks"
	before=$(sum /dev/mapper/c)
	sh -c "$undo" || fail "$what: $undo"
	rc=0
	cbt clone c "$DISK2" --cow "$DISK3" --verify --keep-snapshot --state-dir "$state" \
		>"$W/bp2.out" 2>"$W/bp2.err" || rc=$?
	cat "$W/bp2.out" "$W/bp2.err"
	assert_eq "$rc" 0 "$what: exit status of the run after"
	grep -q '^resuming: the target holds the source up to epoch' "$W/bp2.out" ||
		fail "$what: the run after did not resume"
	grep -q '^pass 1: epoch [0-9]*, 2 blocks ' "$W/bp2.out" ||
		fail "$what: the run after did not copy the two blocks alone"
	assert_eq "$(sum /dev/mapper/c-snap)" "$before" "$what: the kept snapshot"
	assert_eq "$(sum "$DISK2")" "$before" "$what: the target"
	assert_eq "$(sum /dev/mapper/c)" "$before" "$what: the source"
	assert_cmd cbt snapshot drop c
	no_leftovers "$what, after"
	unmount "$state"
}
fill="dd if=/dev/zero of=$W/bp/fill bs=4k 2>/dev/null || true"
state_fails "full between passes" "'pass 1 done'" "$fill" "rm $W/bp/fill" 'No space left on device'
state_fails "read-only between passes" "'pass 1 done'" "mount -o remount,ro $W/bp" \
	"mount -o remount,rw $W/bp" 'Read-only file system'
state_fails "full during pass 1" "'pass 1 '*/*" "$fill" "rm $W/bp/fill $W/bp/fill2" \
	'No space left on device' "dd if=/dev/zero of=$W/bp/fill2 bs=4k 2>/dev/null || true"

pass
