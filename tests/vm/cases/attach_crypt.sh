#!/bin/sh
# `cbt attach' under a mounted dm-crypt device (a table made with dmsetup,
# key in the table): the hidden device gets the key from the kernel, data
# reads back the same through the tracked device, writes land in the
# bitmap (kept on a metadata device), and detach puts the table back key
# and all, and wipes the metadata so a later attach starts a new history;
# `detach --keep-metadata' keeps it, and the next attach continues the
# history when nothing was written in between (a new one when something was).
# disks: 64M 8M
# cost: 5
# timeout: 300

C=cbtcrypt
HID=$C-cbt-orig
KEY=$(printf '%064x%064x' 12345678 87654321)

cleanup() {
	unmount /mnt/c
	if dmsetup table "$C" 2>/dev/null | grep -q ' cbt '; then cbt detach "$C" >/dev/null 2>&1 || true; fi
	dm_remove "$HID" "$C"
}

need_module dm_cbt dm_crypt ecb xts dm_snapshot
need_cmd cbt
assert_cmd dmsetup create "$C" --uuid CRYPT-PLAIN-cbttest \
	--table "0 $(sectors "$DISK1") crypt aes-xts-plain64 $KEY 0 $DISK1 0"
ORIG=$(dmsetup table --showkeys "$C")
assert_cmd mkfs.ext4 -q -b 4096 "/dev/mapper/$C"
mkdir -p /mnt/c
assert_cmd mount "/dev/mapper/$C" /mnt/c
dd if=/dev/urandom of=/mnt/c/before bs=1M count=4 conv=fsync 2>/dev/null
sum=$(sha256sum </mnt/c/before)

assert_cmd cbt attach "$C" -b 4k --metadata "$DISK2"
cbt status "$C" --json | grep -q '"persistence": *"metadata"' || {
	cbt status "$C"
	fail "tracking is not on the metadata device"
}
assert_eq "$(dmsetup table --showkeys "$HID")" "$ORIG" "hidden device's table, key included"
dd if=/dev/urandom of=/mnt/c/after bs=4096 count=1 oflag=direct conv=fsync 2>/dev/null
blk=$(debugfs -R "bmap /after 0" "/dev/mapper/$C" 2>/dev/null)
cbt bitmap "$C" --blocks | awk -v b="$blk" '$1 <= b && b < $1 + $2 { f = 1 } END { exit !f }' ||
	fail "block $blk of /after is not in the bitmap"
echo 3 >/proc/sys/vm/drop_caches
assert_eq "$(sha256sum </mnt/c/before)" "$sum" "file written before the attach, read through it"

assert_cmd cbt detach "$C"
cmp -n 8192 "$DISK2" /dev/zero || fail "detach did not wipe the metadata superblocks"
assert_eq "$(dmsetup table --showkeys "$C")" "$ORIG" "table after detach, key included"
dmsetup info "$HID" >/dev/null 2>&1 && fail "$HID left behind"
echo 3 >/proc/sys/vm/drop_caches
assert_eq "$(sha256sum </mnt/c/before)" "$sum" "file after detach"
assert_cmd umount /mnt/c
assert_cmd e2fsck -fn "/dev/mapper/$C"

# attach ... then detach --keep-metadata; blocks past the filesystem's
# first MiB (its superblock) are written: the fingerprint stays valid.
log "detach --keep-metadata, nothing written until the next attach: the history continues"
assert_cmd cbt attach "$C" -b 4k --metadata "$DISK2"
assert_eq "$(status_json "$C" identity_reason)" new-metadata "identity reason after a wiped detach"
uuid=$(status_json "$C" uuid)
write_block 700 "/dev/mapper/$C"
assert_cmd cbt detach "$C" --keep-metadata
cmp -s -n 8192 "$DISK2" /dev/zero && fail "detach --keep-metadata wiped the metadata superblocks"
assert_eq "$(dmsetup table --showkeys "$C")" "$ORIG" "table after detach --keep-metadata"
assert_cmd cbt attach "$C" -b 4k --metadata "$DISK2"
assert_eq "$(status_json "$C" identity_reason)" continued "identity reason, nothing written while detached"
assert_eq "$(status_json "$C" uuid)" "$uuid" "identity, nothing written while detached"
assert_eq "$(cbt bitmap "$C" --blocks | tr '\n' ' ')" "700 1 " "changed blocks across the detach"

log "detach --keep-metadata, then a write: the next attach starts a new history"
assert_cmd cbt detach "$C" --keep-metadata
write_block 800 "/dev/mapper/$C"
assert_cmd cbt attach "$C" -b 4k --metadata "$DISK2"
assert_eq "$(status_json "$C" identity_reason)" table-replaced "identity reason, written while detached"
[ "$(status_json "$C" uuid)" != "$uuid" ] || fail "the identity continued over a write while detached"
assert_cmd cbt detach "$C"
assert_cmd dmsetup remove "$C"

log "a thin-like target with state of its own is refused: a snapshot-origin"
assert_cmd dmsetup create "$C" --table "0 $(sectors "$DISK1") snapshot-origin $DISK1"
if cbt attach "$C" 2>/tmp/err; then fail "attach accepted a snapshot-origin"; fi
cat /tmp/err
grep -q "uses the \`snapshot-origin' target" /tmp/err || fail "no clear refusal"
dmsetup info "$HID" >/dev/null 2>&1 && fail "$HID made for a refused target"
assert_cmd dmsetup remove "$C"
pass
