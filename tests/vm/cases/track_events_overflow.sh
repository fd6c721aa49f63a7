#!/bin/sh
# Review M6: when events come faster than cbt monitor reads them, the
# kernel drops some and the socket reports ENOBUFS. The monitor says
# "events-lost", prints each device's state (its current epoch) and goes
# on with the events after that; it used to exit.
# disks: 32M
# cost: 25
# timeout: 240

cleanup() {
	# a stopped monitor takes SIGTERM only once continued
	if bg_running mon; then kill -CONT "$(bg_pid mon)" || true; fi
	bg_kill mon
	[ -n "${RMEM:-}" ] && echo "$RMEM" >/proc/sys/net/core/rmem_default
	dm_remove c
}

need_module dm_cbt
need_cmd cbt

cbt_create c "$DISK1" 8
# A small receive buffer for the monitor's socket: a few events fill it.
RMEM=$(cat /proc/sys/net/core/rmem_default)
echo 4096 >/proc/sys/net/core/rmem_default
bg_start mon cbt monitor >/tmp/events 2>/tmp/monitor.err
monitor_ready mon /tmp/monitor.err || fail "cbt monitor exited: $(cat /tmp/monitor.err)"
echo "$RMEM" >/proc/sys/net/core/rmem_default
RMEM=

# Stopped, it reads nothing while 200 events are sent.
kill -STOP "$(bg_pid mon)"
i=1
while [ "$i" -le 100 ]; do
	n=$(cbt epoch close c) || fail "epoch close failed"
	cbt epoch abort c "$n" || fail "epoch abort failed"
	i=$((i + 1))
done
kill -CONT "$(bg_pid mon)"
# One more event after the overflow: the monitor must still be there for it.
last=$(cbt epoch close c) || fail "epoch close failed"
tries=0
until grep -q "^epoch-closed c .* epoch $last\$" /tmp/events; do
	bg_running mon || fail "cbt monitor exited: $(cat /tmp/monitor.err)"
	tries=$((tries + 1))
	[ "$tries" -lt 200000 ] || fail "the event for epoch $last never came: $(tail -5 /tmp/events)"
done
bg_kill mon
grep -q '^events-lost$' /tmp/events || fail "no events-lost line: $(head -5 /tmp/events)"
state=$(grep '^state c ' /tmp/events | head -1)
[ -n "$state" ] || fail "no state line for c after events-lost"
log "after the overflow: $state"
# The state line comes after events-lost, and says the epoch open then.
awk '/^events-lost$/ { lost = NR } /^state c / && lost && NR > lost { ok = 1 } END { exit !ok }' \
	/tmp/events || fail "the state line does not follow events-lost"
echo "$state" | grep -qE ' epoch [0-9]+$' || fail "the state line has no epoch: $state"
assert_cmd cbt epoch abort c "$last"
assert_cmd dmsetup remove c
pass
