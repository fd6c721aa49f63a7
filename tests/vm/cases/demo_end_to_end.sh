#!/bin/sh
# The main job end to end (what `make demo` shows): a disk with ext4 mounted
# on a cbt device and an application writing to it; a full image, then
# incrementals and a differential while it keeps writing; every restore
# point restored and checked; then a live clone of the mounted disk.
# disks: 256M 8M 64M 512M 256M 256M
# cost: 23
# timeout: 600

WORK=/mnt/data
BACKUPS=/mnt/backups

cleanup() {
	[ -z "${APP:-}" ] || kill "$APP" 2>/dev/null || true
	wait 2>/dev/null || true
	unmount /mnt/check "$WORK" "$BACKUPS"
	dm_remove data
}

need_module dm_cbt
need_cmd cbt mkfs.ext4 e2fsck

say() { log "== $*"; }

say "1. Put the data disk ($DISK1) under tracking: 64 KiB blocks, bitmaps on $DISK2"
cbt_create data "$DISK1" 128 2 metadata "$DISK2"
assert_cmd mkfs.ext4 -q -F /dev/mapper/data
mkdir -p "$WORK" "$BACKUPS" /mnt/check
assert_cmd mount /dev/mapper/data "$WORK"
assert_cmd mkfs.ext4 -q -F "$DISK4"
assert_cmd mount "$DISK4" "$BACKUPS"
cbt status data | sed 's/^/  /'

say "2. An application keeps writing files while we work"
(
	i=0
	while :; do
		i=$((i + 1))
		dd if=/dev/urandom of="$WORK/app-$((i % 40)).dat" bs=64k count=$((i % 7 + 1)) 2>/dev/null
		sync "$WORK/app-$((i % 40)).dat" 2>/dev/null || sync
	done
) &
APP=$!

# point N: write a marker file, then take image N and remember the marker.
point() {
	local kind=$1 n=$2
	dd if=/dev/urandom of="$WORK/marker-$n" bs=1k count=100 2>/dev/null
	sync
	sha256sum <"$WORK/marker-$n" >"/tmp/marker-$n.sum"
	say "image $n: cbt backup data --$kind (live, filesystem frozen for the instant)"
	assert_cmd cbt backup data "--$kind" --to "$BACKUPS/chain" --cow "$DISK3" --quiet --json >"/tmp/backup-$n.json"
	sed 's/^/  /' "/tmp/backup-$n.json"
}
point full 1
point incremental 2
point incremental 3
point differential 4
point incremental 5

say "3. The chain"
cbt info "$BACKUPS/chain" | sed 's/^/  /'
assert_cmd cbt verify "$BACKUPS/chain"

say "4. Restore every point onto $DISK5 and check it"
for n in 1 2 3 4 5; do
	assert_cmd cbt restore "$BACKUPS/chain" --at "$n" "$DISK5" --quiet
	assert_cmd e2fsck -fn "$DISK5"
	mount -o ro "$DISK5" /mnt/check || fail "restore point $n does not mount"
	assert_eq "$(sha256sum <"/mnt/check/marker-$n")" "$(cat "/tmp/marker-$n.sum")" "marker of point $n"
	[ ! -e "/mnt/check/marker-$((n + 1))" ] || fail "point $n holds a later marker"
	umount /mnt/check
	log "  point $n: e2fsck clean, marker intact, nothing from later"
done

say "5. Clone the mounted, busy disk onto $DISK6, sector for sector"
dd if=/dev/urandom of="$WORK/marker-clone" bs=1k count=100 2>/dev/null
sync
sha256sum <"$WORK/marker-clone" >/tmp/marker-clone.sum
assert_cmd cbt clone data "$DISK6" --cow "$DISK3" --verify
kill "$APP"
wait 2>/dev/null
APP=
assert_cmd e2fsck -fn "$DISK6"
assert_cmd mount -o ro "$DISK6" /mnt/check
assert_eq "$(sha256sum </mnt/check/marker-clone)" "$(cat /tmp/marker-clone.sum)" "marker on the clone"
umount /mnt/check
cbt status data | sed 's/^/  /'
say "done: 5 restore points and a live clone, all checked"
pass
