#!/bin/sh
# cbt mount, unmount, serve and restore --path over one ext4 chain of three
# points and one crash-consistent xfs image (docs/mount.md). The first two
# images are split into 1 MiB segments (--split, docs/storage.md), read at
# random offsets through their segments; the third is one file. Each point of
# the ext4 chain, mounted read-only through nbdkit and /dev/nbdX, holds
# exactly the files (sha256) written up to it; cbt serve exports one over a
# Unix socket; restore --path copies one file and one directory out, and an
# image's absolute symbolic link cannot reach the guest's files. An xfs
# image taken under writes without a freeze mounts read-only only without
# log recovery (and says so), and with --writable its log replays into the
# overlay, the image files unchanged. A corrupted frame gives EIO for the
# file in it only, the other files read back exact, and the server's log
# names the image. nbdkit killed under an open file: reads fail with EIO
# (no hung task), cbt unmount cleans up. A chain with a missing image is
# refused with nothing attached. --partition 1 mounts the one partition of
# a point holding an MBR partition table. restore --path keeps a file's mode
# and time, replaces an existing OUTPUT, refuses -r onto an existing one,
# and fails on a damaged file (exit status 1) leaving OUTPUT as it was.
# disks: 64M 64M 256M 320M
# cost: 12
# timeout: 900
# busybox sh has local.
# shellcheck disable=SC3043

W=/tmp/mc
SRC=/mnt/mc-src
STORE=/mnt/mc-store
CH=$STORE/chain
MP=/mnt/mc-point

cleanup() {
	for m in "$MP" /mnt/mc-x; do cbt unmount "$m" 2>/dev/null || true; done
	for d in /dev/nbd*; do nbd-client -d "$d" >/dev/null 2>&1 || true; done
	kill "$(cat "$W/serve.pid" 2>/dev/null)" 2>/dev/null || true
	bg_kill
	unmount "$SRC" /mnt/mc-x "$MP" /mnt/mc-xsrc
	unmount "$STORE"
	dm_remove pp p c x
	losetup -D 2>/dev/null || true
}

need_module dm_cbt xfs loop
need_cmd cbt nbdkit nbd-client mkfs.ext4 mkfs.xfs sha256sum cmp fio memfind

rm -rf "$W" && mkdir -p "$W" "$SRC" "$STORE" "$MP" /mnt/mc-x /mnt/mc-xsrc /var/tmp
cbt_create c "$DISK1" 8
# 4 KiB blocks: one block group, so the 12 MiB file of point 3 is one run
# past the journal and a 4 MiB frame in its middle holds nothing else.
assert_cmd mkfs.ext4 -q -b 4096 -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/c
assert_cmd mkfs.ext4 -q "$DISK3"
assert_cmd mount "$DISK3" "$STORE"

# sums DIR: every regular file under DIR with its checksum, sorted.
sums() { (cd "$1" && find . -type f | sort | xargs -r sha256sum); }

# point N: change the filesystem, then take backup N (1: the full image).
point() {
	local n="$1" type=--incremental compress=zstd split="--split 1M"
	[ "$n" -eq 1 ] && type=--full
	[ "$n" -ne 3 ] || { compress=none; split=; }
	assert_cmd mount /dev/mapper/c "$SRC"
	mkdir -p "$SRC/etc" "$SRC/dir$n"
	echo "point $n" >"$SRC/etc/fstab"
	# point 2's /etc/fstab: a mode and a time restore --path must keep
	if [ "$n" -eq 2 ]; then
		chmod 0640 "$SRC/etc/fstab"
		touch -d "2001-02-03 04:05:06" "$SRC/etc/fstab"
		stat -c '%a %Y' "$SRC/etc/fstab" >"$W/fstab.stat"
	fi
	dd if=/dev/urandom of="$SRC/f$n" bs=64k count=$((n * 4)) 2>/dev/null
	dd if=/dev/urandom of="$SRC/dir$n/a" bs=4k count=3 2>/dev/null
	[ "$n" -ne 2 ] || rm -f "$SRC/f1"
	if [ "$n" -eq 3 ]; then
		dd if=/dev/urandom of="$SRC/big" bs=1M count=12 2>/dev/null
		# 64 bytes from its middle, to find in the (uncompressed) image
		dd if="$SRC/big" of="$W/needle" bs=64 skip=$((6 << 14)) count=1 2>/dev/null
	fi
	[ "$n" -ne 1 ] || ln -s /init "$SRC/escape"
	# 3 MiB that do not compress: the full image spans several 1 MiB segments
	[ "$n" -ne 1 ] || dd if=/dev/urandom of="$SRC/r1" bs=1M count=3 2>/dev/null
	sums "$SRC" >"$W/sums.$n"
	assert_cmd umount "$SRC"
	# shellcheck disable=SC2086
	assert_cmd cbt backup c $type --compress $compress $split --to "$CH" --cow "$DISK2" --quiet
}
point 1
point 2
point 3
for f in 000001-full.cbti.0003 000002-incr.cbti.0000; do
	[ -f "$CH/$f" ] || fail "no segment $f: the image was not split"
done
log "segments: $(cd "$CH" && echo ./*.cbti.0*)"

# nothing of a mount is left: no state, no server, no connected device
assert_clean() {
	for f in /run/cbt/mount/*; do
		case "$f" in
		*.log | */.lock | "/run/cbt/mount/*") ;;
		*) fail "$1: state left in /run/cbt/mount: $(ls /run/cbt/mount)" ;;
		esac
	done
	! running nbdkit || fail "$1: nbdkit still runs"
	for s in /sys/block/nbd*/size; do
		[ "$(cat "$s")" = 0 ] || fail "$1: $s is $(cat "$s"), still connected"
	done
	! grep -q " $MP " /proc/mounts || fail "$1: $MP still mounted"
}

for n in 1 2 3; do
	assert_cmd cbt mount "$CH" --at "$n" "$MP"
	grep " $MP " /proc/mounts | grep -q " ro," || fail "point $n: not mounted read-only"
	sums "$MP" >"$W/got.$n"
	cmp "$W/sums.$n" "$W/got.$n" || fail "point $n: files differ from what was written"
	log "ok: point $n: $(wc -l <"$W/got.$n") files as written"
	! touch "$MP/new" 2>/dev/null || fail "point $n: a read-only mount took a write"
	assert_cmd cbt unmount "$MP"
	assert_clean "unmount of point $n"
done
# --device-only and unmount by device; the last point by default
dev=$(cbt mount "$CH" --device-only) || fail "mount --device-only failed"
case "$dev" in /dev/nbd*) ;; *) fail "mount --device-only printed '$dev'" ;; esac
assert_cmd mount -o ro "$dev" "$MP"
sums "$MP" | cmp - "$W/sums.3" || fail "--device-only: the last point differs"
assert_cmd umount "$MP"
assert_cmd cbt unmount "$dev"
assert_clean "unmount by device"
# a full image file on its own (a split image's manifest)
assert_cmd cbt mount "$CH/000001-full.cbti" "$MP"
sums "$MP" | cmp - "$W/sums.1" || fail "mount of the full image file: files differ"
assert_cmd cbt unmount "$MP"

log "--partition: a disk with an MBR partition table (one ext4 partition at 1 MiB)"
truncate -s 32M "$W/p.img"
loopdev=$(losetup -f --show "$W/p.img") || fail "losetup failed"
# entry 1: type 0x83, LBA 2048, 63488 sectors; the 0x55aa signature
printf '\203' | dd of="$loopdev" bs=1 seek=450 conv=notrunc 2>/dev/null
printf '\000\010\000\000\000\370\000\000' | dd of="$loopdev" bs=1 seek=454 conv=notrunc 2>/dev/null
printf '\125\252' | dd of="$loopdev" bs=1 seek=510 conv=notrunc 2>/dev/null
cbt_create p "$loopdev" 8
assert_cmd dmsetup create pp --table "0 63488 linear /dev/mapper/p 2048"
assert_cmd mkfs.ext4 -q /dev/mapper/pp
assert_cmd mount /dev/mapper/pp "$SRC"
echo partitioned >"$SRC/part"
assert_cmd umount "$SRC"
dm_remove pp
assert_cmd cbt backup p --full --to "$STORE/part" --cow "$DISK2" --quiet
dm_remove p
losetup -d "$loopdev"
assert_cmd cbt mount "$STORE/part" --partition 1 "$MP"
assert_eq "$(cat "$MP/part")" partitioned "the file in partition 1"
grep -q "^/dev/nbd[0-9]*p1 $MP " /proc/mounts || fail "--partition 1: not /dev/nbdXp1 mounted"
assert_cmd cbt unmount "$MP"
assert_clean "--partition"

log "cbt serve: point 2 over a Unix socket, read with nbd-client"
cbt serve "$CH" --at 2 --socket "$W/s.sock" >"$W/serve.log" 2>&1 &
echo $! >"$W/serve.pid"
wait_until 60 test -S "$W/s.sock"
assert_cmd nbd-client -unix "$W/s.sock" /dev/nbd7 -readonly
assert_cmd mount -o ro /dev/nbd7 "$MP"
sums "$MP" | cmp - "$W/sums.2" || fail "cbt serve: point 2 differs"
assert_cmd umount "$MP"
assert_cmd nbd-client -d /dev/nbd7
kill "$(cat "$W/serve.pid")"
wait "$(cat "$W/serve.pid")" || true
rm -f "$W/serve.pid"

log "restore --path: one file, one directory, an escaping link refused"
assert_cmd cbt restore "$CH" --at 2 --path /etc/fstab -o "$W/fstab"
assert_eq "$(cat "$W/fstab")" "point 2" "restored /etc/fstab of point 2"
assert_eq "$(stat -c '%a %Y' "$W/fstab")" "$(cat "$W/fstab.stat")" "mode and time of the restored file"
assert_cmd cbt restore "$CH" --at 3 --path /etc/fstab -o "$W/fstab"
assert_eq "$(cat "$W/fstab")" "point 3" "/etc/fstab of point 3 restored over the one of point 2"
assert_cmd cbt restore "$CH" --at 3 --path dir2 -r -o "$W/dir2"
mkdir -p "$W/exists"
echo x >"$W/exists/x"
! cbt restore "$CH" --at 3 --path dir2 -r -o "$W/exists" 2>"$W/err" ||
	fail "restore --path -r onto an existing OUTPUT succeeded"
log "refused: $(cat "$W/err")"
assert_eq "$(ls -A "$W/exists")" x "the existing OUTPUT of a refused restore --path -r"
grep ' ./dir2/a$' "$W/sums.3" | sed 's| ./dir2/| ./|' >"$W/want.dir2"
sums "$W/dir2" | cmp - "$W/want.dir2" || fail "restore --path -r: dir2 differs"
! cbt restore "$CH" --at 1 --path /dir1 -o "$W/d1" 2>"$W/err" || fail "a directory without -r restored"
grep -q "is a directory" "$W/err" || fail "directory without -r: $(cat "$W/err")"
! cbt restore "$CH" --at 1 --path /escape -o "$W/esc" 2>"$W/err" ||
	fail "the image's link to /init reached the guest's /init"
[ ! -e "$W/esc" ] || fail "a refused restore --path left $W/esc"
assert_clean "restore --path"

log "missing image: refused before anything is attached"
cp -a "$CH" "$STORE/gap"
rm -f "$STORE"/gap/000002-incr.cbti
! cbt mount "$STORE/gap" --at 3 "$MP" 2>"$W/err" || fail "a chain with a missing image mounted"
log "refused: $(cat "$W/err")"
assert_clean "refused chain"

log "corrupt frame: EIO for the file in it only"
cp -a "$CH" "$STORE/bad"
img=$STORE/bad/000003-incr.cbti
at=$(memfind "$img" "$W/needle") || fail "the middle of big is not in $img"
printf '\377\377\377\377' | dd of="$img" bs=1 seek="$at" conv=notrunc 2>/dev/null
assert_cmd cbt mount "$STORE/bad" "$MP"
! cat "$MP/big" >/dev/null 2>"$W/err" || fail "a corrupt frame was read as data"
grep -q "Input/output error" "$W/err" || fail "corrupt frame: expected EIO, got: $(cat "$W/err")"
grep -v ' ./big$' "$W/sums.3" >"$W/want.bad"
(cd "$MP" && find . -type f ! -name big | sort | xargs sha256sum) | cmp - "$W/want.bad" ||
	fail "corrupt frame: files outside it differ"
id=$(sed -n 's|^device=/dev/||p' /run/cbt/mount/nbd*[0-9] | head -n1)
grep -q "$(basename "$img")" "/run/cbt/mount/$id.log" ||
	fail "the server's log does not name $(basename "$img"): $(cat "/run/cbt/mount/$id.log")"
log "logged: $(grep "$(basename "$img")" "/run/cbt/mount/$id.log" | head -n1)"
assert_cmd cbt unmount "$MP"
assert_clean "corrupt chain"
log "restore --path of the file under the corrupt frame: exit status 1, OUTPUT as it was"
echo keep >"$W/big.out"
before=$(ls -A "$W")
if cbt restore "$STORE/bad" --path big -o "$W/big.out" 2>"$W/err"; then
	fail "restore --path of a damaged file succeeded"
else
	assert_eq "$?" 1 "exit status of restore --path of a damaged file"
fi
log "refused: $(cat "$W/err")"
grep -q "big" "$W/err" || fail "the error does not name the file: $(cat "$W/err")"
grep -qi "input/output error" "$W/err" || fail "the error is not an I/O error: $(cat "$W/err")"
assert_eq "$(cat "$W/big.out")" keep "OUTPUT after a failed restore --path"
assert_eq "$(ls -A "$W")" "$before" "files beside OUTPUT after a failed restore --path"
assert_clean "restore --path of a damaged file"

log "nbdkit killed under an open file: EIO, then cbt unmount cleans up"
assert_cmd cbt mount "$CH" "$MP"
exec 3<"$MP/big"
pid=$(sed -n 's/^pid=//p' /run/cbt/mount/nbd*[0-9])
kill -9 "$pid"
echo 3 >/proc/sys/vm/drop_caches
! cat <&3 >/dev/null 2>"$W/err" || fail "a read after nbdkit died succeeded"
exec 3<&-
log "reader: $(cat "$W/err")"
assert_cmd cbt unmount "$MP"
assert_clean "unmount after the server died"

log "xfs: a crash-consistent image (no freeze, under writes)"
cbt_create x "$DISK4" 8
assert_cmd mkfs.xfs -q -f /dev/mapper/x
assert_cmd mount -o noatime /dev/mapper/x /mnt/mc-xsrc
dd if=/dev/urandom of=/mnt/mc-xsrc/fixed bs=1M count=4 2>/dev/null
sync
fixed=$(sha256sum </mnt/mc-xsrc/fixed)
bg_start fio fio --name=load --filename=/mnt/mc-xsrc/load --size=16M --rw=randwrite --bs=4k \
	--rate=2m --ioengine=psync --fsync=4 --time_based --runtime=1000 >"$W/fio.log" 2>&1
churn() { echo "$1" >"/mnt/mc-xsrc/c$(($1 % 32))"; }
bg_loop churn 0.05 churn
wait_until 60 test -s /mnt/mc-xsrc/load
assert_cmd cbt backup x --full --to "$STORE/xfs" --cow "$DISK2" --no-freeze --quiet
bg_kill
assert_cmd umount /mnt/mc-xsrc
before=$(cat "$STORE"/xfs/*.cbti | sha256sum)
assert_cmd cbt mount "$STORE/xfs" "$MP" 2>"$W/err"
cat "$W/err"
grep -q "needs its log replayed" "$W/err" || fail "the xfs image needed no log replay: no crash-consistent case"
assert_cmd cbt unmount "$MP"
assert_cmd cbt mount --writable "$STORE/xfs" /mnt/mc-x 2>"$W/err"
! grep -q "log" "$W/err" || fail "--writable: $(cat "$W/err")"
dmesg | grep "XFS (nbd[0-9]*): Ending recovery" >/dev/null || fail "--writable: no xfs log recovery in the kernel log"
assert_eq "$(sha256sum </mnt/mc-x/fixed)" "$fixed" "a file written before the backup"
echo scratch >/mnt/mc-x/new || fail "--writable: a write failed"
assert_cmd cbt unmount /mnt/mc-x
assert_eq "$(cat "$STORE"/xfs/*.cbti | sha256sum)" "$before" "image files after --writable"
assert_clean "--writable"
pass
