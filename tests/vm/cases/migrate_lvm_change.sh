#!/bin/sh
# cbt migrate of an LVM PV partition whose VG changes during the migration,
# and a PV migration interrupted and resumed. The source: a GPT disk with
# one PV, its VG holding "data" (ext4 under a cbt device, mounted: a live
# clone), "web" (ext4 mounted, not tracked: recheck) and "raw" (inactive:
# copied). At fixed points of the copy (CBT_MIGRATE_HOOK, the test build's
# hook; no sleeps):
# - after web's copy, `lvextend' of raw: the migration fails with exit
#   status 1 and says the VG's metadata changed and the target is not a
#   usable copy; the target partition holds no PV (its label and metadata
#   area zero), the source VG is whole;
# - once every LV is copied, before the metadata, `lvcreate': the same;
# - a writer holding LVM's lock of the VG (flock -x on its V_mgc, as an
#   LVM command changing it does) once every LV is copied: the metadata
#   step waits for it (the hook's "metadata wait"); the writer extends raw
#   and lets go: refused the same way;
# - once every LV is copied, before the metadata, SIGTERM: "interrupted",
#   the target partition holds no PV;
# - once data's live clone has begun (its state file written), SIGTERM:
#   "interrupted", the target holds no PV;
# - inside that resumed clone's first pass, after its first I/O (some, not
#   all, of data copied: its state file's copied_upto is past 0), SIGTERM:
#   the same; the same command then resumes data's clone ("resumed": true)
#   and, while the VG's writer holds the lock, waits for it at the
#   metadata step, then completes.
# The target, activated alone, then holds the source VG as it is after both
# changes: the same VG, PV and LV UUIDs, every LV on the same extents, raw
# (with its new extents) and the new LV byte for byte, e2fsck clean on data
# and web, their files with the source's md5.
# disks: 128M 192M 64M
# cost: 70
# timeout: 900
# kernels: all

W=/tmp/migrate_lvm_change
S=$DISK1
T=$DISK2
COW=$DISK3
DATA=/mnt/mc-data
WEB=/mnt/mc-web
# LVM's lock of VG mgc (lib/misc/lvm-flock.c; locking_dir as lvm_setup leaves it).
LOCK=/run/lock/lvm/V_mgc

cleanup() {
	[ ! -p "$W/release" ] || echo go 1<>"$W/release"
	unmount /mnt/mc-t "$DATA" "$WEB"
	dm_remove mcdata
	vgchange -an mgc >/dev/null 2>&1 || true
}

md5_of() { md5sum <"$1" | cut -d' ' -f1; }

# The target partition holds no PV: its first MiB (the label and metadata area) is zero.
no_pv_on_target() {
	assert_eq "$(dd if="${T}1" bs=1M count=1 status=none | tr -d '\0' | wc -c)" 0 \
		"non-zero bytes in the label and metadata area of ${T}1 ($1)"
	! blkid -p "${T}1" 2>/dev/null | grep -q LVM2_member || fail "${T}1 is an LVM PV ($1)"
}

# The VG's extents as LVM reports them on PART: one line per LV segment.
layout() {
	pvs --devices "$1" --segments --noheadings -o pvseg_start,pvseg_size,lv_name,lv_uuid \
		--units b --nosuffix "$1" | awk 'NF == 4' | sort -n
}

# The VG's writer ($W/writer, a CBT_MIGRATE_HOOK): at "metadata", a process
# takes LVM's lock of the VG exclusive, as an LVM command changing it does,
# and holds it; at "metadata wait" (the migration found it held and waits
# for it: the test build's hook in mig_lvm_lock()), $W/change, if there,
# runs (the writer's change, through a lock directory of its own), then the
# writer lets go. No sleeps: fifos hand over each step. A writer nobody
# waited for (the lock not taken) lets go after 30 s at most, for LVM's
# own reports, which the migration runs next, queue behind it.
writer_setup() {
	mkdir -p /run/lock/lvm-writer
	mkfifo "$W/held" "$W/release"
	cat >"$W/writer" <<-EOF
	case "\$CBT_MIGRATE_STEP" in
	metadata)
		flock -x $LOCK sh -c 'exec 4<>$W/release; echo held >$W/held; read -r -t 30 _ <&4' \\
			</dev/null >/dev/null 2>&1 &
		read -r _ <$W/held ;;
	"metadata wait")
		echo waited >$W/waited
		[ ! -f $W/change ] || sh $W/change || exit 1
		echo go 1<>$W/release ;;
	esac
	EOF
}

# writer_done WHAT: the run of WHAT waited for the writer; let it go in any case.
writer_done() {
	echo go 1<>"$W/release"
	[ -f "$W/waited" ] || fail "$1: the metadata step did not wait for the VG's writer"
	rm -f "$W/waited" "$W/change"
}

# refused_change WHAT HOOK [writer]: cbt migrate, HOOK run at its steps, fails
# saying the VG changed (with "writer": after waiting for the VG's writer).
refused_change() {
	local rc=0 seq_before seq_after
	log "$1"
	seq_before=$(vgs --devices "${S}1" --noheadings -o vg_seqno mgc | tr -d ' ')
	CBT_MIGRATE_HOOK=$2 cbt migrate "$S" "$T" --cow "$COW" --state-dir "$W/state" --json \
		>"$W/out.json" 2>"$W/err" || rc=$?
	cat "$W/out.json" "$W/err"
	[ -z "${3:-}" ] || writer_done "$1"
	seq_after=$(vgs --devices "${S}1" --noheadings -o vg_seqno mgc | tr -d ' ')
	[ "$seq_after" -gt "$seq_before" ] || fail "$1: the hook did not change the VG"
	[ "$rc" -ne 0 ] || fail "$1: a migration during which the VG changed was accepted"
	assert_eq "$rc" 1 "$1: the exit status"
	grep -q '"result": "failed"' "$W/out.json" || fail "$1: the result is not \"failed\""
	grep -q "partition 1 (${S}1): the metadata of VG mgc changed during the migration (its sequence number went from $seq_before to $seq_after): the LVs were copied as they were before, so ${T}1 is not a usable copy and holds no PV (its label and metadata area are wiped); ${S}1 is untouched; run the same command again" \
		"$W/err" || fail "$1: the message does not say what changed and what the target is"
	no_pv_on_target "$1"
}

# raw_grown MIB MORE SUM: after a refused migration that extended raw by
# MORE MiB, its first MIB MiB on the source still have the md5 SUM; its new
# extents get data of their own, which the target must get (raw_sum: the
# md5 of all of raw now).
raw_grown() {
	assert_cmd lvchange -q -ay mgc/raw
	assert_eq "$(dd if=/dev/mapper/mgc-raw bs=1M count="$1" status=none | md5sum | cut -d' ' -f1)" \
		"$3" "raw's first $1 MiB on the source after the refused migration"
	assert_cmd dd if=/dev/urandom of=/dev/mapper/mgc-raw bs=1M seek="$1" count="$2" conv=fsync \
		status=none
	raw_sum=$(md5_of /dev/mapper/mgc-raw)
	assert_cmd lvchange -q -an mgc/raw
}

# stopped WHEN HOOK: cbt migrate, HOOK sending it SIGTERM WHEN, stops with
# exit status 1, says so, and leaves no PV on the target.
stopped() {
	local rc=0
	log "SIGTERM $1"
	CBT_MIGRATE_HOOK=$2 cbt migrate "$S" "$T" --cow "$COW" --state-dir "$W/state" --json \
		>"$W/int.json" 2>"$W/int.err" || rc=$?
	cat "$W/int.json" "$W/int.err"
	assert_eq "$rc" 1 "the exit status of the migration stopped $1"
	grep -q '"result": "interrupted"' "$W/int.json" ||
		fail "the run stopped $1 is not \"interrupted\""
	grep -q "interrupted by a signal (SIGINT, SIGTERM or SIGHUP) at partition 1 (${S}1): $S is untouched, $T incomplete" \
		"$W/int.err" || fail "the run stopped $1 does not say what happened"
	no_pv_on_target "the run stopped $1"
}

need_module dm_cbt
need_cmd cbt sfdisk e2fsck lvm pvcreate vgcreate lvcreate lvextend pvs vgs lvs vgchange blkid \
	flock mkfifo

rm -rf "$W" && mkdir -p "$W" "$DATA" "$WEB" /mnt/mc-t
lvm_setup
writer_setup

log "the source: GPT, one LVM PV; LVs data (tracked), web (mounted), raw (inactive)"
printf 'label: gpt\ntype=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="pv"\n' | sfdisk -q "$S" ||
	fail "sfdisk $S"
assert_cmd pvcreate -q -y "${S}1"
assert_cmd vgcreate -q -s 4M mgc "${S}1"
assert_cmd lvcreate -q -y -L 48M -n data mgc
assert_cmd lvcreate -q -y -L 12M -n web mgc
assert_cmd lvcreate -q -y -L 8M -n raw mgc
assert_cmd dd if=/dev/urandom of=/dev/mapper/mgc-raw bs=1M count=8 conv=fsync status=none
raw_head=$(md5_of /dev/mapper/mgc-raw)
assert_cmd lvchange -q -an mgc/raw
cbt_create mcdata /dev/mapper/mgc-data 128
assert_cmd mkfs.ext4 -q -F -L data /dev/mapper/mcdata
assert_cmd mkfs.ext4 -q -F -L web /dev/mapper/mgc-web
assert_cmd mount /dev/mapper/mcdata "$DATA"
assert_cmd mount /dev/mapper/mgc-web "$WEB"
# More than a pass keeps in flight (16 MiB), so a pass can stop in its middle.
assert_cmd dd if=/dev/urandom of="$DATA/bulk" bs=1M count=32 conv=fsync status=none
assert_cmd dd if=/dev/urandom of="$WEB/index" bs=64k count=32 conv=fsync status=none
data_sum=$(md5_of "$DATA/bulk")
web_sum=$(md5_of "$WEB/index")
cbt migrate "$S" "$T" --dry-run >"$W/plan" || fail "cbt migrate --dry-run"
cat "$W/plan"
for m in "LV data .* tracked .* mcdata" "LV web .* recheck .* $WEB" "LV raw .* copy .* inactive"; do
	grep -q "^ *$m" "$W/plan" || fail "the plan lacks \"$m\""
done

# shellcheck disable=SC2016 # the hook's $ expands when the tool runs it
refused_change "raw extended after web's copy, before raw's" \
	'[ "$CBT_MIGRATE_STEP" != "lv web" ] || lvextend -q -L +8M --devices '"${S}1"' mgc/raw'
raw_grown 8 8 "$raw_head"

# shellcheck disable=SC2016 # the hook's $ expands when the tool runs it
refused_change "an LV created once every LV is copied, before the metadata" \
	'[ "$CBT_MIGRATE_STEP" != metadata ] || lvcreate -q -y -L 8M -n new --devices '"${S}1"' mgc'
assert_cmd dd if=/dev/urandom of=/dev/mapper/mgc-new bs=1M count=8 conv=fsync status=none
new_sum=$(md5_of /dev/mapper/mgc-new)

cat >"$W/change" <<EOF
lvextend -q -L +4M --devices ${S}1 --config 'global { locking_dir = "/run/lock/lvm-writer" }' mgc/raw
EOF
refused_change "raw extended by the VG's writer, holding its lock, while the metadata step waits" \
	"sh $W/writer" writer
raw_grown 16 4 "$raw_sum"

# shellcheck disable=SC2016 # the hook's $ expands when the tool runs it
stopped "once every LV is copied, before the metadata" \
	'[ "$CBT_MIGRATE_STEP" != metadata ] || kill -TERM "$CBT_PID"'

log "SIGTERM once data's live clone has begun, then the same command again"
rm -rf "$W/state"
# The target partition holds data's earlier copies: zeroed, so that what a
# resumed run would skip shows.
sectors=$(cat "/sys/class/block/${T##*/}1/size")
assert_cmd dd if=/dev/zero of="${T}1" bs=1M count=$((sectors / 2048)) conv=fsync status=none
# shellcheck disable=SC2016 # the hook's $ expands when the tool runs it
stopped "once data's live clone has begun" \
	'case "$CBT_MIGRATE_STEP" in "clone "*-data) kill -TERM "$CBT_PID";; esac'
ls "$W"/state/clone-*data.json >/dev/null 2>&1 || fail "no clone state file for data"

log "SIGTERM inside data's resumed first pass, then the same command again"
# shellcheck disable=SC2016 # the hook's $ expands when the tool runs it
stopped "inside data's first pass" \
	'case "$CBT_MIGRATE_STEP" in "clone "*-data" pass 1 "*) echo "${CBT_MIGRATE_STEP##* }" >'"$W/mid"'; kill -TERM "$CBT_PID";; esac'
[ -s "$W/mid" ] || fail "the hook inside data's first pass did not run"
done_b=$(cut -d/ -f1 "$W/mid")
total_b=$(cut -d/ -f2 "$W/mid")
log "data's first pass stopped at $done_b of $total_b bytes"
[ "$done_b" -gt 0 ] || fail "nothing copied at the hook inside the pass"
[ "$done_b" -lt "$total_b" ] || fail "everything copied at the hook inside the pass"
state=$(ls "$W"/state/clone-*data.json)
cat "$state"
tr -d '\n ' <"$state" | grep -q '"full_done":false,"copied_upto":[1-9]' ||
	fail "data's state does not record a first pass stopped in its middle"

# The same command, while the VG's writer holds its lock at the metadata step.
rc=0
CBT_MIGRATE_HOOK="sh $W/writer" cbt migrate "$S" "$T" --cow "$COW" --state-dir "$W/state" \
	--json >"$W/done.json" || rc=$?
cat "$W/done.json"
assert_eq "$rc" 0 "the exit status of the resumed run"
writer_done "the resumed run"
grep -q '"result": "complete"' "$W/done.json" || fail "the second run did not complete"
grep -q '"again": true' "$W/done.json" || fail "the second run did not find its own table"
tr -d '\n' <"$W/done.json" | grep -q '"name": "data",[^}]*"method": "tracked",[^}]*"done": true,[^}]*"resumed": true' ||
	fail "data's clone did not resume"
# From where the stopped pass left it: not the whole first pass again.
resumed_b=$(tr -d '\n ' <"$W/done.json" | grep -o '"name":"data",[^}]*"bytes_copied":[0-9]*' |
	sed 's/.*://')
log "the resumed run copied $resumed_b bytes of data (its first pass: $total_b)"
[ "$resumed_b" -lt "$total_b" ] || fail "data's first pass was copied again from its start"
for m in '"name": "web",[^}]*"method": "recheck",[^}]*"done": true' \
	'"name": "raw",[^}]*"method": "copy",[^}]*"done": true' \
	'"name": "new",[^}]*"method": "copy",[^}]*"done": true'; do
	tr -d '\n' <"$W/done.json" | grep -q "$m" || fail "the complete run lacks $m"
done

log "the source VG stopped: the target alone holds it as it is now"
pvs --devices "${S}1" --noheadings -o pv_uuid,vg_uuid,pe_start --units b --nosuffix \
	"${S}1" >"$W/ids" || fail "pvs ${S}1"
layout "${S}1" >"$W/layout"
lvs --devices "${S}1" --noheadings -o lv_name,lv_uuid,lv_size --units b --nosuffix mgc |
	sort >"$W/lvs" || fail "lvs"
umount "$DATA" "$WEB"
dm_remove mcdata
assert_cmd vgchange -q -an --devices "${S}1" mgc
pvs --devices "${T}1" --noheadings -o pv_uuid,vg_uuid,pe_start --units b --nosuffix \
	"${T}1" >"$W/t.ids" || fail "pvs ${T}1"
cmp "$W/ids" "$W/t.ids" || fail "the target's PV and VG UUIDs, or its first extent"
layout "${T}1" >"$W/t.layout"
cat "$W/t.layout"
cmp "$W/layout" "$W/t.layout" || fail "the target's LVs are not on the source's extents"
lvs --devices "${T}1" --noheadings -o lv_name,lv_uuid,lv_size --units b --nosuffix mgc |
	sort >"$W/t.lvs" || fail "lvs"
cmp "$W/lvs" "$W/t.lvs" || fail "the target's LV names, UUIDs or sizes"
assert_cmd vgchange -q -ay --devices "${T}1" mgc
assert_eq "$(md5_of /dev/mapper/mgc-raw)" "$raw_sum" "raw, extended, on the target"
assert_eq "$(md5_of /dev/mapper/mgc-new)" "$new_sum" "the new LV on the target"
assert_cmd e2fsck -fn /dev/mapper/mgc-web
assert_cmd e2fsck -fn /dev/mapper/mgc-data
assert_cmd mount -o ro /dev/mapper/mgc-web /mnt/mc-t
assert_eq "$(md5_of /mnt/mc-t/index)" "$web_sum" "web's file on the target"
umount /mnt/mc-t
assert_cmd mount -o ro /dev/mapper/mgc-data /mnt/mc-t
assert_eq "$(md5_of /mnt/mc-t/bulk)" "$data_sum" "data's file on the target"
umount /mnt/mc-t
assert_cmd vgchange -q -an --devices "${T}1" mgc
pass
