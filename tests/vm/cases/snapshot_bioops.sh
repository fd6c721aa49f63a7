#!/bin/sh
# Every kind of write the origin gets is copied before it lands: discards,
# write-zeroes (blkdiscard -z, and mkfs.ext4's lazy init), unaligned writes
# straddling chunks, the partial last chunk of a device whose length is not
# a multiple of the chunk, and data-less flushes. After all of them the
# snapshot still reads the generation-1 stamps it was taken with, and with
# 64 KiB chunks the same holds.
# disks: 64M 65M
# kernels: all
# timeout: 300

cleanup() {
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt stamp stampscan blkdiscard mkfs.ext4

# Not a multiple of any chunk: 5 sectors past the last whole 64 KiB.
LEN=$(( ($(sectors "$DISK1") / 128 - 1) * 128 + 5 ))
BLOCKS=$(( LEN * 512 / 4096 ))

for CHUNK in 4K 64K; do
	log "--- chunk $CHUNK"
	assert_cmd stamp write "$DISK1" -n "$BLOCKS" -g 1
	# The partial tail (4 KiB blocks stop before it): a known pattern.
	dd if=/dev/urandom of=/tmp/tail bs=512 count=$(( LEN - BLOCKS * 8 )) 2>/dev/null
	dd if=/tmp/tail of="$DISK1" bs=512 seek=$(( BLOCKS * 8 )) oflag=direct 2>/dev/null ||
		fail "cannot write the tail"
	assert_cmd dmsetup create c --table "0 $LEN cbt $DISK1 8"
	assert_cmd cbt snapshot take c --cow "$DISK2" --no-freeze --chunk "$CHUNK"

	assert_cmd blkdiscard -o $((4096 * 37 + 512)) -l $((4096 * 30)) /dev/mapper/c
	assert_cmd blkdiscard -z -o $((4096 * 301)) -l $((4096 * 17 + 1024)) /dev/mapper/c
	assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=512 count=2000 seek=12345 oflag=direct
	assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=512 count=1 seek=$((LEN - 1)) oflag=direct
	assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=1M count=3 seek=9 conv=fsync
	assert_cmd sync
	assert_cmd mkfs.ext4 -q -E lazy_itable_init=1,discard /dev/mapper/c

	stampscan /dev/mapper/c-snap -n "$BLOCKS" >/tmp/scan || fail "reading the snapshot failed"
	bad=$(awk '$2 != 1' /tmp/scan | wc -l)
	[ "$bad" -eq 0 ] || { awk '$2 != 1' /tmp/scan | head -5; fail "$bad snapshot blocks changed (chunk $CHUNK)"; }
	dd if=/dev/mapper/c-snap of=/tmp/tail2 bs=512 skip=$(( BLOCKS * 8 )) iflag=direct 2>/dev/null ||
		fail "cannot read the snapshot's tail"
	cmp /tmp/tail /tmp/tail2 || fail "the snapshot's partial last chunk changed (chunk $CHUNK)"
	log "snapshot intact: $BLOCKS stamped blocks and the $(( LEN - BLOCKS * 8 ))-sector tail"
	cbt status c | sed -n '/snapshot:/,$p'
	assert_cmd cbt snapshot drop c
	assert_cmd dmsetup remove c
done
pass
