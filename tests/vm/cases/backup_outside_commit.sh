#!/bin/sh
# A chain's incremental must prove nothing was lost since its last image.
# Changes consumed by another reader (an epoch closed and committed with
# `cbt epoch commit', as a clone does for its passes) are not in the
# chain: the next incremental and differential are refused with "a full
# backup is needed", and change nothing; a full image starts over. An
# epoch closed and aborted folds its changes forward and is no obstacle,
# nor is one left closed (the backup aborts it, as after a killed run).
# A backup started while a clone of the device runs is refused (EBUSY)
# and leaves the clone's snapshot and epochs alone; the clone finishes,
# and the epochs it committed make the chain's next incremental refused.
# Also: the COW device's first chunk is left zero, so it never carries the
# origin's filesystem signature.
# disks: 64M 32M 256M 8M 64M 32M
# cost: 38
# timeout: 300

W=/tmp/boc
STORE=/mnt/boc-store
CH=$STORE/chain

cleanup() {
	[ -z "${CLONE:-}" ] || kill "$CLONE" 2>/dev/null || true
	wait 2>/dev/null || true
	unmount "$STORE"
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt mkfs.ext4 sha256sum blkid

rm -rf "$W" && mkdir -p "$W" "$STORE"
SECTORS=$(sectors "$DISK1")
assert_cmd dmsetup create c --table "0 $SECTORS cbt $DISK1 8 2 metadata $DISK4"
assert_cmd mkfs.ext4 -q /dev/mapper/c
assert_cmd mkfs.ext4 -q "$DISK3"
assert_cmd mount "$DISK3" "$STORE"

# backup ARGS...: a backup into the chain; its exit status in $rc, output in $W/out.
backup() {
	rc=0
	cbt backup c "$@" --to "$CH" --cow "$DISK2" >"$W/out" 2>&1 || rc=$?
	cat "$W/out"
}

backup --full
assert_eq "$rc" 0 "full backup"
blkid "$DISK2" | grep -q 'TYPE=' && fail "the COW device carries a filesystem signature: $(blkid "$DISK2")"
assert_cmd stamp write /dev/mapper/c -n 64 -g 1

log "an epoch closed and aborted: its changes fold forward, the incremental works"
e=$(cbt epoch close c)
assert_cmd cbt epoch abort c "$e"
assert_cmd stamp write /dev/mapper/c -n 32 -g 2
backup --incremental
assert_eq "$rc" 0 "incremental after an aborted epoch"

log "an epoch closed and left closed (a reader that died): the next backup aborts it, its changes go in"
assert_cmd stamp write /dev/mapper/c -n 16 -g 3
e=$(cbt epoch close c)
backup --incremental
assert_eq "$rc" 0 "incremental over a leftover closed epoch"
grep -q "aborting epoch $e" "$W/out" || fail "the leftover epoch $e was not aborted: $(cat "$W/out")"
cp "$CH/chain.idx" "$W/idx.before"

log "a clone of the device runs (rate-limited): a backup meanwhile is refused, the clone is unharmed"
assert_cmd stamp write /dev/mapper/c -n 16 -g 5
cbt clone c "$DISK5" --cow "$DISK6" --rate 4M --no-freeze >"$W/clone.out" 2>&1 &
CLONE=$!
until grep -q '^cbt clone: c ' "$W/clone.out"; do
	kill -0 "$CLONE" 2>/dev/null || fail "the clone ended early: $(cat "$W/clone.out")"
	sleep 0.1
done
backup --incremental
assert_eq "$rc" 1 "exit status of a backup during a clone"
grep -q "another cbt backup, clone or serve of c is running" "$W/out" || fail "no reason given: $(cat "$W/out")"
cmp -s "$CH/chain.idx" "$W/idx.before" || fail "the refused backup changed the chain"
rc=0
wait "$CLONE" || rc=$?
CLONE=
cat "$W/clone.out"
assert_eq "$rc" 0 "the clone's exit status"
e=$(sed -n 's/.* is a clone of c as of epoch \([0-9]*\).*/\1/p' "$W/clone.out")
[ -n "$e" ] || fail "the clone did not say its epoch"

log "the epochs the clone committed are lost to the chain"
for type in --incremental --differential; do
	backup "$type"
	assert_eq "$rc" 3 "exit status of backup $type after an outside commit (a full image is needed)"
	grep -q "a full image is needed" "$W/out" || fail "backup $type: no reason given: $(cat "$W/out")"
	grep -q "epoch $e was committed" "$W/out" || fail "backup $type: the epoch is not named"
	cmp -s "$CH/chain.idx" "$W/idx.before" || fail "the refused backup $type changed the chain"
done
backup --incremental --json
grep -q '"reason": *"outside-commit"' "$W/out" || fail "the JSON error does not say outside-commit"
cbt status c | grep -q "last committed epoch: $e" || fail "status does not show the commit: $(cbt status c)"

log "a full image starts over, and incrementals follow it"
backup --full
assert_eq "$rc" 0 "full backup after the outside commit"
assert_cmd stamp write /dev/mapper/c -n 8 -g 4
export CBT_BACKUP_HOOK="sha256sum \"\$CBT_SNAP_PATH\" | cut -d' ' -f1 >$W/snapsum"
backup --incremental
assert_eq "$rc" 0 "incremental after the new full"
unset CBT_BACKUP_HOOK
assert_cmd cbt restore --quiet "$CH" "$W/restored.img"
assert_eq "$(sha256_head "$W/restored.img" $((SECTORS * 512)))" \
	"$(cat "$W/snapsum")" "the last point restored byte for byte"
rm -f "$W/restored.img"
pass
