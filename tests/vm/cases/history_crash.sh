#!/bin/sh
# The fingerprint is kept valid while the device is live: a second after
# the last write to the origin's first or last MiB it is hashed again and
# recorded. So after a crash, the disk written bare (a rescue boot) is
# seen (origin-changed), and left alone it is not (continued, every
# tracked block kept).
# disks: 64M 8M
# boots: 3
# kernels: all
# timeout: 240

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt od

N=$(sectors "$DISK1")
CBT="0 $N cbt $DISK1 8 2 metadata $DISK2"
# Superblock field of page $1: $2 bytes at offset $3, read past the page cache.
sb_field() {
	dd if="$DISK2" bs=4096 skip="$1" count=1 iflag=direct 2>/dev/null |
		od -An -tu"$2" -j "$3" -N "$2" | tr -d ' '
}
# fp_valid (bit 0 of the flags at offset 160) of the newest superblock.
fp_valid() {
	if [ "$(sb_field 0 8 16)" -gt "$(sb_field 1 8 16)" ]; then p=0; else p=1; fi
	echo $(($(sb_field $p 4 160) & 1))
}
wait_fp_valid() {
	until [ "$(fp_valid)" = 1 ]; do :; done
}

case "$PHASE" in
1)
	assert_cmd dmsetup create c --table "$CBT"
	write_block 3
	write_block 9000
	log "waiting for the fingerprint to be recorded again after the write to block 3"
	wait_fp_valid
	dm_status_word c 4 >"$STATE/uuid"
	sync
	vm_crash
	;;
2)
	assert_cmd dmsetup create c --table "$CBT"
	assert_eq "$(dm_status_word c 4) $(dm_status_word c 11)" "$(cat "$STATE/uuid") continued" "after a crash, the disk untouched"
	assert_eq "$(marked_blocks c)" "3 9000 " "blocks after the crash"
	log "a write to the last MiB, the fingerprint again, a crash"
	write_block $((N / 8 - 1))
	wait_fp_valid
	vm_crash
	;;
esac
log "a rescue boot writes the bare disk's first MiB"
dd if=/dev/urandom of="$DISK1" bs=4096 count=1 seek=1 oflag=direct conv=notrunc 2>/dev/null
assert_cmd dmsetup create c --table "$CBT"
[ "$(dm_status_word c 4)" != "$(cat "$STATE/uuid")" ] || fail "identity kept after the rescue boot's write"
assert_eq "$(dm_status_word c 11)" origin-changed "reason after the rescue boot's write"
assert_cmd dmsetup remove c
pass
