#!/bin/sh
# cbt backup of an ext4 mounted on the cbt device itself, frozen by the
# default --freeze, under a running fio load: a lone full image of every
# block piped to standard output and restored from standard input (it
# keeps its epoch's changes for the chain), then a chain: a default full
# image (blocks in use), an incremental, a differential and an incremental.
# Each point is restored and compared byte for byte with a checksum of its
# snapshot taken during the backup, and checked with e2fsck.
# disks: 48M 64M 256M 48M
# cost: 32
# timeout: 1200
# busybox sh has local.
# shellcheck disable=SC3043

W=/tmp/bd
SRC=/mnt/bd-src
STORE=/mnt/bd-store
CH=$STORE/chain

cleanup() {
	bg_kill fio
	unmount /mnt/bd-tgt "$SRC"
	dm_remove c-snap
	unmount "$STORE"
	dm_remove c
}

need_module dm_cbt
need_cmd cbt fio e2fsck mkfs.ext4 sha256sum

rm -rf "$W" && mkdir -p "$W" "$SRC" "$STORE" /mnt/bd-tgt
DEV_SECTORS=$(sectors "$DISK1")
assert_cmd dmsetup create c --table "0 $DEV_SECTORS cbt $DISK1 8"
assert_cmd mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/c
assert_cmd mkfs.ext4 -q "$DISK3"
assert_cmd mount "$DISK3" "$STORE"
assert_cmd mount -o noatime /dev/mapper/c "$SRC"
assert_cmd dd if=/dev/urandom of="$SRC/fixed" bs=1M count=4

bg_start fio fio --name=load --filename="$SRC/load.dat" --size=16M --rw=randwrite --bs=4k \
	--rate=2m --ioengine=psync --fsync=16 --time_based --runtime=1000 >"$W/fio.log" 2>&1
# the backups run under the load: wait until it writes
wait_written c 256

snap_sum_hook "$W"

# backup N ARGS...: backup number N; the snapshot's checksum goes to $W/sum.N
backup() {
	local n="$1"
	shift
	log "+ cbt backup c $* --to $CH --cow $DISK2 --quiet"
	backup_summed "$n" "$W" cbt backup c "$@" --to "$CH" --cow "$DISK2" --quiet
	wait_written c
}

log "a lone full image through a pipe"
rm -f "$W/snapsum"
cbt backup c --full --all-blocks -o - --cow "$DISK2" --quiet | cbt restore --quiet - "$DISK4" ||
	fail "cbt backup -o - | cbt restore - failed"
got=$(sha256_head "$DISK4" $((DEV_SECTORS * 512)))
assert_eq "$got" "$(cat "$W/snapsum")" "piped full image restored byte for byte"
assert_cmd e2fsck -fn "$DISK4"
cbt status c | grep -q closed && fail "the lone image left a closed epoch"
wait_written c

# The hook reads the whole snapshot while fio writes: an incremental's
# snapshot must keep every block for that (backup_chain and
# snapshot_preserve cover the default, which keeps only what it reads).
backup 1 --full
backup 2 --incremental --whole-snapshot
backup 3 --differential
# --idle: the copy under SCHED_IDLE gives the same image
backup 4 --incremental --whole-snapshot --idle

bg_kill fio
fixed=$(sha256_of "$SRC/fixed")
assert_cmd umount "$SRC"
assert_cmd cbt verify "$CH"

# No file was ever removed, so the blocks free at point 1 were never
# written: zero on the snapshot as in the restore. Every point compares
# byte for byte.
for n in 1 2 3 4; do
	assert_cmd cbt restore --quiet "$CH" --at "$n" "$DISK4"
	got=$(sha256_head "$DISK4" $((DEV_SECTORS * 512)))
	assert_eq "$got" "$(cat "$W/sum.$n")" "point $n restored byte for byte"
	assert_cmd e2fsck -fn "$DISK4"
done
cbt info "$CH/000001-full.cbti" | grep -q "blocks the filesystem uses" ||
	fail "the full image did not use the ext4 block bitmaps"
assert_cmd mount -o ro "$DISK4" /mnt/bd-tgt
assert_eq "$(sha256_of /mnt/bd-tgt/fixed)" "$fixed" "a file of the last point"
assert_cmd umount /mnt/bd-tgt
pass
