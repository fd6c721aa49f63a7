#!/bin/sh
# The COW device fails during `cbt backup`, under fio --verify on the
# device: a backup hook (run once the snapshot is taken) swaps the COW
# device to dm-error and waits until writes have made the snapshot invalid.
# The backup must fail and leave nothing behind: no partial image, its
# epoch aborted (no closed epoch; its changes folded into the open one), no
# snapshot attached. No acknowledged origin write is lost, and the next
# incremental (COW healthy again) restores equal to the device.
# disks: 32M 64M 32M
# cost: 200
# timeout: 600

# shellcheck source=tests/soak/cases/soak.inc
. /harness/cases/soak.inc

cleanup() { soak_cleanup; }

need_module dm_cbt
need_cmd cbt fio
rm -rf "$SOAK" && mkdir -p "$SOAK"
CH=$SOAK/chain

cbt_create c "$DISK1" 8
assert_cmd dmsetup create cow --table "0 $(sectors "$DISK2") linear $DISK2 0"
assert_cmd cbt backup c --full --all-blocks --to "$CH" --cow /dev/mapper/cow --no-freeze --quiet
images=$(grep -c . "$CH/chain.idx")

fio_load /dev/mapper/c error
S=$(sectors "$DISK2")
# The hook: the COW device fails, and writes hit the snapshot before the
# backup reads on (the wait polls the snapshot's state).
export CBT_BACKUP_HOOK="dmsetup suspend cow && dmsetup reload cow --table '0 $S error' && dmsetup resume cow &&
	i=0; while ! cbt status c --json | grep -q '\"state\": \"invalid\"'; do i=\$((i + 1)); [ \$i -lt 600 ] || exit 1; sleep 0.1; done"
rc=0
cbt backup c --incremental --to "$CH" --cow /dev/mapper/cow --no-freeze --quiet 2>"$SOAK/bk.err" || rc=$?
unset CBT_BACKUP_HOOK
log "backup with a failing COW: exit $rc: $(head -c 300 "$SOAK/bk.err")"
[ "$rc" != 0 ] || fail "the backup succeeded from an invalid snapshot"
fio_wait
assert_eq "$(grep -c . "$CH/chain.idx")" "$images" "images in the chain after the failed backup"
assert_eq "$(closed_epochs c | wc -l)" 0 "closed epochs after the failed backup (aborted, folded back)"
if cbt status c | grep -q 'snapshot:'; then fail "the invalid snapshot was left attached"; fi
ls "$CH" >"$SOAK/files"
log "chain files: $(tr '\n' ' ' <"$SOAK/files")"

swap cow linear "$DISK2"
assert_cmd cbt backup c --incremental --to "$CH" --cow /dev/mapper/cow --no-freeze --quiet
restore_cmp "$CH" /dev/mapper/c "$DISK3"
pass
