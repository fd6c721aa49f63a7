#!/bin/sh
# A daemon can follow devices without polling: cbt monitor prints each
# epoch close, commit and abort, with the device and the epoch.
# disks: 32M
# cost: 5
# timeout: 120

cleanup() {
	bg_kill
	dm_remove c
}

need_module dm_cbt
need_cmd cbt

cbt_create c "$DISK1" 8
bg_start mon cbt monitor --count 4 >/tmp/events 2>/tmp/monitor.err
monitor_ready mon /tmp/monitor.err || fail "cbt monitor exited: $(cat /tmp/monitor.err)"
assert_eq "$(cbt epoch close c)" 1 "closed"
assert_eq "$(cbt epoch close c)" 2 "closed"
assert_cmd cbt epoch commit c 1
assert_cmd cbt epoch abort c 2
bg_wait mon || fail "cbt monitor failed: $(cat /tmp/monitor.err)"
cat /tmp/events
assert_eq "$(awk '{ print $1, $2, $NF }' /tmp/events | tr '\n' ';')" \
	"epoch-closed c 1;epoch-closed c 2;epoch-committed c 1;epoch-aborted c 2;" "events"
assert_cmd dmsetup remove c
pass
