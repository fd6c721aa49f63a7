#!/bin/sh
# Metadata of format version 1 (written by the module before version 2)
# loads as a new identity, reason unverified: it kept no evidence of what
# happened while detached. Metadata of a newer format (a module downgrade)
# is refused and left exactly as it is.
# disks: 64M 8M
# cost: 5
# timeout: 120

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt cbtsb md5sum

N=$(sectors "$DISK1")
CBT="0 $N cbt $DISK1 8 2 metadata $DISK2"

assert_cmd dmsetup create c --table "$CBT"
dd if=/dev/urandom of=/dev/mapper/c bs=4096 count=1 seek=4000 oflag=direct 2>/dev/null
assert_eq "$(cbt epoch close c)" 1 "closed epoch"
old=$(dm_status_word c 4)
assert_cmd dmsetup remove c

log "the same superblocks as version 1"
assert_cmd cbtsb "$DISK2" 1
assert_cmd dmsetup create c --table "$CBT"
new=$(dm_status_word c 4)
[ "$new" != "$old" ] || fail "identity kept over version 1 metadata"
assert_eq "$(dm_status_word c 11)" unverified "reason over version 1 metadata"
assert_eq "$(dm_status_word c 6) $(dm_status_word c 7)" "1 0" "open epoch and closed epochs of the new identity"
dmesg | tail -5 | grep -q "(unverified)" || fail "no warning naming the reason"
assert_cmd dmsetup remove c

log "a newer format is refused and not touched"
assert_cmd cbtsb "$DISK2" 4
sum=$(md5sum <"$DISK2")
if dmsetup create c --table "$CBT" 2>/dev/null; then fail "metadata of a newer format was accepted"; fi
dmesg | tail -3 | grep -q "newer dm-cbt format" || fail "no reason given for the refusal"
assert_eq "$(md5sum <"$DISK2")" "$sum" "metadata after the refusal"
dm_remove c

log "back to version 3, it loads as it was"
assert_cmd cbtsb "$DISK2" 3
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(dm_status_word c 4) $(dm_status_word c 11)" "$new continued" "identity after the refusal"
assert_cmd dmsetup remove c
pass
