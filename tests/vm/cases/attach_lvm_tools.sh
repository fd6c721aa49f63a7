#!/bin/sh
# What LVM's own tools do to an LV that `cbt attach' tracks (observed and
# pinned here; docs/attach.md): lvs reports (with a warning); lvchange
# --refresh and lvextend reload LVM's own table, dropping the cbt layer and
# leaving the hidden device idle, which `cbt detach' or the next `cbt
# attach' removes; vgchange -an removes the LV and the hidden device.
# disks: 256M
# cost: 5
# timeout: 600

VG=cbtvgb
LV=$VG-lv0
HID=$LV-cbt-orig

cleanup() {
	unmount /mnt/lvtt
	if dmsetup table "$LV" 2>/dev/null | grep -q ' cbt '; then cbt detach "$LV" >/dev/null 2>&1 || true; fi
	dm_remove "$HID"
	vgremove -f -y "$VG" >/dev/null 2>&1 || true
	pvremove -y -ff "$DISK1" >/dev/null 2>&1 || true
}

need_module dm_cbt
need_cmd cbt lvm
lvm_setup
assert_cmd pvcreate -q "$DISK1"
assert_cmd vgcreate -q "$VG" "$DISK1"
assert_cmd lvcreate -q -y -Zn -W n -n lv0 -L 64M "$VG"
assert_cmd mkfs.ext4 -q "/dev/mapper/$LV"
mkdir -p /mnt/lvt
assert_cmd mount "/dev/mapper/$LV" /mnt/lvt
echo data >/mnt/lvt/f

tracked() { dmsetup table "$LV" | grep -q ' cbt '; }
hidden_idle() { dmsetup info -c --noheadings -o open "$HID" 2>/dev/null | grep -qx ' *0'; }
show() { log "table of $LV: $(dmsetup table "$LV" 2>&1); hidden: $(dmsetup table "$HID" 2>&1)"; }

assert_cmd cbt attach "$LV"
log "lvs reports, with a warning about the unknown cbt segment type; nothing changes"
assert_cmd lvs "$VG"
tracked || fail "lvs dropped tracking"

log "lvchange --refresh reloads LVM's own table: the cbt layer is gone, the hidden device idles"
assert_cmd lvchange --refresh "$VG/lv0"
show
tracked && fail "still tracked after lvchange --refresh (LVM behaviour changed? update docs/attach.md)"
hidden_idle || fail "the hidden device is not left idle after lvchange --refresh"
assert_cmd cbt detach "$LV"
dmsetup info "$HID" >/dev/null 2>&1 && fail "cbt detach left the idle hidden device"

log "lvextend does the same; a new attach removes the idle left-over itself"
assert_cmd cbt attach "$LV"
assert_cmd lvextend -q -L +16M "$VG/lv0"
show
tracked && fail "still tracked after lvextend"
assert_cmd cbt attach "$LV"
tracked || fail "not tracked after attach following lvextend"
assert_eq "$(sectors "/dev/mapper/$LV")" $((80 * 2048)) "size of the tracked LV after lvextend"
assert_cmd cat /mnt/lvt/f

log "deactivating the VG: refused while mounted; unmounted, LVM removes the LV and the hidden device"
rc=0
vgchange -an "$VG" || rc=$?
[ "$rc" -ne 0 ] || fail "vgchange -an succeeded on a mounted LV"
tracked || fail "vgchange -an on a mounted LV dropped tracking"
assert_cmd umount /mnt/lvt
assert_cmd vgchange -an "$VG"
dmsetup info "$LV" >/dev/null 2>&1 && fail "$LV still there after vgchange -an"
dmsetup info "$HID" >/dev/null 2>&1 && fail "$HID left behind by vgchange -an (its UUID has the LV's as prefix)"
log "ok: vgchange -an removed both"
pass
