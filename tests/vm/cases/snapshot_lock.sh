#!/bin/sh
# cbt snapshot take and drop, and cbt detach, beside a clone or a backup
# of the same device, run at fixed points (the test build's CBT_CLONE_HOOK
# inside pass 1's copy, CBT_BACKUP_HOOK once the backup's snapshot is
# taken; no sleeps).
# The running one holds c's device lock (/run/cbt/MAJOR:MINOR.lock), so:
# - `cbt snapshot take c' is refused at once, exit status 1, with the
#   lock's message: nothing attached (c-snap is still the run's, over the
#   run's COW device), c's open epoch unchanged, the take's COW device
#   untouched;
# - `cbt snapshot drop c' is refused the same way ("--force drops the
#   snapshot anyway"): the run's snapshot stays;
# - `cbt detach c' (c is `cbt attach'ed) is refused the same way: c stays
#   tracked, the run's snapshot valid;
# - the clone then completes and its target matches the source, the
#   backup completes and its restore matches its snapshot (sha256).
# Then, with the lock held by another process (flock, as a libcbt program
# holding its snapshot): take, drop and detach are refused, drop --force
# drops; with the lock free take, drop and detach work and leave it free.
# Before: the take was refused only by the snapshot the run had attached
# ("has a snapshot device attached already (`cbt snapshot drop c' removes
# it)"), the drop removed the backup's snapshot under it, and the detach
# replaced c's table under the run.
# disks: 32M 16M 16M 32M
# cost: 40
# timeout: 400
# busybox sh has local.
# shellcheck disable=SC3043

W=/tmp/snapshot_lock
COW=$DISK2	# the clone's and the backup's
COW2=$DISK3	# the manual take's
T=$DISK4	# the clone's target

cleanup() {
	[ ! -p "$W/release" ] || echo go 1<>"$W/release"
	dm_remove c-snap
	if dmsetup table c 2>/dev/null | grep -q ' cbt '; then cbt detach c >/dev/null 2>&1 || true; fi
	dm_remove c-cbt-orig c
}

need_module dm_cbt
need_cmd cbt flock mkfifo

rm -rf "$W" && mkdir -p "$W"
# c: a device-mapper device put under tracking by `cbt attach', so that
# `cbt detach c' can be tried too.
assert_cmd dmsetup create c --table "0 $(sectors "$DISK1") linear $DISK1 0"
assert_cmd cbt attach c
assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=1M count=32 oflag=direct status=none
LOCK=/run/cbt/$(dmsetup info -c --noheadings -o major,minor --separator : c | tr -d ' ').lock
held="another cbt backup, clone or serve of c is running, or a program holds its snapshot through libcbt (it holds $LOCK); run this one when it has finished"
cow_sum() { dd if="$1" bs=1M count=1 iflag=direct status=none | md5sum; }

# beside.sh NAME: what another admin does while a run holds c: a take of c
# over COW2 and a drop of c, each's exit status and stderr in $W/NAME.*,
# with c's open epoch, c-snap's table and COW2's first MiB before and
# after. Run from the hooks, in the running tool's process tree.
cat >"$W/beside.sh" <<EOF
n=$W/\$1
epoch() { cbt status c --json | sed -n 's/.*"current_epoch": \([0-9]*\).*/\1/p'; }
epoch >\$n.epoch0; dmsetup table c-snap >\$n.table0 2>&1
dd if=$COW2 bs=1M count=1 iflag=direct status=none | md5sum >\$n.cow0
cbt snapshot take c --cow $COW2 --no-freeze >\$n.take.out 2>\$n.take.err; echo \$? >\$n.take.rc
cbt snapshot drop c >\$n.drop.out 2>\$n.drop.err; echo \$? >\$n.drop.rc
cbt detach c >\$n.detach.out 2>\$n.detach.err; echo \$? >\$n.detach.rc
dmsetup table c | cut -d' ' -f3 >\$n.target1
epoch >\$n.epoch1; dmsetup table c-snap >\$n.table1 2>&1
dd if=$COW2 bs=1M count=1 iflag=direct status=none | md5sum >\$n.cow1
EOF

# refused NAME WHAT: beside.sh NAME's take and drop were refused by the
# lock, and changed nothing.
refused() {
	local n=$W/$1 what=$2
	[ -s "$n.take.rc" ] || fail "$what: the hook did not run"
	grep -q ' cbt-snap ' "$n.table0" || fail "$what: no snapshot attached: $(cat "$n.table0")"
	cat "$n.take.out" "$n.take.err" "$n.drop.out" "$n.drop.err" "$n.detach.out" "$n.detach.err"
	assert_eq "$(cat "$n.take.rc")" 1 "$what: exit status of the take"
	assert_eq "$(cat "$n.take.err")" "cbt snapshot take: $held" "$what: the take's message"
	assert_eq "$(cat "$n.drop.rc")" 1 "$what: exit status of the drop"
	assert_eq "$(cat "$n.drop.err")" "cbt snapshot drop: $held (--force drops the snapshot anyway, failing whoever reads it)" \
		"$what: the drop's message"
	assert_eq "$(cat "$n.detach.rc")" 1 "$what: exit status of the detach"
	assert_eq "$(cat "$n.detach.err")" "cbt detach: $held" "$what: the detach's message"
	assert_eq "$(cat "$n.target1")" cbt "$what: c's target after the detach"
	assert_eq "$(cat "$n.epoch1")" "$(cat "$n.epoch0")" "$what: c's open epoch"
	assert_eq "$(cat "$n.table1")" "$(cat "$n.table0")" "$what: c-snap's table (the run's)"
	assert_eq "$(cat "$n.cow1")" "$(cat "$n.cow0")" "$what: the take's COW device"
}

log "a clone of c; inside its pass 1, a take and a drop of c"
rc=0
CBT_CLONE_HOOK="case \$CBT_CLONE_STEP in 'pass 1 '*/*) sh $W/beside.sh clone ;; esac" \
	cbt clone c "$T" --cow "$COW" --state-dir "$W/state" >"$W/clone.out" 2>&1 || rc=$?
cat "$W/clone.out"
refused clone "beside the clone"
assert_eq "$rc" 0 "exit status of the clone"
assert_eq "$(sha256_of "$T")" "$(sha256_of /dev/mapper/c)" "sha256 of the clone's target against c"
if cbt status c | grep -q 'snapshot:'; then fail "a snapshot was left attached after the clone"; fi
assert_eq "$(cbt status c | grep -c ': closed' || true)" 0 "closed epochs after the clone"

log "a full backup of c; once its snapshot is taken, a take and a drop of c"
snap_sum_hook "$W" "sh $W/beside.sh backup"
rc=0
cbt backup c --full --to "$W/chain" --cow "$COW" --no-freeze --quiet || rc=$?
unset CBT_BACKUP_HOOK
refused backup "beside the backup"
assert_eq "$rc" 0 "exit status of the backup"
assert_cmd cbt restore --quiet "$W/chain" "$W/restored.img"
assert_eq "$(sha256_of "$W/restored.img")" "$(cat "$W/snapsum")" \
	"sha256 of the backup's restore against its snapshot"
rm -f "$W/restored.img"
if cbt status c | grep -q 'snapshot:'; then fail "a snapshot was left attached after the backup"; fi

log "c's lock held by another process: take and drop refused, drop --force drops"
assert_cmd cbt snapshot take c --cow "$COW" --no-freeze
mkfifo "$W/ready" "$W/release"
( exec 9>"$LOCK" && flock -x 9 && echo held >"$W/ready" && exec cat "$W/release" >/dev/null ) &
read -r _ <"$W/ready"
sh "$W/beside.sh" flock
refused flock "beside the lock's holder"
assert_cmd cbt snapshot drop c --force
if cbt status c | grep -q 'snapshot:'; then fail "drop --force left the snapshot"; fi
echo go >"$W/release"
wait

log "the lock free: take and drop work, and leave it free"
epoch=$(status_json c current_epoch)
assert_cmd cbt snapshot take c --cow "$COW2" --no-freeze
assert_cmd flock -x -n "$LOCK" true
assert_eq "$(status_json c current_epoch)" $((epoch + 1)) "c's open epoch after the take"
assert_cmd cbt snapshot drop c
assert_cmd flock -x -n "$LOCK" true
assert_cmd cbt epoch abort c "$epoch"
assert_cmd cbt detach c
assert_cmd flock -x -n "$LOCK" true
pass
