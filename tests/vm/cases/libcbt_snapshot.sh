#!/bin/sh
# libcbt's snapshot and event promises (docs/libcbt.md, "Lifetimes",
# "Threads"), through <cbt/cbt.h> only (helper libcbtsnap): a process that
# dies with a snapshot leaves it and its closed epoch; cbt_snapshot_find()
# gives the snapshot back to drop and cbt_device_status() lists the epoch
# to abort, whose blocks then go into the open epoch. With a live handle a
# second take and a find are -EBUSY and nothing else is attached;
# cbt_snapshot_release() leaves the snapshot device in place for another
# process to find and drop. Two event handles each get the epoch-closed
# event.
# disks: 16M 16M 16M
# cost: 8
# timeout: 180

cleanup() {
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt libcbtsnap

cbt_create c "$DISK1" 8
write_block 1
write_block 9

log "a process that dies with its snapshot"
e=$(libcbtsnap die c "$DISK2") || fail "libcbtsnap die: $e"
[ -b /dev/mapper/c-snap ] || fail "the dead process's snapshot is not there"
assert_eq "$(closed_epochs c)" "$e" "its epoch stays closed"
out=$(libcbtsnap find c) || fail "$out"
assert_eq "$out" "$e /dev/mapper/c-snap" "find gives back the snapshot and its epoch"
[ ! -e /dev/mapper/c-snap ] || fail "the snapshot is still there after the drop"
assert_eq "$(closed_epochs c)" "" "the epoch the status listed was aborted"
assert_eq "$(marked_blocks c)" "1 9 " "the aborted epoch's blocks are in the open epoch"

log "a live handle: a second take and a find are EBUSY; released, the snapshot stays"
out=$(libcbtsnap busy c "$DISK2" "$DISK3") || fail "$out"
e2=$(status_json c current_epoch)
assert_eq "$out" "$((e2 - 1)) /dev/mapper/c-snap" "the released snapshot was found and dropped"
[ ! -e /dev/mapper/c-snap ] || fail "the snapshot is still there after the drop"
dmsetup ls | grep -q "c-snap" && fail "a second snapshot was attached: $(dmsetup ls)"
assert_eq "$(closed_epochs c)" "" "no epoch is left closed"

log "events: every handle gets every event"
out=$(libcbtsnap events c) || fail "$out"
assert_eq "$out" "$e2" "the epoch closed was the open one"
assert_eq "$(closed_epochs c)" "" "no epoch is left closed"
pass
