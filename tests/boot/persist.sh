# Sourced by tests/boot/run (uses its W, KVER, U, ROOTIMG, TOOL, TOP,
# extra_cpio, qemu_boot, check, result): root tracked with a metadata disk
# across a clean reboot and a crash, and a clone of the mounted root that
# boots. What each boot does is tests/boot/init's `roottest=STEP'.
#
#   boot1      root on /dev/mapper/root, metadata on vdb: a full image
#              (--all-blocks) of root into a chain on the backups disk,
#              the snapshot checksummed by CBT_BACKUP_HOOK; more writes;
#              clean power-off (root remounted read-only, no dm teardown,
#              as on a real machine)
#   boot2      same identity, same open epoch, none of its changed blocks
#              lost; writes, an incremental (checksummed); then direct
#              writes to root cut short by a reset (sysrq b: no sync, no
#              unmount; what a power cut does to the guest)
#   boot3      after the crash: same identity and open epoch, its changed
#              blocks still set; an incremental (checksummed); then `cbt
#              clone' of the mounted root onto a blank disk, a marker
#              synced before, a writer running during it. The clone comes
#              after the chain's last image: it commits the epochs it
#              copies, and an incremental taken after it would miss them
#   host       the chain copied out of the backups disk (debugfs rdump, no
#              mount), `cbt verify', `cbt restore --at 1..3' into files:
#              each equals its snapshot's checksum, e2fsck-clean
#   clone      e2fsck -fn clean on the host; booted as the only disk, it
#              holds the marker and every writer file its log names
# shellcheck shell=bash

P=$W/persist
rm -rf "$P" && mkdir -p "$P"

# jv NAME KEY FILTER: jq FILTER on the JSON of that line ("" if none).
jv() { val "$1" "$2" | jq -r "$3" 2>/dev/null || true; }
# open_blocks NAME KEY: changed blocks of the open epoch in a status line.
open_blocks() { jv "$1" "$2" '.epochs[] | select(.state == "open") | .changed_blocks'; }
# quote NAME KEY: the tool's output lines of NAME's step KEY.
quote() { { grep -a "^ROOTTEST $2| " "$W/$1.log" || true; } | tr -d '\r' | tail -n 12; }
# rc_ok NAME KEY WHAT: step KEY of boot NAME exited 0.
rc_ok() {
	local st=0
	[ "$(val "$1" "$2")" = "rc=0" ] || st=1
	result "$1" "$3" "$st" "$(val "$1" "$2")" "$(quote "$1" "$2")"
}
# sum_of NAME KEY: the snapshot checksum a backup's hook printed.
sum_of() {
	local s
	s=$(val "$1" "$2-sum")
	[[ "$s" =~ ^[0-9a-f]{64}$ ]] && echo "$s"
	return 0
}
# hook_summed NAME KEY: the hook of NAME's backup KEY checksummed its snapshot.
hook_summed() {
	local st=1
	[ -n "$(sum_of "$1" "$2")" ] && st=0
	result "$1" "the backup hook checksummed the snapshot" "$st"
}
# same_history NAME KEY BEFORE_NAME BEFORE_KEY WHAT: the tracking state in
# NAME's KEY line continues the one in BEFORE's: identity, persistence
# `metadata', the same open epoch, at least the changed blocks it had.
same_history() {
	local u0 u1 e0 e1 b0 b1 p st=0
	u0=$(jv "$3" "$4" .uuid) u1=$(jv "$1" "$2" .uuid)
	e0=$(jv "$3" "$4" .current_epoch) e1=$(jv "$1" "$2" .current_epoch)
	b0=$(open_blocks "$3" "$4") b1=$(open_blocks "$1" "$2")
	p=$(jv "$1" "$2" .persistence)
	[ -n "$u0" ] && [ "$u0" = "$u1" ] && [ "$p" = metadata ] && [ -n "$e0" ] && [ "$e0" = "$e1" ] &&
		[ -n "$b0" ] && [ -n "$b1" ] && [ "$b0" -gt 0 ] && [ "$b1" -ge "$b0" ] || st=1
	result "$1" "$5" "$st" "$3 $4: $(val "$3" "$4")" "$1 $2: $(val "$1" "$2")"
}

if [ -z "$TOOL" ]; then
	result persist "the cbt tool builds (make -C tools)" 1 "$(tail -n 20 "$W/tool-build.log")"
	return 0
fi

# untracked.sh boots this initramfs too, with or without this part.
extra_cpio "$W/persist.img" "root UUID=$U block-size=64k metadata=/dev/vdb" yes
boot_part persist || return 0
say "persist: root with a metadata disk, backups across a clean reboot and a crash, a clone"
cp --sparse=always "$ROOTIMG" "$P/root.disk"
truncate -s 1M "$P/meta.disk"
truncate -s 128M "$P/backups.disk"
mkfs.ext4 -q -F "$P/backups.disk"
truncate -s 32M "$P/cow.disk"
truncate -s "$(stat -c %s "$ROOTIMG")" "$P/clone.disk"
DISKS=("$P/root.disk" "$P/meta.disk" "$P/backups.disk" "$P/cow.disk")

# check_cow NAME: no COW store was left showing a filesystem signature.
check_cow() {
	local st=0
	grep -a '^ROOTTEST cow: ' "$W/$1.log" | tr -d '\r' | grep 'signature' >/dev/null && st=1
	grep -aq '^ROOTTEST cow: clean' "$W/$1.log" || st=1
	result "$1" "the COW store shows no filesystem after its snapshots (blkid)" "$st"
}

qemu_boot boot1 "$W/persist.img" roottest=boot1 "${DISKS[@]}"
check boot1 "root on /dev/mapper/root, metadata on vdb" \
	'^ROOTTEST kmsg: .*cbt-boot: /dev/vda is /dev/mapper/root, tracked at 64 KiB blocks with metadata on /dev/vdb'
check boot1 "root mounted from /dev/mapper/root" '^ROOTTEST root: /dev/mapper/root$'
st=1
[ "$(jv boot1 start .persistence)" = metadata ] && st=0
result boot1 "tracking persistent (status: persistence metadata)" "$st" "$(val boot1 start)"
rc_ok boot1 full "full backup of the mounted root"
hook_summed boot1 full
check boot1 "clean power-off" '^ROOTTEST end$'
check_cow boot1

qemu_boot boot2 "$W/persist.img" roottest=boot2 "${DISKS[@]}"
check boot2 "root mounted from /dev/mapper/root again" '^ROOTTEST root: /dev/mapper/root$'
check boot2 "over vda" '^ROOTTEST kmsg: .*cbt-boot: /dev/vda is /dev/mapper/root, .*with metadata on /dev/vdb'
same_history boot2 start boot1 end "after the clean reboot: same identity and open epoch, no changed block lost"
rc_ok boot2 incr2 "incremental after the reboot"
hook_summed boot2 incr2
# The kernel's line: the console may lose the script's last one to the reset.
st=1
tr -d '\r' <"$W/boot2.log" | grep -E '^ROOTTEST crashing$|sysrq: Resetting' >/dev/null && st=0
result boot2 "reset mid-write (sysrq b)" "$st"

check_cow boot2
qemu_boot boot3 "$W/persist.img" roottest=boot3 "${DISKS[@]}" "$P/clone.disk"
check boot3 "root mounted from /dev/mapper/root after the crash" '^ROOTTEST root: /dev/mapper/root$'
check boot3 "over vda" '^ROOTTEST kmsg: .*cbt-boot: /dev/vda is /dev/mapper/root, .*with metadata on /dev/vdb'
same_history boot3 start boot2 precrash "after the crash: same identity and open epoch, no changed block lost"
rc_ok boot3 incr3 "incremental after the crash"
hook_summed boot3 incr3
rc_ok boot3 clone "cbt clone of the mounted root (--verify)"
check boot3 "clean power-off" '^ROOTTEST end$'
check_cow boot3

# The chain, on the host: out of the backups disk without mounting it.
rm -rf "$P/out" && mkdir -p "$P/out"
debugfs -R "rdump /chain $P/out" "$P/backups.disk" >"$P/rdump.log" 2>&1 || true
st=0
out=$("$TOOL" verify "$P/out/chain" 2>&1) || st=1
result host "cbt verify of the chain (full, incremental, incremental)" "$st" "$out"
n=0
for pt in "boot1 full" "boot2 incr2" "boot3 incr3"; do
	n=$((n + 1))
	read -r b k <<<"$pt"
	want=$(sum_of "$b" "$k")
	rm -f "$P/restore.img"
	st=0
	out=$("$TOOL" restore --quiet "$P/out/chain" --at "$n" "$P/restore.img" 2>&1) || st=1
	got=$(sha256sum "$P/restore.img" 2>/dev/null | cut -d' ' -f1) || true
	[ "$st" -eq 0 ] && [ -n "$want" ] && [ "$got" = "$want" ] || st=1
	result host "restore --at $n ($k) equals its snapshot ($b)" "$st" "$out" "snapshot $want" "restored ${got:-nothing}"
	st=0
	out=$(e2fsck -fn "$P/restore.img" 2>&1) || st=1
	result host "restore --at $n: e2fsck -fn clean" "$st" "$out"
done

# The clone: a clean filesystem, and a root that boots.
st=0
out=$(e2fsck -fn "$P/clone.disk" 2>&1) || st=1
result clone "the clone is e2fsck -fn clean" "$st" "$out"
qemu_boot cloneboot "$W/tracked.img" roottest=cloneboot "$P/clone.disk"
check cloneboot "the clone boots, root on /dev/mapper/root" '^ROOTTEST root: /dev/mapper/root$'
want=$(val boot3 clonemarker)
got=$(val cloneboot clonemarker)
st=1
[ -n "$want" ] && [ "$got" = "$want" ] && st=0
result cloneboot "it holds the marker synced before the clone" "$st" "boot3: $want" "clone: $got"
lo=$(val boot3 bg-before) hi=$(val boot3 bg-after) n=$(val cloneboot bg-log)
st=1
[[ "$lo" =~ ^[0-9]+$ && "$hi" =~ ^[0-9]+$ && "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge "$lo" ] && [ "$n" -le "$hi" ] &&
	[ "$(val cloneboot bg-bad)" = none ] && st=0
result cloneboot "the writer's files: every one its log names, synced ones before the clone included ($lo <= $n <= $hi)" \
	"$st" "bg-bad: $(val cloneboot bg-bad)"
check cloneboot "clean power-off" '^ROOTTEST end$'
