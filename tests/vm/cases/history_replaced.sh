#!/bin/sh
# A cbt table replaced by another target (the shape of an LVM reload:
# `dmsetup reload c --table "... linear ..."`, resume) and loaded again
# later: history continues only when nothing was written through the other
# table; a write in between starts a new identity, reason table-replaced.
# The netlink attribute and the tracking-lost event carry the reason too.
# A snapshot taken before the replacement becomes invalid: its reads fail
# instead of returning data written after it.
# disks: 64M 8M 64M
# cost: 7
# timeout: 240

cleanup() {
	kill "${MON:-}" 2>/dev/null || true
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt

N=$(sectors "$DISK1")
CBT="0 $N cbt $DISK1 8 2 metadata $DISK2"
LINEAR="0 $N linear $DISK1 0"
uuid() { dm_status_word c 4; }
reason() { dm_status_word c 11; }
# The re-insert recipe of docs/target.md: no freeze on the resume.
swap() {
	assert_cmd dmsetup reload c --table "$1"
	assert_cmd dmsetup resume --nolockfs c
}

assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(reason)" new-metadata "reason on blank metadata"
cbt status c --json | grep -q '"identity_reason"' || log "cbt status --json has no identity_reason yet"
write_block 10
assert_eq "$(cbt epoch close c)" 1 "closed epoch"
write_block 11
old=$(uuid)
DM=dm-$(dmsetup info -c --noheadings -o minor c)
log "iostats of $DM: $(cat "/sys/block/$DM/queue/iostats"), stat: $(cat "/sys/block/$DM/stat")"

log "replaced by dm-linear, nothing written, cbt back"
swap "$LINEAR"
dmesg | tail -5 | grep -q "replaced by another target" || fail "no warning about the replaced table"
swap "$CBT"
assert_eq "$(uuid)" "$old" "identity after an idle replacement"
assert_eq "$(reason)" continued "reason after an idle replacement"
assert_eq "$(marked_blocks c --epoch 1)" "10 " "closed epoch after an idle replacement"
assert_eq "$(marked_blocks c --epoch 2)" "11 " "open epoch after an idle replacement"

log "replaced by dm-linear, one block written through it, cbt back"
cbt monitor >/tmp/events 2>&1 &
MON=$!
swap "$LINEAR"
write_block 20
swap "$CBT"
new=$(uuid)
[ "$new" != "$old" ] || fail "identity kept although block 20 was written untracked"
assert_eq "$(reason)" table-replaced "reason after a write through the other table"
assert_eq "$(marked_blocks c)" "" "bitmap of the new identity"
assert_eq "$(dm_status_word c 6) $(dm_status_word c 7)" "1 0" "open epoch and closed epochs of the new identity"
if cbt bitmap c --epoch 2 >/dev/null 2>&1; then fail "the old open epoch survived"; fi
dmesg | tail -5 | grep -q "history lost, new tracking identity $new (table-replaced)" ||
	fail "no warning naming the reason"
i=0
until grep -q "tracking-lost" /tmp/events; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "no tracking-lost event: $(cat /tmp/events)"
	sleep 0.1
done
kill "$MON"

log "a snapshot becomes invalid when its table is replaced"
assert_cmd cbt snapshot take c --cow "$DISK3" --no-freeze
dd if=/dev/mapper/c-snap of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null ||
	fail "the snapshot cannot be read before the replacement"
swap "$LINEAR"
dmesg | tail -5 | grep -q "snapshot of epoch .* invalid (-19)" || fail "no message about the invalid snapshot"
if dd if=/dev/mapper/c-snap of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then
	fail "the snapshot is still readable after its table was replaced"
fi
assert_cmd dmsetup remove c-snap
swap "$CBT"
new=$(uuid)

log "the new identity persists: remove and create again"
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(uuid)" "$new" "identity after a clean remove"
assert_eq "$(reason)" continued "reason after a clean remove"

log "a removal is no replacement: the fingerprint judges a linear device in between"
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "$LINEAR"
write_block 4000
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(uuid) $(reason)" "$new continued" "after a write outside the fingerprint (the documented limit)"
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "$LINEAR"
write_block 30
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(reason)" origin-changed "reason after a write to the first MiB"
assert_cmd dmsetup remove c
pass
