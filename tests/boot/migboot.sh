# Sourced by tests/boot/run (uses its W, KVER, R, U, TOOL, GEN, qemu_boot,
# check, result, say, val): issue 18, a whole disk migrated in use by `cbt
# migrate', each target then booted ALONE through its own bootloader.
#
#   source     a GPT disk image made on the host, no loop device: a BIOS
#              boot partition holding GRUB's core.img (grub-mkimage; its
#              embedded config finds /boot by filesystem UUID), GRUB's
#              boot.img in the MBR, an ESP (vfat, mtools) holding GRUB for
#              UEFI as EFI/BOOT/BOOTX64.EFI (the same embedded config),
#              /boot (ext4: this kernel, the lane's tracked initramfs,
#              grub/grub.cfg, which both GRUBs read) and
#              root (ext4, 1 KiB blocks, the lane's root with e2fsprogs,
#              UUID $U: the initramfs tracks it at boot)
#   migsrc     booted with -kernel from the source (roottest=migrate):
#              root on /dev/mapper/root, /boot mounted, a writer on root;
#              cbt migrate onto a disk twice the size, then onto a smaller
#              one that holds root's data
#   mig-big,   each target the only disk, no -kernel: the firmware --
#   mig-small  SeaBIOS for the larger target, which runs its MBR; OVMF
#              (UEFI) for the smaller, which runs its ESP's BOOTX64.EFI --
#              boots the target's GRUB, whose grub.cfg loads the kernel and
#              initramfs from the target's /boot (roottest=migcheck): the
#              kernel command line is GRUB's, root is tracked, mounted
#              read-only, its partition grown or shrunk by exactly the
#              disk's difference and its filesystem filling it, e2fsck
#              clean, every writer file synced before that migration began
#              there with the source's checksum
# Not for dracut (its initramfs boots the same root the same way: twice
# the time for nothing more about cbt migrate).
# shellcheck shell=bash

boot_part migboot || return 0
if [ -z "$TOOL" ] || [ "$GEN" = dracut ]; then
	return 0
fi
say "migboot: a disk migrated in use, each target booted by its own GRUB"
MB_START=$(date +%s)
M=$W/migboot
rm -rf "$M" && mkdir -p "$M/bootdir/grub"

# What cbt migrate runs on the guest's root, and what migcheck reads.
for f in e2fsck resize2fs dumpe2fs; do
	copy_elf "$R" "$(command -v "$f")" /usr/sbin
done
ldconfig -r "$R" 2>/dev/null || true
# dm-zero, for the shrink (the kernel loads it itself on a root that has
# its modules; this one has none), uncompressed for busybox insmod.
f=$(modinfo -k "$KVER" -F filename dm-zero)
mkdir -p "$R/lib/modules"
case "$f" in
*.xz) xz -dc "$f" >"$R/lib/modules/dm-zero.ko" ;;
*.zst) zstd -qdc "$f" >"$R/lib/modules/dm-zero.ko" ;;
*) cp "$f" "$R/lib/modules/dm-zero.ko" ;;
esac

# le VALUE BYTES: VALUE as BYTES raw little-endian bytes.
le() {
	local i
	for ((i = 0; i < $2; i++)); do
		# shellcheck disable=SC2059
		printf "\\$(printf %03o $((($1 >> (8 * i)) & 255)))"
	done
}
# grub_bios DISK LBA UUID: GRUB for BIOS on the disk image DISK, what
# grub-install --target=i386-pc does with grub-bios-setup (in the grub-pc
# package, not a test dependency: it installs the host's own bootloader):
# core.img, whose embedded config sets root to the filesystem
# UUID and the prefix to its /grub, written at sector LBA (the BIOS boot
# partition) with its first sector's block list naming the rest; boot.img
# in the MBR's first 440 bytes (the table stays) pointing at LBA.
grub_bios() {
	local disk=$1 lba=$2 n lib=/usr/lib/grub/i386-pc
	# shellcheck disable=SC2016
	printf 'search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)/grub\n' "$3" >"$M/early.cfg"
	grub-mkimage -O i386-pc -d "$lib" -o "$M/core.img" -c "$M/early.cfg" -p /grub \
		biosdisk part_gpt ext2 search search_fs_uuid normal linux echo serial terminal || return 1
	n=$((($(stat -c %s "$M/core.img") + 511) / 512))
	# diskboot.img's block list, at the end of its sector: start, length
	# and load segment (0x820, after its own sector at 0x800).
	{ le $((lba + 1)) 8; le $((n - 1)) 2; le $((0x820)) 2; } |
		dd of="$M/core.img" bs=1 seek=$((0x1f4)) conv=notrunc status=none
	cp "$lib/boot.img" "$M/boot.img"
	le "$lba" 8 | dd of="$M/boot.img" bs=1 seek=$((0x5c)) conv=notrunc status=none
	dd if="$M/core.img" of="$disk" bs=512 seek="$lba" conv=notrunc status=none &&
		dd if="$M/boot.img" of="$disk" bs=440 count=1 conv=notrunc status=none
}

# grub_efi DISK START: GRUB for UEFI as the removable-media loader
# EFI/BOOT/BOOTX64.EFI of the vfat filesystem at sector START of DISK,
# with grub_bios's embedded config (run after it).
grub_efi() {
	local esp=$1@@$(($2 * 512))
	grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi -o "$M/BOOTX64.EFI" -c "$M/early.cfg" \
		-p /grub part_gpt ext2 search search_fs_uuid normal linux echo serial terminal || return 1
	mmd -i "$esp" ::/EFI ::/EFI/BOOT && mcopy -i "$esp" "$M/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
}

BOOTU=0b0a1e57-0000-4000-8000-0000000000b8
cp "/boot/vmlinuz-$KVER" "$M/bootdir/vmlinuz"
cp "$W/tracked.img" "$M/bootdir/initrd.img"
cat >"$M/bootdir/grub/grub.cfg" <<CFG
set timeout=0
serial --unit=0 --speed=115200
terminal_output serial
echo "GRUB: /boot is \$root"
linux /vmlinuz root=UUID=$U console=ttyS0 panic=-1 no_timer_check quiet loglevel=4 roottest=migcheck
initrd /initrd.img
boot
CFG
# 192 MiB: BIOS boot 1 MiB at 1 MiB, ESP 8 MiB, /boot 96 MiB (6.12's
# kernel and initramfs take 56 MB, more than a 64 MiB ext4 holds), root
# the rest (86 MiB).
SRC=$M/src.disk
truncate -s 192M "$SRC"
st=0
# Every step ends in `|| exit 1`: in this command substitution, whose
# status `||` tests, bash ignores `set -e` (a /boot that did not fit
# went unnoticed so, and booted nothing).
out=$({
	sfdisk -q "$SRC" <<-'LAYOUT' || exit 1
		label: gpt
		start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, name="bios"
		size=8MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"
		size=96MiB, type=0FC63DAF-8483-4772-8E69-3D69DE4709E4, name="boot"
		type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="root"
	LAYOUT
	# part N FIELD: partition N's start or size, in sectors.
	part() { sfdisk -J "$SRC" | jq -r ".partitiontable.partitions[$(($1 - 1))].$2"; }
	mkfs.vfat -i 1A2B3C4D -n ESP --offset="$(part 2 start)" "$SRC" $(($(part 2 size) / 2)) >/dev/null ||
		exit 1
	mkfs.ext4 -q -F -L boot -U "$BOOTU" -d "$M/bootdir" -E offset=$(($(part 3 start) * 512)) \
		"$SRC" $(($(part 3 size) / 2))k || exit 1
	# 1 KiB blocks, one flex group: root's metadata at its start, its
	# data shrinkable away from the end.
	mkfs.ext4 -q -F -b 1024 -G 32 -L root -U "$U" -d "$R" -E offset=$(($(part 4 start) * 512)) \
		"$SRC" $(($(part 4 size) / 2))k || exit 1
	grub_bios "$SRC" "$(part 1 start)" "$BOOTU" || exit 1
	grub_efi "$SRC" "$(part 2 start)" || exit 1
	part 4 size >"$M/rootsize" || exit 1
} 2>&1) || st=1
result migsrc "a GPT source disk with GRUB, ESP, /boot and root, made on the host" "$st" "$out"
[ "$st" -eq 0 ] || return 0
truncate -s 384M "$M/big.disk"
truncate -s 176M "$M/small.disk"
truncate -s 64M "$M/cow.disk"

qemu_boot migsrc "$W/tracked.img" roottest=migrate "$SRC" "$M/big.disk" "$M/small.disk" "$M/cow.disk"
check migsrc "root mounted from /dev/mapper/root" '^ROOTTEST root: /dev/mapper/root$'
check migsrc "cbt migrate onto the larger disk" '^ROOTTEST migrate-vdb: rc=0$'
check migsrc "root grown" '^ROOTTEST migrate-vdb\| .*"resized": "grown with resize2fs"'
check migsrc "cbt migrate onto the smaller disk" '^ROOTTEST migrate-vdc: rc=0$'
check migsrc "root shrunk" '^ROOTTEST migrate-vdc\| .*"resized": "shrunk with resize2fs"'
check migsrc "clean power-off" '^ROOTTEST end$'
grep -a '^ROOTTEST mw: ' "$W/migsrc.log" | tr -d '\r' >"$M/src.sums" || true

# boot_target NAME DISK VD DELTA FW [QEMU...]: DISK, migsrc's VD, booted
# alone by its own bootloader, FW (bios, uefi) the firmware the guest must
# see (QEMU: qemu's options for one other than SeaBIOS); root's partition
# DELTA sectors off the source's; the writer files synced before that
# migration began as on the source.
boot_target() {
	local name=$1 disk=$2 vd=$3 delta=$4 fw=$5 synced want n miss=""
	shift 5
	synced=$(val migsrc "synced-$vd")
	# A target the migration did not finish holds no bootloader: its
	# firmware would wait for a bootable disk until the time cap.
	if [ "$(val migsrc "migrate-$vd")" != rc=0 ]; then
		result "$name" "booted by $fw firmware [not booted: cbt migrate onto $vd did not succeed]" 1 ""
		return 0
	fi
	QEMU_FIRMWARE=("$@")
	qemu_boot "$name" "" "" "$disk"
	# shellcheck disable=SC2034 # read by qemu_boot
	QEMU_FIRMWARE=()
	check "$name" "booted by $fw firmware" "^ROOTTEST firmware: $fw\$"
	check "$name" "GRUB from the disk loaded /boot's kernel" '^ROOTTEST cmdline: BOOT_IMAGE=/vmlinuz .*roottest=migcheck'
	check "$name" "root mounted from /dev/mapper/root (tracked)" '^ROOTTEST root: /dev/mapper/root$'
	check "$name" "root read-only" '^ROOTTEST rootopts: ro,'
	want=$(($(cat "$M/rootsize") + delta))
	check "$name" "root's partition is $want sectors" "^ROOTTEST rootpart: $want\$"
	check "$name" "root's filesystem fills it" "^ROOTTEST rootfs: $want\$"
	check "$name" "e2fsck -fn of root clean" '^ROOTTEST fsck: rc=0$'
	grep -a '^ROOTTEST mw: ' "$W/$name.log" | tr -d '\r' >"$M/$name.sums" || true
	[ "$synced" -gt 0 ] 2>/dev/null || miss="none synced before the migration"
	for n in $(seq 1 "${synced:-0}"); do
		grep -qx "ROOTTEST mw: [0-9a-f]*  $n" "$M/src.sums" || { miss="$miss $n(source)"; continue; }
		grep -qxF "$(grep -x "ROOTTEST mw: [0-9a-f]*  $n" "$M/src.sums")" "$M/$name.sums" || miss="$miss $n"
	done
	result "$name" "writer files 1..$synced there with the source's md5" "$([ -z "$miss" ]; echo $?)" \
		"missing or different:$miss"
	check "$name" "clean power-off" '^ROOTTEST end$'
}
boot_target mig-big "$M/big.disk" vdb $(((384 - 192) * 2048)) bios
# OVMF's variable store is written at boot: a copy.
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$M/vars.fd"
boot_target mig-small "$M/small.disk" vdc $(((176 - 192) * 2048)) uefi \
	-drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" \
	-drive "if=pflash,format=raw,file=$M/vars.fd"
say "migboot: $(($(date +%s) - MB_START))s wall-clock (three boots)"
