#!/bin/sh
# cbt migrate: the whole process against dd of the whole source disk onto
# the same target, in the same boot, with the source half full; and the
# frozen window of the tracked root's last pass.
# The source: a 1 GiB GPT disk with a mounted 64 MiB vfat ESP (recheck)
# and root (ext4 on a cbt device, 64 KiB blocks, mounted) holding a file
# of half the disk. The target: a 2 GiB disk (root grows: resize2fs is in
# the migrate time). ROUNDS rounds, the configurations rotated: `dd` (dd
# bs=1M iflag=direct oflag=direct conv=fsync of the whole source disk),
# `migrate` (`cbt migrate SRC TARGET --cow COW --json`, a fresh
# --state-dir each time so the clone starts over). Nothing writes during
# the measurement. Correctness is migrate_disk's business.
# Results: BENCH lines; no pass/fail threshold.
# disks: 1G 2G 256M
# timeout: 1500
# grace: 60

ROUNDS=4
CONFIGS="dd migrate"

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

W=/tmp/bm
S=$DISK1
T=$DISK2

cleanup() {
	unmount /mnt/bm-root /mnt/bm-esp
	dm_remove bm
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

need_module dm_cbt dm_zero vfat nls_cp437 nls_ascii
need_cmd cbt sfdisk mkfs.vfat

rm -rf "$W" && mkdir -p "$W" /mnt/bm-esp /mnt/bm-root
printf 'label: gpt\nsize=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n' |
	sfdisk -q "$S" || fail "sfdisk $S"
assert_cmd mkfs.vfat "${S}1"
cbt_create bm "${S}2" 128
assert_cmd mkfs.ext4 -q -F -E nodiscard /dev/mapper/bm
assert_cmd mount "${S}1" /mnt/bm-esp
assert_cmd mount /dev/mapper/bm /mnt/bm-root
assert_cmd dd if=/dev/urandom of=/mnt/bm-esp/grubx64.efi bs=1M count=8 conv=fsync status=none
log "root half full: 512 MiB of data"
assert_cmd fio --name=fill --filename=/mnt/bm-root/data --rw=write --bs=1M --size=512M \
	--direct=1 --refill_buffers --end_fsync=1 --output=/dev/null
SRC_BYTES=$(blockdev --getsize64 "$S")
bench_out migrate "configs=$(echo "$CONFIGS" | tr ' ' ,)" "src_bytes=$SRC_BYTES" \
	"tgt_bytes=$(blockdev --getsize64 "$T")" "used_bytes=$((512 * 1024 * 1024))"

r=1
while [ "$r" -le "$ROUNDS" ]; do
	# shellcheck disable=SC2086 # the list of names, split on purpose
	for c in $(rotate $((r - 1)) $CONFIGS); do
		log "round $r: $c"
		drop_caches
		case "$c" in
		dd)
			t0=$(now_us)
			dd if="$S" of="$T" bs=1M iflag=direct oflag=direct conv=fsync 2>/dev/null ||
				fail "dd failed"
			t1=$(now_us)
			bench_out migrate "rep=$r" "cfg=$c" "time_us=$((t1 - t0))" "bytes=$SRC_BYTES"
			;;
		migrate)
			t0=$(now_us)
			cbt migrate "$S" "$T" --cow "$DISK3" --state-dir "$W/state.$r" --force --json \
				>"$W/m.json" || { cat "$W/m.json"; fail "cbt migrate failed"; }
			t1=$(now_us)
			# The tracked partition is the last one: its frozen_ns is the last.
			frozen=$(sed -n 's/.*"frozen_ns": \([0-9]*\).*/\1/p' "$W/m.json" | tail -n 1)
			copied=$(sed -n 's/^  "bytes_copied": \([0-9]*\).*/\1/p' "$W/m.json")
			bench_out migrate "rep=$r" "cfg=$c" "time_us=$((t1 - t0))" "bytes=${copied:-0}" \
				"frozen_ns=${frozen:-0}"
			;;
		esac
	done
	r=$((r + 1))
done
pass
