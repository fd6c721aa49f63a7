#!/bin/sh
# Growing a cbt device keeps every epoch and marks the new area (and the
# old, partial last block) changed; shrinking is refused and changes
# nothing. With and without a metadata device; a grown persistent device
# keeps its history across a reload.
# disks: 64M 8M
# cost: 5
# timeout: 240

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt

range() { awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++) printf "%d ", i }'; }

# 64 KiB blocks; the first table ends mid-block (block 99 is partial).
SMALL=$((100 * 128 - 64))
BIG=$((120 * 128))
for META in "" "2 metadata $DISK2"; do
	log "features: ${META:-none}"
	assert_cmd dmsetup create c --table "0 $SMALL cbt $DISK1 128 $META"
	uuid=$(dm_status_word c 4)
	dd if=/dev/urandom of=/dev/mapper/c bs=64k count=1 seek=5 oflag=direct 2>/dev/null
	assert_eq "$(cbt epoch close c)" 1 "closed epoch"
	dd if=/dev/urandom of=/dev/mapper/c bs=64k count=1 seek=7 oflag=direct 2>/dev/null

	log "shrinking is refused and the old table stays live"
	if dmsetup reload c --table "0 $((SMALL - 128)) cbt $DISK1 128 $META" 2>/dev/null; then
		fail "a smaller table was accepted"
	fi
	dmesg | tail -3 | grep -q "Shrinking a cbt device is not supported" || fail "no reason given for refusing to shrink"
	assert_eq "$(sectors /dev/mapper/c)" "$SMALL" "size after refused shrink"

	log "grow from $SMALL to $BIG sectors"
	assert_cmd dmsetup reload c --table "0 $BIG cbt $DISK1 128 $META"
	assert_cmd dmsetup resume c
	assert_eq "$(sectors /dev/mapper/c)" "$BIG" "size after grow"
	# shellcheck disable=SC2046 # the status line's words, split on purpose
	assert_eq "$(set -- $(dmsetup status c); echo "$4")" "$uuid" "identity after grow"
	assert_eq "$(marked_blocks c --epoch 1)" "5 " "closed epoch after grow"
	assert_eq "$(marked_blocks c --epoch 2)" "7 $(range 99 119)" "open epoch after grow"
	dd if=/dev/urandom of=/dev/mapper/c bs=64k count=1 seek=118 oflag=direct 2>/dev/null ||
		fail "write to the grown area failed"
	if [ -n "$META" ]; then
		log "the grown persistent device keeps its history across a reload"
		assert_cmd dmsetup remove c
		assert_cmd dmsetup create c --table "0 $BIG cbt $DISK1 128 $META"
		assert_eq "$(marked_blocks c --epoch 2)" "7 $(range 99 119)" "open epoch after reload"
		assert_eq "$(marked_blocks c --epoch 1)" "5 " "closed epoch after reload"
	fi
	assert_cmd dmsetup remove c
done
pass
