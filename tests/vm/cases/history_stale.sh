#!/bin/sh
# A boot that could not set up tracking marks the metadata stale (the
# magic of both superblocks, 8 bytes at offset 8 of pages 0 and 1, becomes
# "cbtStale"): the next create starts a new identity, reason
# untracked-boot, instead of refusing the device as foreign data. (A newer
# format's refusal is a KUnit case: crafting one needs its checksum.)
# disks: 64M 8M
# cost: 5
# timeout: 120

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt

N=$(sectors "$DISK1")
CBT="0 $N cbt $DISK1 8 2 metadata $DISK2"

assert_cmd dmsetup create c --table "$CBT"
dd if=/dev/urandom of=/dev/mapper/c bs=4096 count=1 seek=7 oflag=direct 2>/dev/null
old=$(dm_status_word c 4)
assert_cmd dmsetup remove c
for page in 0 1; do
	printf cbtStale | dd of="$DISK2" bs=1 seek=$((page * 4096 + 8)) conv=notrunc 2>/dev/null
done
assert_cmd dmsetup create c --table "$CBT"
[ "$(dm_status_word c 4)" != "$old" ] || fail "identity kept over stale metadata"
assert_eq "$(dm_status_word c 11)" untracked-boot "reason over stale metadata"
assert_eq "$(cbt bitmap c --blocks)" "" "bitmap of the new identity"
assert_eq "$(dm_status_word c 5)" metadata "persistence over stale metadata"

assert_cmd dmsetup remove c
pass
