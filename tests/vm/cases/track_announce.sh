#!/bin/sh
# Every load logs the line naming its identity's reason at its first resume
# (docs/target.md), a memory-only device too: once per load, not at a reload
# or a later resume of the same live device, and not before the first
# resume.
# disks: 32M
# timeout: 60
# cost: 5

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt

N=$(sectors "$DISK1")
TABLE="0 $N cbt $DISK1 8"

# announced UUID: the number of kernel log lines naming UUID memory-only.
announced() { dmesg | grep -c "new tracking identity $1 (memory-only)"; }

dmesg -c >/dev/null
assert_cmd dmsetup create c --notable
assert_cmd dmsetup load c --table "$TABLE"
assert_eq "$(dmesg | grep -c 'new tracking identity')" 0 "identity lines before the first resume"
assert_cmd dmsetup resume c
uuid=$(dm_status_word c 4)
assert_eq "$(dm_status_word c 11)" memory-only "identity reason"
assert_eq "$(announced "$uuid")" 1 "identity lines after the first resume"
log "a reload and a suspend/resume keep the identity and log nothing"
assert_cmd dmsetup reload c --table "$TABLE"
assert_cmd dmsetup resume c
assert_cmd dmsetup suspend c
assert_cmd dmsetup resume c
assert_eq "$(dm_status_word c 4)" "$uuid" "identity after the reload"
assert_eq "$(dmesg | grep -c 'new tracking identity')" 1 "identity lines after the reload"
log "a new load: a new identity, its own line"
assert_cmd dmsetup remove c
assert_cmd dmsetup create c --table "$TABLE"
uuid2=$(dm_status_word c 4)
[ "$uuid2" != "$uuid" ] || fail "a new load kept the identity $uuid"
assert_eq "$(announced "$uuid2")" 1 "identity lines of the second load"
pass
