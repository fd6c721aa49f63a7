#!/bin/sh
# cbt mount (docs/mount.md): time from `cbt mount` to the first byte of a
# file, for a 1 GiB and a 16 GiB point holding the same 192 MiB of files
# (the target: under a second and independent of the device's size), and
# the sequential read of a mounted point (dd of the files, and of the whole
# nbd device) against `cbt restore` of the same point to a file. ROUNDS
# rounds, caches dropped before each measurement. Results: BENCH lines.
# disks: 1G 16G 64M 1G
# timeout: 2400
# grace: 60

ROUNDS=3
DATA_MIB=192

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

SRC=/mnt/bm-src
STORE=/mnt/bm-store
MP=/mnt/bm-point
W=/tmp/bm

cleanup() {
	cbt unmount "$MP" 2>/dev/null || true
	unmount "$SRC" "$MP" "$STORE"
	dm_remove bm
}

need_module dm_cbt
need_cmd cbt nbdkit nbd-client fio mkfs.ext4

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

rm -rf "$W" && mkdir -p "$W" "$SRC" "$STORE" "$MP" /var/tmp
assert_cmd mkfs.ext4 -q -F -E nodiscard "$DISK4"
assert_cmd mount -o noatime "$DISK4" "$STORE"

# chain NAME DISK: a full image of an ext4 on DISK with DATA_MIB of files
# (fio data zstd halves) into $STORE/NAME.
chain() {
	assert_cmd dmsetup create bm --table "0 $(sectors "$2") cbt $2 8"
	assert_cmd mkfs.ext4 -q -F -E nodiscard /dev/mapper/bm
	assert_cmd mount -o noatime /dev/mapper/bm "$SRC"
	(cd /tmp && fio --eta=never --output=/dev/null --name=fill --directory="$SRC" --rw=write \
		--bs=1M --size=${DATA_MIB}M --nrfiles=4 --buffer_compress_percentage=50 \
		--refill_buffers --ioengine=psync) || fail "fio could not write the data"
	ls "$SRC" >"$W/files"
	assert_cmd umount "$SRC"
	assert_cmd cbt backup bm --full --to "$STORE/$1" --cow "$DISK3" --quiet
	dm_remove bm
}
chain small "$DISK1"
chain big "$DISK2"
file=$(grep "^fill" "$W/files" | head -n 1)
bench_out mount "rounds=$ROUNDS" "data_bytes=$((DATA_MIB * 1048576))" \
	"small_dev_bytes=$(($(sectors "$DISK1") * 512))" "big_dev_bytes=$(($(sectors "$DISK2") * 512))"

r=1
while [ "$r" -le "$ROUNDS" ]; do
	for c in small big; do
		drop_caches
		t0=$(now_us)
		cbt mount "$STORE/$c" "$MP" || fail "cbt mount $c failed"
		head -c 1 "$MP/$file" >/dev/null || fail "$c: the file does not read"
		t1=$(now_us)
		bench_out mount phase=to-first-byte "rep=$r" "cfg=$c" "time_us=$((t1 - t0))"
		[ "$c" = big ] || assert_cmd cbt unmount "$MP"
	done
	# the big point stays mounted: read its files, then the small one's device
	drop_caches
	t0=$(now_us)
	cat "$MP"/fill.* >/dev/null || fail "reading the mounted files failed"
	t1=$(now_us)
	bench_out mount phase=read-files "rep=$r" "time_us=$((t1 - t0))" "bytes=$((DATA_MIB * 1048576))"
	assert_cmd cbt unmount "$MP"
	dev=$(cbt mount "$STORE/small" --device-only) || fail "cbt mount --device-only failed"
	drop_caches
	t0=$(now_us)
	dd if="$dev" of=/dev/null bs=1M 2>/dev/null || fail "reading $dev failed"
	t1=$(now_us)
	bench_out mount phase=read-device "rep=$r" "time_us=$((t1 - t0))" \
		"bytes=$(($(sectors "$DISK1") * 512))"
	assert_cmd cbt unmount "$dev"
	rm -f "$STORE/restored"
	drop_caches
	t0=$(now_us)
	cbt restore --quiet "$STORE/small" "$STORE/restored" || fail "cbt restore failed"
	sync
	t1=$(now_us)
	bench_out mount phase=restore "rep=$r" "time_us=$((t1 - t0))" \
		"bytes=$(($(sectors "$DISK1") * 512))"
	rm -f "$STORE/restored"
	r=$((r + 1))
done
pass
