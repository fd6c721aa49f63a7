# Sourced by tests/boot/run (uses its W, KVER, U, ROOTIMG, TOOL, extra_cpio,
# qemu_boot, check, result, and persist.sh's val, jv, rc_ok): a boot
# without the module between two tracked boots (issue 11, review H1). The
# initramfs's boot script marks the metadata stale; the next tracked boot
# starts a new identity with the reason untracked-boot, so the chain's
# next incremental is refused (exit 3) and --auto-full writes a full
# image. Steps ub1..ub3 of tests/boot/init.
# shellcheck shell=bash

boot_part untracked || return 0
if [ -z "$TOOL" ]; then
	return 0
fi
say "untracked: a boot without the module between two tracked ones"
UB=$W/untracked
rm -rf "$UB" && mkdir -p "$UB"
cp --sparse=always "$ROOTIMG" "$UB/root.disk"
truncate -s 1M "$UB/meta.disk"
truncate -s 128M "$UB/backups.disk"
mkfs.ext4 -q -F "$UB/backups.disk"
truncate -s 32M "$UB/cow.disk"
UDISKS=("$UB/root.disk" "$UB/meta.disk" "$UB/backups.disk" "$UB/cow.disk")
extra_cpio "$W/unomod.img" "root UUID=$U block-size=64k metadata=/dev/vdb" no

qemu_boot ub1 "$W/persist.img" roottest=ub1 "${UDISKS[@]}"
check ub1 "root on /dev/mapper/root with metadata" '^ROOTTEST root: /dev/mapper/root$'
rc_ok ub1 ufull "full backup of the tracked root"

qemu_boot ub2 "$W/unomod.img" roottest=ub2 "${UDISKS[@]}"
check ub2 "without the module: ${UNTRACKED_WHAT#boots }" "$UNTRACKED_ROOT"
check ub2 "the boot script marked the metadata stale" \
	'^ROOTTEST kmsg: .*cbt-boot: line 1: root is used untracked: marked the dm-cbt metadata on /dev/vdb stale'
check ub2 "written untracked" '^ROOTTEST untracked: untracked '

qemu_boot ub3 "$W/persist.img" roottest=ub3 "${UDISKS[@]}"
check ub3 "tracked again: root on /dev/mapper/root" '^ROOTTEST root: /dev/mapper/root$'
u1=$(jv ub1 end .uuid) u3=$(jv ub3 start .uuid) r3=$(jv ub3 start .identity_reason)
st=1
[ -n "$u1" ] && [ -n "$u3" ] && [ "$u1" != "$u3" ] && [ "$r3" = untracked-boot ] && st=0
result ub3 "a new identity, reason untracked-boot" "$st" "ub1: $(val ub1 end)" "ub3: $(val ub3 start)"
st=1
val ub3 uincr | grep '^rc=3 .*"code": 3.*"reason": "untracked-boot"' >/dev/null && st=0
result ub3 "the next incremental is refused: exit 3, JSON reason untracked-boot" "$st" "$(val ub3 uincr)"
rc_ok ub3 uauto "--auto-full writes a full image into the chain"
st=1
quote ub3 uauto | grep '"type": "full"' >/dev/null &&
	quote ub3 uauto | grep '"history_lost": "untracked-boot"' >/dev/null && st=0
result ub3 "that image is a full one, and says why" "$st" "$(quote ub3 uauto)"
