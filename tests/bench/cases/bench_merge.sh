#!/bin/sh
# cbt merge: the time to fold a full image and N incrementals into a
# synthetic full (`cbt merge DIR --upto LAST`, from the images alone)
# against a fresh full backup of the same device (`cbt backup --full
# --all-blocks`, read from a snapshot), in the same round. A cbt device
# over a 256 MiB disk of random data that zstd halves; each round writes a
# new chain: a full image, then N incrementals each after INC_PCT% of the
# 64 KiB tracking blocks were rewritten (not timed), then the merge and
# the fresh full, in a rotated order, caches dropped before each. The
# merged chain is verified, and its last point must restore equal to a
# restore before the merge (sha256). Results: BENCH lines; no threshold.
# disks: 256M 64M 1G 256M
# timeout: 1800
# grace: 60

ROUNDS=3
N=8		# incrementals per chain
INC_PCT=2	# percent of the tracking blocks rewritten before each

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

STORE=/mnt/bm-store
W=/tmp/bm

cleanup() {
	unmount "$STORE"
	dm_remove bm
}

need_module dm_cbt
need_cmd cbt fio mkfs.ext4 sha256sum

rm -rf "$W" && mkdir -p "$W" "$STORE"
DEV_SECTORS=$(sectors "$DISK1")
DEV_BYTES=$((DEV_SECTORS * 512))
NBLOCKS=$((DEV_BYTES / 65536))
assert_cmd dmsetup create bm --table "0 $DEV_SECTORS cbt $DISK1 128"
assert_cmd mkfs.ext4 -q "$DISK3"
assert_cmd mount "$DISK3" "$STORE"
log "filling the device (zstd halves it)"
fio --name=fill --filename=/dev/mapper/bm --rw=write --bs=1M --direct=1 \
	--buffer_compress_percentage=50 --refill_buffers --size="$DEV_BYTES" >/dev/null ||
	fail "fio fill failed"

# change ROUND I: rewrite INC_PCT% of the tracking blocks, 64 KiB each at random
change() {
	fio --name=chg --filename=/dev/mapper/bm --rw=randwrite --bs=64k --direct=1 \
		--buffer_compress_percentage=50 --refill_buffers --randseed=$(($1 * 1000 + $2)) \
		--number_ios=$((NBLOCKS * INC_PCT / 100)) --norandommap --size="$DEV_BYTES" >/dev/null ||
		fail "fio change failed"
}
bk() { cbt backup bm "$@" --cow "$DISK2" --all-blocks --no-freeze --quiet || fail "cbt backup $* failed"; }

bench_out merge "reps=$ROUNDS" "incs=$N" "inc_pct=$INC_PCT" "dev_bytes=$DEV_BYTES" block=65536

r=1
while [ "$r" -le "$ROUNDS" ]; do
	rm -rf "${STORE:?}/chain" "$STORE/full"
	bk --full --to "$STORE/chain"
	i=1
	while [ "$i" -le "$N" ]; do
		change "$r" "$i"
		cbt backup bm --incremental --to "$STORE/chain" --cow "$DISK2" --no-freeze --quiet ||
			fail "cbt backup --incremental failed"
		i=$((i + 1))
	done
	chain_bytes=$(du -sb "$STORE/chain" | cut -f1)
	assert_cmd cbt restore --quiet "$STORE/chain" "$DISK4"
	before=$(sha256_head "$DISK4" "$DEV_BYTES")
	for c in $( [ $((r % 2)) = 1 ] && echo "merge full" || echo "full merge"); do
		drop_caches
		t0=$(now_us)
		if [ "$c" = merge ]; then
			cbt merge "$STORE/chain" --upto $((N + 1)) --json >"$W/merge.json" || fail "cbt merge failed"
		else
			cbt backup bm --full --all-blocks --to "$STORE/full" --cow "$DISK2" --no-freeze \
				--quiet || fail "cbt backup --full failed"
		fi
		t1=$(now_us)
		eval "t_$c=$((t1 - t0))"
	done
	assert_cmd cbt verify -q "$STORE/chain"
	assert_cmd cbt restore --quiet "$STORE/chain" "$DISK4"
	assert_eq "$(sha256_head "$DISK4" "$DEV_BYTES")" "$before" "round $r: the merged point restores as before"
	# shellcheck disable=SC2154
	bench_out merge "rep=$r" "merge_us=$t_merge" "full_us=$t_full" "chain_bytes=$chain_bytes" \
		"merged_bytes=$(du -sb "$STORE/chain" | cut -f1)"
	r=$((r + 1))
done
pass
