#!/bin/sh
# cbt migrate and a backup that starts on a tracked partition after its
# plan. migrate takes the device lock of every tracked partition (the one
# cbt backup, clone and serve hold) before it writes
# anything to the target, and holds it until that partition's clone ends
# (the clone reuses it). At the test build's hook "plan" (the plan made,
# nothing written):
# - a backup's snapshot taken on root: migrate is refused with the
#   clone's message, exit status 1, the target's first and last MiB
#   unchanged, the backup's snapshot and epochs left as they were;
# - root's device lock held by another process: refused with the lock's
#   message, exit status 1, the target unchanged, no epoch closed.
# Then the migration completes; at its hook "clone" (root's copy begun)
# root's lock is held, and a cbt clone of root is refused by it, and so is a
# cbt snapshot take of root (exit status 1, the lock's message, nothing
# attached): before, that take succeeded there (root's clone had no
# snapshot yet) and the migration failed in root's first pass, "root has a
# snapshot device attached already". Before: the table and partition 1
# were written first, the clone refused after.
# And --dry-run with a backup's snapshot attached: refused with the same
# message and exit status, nothing written, the snapshot and epochs left.
# disks: 96M 128M 32M 16M
# cost: 30
# timeout: 400
# busybox sh has local.
# shellcheck disable=SC3043

W=/tmp/migrate_lock
S=$DISK1
T=$DISK2
COW=$DISK3
ROOT=/mnt/mk-root

cleanup() {
	[ ! -p "$W/release" ] || echo go 1<>"$W/release"
	unmount /mnt/mk-t "$ROOT"
	dm_remove root-snap root
}

need_module dm_cbt
need_cmd cbt sfdisk e2fsck flock mkfifo

rm -rf "$W" && mkdir -p "$W" "$ROOT" /mnt/mk-t

log "the source: GPT, partition 1 unused (copy), partition 2 root under cbt (tracked)"
printf 'label: gpt\nsize=8MiB, name="raw"\nname="root"\n' | sfdisk -q "$S" || fail "sfdisk $S"
assert_cmd dd if=/dev/urandom of="${S}1" bs=1M count=8 status=none
cbt_create root "${S}2" 128
assert_cmd mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 -L root /dev/mapper/root
assert_cmd mount /dev/mapper/root "$ROOT"
assert_cmd dd if=/dev/urandom of="$ROOT/bulk" bs=1M count=8 conv=fsync status=none
LOCK=/run/cbt/$(dmsetup info -c --noheadings -o major,minor --separator : root | tr -d ' ').lock

# target_sums: md5 of the target's first and last MiB (the GPT and its
# backup: what writing the table changes first), read past the page cache.
target_sums() {
	local mib
	mib=$(($(sectors "$T") / 2048))
	echo "$(dd if="$T" bs=1M count=1 iflag=direct status=none | md5sum)" \
		"$(dd if="$T" bs=1M skip=$((mib - 1)) count=1 iflag=direct status=none | md5sum)"
}
# epochs: root's epochs and their states, one "N state" a line.
epochs() { cbt status root | sed -n 's/^  epoch \([0-9]*\): \([a-z]*\).*/\1 \2/p'; }
snapshot_attached() { cbt status root | grep -q 'snapshot:'; }

# refused WHAT MESSAGE HOOK [ARG...]: cbt migrate S T (ARGs added) with
# CBT_MIGRATE_HOOK=HOOK fails with exit status 1 and exactly MESSAGE, the
# target's first and last MiB unchanged, root's epochs as the hook left
# them ($W/epochs.hook, or as before the run without a hook).
refused() {
	local what=$1 msg=$2 hook=$3 before rc=0
	shift 3
	log "$what"
	before=$(target_sums)
	epochs >"$W/epochs.hook"
	CBT_MIGRATE_HOOK=$hook cbt migrate "$S" "$T" --cow "$COW" --state-dir "$W/state" "$@" \
		>"$W/out" 2>"$W/err" || rc=$?
	cat "$W/out" "$W/err"
	assert_eq "$(target_sums)" "$before" "$what: the target's first and last MiB"
	assert_eq "$rc" 1 "$what: exit status"
	assert_eq "$(cat "$W/err")" "$msg" "$what: the message"
	epochs >"$W/epochs.after"
	cmp "$W/epochs.hook" "$W/epochs.after" ||
		fail "$what: root's epochs changed: $(tr '\n' ' ' <"$W/epochs.hook") -> $(tr '\n' ' ' <"$W/epochs.after")"
}

snap_msg="migrate: partition 2 (${S}2): root already has a snapshot attached (\`cbt snapshot list'); drop it first (\`cbt snapshot drop root')"

assert_cmd cbt snapshot take root --cow "$COW"
refused "--dry-run with a backup's snapshot attached" "$snap_msg" "" --dry-run
snapshot_attached || fail "--dry-run dropped the backup's snapshot"
closed=$(epochs | sed -n 's/ closed$//p')
assert_cmd cbt snapshot drop root
assert_cmd cbt epoch abort root "$closed"

# After the plan: the hook takes a backup's snapshot, and leaves root's
# epochs as they then are for refused() to compare.
refused "a backup's snapshot taken after the plan" "$snap_msg" \
	"cbt snapshot take root --cow $COW >$W/snap.out && cbt status root | sed -n 's/^  epoch \([0-9]*\): \([a-z]*\).*/\1 \2/p' >$W/epochs.hook"
snapshot_attached || fail "migrate dropped the backup's snapshot"
closed=$(epochs | sed -n 's/ closed$//p')
[ -n "$closed" ] || fail "the backup's epoch is no longer closed"
assert_cmd cbt snapshot drop root
assert_cmd cbt epoch abort root "$closed"

# hold.sh: hold root's lock (flock -x) in the background, as a running
# backup does, until $W/release is written; return once it is held.
mkfifo "$W/ready" "$W/release"
cat >"$W/hold.sh" <<EOF
( exec 9>"$LOCK" && flock -x 9 && echo held >"$W/ready" && exec cat "$W/release" >/dev/null ) &
read -r _ <"$W/ready"
EOF
refused "root's device lock held by another process after the plan" \
	"migrate: partition 2 (${S}2): another cbt backup, clone or serve of root is running, or a program holds its snapshot through libcbt (it holds $LOCK); run this one when it has finished" \
	"sh $W/hold.sh"
echo go >"$W/release"
# The holder let go: flock gets the lock at once.
assert_cmd flock -x -n "$LOCK" true

log "the migration; at root's copy, its lock is held and a clone of root refused"
truncate -s 96M "$W/img"
hook="case \$CBT_MIGRATE_STEP in 'clone ${T}2')
	flock -x -n $LOCK true; echo \$? >$W/flock.rc
	cbt clone root $W/img --cow $COW --state-dir $W/state2 >$W/clone.out 2>&1; echo \$? >$W/clone.rc
	cbt snapshot take root --cow $DISK4 --no-freeze >$W/take.out 2>&1; echo \$? >$W/take.rc
	dmsetup ls >$W/take.ls ;;
esac"
rc=0
CBT_MIGRATE_HOOK=$hook cbt migrate "$S" "$T" --cow "$COW" --state-dir "$W/state" >"$W/out" 2>"$W/err" ||
	rc=$?
cat "$W/out" "$W/err" "$W/clone.out" "$W/take.out"
assert_eq "$rc" 0 "exit status of the migration"
assert_eq "$(cat "$W/flock.rc")" 1 "flock -n of root's lock during root's copy"
assert_eq "$(cat "$W/clone.rc")" 1 "exit status of a clone of root during root's copy"
assert_eq "$(cat "$W/clone.out")" "cbt clone: another cbt backup, clone or serve of root is running, or a program holds its snapshot through libcbt (it holds $LOCK); run this one when it has finished" \
	"the message of a clone of root during root's copy"
assert_eq "$(cat "$W/take.rc")" 1 "exit status of a snapshot take of root during root's copy"
assert_eq "$(cat "$W/take.out")" "cbt snapshot take: another cbt backup, clone or serve of root is running, or a program holds its snapshot through libcbt (it holds $LOCK); run this one when it has finished" \
	"the message of a snapshot take of root during root's copy"
if grep -q root-snap "$W/take.ls"; then fail "the refused take attached root-snap"; fi
assert_eq "$(epochs | grep -c closed || true)" 0 "closed epochs after the migration"
if snapshot_attached; then fail "a snapshot was left attached"; fi
assert_cmd flock -x -n "$LOCK" true
assert_cmd cmp "${S}1" "${T}1"
assert_cmd e2fsck -fn "${T}2"
assert_cmd mount -o ro "${T}2" /mnt/mk-t
assert_cmd cmp "$ROOT/bulk" /mnt/mk-t/bulk
umount /mnt/mk-t
pass
