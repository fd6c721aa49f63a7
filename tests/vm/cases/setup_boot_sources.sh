#!/bin/sh
# Review L5: cbt setup-boot names disks by what libblkid finds (UUID= for a
# filesystem), and a blank metadata disk, which has no UUID, by a
# /dev/disk/by-id link or, when there is none, by its path with a warning
# that the name may change; devices.conf is replaced whole, no temporary
# file is left.
# disks: 32M 16M
# cost: 10
# timeout: 120

need_cmd cbt mkfs.ext4 blkid

assert_cmd mkfs.ext4 -q "$DISK1"
uuid=$(blkid -o value -s UUID "$DISK1")
[ -n "$uuid" ] || fail "blkid found no UUID on $DISK1"
mkdir -p /tmp/sb
export CBT_CONF=/tmp/sb/devices.conf
cbt setup-boot "$DISK1" --name a --metadata "$DISK2" --no-initramfs >/tmp/sb.out 2>/tmp/sb.err ||
	fail "setup-boot failed: $(cat /tmp/sb.err)"
cat /tmp/sb.out /tmp/sb.err
line=$(grep '^a ' "$CBT_CONF") || fail "no line for a: $(cat "$CBT_CONF")"
case "$line" in
"a UUID=$uuid metadata=/dev/disk/by-id/"*) log "metadata by id" ;;
"a UUID=$uuid metadata=$DISK2")
	grep -q "warning: \`$DISK2' has no PARTUUID, UUID or /dev/disk/by-id name" /tmp/sb.err ||
		fail "a kernel name written without a warning: $(cat /tmp/sb.err)" ;;
*) fail "unexpected line: $line" ;;
esac
find /tmp/sb -name '*partial*' | grep -q . && fail "a temporary file was left: $(ls -a /tmp/sb)"
assert_cmd cbt setup-boot --remove a --no-initramfs
grep -q '^a ' "$CBT_CONF" && fail "the line is still there"
pass
