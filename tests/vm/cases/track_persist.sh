#!/bin/sh
# With a metadata device, tracking survives a clean reboot: the same
# identity, the closed epoch with exactly its blocks, the open epoch with
# exactly its blocks. Metadata made for another block size starts a new
# identity instead of presenting a wrong bitmap.
# disks: 64M 8M
# boots: 2
# kernels: all
# timeout: 240

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt

TABLE="0 $(sectors "$DISK1") cbt $DISK1 8 2 metadata $DISK2"
uuid() { dm_status_word c 4; }
persistence() { dm_status_word c 5; }

assert_cmd dmsetup create c --table "$TABLE"
assert_eq "$(persistence)" metadata "persistence"
if [ "$PHASE" = 1 ]; then
	write_block 10
	write_block 11
	write_block 500
	assert_eq "$(cbt epoch close c)" 1 "closed epoch"
	write_block 20
	write_block 7000
	dd if=/dev/mapper/c of=/dev/null bs=1M count=8 iflag=direct 2>/dev/null
	uuid >"$STATE/uuid"
	vm_reboot
fi

assert_eq "$(uuid)" "$(cat "$STATE/uuid")" "identity after reboot"
assert_eq "$(marked_blocks c --epoch 1)" "10 11 500 " "closed epoch 1 after reboot"
assert_eq "$(marked_blocks c --epoch 2)" "20 7000 " "open epoch 2 after reboot"

log "commit, write, reload without reboot"
assert_cmd cbt epoch commit c 1
write_block 30
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "$TABLE"
assert_eq "$(uuid)" "$(cat "$STATE/uuid")" "identity after reload"
assert_eq "$(marked_blocks c)" "20 30 7000 " "all epochs held after commit and reload"
if cbt bitmap c --epoch 1 >/dev/null 2>&1; then fail "committed epoch 1 came back"; fi

log "abort survives a reload too"
assert_eq "$(cbt epoch close c)" 2 "closed epoch"
write_block 40
assert_cmd cbt epoch abort c 2
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "$TABLE"
assert_eq "$(marked_blocks c --epoch 3)" "20 30 40 7000 " "open epoch after abort and reload"
assert_cmd dmsetup remove c

log "another block size: new identity, never the old bitmap"
cbt_create c "$DISK1" 128 2 metadata "$DISK2"
[ "$(uuid)" != "$(cat "$STATE/uuid")" ] || fail "identity kept across a block size change"
assert_eq "$(marked_blocks c)" "" "bitmap under the new identity"
dmesg | grep "another device or block size: new identity" >/dev/null || fail "no warning about the new identity"
assert_cmd dmsetup remove c
pass
