#!/bin/sh
# cbt migrate of a whole GPT disk in use -- BIOS boot partition, ESP (vfat,
# mounted: no freeze), /boot (ext4, mounted: frozen), swap, root (ext4 under
# cbt tracking, a writer running) -- onto a disk twice its size and onto a
# smaller one that still holds the used data. Checked on each target: the
# disk and partition GUIDs, types, names and attributes, the filesystem and
# swap UUIDs, the MBR boot code and the BIOS boot partition byte for byte,
# the GPT backup header in the last sector, fsck clean everywhere, root's
# filesystem filling its grown or shrunk partition, the writer's files.
# Refusals (--dry-run; a target too small for root's data, exit status 6,
# the exact message; a source
# partition held by a device that is not cbt; xfs that would have to
# shrink; a target holding another table; a target in use; a shrink on a
# kernel without dm-zero; the source itself as the target; tracked
# partitions without --cow, exit status 2; an MBR source with an extended
# partition; root with a backup's snapshot attached, or its epoch closed:
# refused by the plan with the clone's message, exit status 1, the backup's
# epoch left closed) leave the target byte-identical. The larger
# target's run is stopped by SIGTERM during root's live copy (exit status
# 1, a message saying so and what to do); the same command again resumes
# that copy. An LVM PV partition (its VG inactive: copied) migrated onto a
# larger disk is pvresized: the target PV's extents fill its grown
# partition, its LV holds the source's data.
# disks: 160M 320M 144M 64M 64M
# cost: 63
# timeout: 900

W=/tmp/migrate_disk
S=$DISK1
BIG=$DISK2
SMALL=$DISK3
COW=$DISK4
TINY=$DISK5
ROOT=/mnt/mg-root

cleanup() {
	[ -z "${MODPROBE:-}" ] || echo "$MODPROBE" >/proc/sys/kernel/modprobe
	bg_stop writer
	unmount /mnt/mg-t "$ROOT" /mnt/mg-boot /mnt/mg-esp
	dm_remove mg-held root-snap root
	vgchange -an mgvg >/dev/null 2>&1 || true
}

# One round of the writer: a 16 KiB file, fsynced, then listed as synced.
writer_round() {
	dd if=/dev/urandom of="$ROOT/w.$1" bs=16k count=1 conv=fsync 2>/dev/null &&
		echo "$1" >>"$W/synced"
}

need_module dm_cbt dm_zero vfat nls_cp437 nls_ascii
need_cmd cbt sfdisk mkfs.vfat fsck.vfat mkswap e2fsck dumpe2fs blkid mkfs.xfs pvcreate pvs

rm -rf "$W" && mkdir -p "$W" /mnt/mg-esp /mnt/mg-boot "$ROOT" /mnt/mg-t

log "the source disk: GPT, BIOS boot, ESP, /boot, swap, root under cbt"
# /boot's type GUID is one libfdisk does not know (one digit off Linux
# filesystem's): kept as it is all the same.
cat >"$W/layout" <<'EOF'
label: gpt
label-id: 6A3B9C1E-4D2F-4B8A-9E7C-1F2D3E4A5B6C
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, uuid=1B0A1E57-0000-4000-8000-000000000001, name="bios"
size=16MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=1B0A1E57-0000-4000-8000-000000000002, name="esp", attrs="RequiredPartition"
size=24MiB, type=0FC63DAF-8483-4772-8E69-3D69DE4709E4, uuid=1B0A1E57-0000-4000-8000-000000000003, name="boot"
size=8MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=1B0A1E57-0000-4000-8000-000000000004, name="swap"
type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=1B0A1E57-0000-4000-8000-000000000005, name="root"
EOF
assert_cmd sfdisk -q "$S" <"$W/layout"
head -c 440 /dev/urandom >"$W/mbr"
assert_cmd dd if="$W/mbr" of="$S" conv=notrunc status=none
assert_cmd dd if=/dev/urandom of="${S}1" bs=64k count=16 status=none
assert_cmd mkfs.vfat -i 1A2B3C4D -n ESP "${S}2"
assert_cmd mkfs.ext4 -q -F -L boot -U 0b0a1e57-0000-4000-8000-0000000000b0 "${S}3"
assert_cmd mkswap -L swp -U 0b0a1e57-0000-4000-8000-0000000000c0 "${S}4"
cbt_create root "${S}5" 128
# 1 KiB blocks and one flex group: root's metadata sits at its start, so
# the data can be shrunk away from its end.
assert_cmd mkfs.ext4 -q -F -b 1024 -G 32 -L root -U 0b0a1e57-0000-4000-8000-0000000000d0 \
	/dev/mapper/root
assert_cmd mount "${S}2" /mnt/mg-esp
assert_cmd mount "${S}3" /mnt/mg-boot
assert_cmd mount /dev/mapper/root "$ROOT"
assert_cmd dd if=/dev/urandom of=/mnt/mg-esp/grubx64.efi bs=64k count=16 conv=fsync status=none
assert_cmd dd if=/dev/urandom of=/mnt/mg-boot/vmlinuz bs=64k count=16 conv=fsync status=none
assert_cmd dd if=/dev/urandom of="$ROOT/bulk" bs=1M count=24 conv=fsync status=none
: >"$W/synced"
bg_loop writer 0.1 writer_round

# md5_of DEV: cheaper than sha256 in a TCG guest, as good to see a change.
md5_of() { md5sum <"$1" | cut -d' ' -f1; }

# same_table T: T's table is the source's but for root's size (and the last LBA).
same_table() {
	sfdisk --dump "$S" | sed -e "s|$S||" -e '/^last-lba/d' -e 's/size= *[0-9]*, \(.*name="root"\)/\1/' \
		-e '/^device/d' >"$W/src.dump"
	sfdisk --dump "$1" | sed -e "s|$1||" -e '/^last-lba/d' -e 's/size= *[0-9]*, \(.*name="root"\)/\1/' \
		-e '/^device/d' >"$W/tgt.dump"
	cat "$W/tgt.dump"
	cmp "$W/src.dump" "$W/tgt.dump" || { diff "$W/src.dump" "$W/tgt.dump"; fail "$1: another table"; }
}

# check_target T DELTA_SECTORS: everything the header says, on T.
check_target() {
	local t=$1 delta=$2 n last got k0
	same_table "$t"
	assert_cmd sfdisk --verify "$t"
	last=$(($(sectors "$t") - 1))
	assert_eq "$(dd if="$t" bs=512 skip="$last" count=1 status=none | head -c 8)" "EFI PART" \
		"the GPT backup header in the last sector"
	assert_cmd cmp -n 440 "$S" "$t"
	assert_cmd cmp "${S}1" "${t}1"
	for n in 2 3 4; do
		assert_eq "$(blkid -o value -s UUID "${t}$n")" "$(blkid -o value -s UUID "${S}$n")" \
			"partition $n's UUID"
	done
	assert_eq "$(blkid -o value -s LABEL "${t}4")" swp "the swap label"
	assert_eq "$(blkid -o value -s UUID "${t}5")" 0b0a1e57-0000-4000-8000-0000000000d0 "root's UUID"
	assert_eq "$(sectors "${t}5")" "$(($(sectors "${S}5") + delta))" "root's partition size"
	assert_cmd fsck.vfat -n "${t}2"
	assert_cmd e2fsck -fn "${t}3"
	assert_cmd e2fsck -fn "${t}5"
	got=$(dumpe2fs -h "${t}5" 2>/dev/null | sed -n 's/^Block count: *//p')
	assert_eq "$((got * 1024))" "$(($(sectors "${t}5") * 512))" "root's filesystem fills its partition"
	assert_cmd mount -o ro "${t}2" /mnt/mg-t
	assert_cmd cmp /mnt/mg-esp/grubx64.efi /mnt/mg-t/grubx64.efi
	umount /mnt/mg-t
	assert_cmd mount -o ro "${t}3" /mnt/mg-t
	assert_cmd cmp /mnt/mg-boot/vmlinuz /mnt/mg-t/vmlinuz
	umount /mnt/mg-t
	assert_cmd mount -o ro "${t}5" /mnt/mg-t
	assert_cmd cmp "$ROOT/bulk" /mnt/mg-t/bulk
	# Every file synced before the migration began is there, and every
	# writer file there is the source's.
	k0=$(cat "$W/k0")
	[ "$k0" -gt 0 ] || fail "the writer synced nothing before the migration"
	for n in $(seq 1 "$k0"); do
		[ -f "/mnt/mg-t/w.$n" ] || fail "w.$n, synced before the migration, is missing"
	done
	# The root's last pass is frozen, and a write is whole on either side
	# of a freeze: a file there either matches the source's or is the one
	# the writer had created but not yet written (empty). One at most: the
	# writer's rounds run one after another.
	(cd /mnt/mg-t && md5sum w.*) >"$W/w.md5"
	(cd "$ROOT" && md5sum -c "$W/w.md5" 2>/dev/null) | sed -n 's/: FAILED$//p' >"$W/w.differ"
	[ "$(wc -l <"$W/w.differ")" -le 1 ] || fail "writer files on $t differ from the source's: $(tr '\n' ' ' <"$W/w.differ")"
	while read -r n; do
		if [ -s "/mnt/mg-t/$n" ] || [ "${n#w.}" -le "$k0" ]; then
			fail "writer file $n on $t differs from the source's ($(stat -c %s "/mnt/mg-t/$n") bytes)"
		fi
	done <"$W/w.differ"
	log "$(find /mnt/mg-t -maxdepth 1 -name 'w.*' | wc -l) writer files on $t, $k0 synced before"
	umount /mnt/mg-t
}

log "--dry-run prints the plan and writes nothing"
zero_big=$(md5_of "$BIG")
assert_cmd cbt migrate "$S" "$BIG" --dry-run
cbt migrate "$S" "$BIG" --dry-run >"$W/plan"
for m in "1 .* copy .* BIOS boot" "2 .* recheck .*vfat .*/mnt/mg-esp" "3 .* frozen .*ext4 .*/mnt/mg-boot" \
	"4 .* swap .*swap" "5 .*tracked .*ext4 .*root"; do
	grep -q "^ *$m" "$W/plan" || fail "the plan lacks \"$m\""
done
cbt migrate "$S" "$BIG" --dry-run --json >"$W/plan.json"
grep -q '"result": "planned"' "$W/plan.json" || fail "--dry-run --json: no planned result"
grep -q '"method": "tracked"' "$W/plan.json" || fail "--dry-run --json: no tracked partition"
assert_eq "$(md5_of "$BIG")" "$zero_big" "the target after --dry-run"

# Its clone state file is written before root's copy writes to the target.
clone_begun() { ls "$W"/state/clone-*.json >/dev/null 2>&1; }

log "onto a disk twice the size: SIGTERM during root's live copy, then again"
wc -l <"$W/synced" >"$W/k0"
rm -rf "$W/state"
bg_start mig cbt migrate "$S" "$BIG" --cow "$COW" --state-dir "$W/state" --json \
	>"$W/big1.json" 2>"$W/big1.err"
wait_until 300 clone_begun
kill -TERM "$(bg_pid mig)"
rc=0
bg_wait mig || rc=$?
cat "$W/big1.json" "$W/big1.err"
[ "$rc" -eq 1 ] || fail "cbt migrate stopped by SIGTERM exited $rc, not 1"
grep -q '"result": "interrupted"' "$W/big1.json" || fail "the run SIGTERM stopped is not \"interrupted\""
grep -q "interrupted by a signal (SIGINT, SIGTERM or SIGHUP) at partition 5 (${S}5): $S is untouched, $BIG incomplete; run the same command again" \
	"$W/big1.err" || fail "the run SIGTERM stopped does not say what happened and what to do"
! grep -q "Interrupted system call" "$W/big1.err" "$W/big1.json" || fail "a raw EINTR message"
assert_cmd cbt migrate "$S" "$BIG" --cow "$COW" --state-dir "$W/state" --json >"$W/big2.json"
cat "$W/big2.json"
grep -q '"again": true' "$W/big2.json" || fail "the second run did not find its own table"
grep -q '"resumed": true' "$W/big2.json" || fail "root's copy did not resume"
check_target "$BIG" $((160 * 2048))

# 16 MiB smaller: resize2fs wants room past the used blocks (its own
# minimum), and how much the writer writes depends on the host's speed.
log "onto a smaller disk that holds the used data"
wc -l <"$W/synced" >"$W/k0"
assert_cmd cbt migrate "$S" "$SMALL" --cow "$COW" --state-dir "$W/state" --json >"$W/small.json"
cat "$W/small.json"
grep -q '"resized": "shrunk with resize2fs"' "$W/small.json" || fail "root was not shrunk"
check_target "$SMALL" $((-16 * 2048))
bg_stop writer

# A backup in progress on root (its snapshot attached, its epoch closed;
# then its epoch alone): root's live copy is refused by the plan, before
# anything is written, and the backup's epoch is left to it. The target's
# boot code and BIOS boot partition are scribbled over first: a run that
# wrote the table and copied the partitions before root would restore them.
# target_sums: the target's first MiB (boot code, GPT), partitions 1 and 3.
target_sums() {
	echo "$(dd if="$SMALL" bs=1M count=1 status=none | md5sum) $(md5_of "${SMALL}1") $(md5_of "${SMALL}3")"
}
assert_cmd dd if=/dev/urandom of="$SMALL" bs=440 count=1 conv=notrunc,fsync status=none
assert_cmd dd if=/dev/urandom of="${SMALL}1" bs=64k count=16 conv=fsync status=none
log "root with a backup's snapshot attached: migrate is refused, nothing written, the backup's epoch stays closed"
assert_cmd cbt snapshot take root --cow "$COW"
closed=$(cbt status root | sed -n 's/^  epoch \([0-9]*\): closed.*/\1/p')
[ -n "$closed" ] || fail "no closed epoch after the snapshot"
before=$(target_sums)
rc=0
cbt migrate "$S" "$SMALL" --cow "$COW" --state-dir "$W/state" >"$W/out" 2>"$W/err" || rc=$?
cat "$W/err"
assert_eq "$(target_sums)" "$before" "$SMALL (first MiB, partitions 1, 3) after the refusal"
assert_eq "$rc" 1 "exit status with root's snapshot attached"
assert_eq "$(cat "$W/err")" "migrate: partition 5 (${S}5): root already has a snapshot attached (\`cbt snapshot list'); drop it first (\`cbt snapshot drop root')" \
	"the message with root's snapshot attached"
cbt status root
cbt status root | grep -q "epoch $closed: closed" || fail "migrate ended the backup's epoch $closed"
assert_cmd cbt snapshot drop root
log "root with a backup's epoch closed: migrate is refused, nothing written"
rc=0
cbt migrate "$S" "$SMALL" --cow "$COW" --state-dir "$W/state" >"$W/out" 2>"$W/err" || rc=$?
cat "$W/err"
assert_eq "$(target_sums)" "$before" "$SMALL (first MiB, partitions 1, 3) after the refusal"
assert_eq "$rc" 1 "exit status with root's epoch $closed closed"
assert_eq "$(cat "$W/err")" "migrate: partition 5 (${S}5): root has epoch $closed closed, waiting for commit or abort (a backup in progress?); finish it first (\`cbt epoch commit|abort root $closed')" \
	"the message with root's epoch closed"
cbt status root | grep -q "epoch $closed: closed" || fail "migrate ended the backup's epoch $closed"
assert_cmd cbt epoch abort root "$closed"
bg_check writer

# refused WHAT TARGET ARGS...: cbt migrate fails saying WHAT, TARGET unchanged.
# Its exit status in $refused_rc.
refused() {
	local what=$1 t=$2 before rc=0
	shift 2
	before=$(md5_of "$t")
	log "+ cbt migrate $*"
	cbt migrate "$@" --cow "$COW" --state-dir "$W/state" >"$W/out" 2>"$W/err" || rc=$?
	cat "$W/out" "$W/err"
	refused_rc=$rc
	[ "$rc" -ne 0 ] || fail "cbt migrate $* was accepted"
	grep -q "$what" "$W/err" || fail "cbt migrate $*: the message lacks \"$what\""
	assert_eq "$(md5_of "$t")" "$before" "$t after the refusal"
}

# Root (tracked, mounted, written) onto a disk too small for its data:
# the plan's forecast from its block bitmaps, exit status 6 (the target out
# of space). Where its last used block lies depends on the writer.
refused "^migrate: ${S}5 cannot shrink to 13 MiB: its filesystem uses a block at [0-9.]* [KM]iB\$" \
	"$TINY" "$S" "$TINY"
assert_eq "$refused_rc" 6 "exit status onto $TINY, too small for root's data"
assert_eq "$(wc -l <"$W/err")" 1 "lines of the refusal onto $TINY"

# A shrink goes through dm-zero: without it in the kernel (unloaded, and
# module autoloading off), the plan says so, before anything is written.
log "no dm-zero in the kernel"
if rmmod dm_zero; then
	MODPROBE=$(cat /proc/sys/kernel/modprobe)
	echo >/proc/sys/kernel/modprobe
	refused "partition 5 (${S}5) must shrink, and shrinking needs the kernel's dm-zero target, which this kernel does not have .*modprobe dm_zero" \
		"$SMALL" "$S" "$SMALL"
	assert_eq "$refused_rc" 1 "the exit status without dm-zero"
	! grep -q "Invalid argument" "$W/err" || fail "a raw EINVAL message without dm-zero"
	assert_eq "$(dmsetup ls | grep -c cbt-migrate || true)" 0 "device-mapper devices left behind"
	echo "$MODPROBE" >/proc/sys/kernel/modprobe
	MODPROBE=
	assert_cmd modprobe dm_zero
else
	log "dm_zero cannot be unloaded (built in?): not checked"
fi
assert_cmd dmsetup create mg-held --table "0 2048 linear ${S}1 0"
refused "partition 1 (${S}1) is in use by dm-.*, which is not a cbt device" "$TINY" "$S" "$TINY"
assert_cmd dmsetup remove mg-held
assert_cmd mount -o ro "${SMALL}3" /mnt/mg-t
refused "$SMALL is in use" "$SMALL" "$S" "$SMALL"
umount /mnt/mg-t
log "the source itself as the target; tracked partitions without --cow (2): nothing written"
refused "$S is the source disk itself" "$SMALL" "$S" "$S"
before=$(md5_of "$SMALL")
rc=0
cbt migrate "$S" "$SMALL" --state-dir "$W/state" >"$W/out" 2>"$W/err" || rc=$?
cat "$W/err"
assert_eq "$rc" 2 "exit status without --cow"
grep -q 'partitions under cbt tracking are copied live: --cow COW is needed' "$W/err" ||
	fail "no word of the missing --cow"
assert_eq "$(md5_of "$SMALL")" "$before" "$SMALL after the migration without --cow"

log "xfs that would have to shrink"
printf 'label: gpt\ntype=0FC63DAF-8483-4772-8E69-3D69DE4709E4\n' | sfdisk -q "$BIG" ||
	fail "sfdisk $BIG"
assert_cmd mkfs.xfs -q -f "${BIG}1"
refused "$SMALL holds gpt id .*--force" "$SMALL" "$BIG" "$SMALL"
refused "${BIG}1 holds xfs, which cannot shrink" "$SMALL" "$BIG" "$SMALL" --force

log "an MBR disk with an extended partition: refused"
printf 'label: dos\nstart=2048, size=8MiB, type=83\nstart=18432, type=5\nstart=20480, size=4MiB, type=83\n' |
	sfdisk -q "$TINY" || fail "sfdisk $TINY"
refused "$TINY: extended and logical MBR partitions are not supported" "$BIG" "$TINY" "$BIG" --force

log "an MBR disk: boot code, the gap before partition 1, two primaries"
printf 'label: dos\nlabel-id: 0x5eed1e57\nstart=2048, size=16MiB, type=83, bootable\ntype=83\n' |
	sfdisk -q "$TINY" || fail "sfdisk $TINY"
head -c 440 /dev/urandom >"$W/mbr2"
assert_cmd dd if="$W/mbr2" of="$TINY" conv=notrunc status=none
# GRUB's core image lives in the gap on an MBR disk.
assert_cmd dd if=/dev/urandom of="$TINY" bs=512 seek=1 count=2047 conv=notrunc status=none
assert_cmd mkfs.ext4 -q -F -L m1 -U 0b0a1e57-0000-4000-8000-0000000000e1 "${TINY}1"
assert_cmd mkfs.ext4 -q -F -L m2 -U 0b0a1e57-0000-4000-8000-0000000000e2 "${TINY}2"
assert_cmd cbt migrate "$TINY" "$BIG" --cow "$COW" --state-dir "$W/state" --force
sfdisk --dump "$TINY" | sed -e "s|$TINY||" -e '/^device/d' -e '/^last-lba/d' -e 's/size= *[0-9]*, \(.*\)/\1/' \
	>"$W/src.dump"
sfdisk --dump "$BIG" | sed -e "s|$BIG||" -e '/^device/d' -e '/^last-lba/d' -e 's/size= *[0-9]*, \(.*\)/\1/' \
	>"$W/tgt.dump"
cat "$W/tgt.dump"
cmp "$W/src.dump" "$W/tgt.dump" || { diff "$W/src.dump" "$W/tgt.dump"; fail "$BIG: another MBR table"; }
assert_cmd cmp -n 440 "$TINY" "$BIG"
assert_eq "$(dd if="$BIG" bs=512 skip=1 count=2047 status=none | md5sum)" \
	"$(dd if="$TINY" bs=512 skip=1 count=2047 status=none | md5sum)" "the gap before partition 1"
assert_cmd cmp "${TINY}1" "${BIG}1"
assert_eq "$(sectors "${BIG}2")" "$(($(sectors "${TINY}2") + 256 * 2048))" "partition 2's size"
assert_eq "$(blkid -o value -s UUID "${BIG}2")" 0b0a1e57-0000-4000-8000-0000000000e2 "partition 2's UUID"
assert_cmd e2fsck -fn "${BIG}2"
got=$(dumpe2fs -h "${BIG}2" 2>/dev/null | sed -n 's/^Block count: *//p')
bs=$(dumpe2fs -h "${BIG}2" 2>/dev/null | sed -n 's/^Block size: *//p')
assert_eq "$((got * bs))" "$(($(sectors "${BIG}2") * 512))" "partition 2's filesystem fills it"

log "an LVM PV grown: pvresize"
lvm_setup
printf 'label: gpt\ntype=E6D6D379-F507-44C2-A23C-238F2A3DF928\n' | sfdisk -q "$TINY" ||
	fail "sfdisk $TINY"
assert_cmd pvcreate -q -y "${TINY}1"
assert_cmd vgcreate -q mgvg "${TINY}1"
assert_cmd lvcreate -q -L 16M -n lv mgvg
assert_cmd dd if=/dev/urandom of=/dev/mapper/mgvg-lv bs=64k count=256 conv=fsync status=none
lv_sum=$(md5_of /dev/mapper/mgvg-lv)
assert_cmd vgchange -q -an mgvg
assert_cmd cbt migrate "$TINY" "$BIG" --cow "$COW" --state-dir "$W/state" --force --json >"$W/pv.json"
cat "$W/pv.json"
grep -q '"resized": "grown with pvresize"' "$W/pv.json" || fail "the PV was not pvresized"
# The target PV's extents fill its partition. --devices: the source PV,
# the same UUID, is not to be seen.
pvs --devices "${BIG}1" --noheadings --units s --nosuffix -o pe_start,vg_extent_size,pv_pe_count \
	>"$W/pv" || fail "pvs ${BIG}1"
read -r pe_start extent pe_count <"$W/pv"
assert_eq "$pe_count" "$((($(sectors "${BIG}1") - pe_start) / extent))" "the target PV's extents"
assert_cmd vgchange -q -ay --devices "${BIG}1" mgvg
assert_eq "$(md5_of /dev/mapper/mgvg-lv)" "$lv_sum" "the target's LV"
assert_cmd vgchange -q -an --devices "${BIG}1" mgvg
pass
