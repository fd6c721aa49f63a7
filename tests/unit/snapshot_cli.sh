# shellcheck shell=bash
# cbt snapshot take and drop beside a run that holds the device's lock
# (sourced by tests/unit/run after cli.sh: run, expect, $FAKE). The fake
# dm-cbt's vg-data is 253:3, web 253:7. A backup, clone, migrate or serve
# of a device holds $CBT_RUN_DIR/MAJOR:MINOR.lock (flock) while it runs;
# here this shell holds it on fd 9, closed in the tool (9>&-), as another
# process would. A take is refused before anything is looked at beyond the
# device (exit 1, the lock's message); a drop and a release too, unless
# --force (a release under a running incremental makes blocks it still
# needs read EIO).

# $out, $err and $rc are set by cli.sh's run.
# shellcheck disable=SC2154
SL=$O/snaplock
rm -rf "$SL" && mkdir -p "$SL/run"
SLMSG="another cbt backup, clone or serve of vg-data is running, or a program holds its snapshot through libcbt (it holds $SL/run/253:3.lock); run this one when it has finished"

# slrun CMD...: run with the lock directory, fd 9 closed.
slrun() {
	CBT_RUN_DIR=$SL/run run "$@" 9>&-
}

exec 9>"$SL/run/253:3.lock"
flock -x 9

slrun "$FAKE" snapshot take vg-data --cow /dev/null --no-freeze
expect snapshot_take_locked 1 "cbt snapshot take: $SLMSG"
# The freeze default reads the devices first: the same refusal.
slrun "$FAKE" snapshot take vg-data --cow /dev/null
expect snapshot_take_locked_freeze_default 1 "cbt snapshot take: $SLMSG"
# In a group, the locked member refuses the whole take.
slrun "$FAKE" snapshot take web vg-data --cow /dev/null /dev/null --no-freeze
expect snapshot_take_group_locked 1 "cbt snapshot take: $SLMSG"
# --force is about the COW device's signatures, not the lock.
slrun "$FAKE" snapshot take vg-data --cow /dev/null --no-freeze --force
expect snapshot_take_locked_force 1 "cbt snapshot take: $SLMSG"

slrun "$FAKE" snapshot drop vg-data
expect snapshot_drop_locked 1 "cbt snapshot drop: $SLMSG (--force drops the snapshot anyway, failing whoever reads it)"
slrun "$FAKE" snapshot drop vg-data --json
got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["code"], d["error"])' 2>&1)
if [ "$rc" = 1 ] && [ "$got" = "1 cbt snapshot drop: $SLMSG (--force drops the snapshot anyway, failing whoever reads it)" ]; then
	tap_ok "unit/cli/snapshot_drop_locked_json"
else
	tap_fail "unit/cli/snapshot_drop_locked_json: exit status $rc, $got"
fi
# --force goes past the lock, to the snapshot device (the fake has none).
slrun "$FAKE" snapshot drop --force vg-data
if [[ $err == "cbt snapshot drop: --force: a backup, clone, migrate or serve of vg-data (or a libcbt program) holds its lock: dropping the snapshot anyway"* ]] &&
	[[ $err != *"is running"* ]]; then
	tap_ok "unit/cli/snapshot_drop_locked_force"
else
	tap_fail "unit/cli/snapshot_drop_locked_force: exit status $rc: $err"
fi
slrun "$FAKE" snapshot drop vg-data --frob
expect snapshot_drop_unknown_option 2 "unknown option \`--frob'"

slrun "$FAKE" snapshot release vg-data 0 4K
expect snapshot_release_locked 1 "cbt snapshot release: $SLMSG (--force releases anyway, failing whoever reads those bytes)"
slrun "$FAKE" snapshot release --force vg-data 0 4K
if [[ $err == "cbt snapshot release: --force: a backup, clone, migrate or serve of vg-data (or a libcbt program) holds its lock: releasing anyway"* ]] &&
	[[ $err != *"is running"* ]]; then
	tap_ok "unit/cli/snapshot_release_locked_force"
else
	tap_fail "unit/cli/snapshot_release_locked_force: exit status $rc: $err"
fi
slrun "$FAKE" snapshot release vg-data 0 4K --frob
expect snapshot_release_unknown_option 2 "unknown option \`--frob'"

flock -u 9
exec 9>&-

# Unlocked: past the lock, the same as --force above; the take holds the
# lock only while it runs.
slrun "$FAKE" snapshot release vg-data 0 4K
if [[ $err != *"is running"* && $err != *"--force"* ]] && flock -x -n "$SL/run/253:3.lock" true; then
	tap_ok "unit/cli/snapshot_release_unlocked"
else
	tap_fail "unit/cli/snapshot_release_unlocked: exit status $rc: $err"
fi
slrun "$FAKE" snapshot drop vg-data
if [[ $err != *"is running"* ]] && flock -x -n "$SL/run/253:3.lock" true; then
	tap_ok "unit/cli/snapshot_drop_unlocked"
else
	tap_fail "unit/cli/snapshot_drop_unlocked: exit status $rc: $err"
fi
