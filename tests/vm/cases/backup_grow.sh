#!/bin/sh
# A device grown mid-chain, end to end (issue 11, review H2): a cbt device
# with metadata on a dm-linear origin, a full image; the linear reloaded
# larger, then the cbt table reloaded at the new size (docs/target.md,
# "Reloads and resizing"); writes in the new area and the old; an
# incremental and a differential. verify accepts the chain, and each point
# restored to a file equals the snapshot it was taken from (checksummed by
# the backup hook), sizes included: the point before the grow is the
# smaller device.
# disks: 64M 8M 64M 256M
# cost: 18
# timeout: 600
# shellcheck disable=SC3043,SC2016

W=/tmp/bg
STORE=/mnt/bg-store
CH=$STORE/chain

cleanup() {
	unmount "$STORE"
	dm_remove c-snap c lin
	true
}

need_module dm_cbt
need_cmd cbt sha256sum mkfs.ext4

rm -rf "$W" && mkdir -p "$W" "$STORE"
OLD=$((24 * 2048)) NEW=$((32 * 2048))
assert_cmd mkfs.ext4 -q "$DISK4"
assert_cmd mount "$DISK4" "$STORE"
assert_cmd dmsetup create lin --table "0 $OLD linear $DISK1 0"
assert_cmd dmsetup create c --table "0 $OLD cbt /dev/mapper/lin 8 2 metadata $DISK2"

# put SECTOR4K COUNT: random 4 KiB blocks onto the cbt device
put() { dd if=/dev/urandom of=/dev/mapper/c bs=4k seek="$1" count="$2" conv=notrunc,fsync 2>/dev/null; }

snap_sum_hook "$W"
# backup N ARGS...: backup number N; the snapshot's checksum goes to $W/sum.N
backup() {
	local n="$1"
	shift
	backup_summed "$n" "$W" cbt backup c "$@" --to "$CH" --cow "$DISK3" --no-freeze --quiet
}

put 0 16
put 6143 1
backup 1 --full --all-blocks
put 100 8

log "grow: the linear origin to 32 MiB, then the cbt table"
uuid_before=$(cbt status c --json | sed -n 's/.*"uuid": "\([^"]*\)".*/\1/p')
assert_cmd dmsetup reload lin --table "0 $NEW linear $DISK1 0"
assert_cmd dmsetup resume lin
assert_cmd dmsetup reload c --table "0 $NEW cbt /dev/mapper/lin 8 2 metadata $DISK2"
assert_cmd dmsetup resume c
assert_eq "$(sectors /dev/mapper/c)" "$NEW" "size of c after the grow"
assert_eq "$(cbt status c --json | sed -n 's/.*"uuid": "\([^"]*\)".*/\1/p')" "$uuid_before" \
	"identity after the grow"
put 7000 10
put 200 3
backup 2 --incremental
put 8000 4
put 300 1
backup 3 --differential
put 8100 1
backup 4 --incremental

assert_cmd cbt verify -q "$CH"
for n in 1 2 3 4; do
	rm -f "$STORE/r"
	assert_cmd cbt restore --quiet "$CH" --at "$n" "$STORE/r"
	size=$(stat -c %s "$STORE/r")
	if [ "$n" = 1 ]; then want=$((OLD * 512)); else want=$((NEW * 512)); fi
	assert_eq "$size" "$want" "size of point $n"
	assert_eq "$(sha256sum <"$STORE/r" | cut -d' ' -f1)" "$(cat "$W/sum.$n")" "point $n against its snapshot"
	log "ok: point $n restored exact, $size bytes"
done
rm -f "$STORE/r"
pass
