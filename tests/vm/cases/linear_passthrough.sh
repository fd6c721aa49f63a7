#!/bin/sh
# dm-linear over $DISK1, starting 1 MiB in: random data written through the
# mapping must be on the disk at the mapped offset, and read back the same
# through the mapping; stamped blocks must carry their mapped offsets.
# Proves the pipeline: disks, modules, dmsetup, helpers, markers.
# disks: 64M
# kernels: all
# timeout: 90

OFF=2048		# sectors of $DISK1 before the mapping
DATA=/tmp/linear.data

cleanup() {
	dm_remove lin
	rm -f "$DATA"
}

sha() { sha256sum | cut -d' ' -f1; }

need_module dm_mod
len=$(($(sectors "$DISK1") - OFF))
assert_cmd dmsetup create lin --table "0 $len linear $DISK1 $OFF"
assert_eq "$(sectors /dev/mapper/lin)" "$len" "sectors of /dev/mapper/lin"

log "write 16 MiB of random data through the mapping"
assert_cmd dd if=/dev/urandom of="$DATA" bs=1M count=16
assert_cmd dd if="$DATA" of=/dev/mapper/lin bs=1M oflag=direct conv=fsync
want=$(sha <"$DATA")
got=$(dd if="$DISK1" bs=512 skip="$OFF" count=32768 iflag=direct 2>/dev/null | sha)
assert_eq "$got" "$want" "sha256 of $DISK1 at the mapped offset"
got=$(dd if=/dev/mapper/lin bs=1M count=16 iflag=direct 2>/dev/null | sha)
assert_eq "$got" "$want" "sha256 read back through the mapping"

log "stamped blocks at 32 MiB carry the offsets they were written at"
assert_cmd stamp write /dev/mapper/lin -o 32M -n 1024 -g 7
assert_cmd stamp check /dev/mapper/lin -o 32M -n 1024 -g 7
assert_cmd stamp check "$DISK1" -o $((32 * 1048576 + OFF * 512)) -n 1024 -g 7 -S $((OFF * 512))
pass
