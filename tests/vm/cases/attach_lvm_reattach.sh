#!/bin/sh
# The cbt layer comes back by itself after LVM reloads an attached LV
# (issue 11): `cbt attach' records what it attached (/run/cbt/attached/LV),
# the kernel's own uevents (busybox uevent listening on the uevent netlink
# socket, where udev would run 69-dm-cbt.rules; Debian's kernels are built
# without CONFIG_UEVENT_HELPER, so no /proc/sys/kernel/hotplug) run
# udev/cbt-reattach, which waits for LVM's VG
# lock and attaches again with the same block size and metadata. One chain:
# - an idle LV (unmounted: a mounted ext4 writes its superblock when LVM
#   thaws it): lvextend -> tracked again at the new size, history continued
#   (identity unchanged), the next incremental holds the grown area;
#   lvchange --refresh -> the same;
# - the LV mounted under a verifying fio: lvextend and lvchange --refresh ->
#   tracked again, a new identity (table-replaced: written in between), and
#   `cbt backup --incremental --auto-full' writes a full image into the
#   chain then, an incremental after; fio verifies, e2fsck is clean;
# - every point of the chain restores equal to the snapshot it was taken
#   from (checksummed by the backup hook), sizes included;
# - cbt detach -> the record is gone and a reload leaves the LV alone.
# disks: 256M 8M 128M 384M
# cost: 68
# timeout: 1500
# shellcheck disable=SC3043,SC2016

VG=cbtvgr
LV=$VG-lv0
HID=$LV-cbt-orig
W=/tmp/rea
STORE=/mnt/rea-store
CH=$STORE/chain
MNT=/mnt/rea

cleanup() {
	bg_kill
	rm -f /run/cbt/attached/"$LV"
	# a handler still at work holds the record's lock: let it finish
	[ -e "/run/cbt/attached/$LV.lock" ] && flock -w 60 "/run/cbt/attached/$LV.lock" true
	rm -f "/run/cbt/attached/$LV.lock"
	unmount "$MNT"
	if dmsetup table "$LV" 2>/dev/null | grep -q ' cbt '; then cbt detach "$LV" >/dev/null 2>&1 || true; fi
	dm_remove "$HID" "$LV-snap"
	vgremove -f -y "$VG" >/dev/null 2>&1 || true
	pvremove -y -ff "$DISK1" >/dev/null 2>&1 || true
	unmount "$STORE"
	true
}

need_module dm_cbt
need_cmd cbt lvm flock sha256sum fio e2fsck
[ -x /usr/lib/cbt/cbt-reattach ] || fail "/usr/lib/cbt/cbt-reattach is not in the initramfs"
rm -rf "$W" && mkdir -p "$W" "$MNT" "$STORE"
lvm_setup
assert_cmd mkfs.ext4 -q "$DISK4"
assert_cmd mount "$DISK4" "$STORE"
assert_cmd pvcreate -q "$DISK1"
assert_cmd vgcreate -q "$VG" "$DISK1"
assert_cmd lvcreate -q -y -Zn -W n -n lv0 -L 64M "$VG"
assert_cmd mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 "/dev/mapper/$LV"
assert_cmd mount "/dev/mapper/$LV" "$MNT"
dd if=/dev/urandom of="$MNT/f" bs=64k count=64 2>/dev/null
assert_cmd umount "$MNT"

# The kernel's uevents run the handler, as udev would.
bg_start uevent busybox uevent /usr/lib/cbt/cbt-reattach >"$W/uevent.log" 2>&1

tracked() { dmsetup table "$LV" 2>/dev/null | awk 'NR == 1 { print $3 }' | grep -qx cbt; }
uuid() { cbt status "$LV" --json | sed -n 's/.*"uuid": "\([^"]*\)".*/\1/p'; }
reason() { cbt status "$LV" --json | sed -n 's/.*"identity_reason": "\([^"]*\)".*/\1/p'; }
# wait_tracked WHAT: poll (bounded, 60 s) until the handler put the layer back
wait_tracked() {
	local i=0
	while ! tracked; do
		i=$((i + 1))
		[ "$i" -le 300 ] || { dmesg | grep cbt-reattach || true; fail "$1: not tracked again within 60 s: $(dmsetup table "$LV")"; }
		sleep 0.2
	done
	log "ok: tracked again after $1 (polled $i times)"
}

snap_sum_hook "$W"
# lv_backup N ARGS...: cbt backup of the LV, its JSON report in $W/backup.N
# (shown when it fails).
lv_backup() {
	local n="$1" rc=0
	shift
	cbt backup "$LV" "$@" --to "$CH" --cow "$DISK3" --json >"$W/backup.$n" || rc=$?
	[ "$rc" -eq 0 ] || cat "$W/backup.$n"
	return "$rc"
}
# backup N ARGS...: backup number N; its snapshot's checksum and size are kept
backup() {
	backup_summed "$1" "$W" lv_backup "$@"
	log "backup $1: $(tr -d '\n' <"$W/backup.$1")"
}
# busy_reload WHAT UUID N: after LVM's reload of the mounted LV under fio:
# tracked again with a new identity (not UUID; table-replaced), and backup N
# with --auto-full is a full image saying why
busy_reload() {
	wait_tracked "$1"
	[ "$(uuid)" != "$2" ] || fail "same identity after $1 of a written LV"
	assert_eq "$(reason)" table-replaced "identity reason after $1 under fio"
	backup "$3" --incremental --auto-full
	grep -q '"type": "full"' "$W/backup.$3" || fail "backup $3 is not a full image"
	grep -q '"history_lost": "table-replaced"' "$W/backup.$3" || fail "backup $3 does not say why"
}

assert_cmd cbt attach "$LV" --block-size 4k --metadata "$DISK2"
[ -f "/run/cbt/attached/$LV" ] || fail "cbt attach left no record"
grep -qx "METADATA=$(readlink -f "$DISK2")" "/run/cbt/attached/$LV" || fail "record: $(cat "/run/cbt/attached/$LV")"
backup 1 --full
u1=$(uuid)

log "lvextend of the idle LV: the handler puts the layer back"
assert_cmd lvextend -q -L +16M "$VG/lv0"
wait_tracked lvextend
assert_eq "$(sectors "/dev/mapper/$LV")" $((80 * 2048)) "size of the LV after lvextend"
assert_eq "$(uuid)" "$u1" "identity after lvextend of an idle LV (history continued)"
r=$(reason)
assert_eq "$r" continued "identity reason after an idle lvextend"
dmsetup info "$HID" >/dev/null 2>&1 || fail "no hidden device under the re-attached LV"
# The grown area (4 KiB blocks 16384..20479) is marked changed.
cbt bitmap "$LV" --blocks >"$W/bm"
awk '$1 <= 16384 && $1 + $2 >= 20480 { ok = 1 } END { exit !ok }' "$W/bm" ||
	fail "the grown area is not marked changed: $(cat "$W/bm")"
backup 2 --incremental
grep -q '"type": "incremental"' "$W/backup.2" || fail "image 2 is not an incremental"

log "lvchange --refresh: the layer comes back too, history continued"
assert_cmd lvchange --refresh "$VG/lv0"
wait_tracked "lvchange --refresh"
assert_eq "$(uuid)" "$u1" "identity after lvchange --refresh of an idle LV"
dd if=/dev/urandom of="/dev/mapper/$LV" bs=4k seek=100 count=16 conv=fsync 2>/dev/null
dd if=/dev/urandom of="/dev/mapper/$LV" bs=4k seek=20000 count=4 conv=fsync 2>/dev/null
backup 3 --incremental

log "the LV mounted, under a verifying fio: lvextend, lvchange --refresh"
assert_cmd mount "/dev/mapper/$LV" "$MNT"
bg_start fio fio --name=v --filename="$MNT/v.dat" --size=12M --rw=randwrite --bs=4k --rate=512k \
	--ioengine=psync --fsync=8 --verify=crc32c --verify_backlog=64 --verify_fatal=1 \
	--time_based --runtime=600 --trigger-file="$W/fio.stop" --verify_state_save=0 >"$W/fio.log" 2>&1
i=0
while [ ! -s "$MNT/v.dat" ] && [ "$i" -lt 100 ]; do i=$((i + 1)); sleep 0.2; done
u=$(uuid)
assert_cmd lvextend -q -L +16M "$VG/lv0"
busy_reload lvextend "$u" 4
assert_eq "$(sectors "/dev/mapper/$LV")" $((96 * 2048)) "size of the LV after the second lvextend"
u=$(uuid)
assert_cmd lvchange --refresh "$VG/lv0"
busy_reload "lvchange --refresh" "$u" 5
backup 6 --incremental --auto-full
grep -q '"type": "incremental"' "$W/backup.6" || fail "backup 6 is not an incremental"
# The trigger file ends fio as its runtime would (both set fio's
# terminate flag: no final verify pass either way), once the reloads it
# was there for are done, instead of ~90 s idle writing on the last table.
log "fio stopped by its trigger file: its verification must pass"
: >"$W/fio.stop"
rc=0
bg_wait fio || rc=$?
[ "$rc" -eq 0 ] || fail "fio exited $rc: $(tail -5 "$W/fio.log")"
if grep -qi "verify.*\(bad\|fail\)" "$W/fio.log"; then
	fail "fio reported a verification error: $(grep -i verify "$W/fio.log" | head -3)"
fi
assert_cmd umount "$MNT"
assert_cmd e2fsck -fn "/dev/mapper/$LV"

assert_cmd cbt verify -q "$CH"
for n in 1 2 3 4 5 6; do
	rm -f "$STORE/r"
	assert_cmd cbt restore --quiet "$CH" --at "$n" "$STORE/r"
	assert_eq "$(stat -c %s "$STORE/r")" "$(cat "$W/size.$n")" "size of point $n"
	assert_eq "$(sha256sum <"$STORE/r" | cut -d' ' -f1)" "$(cat "$W/sum.$n")" "point $n against its snapshot"
done
rm -f "$STORE/r"
assert_eq "$(cat "$W/size.1")" $((64 << 20)) "size of point 1"
assert_eq "$(cat "$W/size.2")" $((80 << 20)) "size of point 2"
assert_eq "$(cat "$W/size.6")" $((96 << 20)) "size of point 6"

log "cbt detach forgets the record: a reload then leaves the LV alone"
assert_cmd cbt detach "$LV"
[ ! -f "/run/cbt/attached/$LV" ] || fail "cbt detach left the record"
assert_cmd lvchange --refresh "$VG/lv0"
# The handler runs for this event too; once the LVM lock is free it has
# nothing to do. Poll for its lock, then check.
i=0
while [ "$i" -lt 25 ]; do
	tracked && fail "re-attached after cbt detach"
	i=$((i + 1))
	sleep 0.2
done
pass
