#!/bin/sh
# Coarse marks (format version 3) and their crash bound: a crash leaves the
# open epoch with exactly the blocks written before the last fold plus every
# block of the regions (1 MiB) first written since, never less. The crash is
# the metadata device dropping every write from a chosen moment on (dm-flakey
# drop_writes), then the device is removed and loaded again; fold_ms holds
# the fold back so that moment is known. A clean stop folds: nothing extra.
# A metadata device too small for the region maps is formatted as version 2
# and marks each block synchronously: exact after the same crash.
# disks: 64M 8M
# kernels: all
# timeout: 240

cleanup() {
	echo 1000 >/sys/module/dm_cbt/parameters/fold_ms 2>/dev/null
	dm_remove c
	dm_remove md
}

need_module dm_cbt dm_flakey
need_cmd cbt

N=$(sectors "$DISK1")
CBT="0 $N cbt $DISK1 8 2 metadata /dev/mapper/md"

# md_table SECTORS [flakey]: the metadata device, passing writes or dropping them.
md_table() {
	if [ "${2:-}" ]; then
		echo "0 $1 flakey $DISK2 0 0 600 1 drop_writes"
	else
		echo "0 $1 linear $DISK2 0"
	fi
}

# md_swap SECTORS [flakey]: replace the metadata device's table under c.
md_swap() {
	assert_cmd dmsetup suspend md
	assert_cmd dmsetup load md --table "$(md_table "$@")"
	assert_cmd dmsetup resume md
}

# sb_version: the format version in the first superblock copy (byte 4, LE),
# read past the page cache: the module writes beside it.
sb_version() {
	dd if="$DISK2" bs=4096 count=1 iflag=direct 2>/dev/null | od -An -tu4 -j4 -N4 | tr -d ' '
}

# crash SECTORS: from now on the metadata device keeps nothing; remove c
# (its fold and superblock writes vanish), then give the device back.
crash() {
	md_swap "$1" flakey
	assert_cmd dmsetup remove c
	md_swap "$1"
}

# range A B: the numbers A..B, space-separated, with a trailing space.
range() { seq -s ' ' "$1" "$2" | sed 's/$/ /'; }

echo 600000 >/sys/module/dm_cbt/parameters/fold_ms || fail "no fold_ms parameter"
dd if=/dev/zero of="$DISK2" bs=4096 count=2 oflag=direct 2>/dev/null
MDS=$(sectors "$DISK2")
assert_cmd dmsetup create md --table "$(md_table "$MDS")"
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(sb_version)" 3 "format version of a roomy metadata device"
uuid=$(dm_status_word c 4)

log "written before the fold: blocks 300 301 1000 (regions 1, 3)"
for b in 300 301 1000; do write_block "$b"; done
assert_cmd dmsetup suspend c
assert_cmd dmsetup resume c
log "written after it: blocks 2000 2001 5000 5300 (regions 7, 19, 20)"
for b in 2000 2001 5000 5300; do write_block "$b"; done
assert_eq "$(marked_blocks c)" "300 301 1000 2000 2001 5000 5300 " "bitmap before the crash"
crash "$MDS"

dmesg -c >/dev/null
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(dm_status_word c 4) $(dm_status_word c 11)" "$uuid continued" "identity after the crash"
want="300 301 1000 $(range 1792 2047)$(range 4864 5375)"
assert_eq "$(marked_blocks c)" "$want" "bitmap after the crash: fine bits, then whole regions"
dmesg | grep "coarse marks count as changed" >/dev/null || fail "no log line for the replayed regions"

log "a clean stop leaves nothing extra"
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(marked_blocks c)" "$want" "bitmap after a clean reload"
assert_eq "$(cbt epoch close c)" 1 "closed epoch"
write_block 9000
crash "$MDS"
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(marked_blocks c --epoch 1)" "$want" "closed epoch after a crash"
assert_eq "$(marked_blocks c --epoch 2)" "$(range 8960 9215)" "open epoch after a crash: its region"
assert_cmd dmsetup remove c

log "version 2: a metadata device of the minimum size, synchronous marks"
MDS=48	# 8 KiB + 4 slots of one 4 KiB page: 16384 blocks
dd if=/dev/zero of="$DISK2" bs=4096 count=2 oflag=direct 2>/dev/null
md_swap "$MDS"
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(sb_version)" 2 "format version of a minimum metadata device"
for b in 300 2000 5300; do write_block "$b"; done
crash "$MDS"
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(marked_blocks c)" "300 2000 5300 " "version 2 bitmap after the crash"
assert_cmd dmsetup remove c
pass
