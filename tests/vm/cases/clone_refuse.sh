#!/bin/sh
# cbt clone refuses targets it must not write: smaller than the source, the
# source itself, the disk under it, the COW device, a mounted one, one
# holding a filesystem (without --force), one held by a device-mapper
# device, one in use as swap (its O_EXCL open fails), a bad --final-pass-ms
# (the target and the COW device checksummed). Each refusal says why, and
# leaves tracking as it was: no epoch closed, no snapshot attached. Then a
# clone of a device a backup chain follows: the chain's next incremental is
# refused with exit status 3, a full image is needed, the chain unchanged
# (that clone with --used-only, on a device holding no filesystem: it says
# so and copies every block).
# disks: 64M 32M 64M 32M
# cost: 9
# timeout: 240

W=/tmp/clone_refuse

cleanup() {
	swapoff "$DISK3" 2>/dev/null || true
	unmount /mnt/rftgt
	dm_remove c-snap c rfhold
}

need_module dm_cbt
need_cmd cbt

rm -rf "$W" && mkdir -p "$W" /mnt/rftgt
cbt_create c "$DISK1" 128

# refused WHAT TARGET [ARGS...]: cbt clone fails and says WHAT.
refused() {
	local what=$1 rc=0
	shift
	log "+ cbt clone c $*"
	cbt clone c "$@" --state-dir "$W/state" >"$W/out" 2>"$W/err" || rc=$?
	cat "$W/out" "$W/err"
	[ "$rc" -ne 0 ] || fail "cbt clone c $* was accepted"
	grep -q "$what" "$W/err" || fail "cbt clone c $*: the message lacks \"$what\""
}

refused "is smaller than the source (32 MiB < 64 MiB)" "$DISK2" --cow "$DISK4"
refused "is the source itself" /dev/mapper/c --cow "$DISK4"
refused "the source's stack" "$DISK1" --cow "$DISK4"
refused "is the COW device" "$DISK4" --cow "$DISK4"
assert_cmd mkfs.ext4 -q -F -L olddata "$DISK3"
refused "holds an ext4 filesystem (UUID .*, label olddata).*--force" "$DISK3" --cow "$DISK4"
assert_cmd mount "$DISK3" /mnt/rftgt
refused "is mounted" "$DISK3" --cow "$DISK4" --force
assert_cmd umount /mnt/rftgt
assert_cmd dmsetup create rfhold --table "0 $(sectors "$DISK3") linear $DISK3 0"
refused "is in use by dm-[0-9]* (device-mapper, md or LVM)" "$DISK3" --cow "$DISK4" --force
assert_cmd dmsetup remove rfhold
assert_cmd mkswap "$DISK3"
assert_cmd swapon "$DISK3"
refused "is in use (an exclusive open failed" "$DISK3" --cow "$DISK4" --force
assert_cmd swapoff "$DISK3"
# A valid, forced target and a bad option: only the option can refuse it,
# and neither the target nor the COW device is written.
target_sum=$(sha256_of "$DISK3")
cow_sum=$(sha256_of "$DISK4")
refused "takes milliseconds (0 to 3600000)" "$DISK3" --cow "$DISK4" --force --final-pass-ms 3600001
refused "takes milliseconds (0 to 3600000)" "$DISK3" --cow "$DISK4" --force --final-pass-ms 5s
assert_eq "$(sha256_of "$DISK3")" "$target_sum" "the target after refused clones"
assert_eq "$(sha256_of "$DISK4")" "$cow_sum" "the COW device after refused clones"

log "tracking as it was"
cbt status c
assert_eq "$(cbt status c | grep -c ': closed')" 0 "closed epochs"
assert_eq "$(cbt status c | sed -n 's/^  current epoch: //p')" 1 "current epoch"
if cbt status c | grep -q 'snapshot:'; then fail "a snapshot is attached"; fi
[ ! -e "$W/state" ] || [ -z "$(ls "$W/state")" ] || fail "a refused clone wrote a state file"

log "a clone commits what it copied: the chain's next incremental is refused (a full image is needed)"
assert_cmd cbt backup c --to "$W/chain" --cow "$DISK4" --full --quiet
assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=64k count=4 seek=10 oflag=direct status=none
# --used-only on a device holding no filesystem: said, and every block copied.
cbt clone c "$DISK3" --cow "$DISK4" --force --used-only --state-dir "$W/state" >"$W/out" 2>&1 ||
	fail "the clone failed: $(cat "$W/out")"
cat "$W/out"
grep -q -- '--used-only: no ext2/3/4 or xfs filesystem; copying every block' "$W/out" ||
	fail "--used-only did not say it copies every block"
grep -q '^pass 1: epoch [0-9]*, 1024 blocks (64 MiB)' "$W/out" || fail "pass 1 did not copy every block"
images=$(ls "$W/chain")
rc=0
cbt backup c --to "$W/chain" --cow "$DISK4" --incremental >"$W/out" 2>"$W/err" || rc=$?
cat "$W/out" "$W/err"
assert_eq "$rc" 3 "exit status of the incremental after the clone"
grep -q 'a full image is needed' "$W/err" || fail "the refusal does not say a full image is needed"
assert_eq "$(ls "$W/chain")" "$images" "the chain's files after the refused incremental"
assert_eq "$(cbt status c | grep -c ': closed')" 0 "closed epochs after the refused incremental"
if cbt status c | grep -q 'snapshot:'; then fail "the refused incremental left a snapshot"; fi
pass
