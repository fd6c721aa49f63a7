#!/bin/sh
# cbt clone refuses targets it must not write: smaller than the source, the
# source itself, the disk under it, the COW device, a mounted one, one
# holding a filesystem (without --force), a bad --final-pass-ms (the target
# and the COW device checksummed). Each refusal says why, and leaves
# tracking as it was: no epoch closed, no snapshot attached.
# disks: 64M 32M 64M 32M
# cost: 5
# timeout: 120

W=/tmp/clone_refuse

cleanup() {
	unmount /mnt/rftgt
	dm_remove c-snap c
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
pass
