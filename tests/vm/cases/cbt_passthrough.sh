#!/bin/sh
# The cbt target passes I/O through unchanged: random data written through
# /dev/mapper/c is on $DISK1 byte for byte, and reads back the same through
# the device. No metadata device (tracking held in memory).
# disks: 64M
# kernels: all
# timeout: 120

DATA=/tmp/cbt.data

cleanup() {
	dm_remove c
	rm -f "$DATA"
}

need_module dm_cbt
SECTORS=$(sectors "$DISK1")
assert_cmd dmsetup create c --table "0 $SECTORS cbt $DISK1 128"
assert_eq "$(sectors /dev/mapper/c)" "$SECTORS" "sectors of /dev/mapper/c"

log "write 24 MiB of random data through /dev/mapper/c at 8 MiB"
assert_cmd dd if=/dev/urandom of="$DATA" bs=1M count=24
assert_cmd dd if="$DATA" of=/dev/mapper/c bs=1M seek=8 oflag=direct conv=fsync
log "compare with the raw disk"
dd if="$DISK1" of=/tmp/cbt.disk bs=1M skip=8 count=24 iflag=direct 2>/dev/null
assert_cmd cmp "$DATA" /tmp/cbt.disk
log "compare with what reads back through the device"
dd if=/dev/mapper/c of=/tmp/cbt.disk bs=1M skip=8 count=24 iflag=direct 2>/dev/null
assert_cmd cmp "$DATA" /tmp/cbt.disk
rm -f /tmp/cbt.disk
assert_cmd dmsetup remove c
pass
