#!/bin/sh
# cbt backup of a mounted ext4 under a running write load (fio random
# writes and file churn). The filesystem sits on a dm-linear device over
# the cbt device, the layout `cbt attach' makes, and each backup freezes it
# by suspending that device until the snapshot is taken (the kernel's
# CBT_A_FREEZE freezes filesystems on the cbt device itself; backup_direct
# covers that).
# Images: a full image of every block, incrementals, a
# differential, an incremental on top of it, and a default full image
# (blocks in use only). At each backup a hook checksums the snapshot, so
# each restore point is compared byte for byte with the device as it was at
# that instant. Then: a backup killed with SIGKILL after its snapshot was
# taken (the next run aborts the leftover epoch and the next incremental is
# still exact), one stopped by SIGTERM (its epoch aborted, no partial file),
# a mounted restore target refused, one smaller than the point refused
# (ENOSPC) with nothing written, a larger one written up to the point's
# size only, a corrupted and a missing middle link refused with a clear
# error before anything is written.
# disks: 48M 64M 256M 48M
# cost: 59
# timeout: 1200
# busybox sh has local; the hooks expand in the shell cbt runs them in.
# shellcheck disable=SC3043,SC2016

W=/tmp/bk
SRC=/mnt/bk-src
STORE=/mnt/bk-store
CH=$STORE/chain

cleanup() {
	bg_kill
	unmount /mnt/bk-tgt
	dmsetup resume top 2>/dev/null || true
	unmount "$SRC"
	dm_remove top c-snap small
	unmount "$STORE"
	dm_remove c
}

need_module dm_cbt
need_cmd cbt fio e2fsck mkfs.ext4 sha256sum

rm -rf "$W" && mkdir -p "$W" "$SRC" "$STORE"
DEV_SECTORS=$(sectors "$DISK1")
assert_cmd dmsetup create c --table "0 $DEV_SECTORS cbt $DISK1 8"
assert_cmd dmsetup create top --table "0 $DEV_SECTORS linear /dev/mapper/c 0"
assert_cmd mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/top
assert_cmd mkfs.ext4 -q "$DISK3"
assert_cmd mount "$DISK3" "$STORE"
assert_cmd mount -o noatime /dev/mapper/top "$SRC"

log "write load: fio random 4 KiB writes, and files created and removed"
bg_start fio fio --name=load --filename="$SRC/load.dat" --size=16M --rw=randwrite --bs=4k \
	--rate=2m --ioengine=psync --fsync=16 --time_based --runtime=1000 >"$W/fio.log" 2>&1
# churn I: file f<I mod 16> rewritten, every 5th time another one removed.
churn() {
	dd if=/dev/urandom of="$SRC/f$(($1 % 16))" bs=4k count=$(($1 % 64 + 1)) 2>/dev/null || return
	[ $(($1 % 5)) -ne 0 ] || rm -f "$SRC/f$((($1 + 7) % 16))"
}
bg_loop churn 0.2 churn
# the first backup runs under the load: wait until it writes
wait_written c 256

# Once the snapshot is taken: thaw the filesystem, checksum the snapshot.
snap_sum_hook "$W" "dmsetup resume top"

# top_backup HOOK ARGS...: cbt backup c ARGS --to $CH --cow $DISK2
# --no-freeze, with top suspended (its filesystem frozen) until the hook
# resumes it, or the backup ended; HOOK replaces CBT_BACKUP_HOOK (empty:
# the one above). Sets rc to the backup's exit status, and returns it.
top_backup() {
	local hook=${1:-$CBT_BACKUP_HOOK}
	shift
	rc=0
	dmsetup suspend top
	CBT_BACKUP_HOOK=$hook cbt backup c "$@" --to "$CH" --cow "$DISK2" --no-freeze || rc=$?
	dmsetup resume top
	return "$rc"
}

# backup N ARGS...: take backup number N (its image is number N in the chain).
backup() {
	local n="$1"
	shift
	log "+ cbt backup c $* --to $CH --cow $DISK2 --no-freeze --quiet"
	backup_summed "$n" "$W" top_backup "" "$@" --quiet
	wait_written c
}

backup 1 --full --all-blocks --compress zstd:1
backup 2 --incremental
backup 3 --incremental --compress none
backup 4 --differential
backup 5 --incremental

log "a backup killed (SIGKILL) once its snapshot is taken"
top_backup 'dmsetup resume top; kill -9 $CBT_PID' --incremental --quiet 2>"$W/killed.err" || true
[ "$rc" -ne 0 ] || fail "the killed backup exited 0"
cbt status c >"$W/status.killed"
grep -q 'closed' "$W/status.killed" || fail "no closed epoch left by the killed backup: $(cat "$W/status.killed")"
[ "$(grep -c . "$CH/chain.idx")" -eq 6 ] || fail "the killed backup changed the index"
wait_written c
rm -f "$W/snapsum"
top_backup "" --incremental >"$W/recover.out" 2>&1 || true
[ "$rc" -eq 0 ] || fail "the backup after the killed one failed: $(cat "$W/recover.out")"
grep -q "aborting epoch" "$W/recover.out" || fail "the next backup did not abort the leftover epoch: $(cat "$W/recover.out")"
grep -q "dropping snapshot" "$W/recover.out" || fail "the next backup did not drop the leftover snapshot"
mv "$W/snapsum" "$W/sum.6"
wait_written c

log "a backup stopped by SIGTERM: epoch aborted, no partial image"
top_backup 'dmsetup resume top; kill -TERM $CBT_PID' --incremental --quiet 2>"$W/term.err" || true
[ "$rc" -eq 1 ] || fail "the interrupted backup exited $rc, want 1"
grep -q "interrupted by a signal" "$W/term.err" || fail "no reason given: $(cat "$W/term.err")"
grep -q "was aborted" "$W/term.err" || fail "it did not say the epoch was aborted: $(cat "$W/term.err")"
for f in "$CH"/.*.partial; do
	[ -e "$f" ] && fail "a partial image was left: $f"
done
cbt status c | grep -q 'closed' && fail "the interrupted backup left a closed epoch"
wait_written c
backup 7 --incremental
backup 8 --full

log "stop the load"
bg_kill fio
bg_stop churn
assert_cmd umount "$SRC"

assert_cmd cbt verify "$CH"
cbt info "$CH" | grep '^image' | while read -r l; do log "$l"; done

for n in 1 2 3 4 5 6 7; do
	assert_cmd cbt restore --quiet "$CH" --at "$n" "$DISK4"
	got=$(sha256_head "$DISK4" $((DEV_SECTORS * 512)))
	assert_eq "$got" "$(cat "$W/sum.$n")" "point $n restored byte for byte"
	assert_cmd e2fsck -fn "$DISK4"
done
log "point 8 (full, blocks in use only): a clean filesystem"
assert_cmd cbt restore --quiet "$CH" --at 8 "$DISK4"
assert_cmd e2fsck -fn "$DISK4"
cbt info "$CH/000008-full.cbti" | grep -q "blocks the filesystem uses" ||
	fail "the default full image did not use the ext4 block bitmaps"

log "a mounted target is refused"
mkdir -p /mnt/bk-tgt
assert_cmd mount -o ro "$DISK4" /mnt/bk-tgt
rc=0
cbt restore --quiet "$CH" --at 2 "$DISK4" 2>"$W/busy.err" || rc=$?
umount /mnt/bk-tgt
if [ "$rc" -ne 1 ] || ! grep -q "in use" "$W/busy.err"; then
	fail "restore onto a mounted disk: exit $rc: $(cat "$W/busy.err")"
fi

log "a target smaller than the point: refused before writing (exit status 6, ENOSPC)"
assert_cmd dmsetup create small --table "0 $((DEV_SECTORS - 8)) linear $DISK4 0"
small_sum=$(sha256_of /dev/mapper/small)
rc=0
cbt restore --quiet "$CH" --at 2 /dev/mapper/small 2>"$W/small.err" || rc=$?
if [ "$rc" -ne 6 ] || ! grep -q "the target holds" "$W/small.err"; then
	fail "restore onto a smaller device: exit $rc: $(cat "$W/small.err")"
fi
assert_eq "$(sha256_of /dev/mapper/small)" "$small_sum" "the smaller target after the refusal"
assert_cmd dmsetup remove small

log "a larger target (the COW disk, free now): the point, and nothing written past it"
MB=$((DEV_SECTORS / 2048))
dd if=/dev/urandom of="$DISK2" bs=1M seek="$MB" count=$(($(sectors "$DISK2") / 2048 - MB)) conv=fsync 2>/dev/null
tail_sum=$(dd if="$DISK2" bs=1M skip="$MB" 2>/dev/null | sha256sum)
assert_cmd cbt restore --quiet "$CH" --at 2 "$DISK2"
assert_eq "$(sha256_head "$DISK2" $((DEV_SECTORS * 512)))" "$(cat "$W/sum.2")" "point 2 on a larger target"
assert_eq "$(dd if="$DISK2" bs=1M skip="$MB" 2>/dev/null | sha256sum)" "$tail_sum" "the larger target past the point"

log "a corrupted middle link: refused before writing"
assert_cmd cp -a "$CH" "$STORE/bad"
b=$(od -An -tu1 -j 4000 -N1 "$STORE/bad/000002-incr.cbti" | tr -d ' ')
# shellcheck disable=SC2059
printf "\\$(printf %o $(((b + 1) % 256)))" | dd of="$STORE/bad/000002-incr.cbti" bs=1 seek=4000 conv=notrunc 2>/dev/null
cmp -s "$CH/000002-incr.cbti" "$STORE/bad/000002-incr.cbti" && fail "the corruption did not change the file"
assert_cmd cbt restore --quiet "$CH" --at 1 "$DISK4"
before=$(sha256_head "$DISK4" $((DEV_SECTORS * 512)))
rc=0
cbt restore --quiet "$STORE/bad" --at 3 "$DISK4" 2>"$W/bad.err" || rc=$?
if [ "$rc" -ne 4 ] || ! grep -q "000002-incr.cbti" "$W/bad.err"; then
	fail "corrupted link: exit $rc: $(cat "$W/bad.err")"
fi
after=$(sha256_head "$DISK4" $((DEV_SECTORS * 512)))
assert_eq "$after" "$before" "target untouched by the refused restore"
rc=0
cbt verify "$STORE/bad" 2>"$W/verify.err" || rc=$?
if [ "$rc" -ne 4 ] || ! grep -q "000002-incr.cbti: FAILED" "$W/verify.err"; then
	fail "verify: exit $rc: $(cat "$W/verify.err")"
fi

log "a missing middle link"
rm "$STORE/bad/000002-incr.cbti"
rc=0
cbt restore --quiet "$STORE/bad" --at 3 "$DISK4" 2>"$W/missing.err" || rc=$?
if [ "$rc" -ne 4 ] || ! grep -q "is missing" "$W/missing.err"; then
	fail "missing link: exit $rc: $(cat "$W/missing.err")"
fi
pass
