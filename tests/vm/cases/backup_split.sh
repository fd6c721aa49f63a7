#!/bin/sh
# cbt backup --split through the real tool on a tracked device
# (docs/storage.md): a full image and an incremental into 1 MiB segments,
# every segment but the last exactly 1 MiB, verify and info on the chain,
# each point restored equal to the snapshot it was taken from, and a
# flipped byte in a segment named by verify (exit 4).
# disks: 64M 8M 64M 128M
# cost: 9
# timeout: 400
# shellcheck disable=SC3043

W=/tmp/bs
STORE=/mnt/bs-store
CH=$STORE/chain

cleanup() {
	unmount "$STORE"
	dm_remove c-snap c
	true
}

need_module dm_cbt
need_cmd cbt sha256sum mkfs.ext4

rm -rf "$W" && mkdir -p "$W" "$STORE"
assert_cmd mkfs.ext4 -q "$DISK4"
assert_cmd mount "$DISK4" "$STORE"
assert_cmd dmsetup create c --table "0 $((64 * 2048)) cbt $DISK1 8 2 metadata $DISK2"

put() { dd if=/dev/urandom of=/dev/mapper/c bs=4k seek="$1" count="$2" conv=notrunc,fsync 2>/dev/null; }

snap_sum_hook "$W"
backup() {
	local n="$1"
	shift
	backup_summed "$n" "$W" cbt backup c "$@" --to "$CH" --cow "$DISK3" --no-freeze --quiet \
		--split 1M --compress none
}

put 0 1280
put 10000 5
backup 1 --full
put 3000 300
backup 2 --incremental

segs=$(find "$CH" -maxdepth 1 -name '000001-full.cbti.[0-9][0-9][0-9][0-9]' | wc -l)
[ "$segs" -ge 5 ] || fail "the full image has $segs segments, want 5 or more"
for f in "$CH"/000001-full.cbti.0000 "$CH"/000001-full.cbti.0001 "$CH"/000002-incr.cbti.0000; do
	assert_eq "$(stat -c %s "$f")" 1048576 "size of $f"
done
assert_cmd grep -q '^cbt-segments 1$' "$CH/000001-full.cbti"
assert_cmd cbt verify -q "$CH"
assert_cmd cbt info "$CH"
for n in 1 2; do
	rm -f "$STORE/r"
	assert_cmd cbt restore --quiet "$CH" --at "$n" "$STORE/r"
	assert_eq "$(sha256sum <"$STORE/r" | cut -d' ' -f1)" "$(cat "$W/sum.$n")" "point $n against its snapshot"
	log "ok: point $n restored exact"
done
rm -f "$STORE/r"

printf 'X' | dd of="$CH/000001-full.cbti.0002" bs=1 seek=4096 conv=notrunc 2>/dev/null
rc=0
cbt verify "$CH" >"$W/v.out" 2>&1 || rc=$?
assert_eq "$rc" 4 "verify's exit status on a damaged segment"
assert_cmd grep -q '000001-full.cbti.0002: damaged segment (3 of' "$W/v.out"
pass
