#!/bin/sh
# cbt backup --threads N in a real run: two cbt devices holding the same
# data and taking the same writes, each backed up into its own chain, one
# with --threads 1 and one with --threads 4 (a full image of 5 zstd frames
# and an incremental); each chain passes cbt verify, and every point of
# both restores to the checksum of the snapshot it was taken from, the same
# for both chains.
# disks: 24M 24M 16M
# cost: 12
# timeout: 300

W=/tmp/bt

cleanup() {
	dm_remove c1 c2 cow1 cow2
}

need_module dm_cbt
need_cmd cbt

rm -rf "$W" && mkdir -p "$W/1" "$W/4"
cbt_create c1 "$DISK1" 8
cbt_create c2 "$DISK2" 8
assert_cmd dmsetup create cow1 --table "0 16384 linear $DISK3 0"
assert_cmd dmsetup create cow2 --table "0 16384 linear $DISK3 16384"

# put SEEK COUNT: the same COUNT random 4 KiB blocks at SEEK on c1 and c2.
put() {
	dd if=/dev/urandom of="$W/put" bs=4k count="$2" 2>/dev/null
	for d in c1 c2; do
		assert_cmd dd if="$W/put" of="/dev/mapper/$d" bs=4k seek="$1" conv=notrunc,fsync
	done
}

# backup THREADS N LEVEL: backup number N of the device of THREADS (c1: 1,
# c2: 4) into its chain, the snapshot checksummed as $W/THREADS/sum.N.
backup() {
	local dev=c1 cow=cow1
	[ "$1" = 4 ] && dev=c2 cow=cow2
	snap_sum_hook "$W/$1"
	backup_summed "$2" "$W/$1" cbt backup "$dev" "--$3" --to "$W/$1/chain" \
		--cow "/dev/mapper/$cow" --no-freeze --quiet --threads "$1"
}

put 0 5000
put 5500 20
for t in 1 4; do backup "$t" 1 full; done
put 100 300
put 5600 7
for t in 1 4; do backup "$t" 2 incremental; done

for t in 1 4; do
	assert_cmd cbt verify --quiet --threads "$t" "$W/$t/chain"
	for n in 1 2; do
		assert_cmd cbt restore --quiet "$W/$t/chain" --at "$n" "$W/r"
		assert_eq "$(sha256_of "$W/r")" "$(cat "$W/$t/sum.$n")" \
			"point $n of the --threads $t chain against its snapshot"
		rm -f "$W/r"
	done
done
for n in 1 2; do
	assert_eq "$(cat "$W/4/sum.$n")" "$(cat "$W/1/sum.$n")" "snapshot $n of c2 against c1's"
done
pass
