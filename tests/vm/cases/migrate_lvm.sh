#!/bin/sh
# cbt migrate of a GPT disk whose partition is an LVM PV with live LVs:
# "data" (ext4 under a cbt device, mounted, a writer syncing files to it),
# "web" (ext4 mounted, not tracked: recheck), "raw" (inactive: copied), and
# free extents that hold old data (not copied). Migrated onto a disk twice
# its size and onto a smaller one its extents still fit; each target is
# then activated alone (LVM shown its partition only, the source VG
# deactivated: both carry the same UUIDs): the VG, PV and LV UUIDs are the
# source's, the PV fills its grown or shrunk partition, e2fsck is clean on
# both filesystems, raw and web equal the source's, every writer file
# synced before the migration began is there with its md5, the free
# extents on the target are still zero. Refused with the reason, the
# target untouched: a target too small for the PV's last extent in use
# (exit status 6); the tracked LV with a backup's snapshot attached, then
# with its epoch alone closed (the clone's messages, exit status 1, the
# backup's epoch left closed).
# And a copy that differs from its source (an unmounted partition written
# behind cbt's back during its copy) fails with exit status 1, not 4.
# disks: 160M 320M 112M 64M 48M 48M
# cost: 60
# timeout: 600
# kernels: all

W=/tmp/migrate_lvm
S=$DISK1
BIG=$DISK2
SMALL=$DISK3
COW=$DISK4
TINY=$DISK5
OTHER=$DISK6
DATA=/mnt/ml-data
WEB=/mnt/ml-web

cleanup() {
	bg_stop writer rawwriter
	unmount /mnt/ml-t "$DATA" "$WEB"
	dm_remove lvdata
	vgchange -an mgl >/dev/null 2>&1 || true
}

# One round of the writer: a 16 KiB file, fsynced, then its md5 listed.
writer_round() {
	dd if=/dev/urandom of="$DATA/w.$1" bs=16k count=1 conv=fsync 2>/dev/null &&
		(cd "$DATA" && md5sum "w.$1") >>"$W/synced"
}

md5_of() { md5sum <"$1" | cut -d' ' -f1; }

need_module dm_cbt
need_cmd cbt sfdisk e2fsck lvm pvcreate vgcreate lvcreate pvs lvs vgchange

rm -rf "$W" && mkdir -p "$W" "$DATA" "$WEB" /mnt/ml-t
lvm_setup

log "the source: GPT, one LVM PV; LVs data (tracked, a writer), web (mounted), raw (inactive)"
printf 'label: gpt\nlabel-id: 5A3B9C1E-4D2F-4B8A-9E7C-1F2D3E4A5B6C\ntype=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="pv"\n' |
	sfdisk -q "$S" || fail "sfdisk $S"
assert_cmd pvcreate -q -y "${S}1"
assert_cmd vgcreate -q -s 4M mgl "${S}1"
assert_cmd lvcreate -q -y -L 32M -n data mgl
assert_cmd lvcreate -q -y -L 16M -n web mgl
assert_cmd lvcreate -q -y -L 12M -n raw mgl
# Old data in what becomes free extents: never copied.
assert_cmd lvcreate -q -y -L 24M -n junk mgl
lvs --noheadings -o seg_pe_ranges mgl/junk >"$W/junk" || fail "lvs mgl/junk"
junk_first=$(sed -n 's/.*:\([0-9]*\)-\([0-9]*\).*/\1/p' "$W/junk")
junk_last=$(sed -n 's/.*:\([0-9]*\)-\([0-9]*\).*/\2/p' "$W/junk")
assert_cmd dd if=/dev/urandom of=/dev/mapper/mgl-junk bs=1M count=24 conv=fsync status=none
assert_cmd lvremove -q -y mgl/junk
assert_cmd dd if=/dev/urandom of=/dev/mapper/mgl-raw bs=1M count=12 conv=fsync status=none
raw_sum=$(md5_of /dev/mapper/mgl-raw)
assert_cmd lvchange -q -an mgl/raw
cbt_create lvdata /dev/mapper/mgl-data 128
assert_cmd mkfs.ext4 -q -F -L data /dev/mapper/lvdata
assert_cmd mkfs.ext4 -q -F -L web /dev/mapper/mgl-web
assert_cmd mount /dev/mapper/lvdata "$DATA"
assert_cmd mount /dev/mapper/mgl-web "$WEB"
assert_cmd dd if=/dev/urandom of="$WEB/index" bs=64k count=32 conv=fsync status=none
web_sum=$(md5_of "$WEB/index")
assert_cmd dd if=/dev/urandom of="$DATA/bulk" bs=1M count=12 conv=fsync status=none
data_bulk=$(md5_of "$DATA/bulk")
pvs --devices "${S}1" --noheadings -o pv_uuid,vg_uuid,pe_start --units s --nosuffix >"$W/ids" ||
	fail "pvs ${S}1"
lvs --devices "${S}1" --noheadings -o lv_name,lv_uuid mgl | sort >"$W/lv_ids" || fail "lvs"
read -r pv_uuid vg_uuid pe_start <"$W/ids"
log "LVM's report, as cbt migrate reads it"
lvm pvs --devices "${S}1" --segments --reportformat json --units b --nosuffix \
	-o pv_uuid,vg_name,pe_start,vg_extent_size,pv_count,pvseg_start,pvseg_size,lv_name,seg_start_pe,segtype \
	"${S}1" || fail "lvm pvs --reportformat json"
: >"$W/synced"
bg_loop writer 0.1 writer_round

log "--dry-run: the plan per LV, nothing written"
zero_big=$(md5_of "$BIG")
cbt migrate "$S" "$BIG" --dry-run >"$W/plan" || fail "cbt migrate --dry-run"
cat "$W/plan"
for m in "1 .* lvm .*LVM2_member" "VG mgl: 15 of 39 extents of 4 MiB in use" \
	"PV grown with pvresize to 318 MiB (extents in use up to 61 MiB)" "LV data .* 32 MiB .* tracked .* lvdata" "LV web .* recheck .* $WEB" "LV raw .* copy .* inactive"; do
	grep -q "^ *$m" "$W/plan" || fail "the plan lacks \"$m\""
done
cbt migrate "$S" "$BIG" --dry-run --json >"$W/plan.json" || fail "--dry-run --json"
grep -q '"result": "planned"' "$W/plan.json" || fail "--dry-run --json: no planned result"
grep -q '"pv_uuid": "'"$pv_uuid"'"' "$W/plan.json" || fail "--dry-run --json: not the PV's UUID"
assert_eq "$(md5_of "$BIG")" "$zero_big" "the target after --dry-run"

log "refused: a target that cannot hold the PV's last extent in use"
before=$(md5_of "$TINY")
rc=0
cbt migrate "$S" "$TINY" --cow "$COW" --state-dir "$W/state" >"$W/out" 2>"$W/err" || rc=$?
cat "$W/out" "$W/err"
assert_eq "$(md5_of "$TINY")" "$before" "$TINY after the refusal"
assert_eq "$rc" 6 "exit status onto $TINY (the target out of space)"
assert_eq "$(cat "$W/err")" "migrate: ${S}1 cannot shrink to 46 MiB: its LVM PV has an extent in use (LV raw) up to 61 MiB; move it (pvmove) or migrate to a larger disk" \
	"the refusal onto $TINY"

# A backup in progress on data (its snapshot attached, its epoch closed):
# refused by the plan with the clone's message, before the table, the
# other LVs or the PV's metadata are written; the backup's epoch stays.
# refused_by_backup WHAT MESSAGE: the migration is refused with exit 1 and
# exactly MESSAGE, $BIG is untouched, and the backup's epoch stays closed.
refused_by_backup() {
	local rc=0
	cbt migrate "$S" "$BIG" --cow "$COW" --state-dir "$W/state" >"$W/out" 2>"$W/err" || rc=$?
	cat "$W/err"
	assert_eq "$(md5_of "$BIG")" "$zero_big" "$BIG after the refusal"
	assert_eq "$rc" 1 "exit status with $1"
	assert_eq "$(cat "$W/err")" "$2" "the message with $1"
	cbt status lvdata | grep -q "epoch $closed: closed" || fail "migrate ended the backup's epoch $closed"
}
log "refused: data with a backup's snapshot attached"
assert_cmd cbt snapshot take lvdata --cow "$COW"
closed=$(cbt status lvdata | sed -n 's/^  epoch \([0-9]*\): closed.*/\1/p')
[ -n "$closed" ] || fail "no closed epoch after the snapshot"
refused_by_backup "data's snapshot attached" \
	"migrate: partition 1 (${S}1): LV data: lvdata already has a snapshot attached (\`cbt snapshot list'); drop it first (\`cbt snapshot drop lvdata')"
assert_cmd cbt snapshot drop lvdata
# The backup's epoch alone (its snapshot dropped, not yet committed): the
# same refusal, with the epoch's message.
log "refused: data with a backup's epoch closed"
refused_by_backup "data's epoch $closed closed" \
	"migrate: partition 1 (${S}1): LV data: lvdata has epoch $closed closed, waiting for commit or abort (a backup in progress?); finish it first (\`cbt epoch commit|abort lvdata $closed')"
assert_cmd cbt epoch abort lvdata "$closed"

# check_target T JSON: T holds the source's VG, alone.
check_target() {
	local t=$1 k0
	log "checking $t"
	grep -q '"result": "complete"' "$2" || fail "$2: not complete"
	for m in '"name": "data",.*"method": "tracked",.*"done": true' \
		'"name": "web",.*"method": "recheck",.*"done": true' \
		'"name": "raw",.*"method": "copy",.*"done": true'; do
		tr -d '\n' <"$2" | grep -q "$m" || fail "$2 lacks $m"
	done
	pvs --devices "${t}1" --noheadings -o pv_uuid,vg_uuid,pe_start,pv_pe_count,vg_extent_size \
		--units s --nosuffix >"$W/t.ids" || fail "pvs ${t}1"
	read -r t_pv t_vg t_start t_count t_ext <"$W/t.ids"
	assert_eq "$t_pv $t_vg $t_start" "$pv_uuid $vg_uuid $pe_start" "the target's PV and VG UUIDs"
	assert_eq "$t_count" "$((($(sectors "${t}1") - pe_start) / t_ext))" "the target PV's extents"
	lvs --devices "${t}1" --noheadings -o lv_name,lv_uuid mgl | sort >"$W/t.lv_ids" || fail "lvs"
	cmp "$W/lv_ids" "$W/t.lv_ids" || fail "the target's LV UUIDs"
	# Free extents, never copied, are still the target's zeros.
	assert_eq "$(dd if="${t}1" bs=1M skip=$((pe_start / 2048 + junk_first * 4)) \
		count=$(((junk_last - junk_first + 1) * 4)) status=none | tr -d '\0' | wc -c)" 0 \
		"the free extents on $t"
	assert_cmd vgchange -q -ay --devices "${t}1" mgl
	assert_eq "$(md5_of /dev/mapper/mgl-raw)" "$raw_sum" "raw on $t"
	assert_cmd e2fsck -fn /dev/mapper/mgl-web
	assert_cmd e2fsck -fn /dev/mapper/mgl-data
	assert_cmd mount -o ro /dev/mapper/mgl-web /mnt/ml-t
	assert_eq "$(md5_of /mnt/ml-t/index)" "$web_sum" "web's file on $t"
	umount /mnt/ml-t
	assert_cmd mount -o ro /dev/mapper/mgl-data /mnt/ml-t
	assert_eq "$(md5_of /mnt/ml-t/bulk)" "$data_bulk" "data's bulk file on $t"
	k0=$(cat "$W/k0.$(basename "$t")")
	[ "$k0" -gt 0 ] || fail "the writer synced nothing before the migration"
	head -n "$k0" "$W/synced" >"$W/before"
	(cd /mnt/ml-t && md5sum -c -s "$W/before") ||
		fail "writer files synced before the migration to $t are missing or differ"
	log "$(find /mnt/ml-t -maxdepth 1 -name 'w.*' | wc -l) writer files on $t, $k0 synced before"
	umount /mnt/ml-t
	assert_cmd vgchange -q -an --devices "${t}1" mgl
}

log "onto a disk twice the size"
wc -l <"$W/synced" >"$W/k0.$(basename "$BIG")"
assert_cmd cbt migrate "$S" "$BIG" --cow "$COW" --state-dir "$W/state" --json >"$W/big.json"
cat "$W/big.json"
grep -q '"resized": "grown with pvresize"' "$W/big.json" || fail "the PV was not grown"

log "onto a smaller disk its extents fit in"
wc -l <"$W/synced" >"$W/k0.$(basename "$SMALL")"
assert_cmd cbt migrate "$S" "$SMALL" --cow "$COW" --state-dir "$W/state" --json >"$W/small.json"
cat "$W/small.json"
grep -q '"resized": "shrunk with pvresize"' "$W/small.json" || fail "the PV was not shrunk"
bg_stop writer
bg_check writer

log "the source VG stopped: each target alone"
umount "$DATA" "$WEB"
dm_remove lvdata
assert_cmd vgchange -q -an --devices "${S}1" mgl
check_target "$BIG" "$W/big.json"
check_target "$SMALL" "$W/small.json"

# A copy that differs from its source is a failed copy (exit status 1),
# not a damaged image (4). Partition 1 is not in use as far as cbt sees,
# yet written all along, so the comparison after its copy differs.
log "a copy that differs from its source: exit status 1"
printf 'label: gpt\ntype=0FC63DAF-8483-4772-8E69-3D69DE4709E4\n' | sfdisk -q "$TINY" ||
	fail "sfdisk $TINY"
rawwrite() {
	dd if=/dev/urandom of="${TINY}1" bs=4k count=1 oflag=direct conv=notrunc status=none
}
bg_loop rawwriter 0 rawwrite
rc=0
cbt migrate "$TINY" "$OTHER" --state-dir "$W/state" --json >"$W/mm.json" 2>"$W/mm.err" || rc=$?
bg_stop rawwriter
bg_check rawwriter
cat "$W/mm.json" "$W/mm.err"
assert_eq "$rc" 1 "the exit status of a copy that differs"
grep -q '"code": 1' "$W/mm.json" || fail "the JSON error's code is not 1"
grep -q "${OTHER}1 differs from ${TINY}1 at byte .* once copied" "$W/mm.err" ||
	fail "the message does not say the copy differs"
pass
