#!/bin/sh
# A take whose writes in flight never finish (the origin sits on a
# suspended device) gives up after the documented 30 s with ETIMEDOUT and
# changes nothing: no snapshot, no epoch closed, the held writes go down
# once the lower device resumes. While it waits, other dm_cbt requests
# (cbt status) are answered: the family does not hold genetlink's global
# lock.
# disks: 32M 16M
# cost: 34
# timeout: 150
# grace: 60

W=/tmp/bounded

cleanup() {
	unstick low "${TAKE:-}"
	dm_remove c-snap c low
}

need_module dm_cbt
need_cmd cbt stamp
rm -rf "$W" && mkdir -p "$W"
STUCK=
TAKE=

N=$(sectors "$DISK1")
assert_cmd dmsetup create low --table "0 $N linear $DISK1 0"
assert_cmd dmsetup create c --table "0 $N cbt /dev/mapper/low 8"
log "a write to c in flight, queued in the suspended low"
write_stuck c low

log "take: it holds writes and waits for the one in flight"
start=$(date +%s)
cbt snapshot take c --cow "$DISK2" --no-freeze >"$W/take.out" 2>&1 &
TAKE=$!
until take_waits "$TAKE"; do
	kill -0 "$TAKE" 2>/dev/null || fail "the take ended before waiting: $(cat "$W/take.out")"
done
log "while it waits, cbt status is answered"
assert_cmd cbt status c
take_waits "$TAKE" ||
	fail "the take no longer waits: cbt status was answered only after it (not concurrently)"

if wait "$TAKE"; then
	TAKE=
	fail "the take succeeded with a write stuck in flight: $(cat "$W/take.out")"
fi
TAKE=
took=$(($(date +%s) - start))
cat "$W/take.out"
grep -qi "timed out\|30 s" "$W/take.out" || fail "not refused for the time limit: $(cat "$W/take.out")"
{ [ "$took" -ge 29 ] && [ "$took" -le 60 ]; } || fail "the take gave up after ${took}s, not about 30 s"
cbt status c | grep -q "snapshot:" && fail "a snapshot is attached after the refused take"
assert_eq "$(cbt status c --json | sed -n 's/.*"current_epoch": \([0-9]*\).*/\1/p')" 1 "current epoch"

log "low resumes: the write completes"
assert_cmd dmsetup resume low
wait "$STUCK" || fail "the write failed"
STUCK=
assert_cmd cbt snapshot take c --cow "$DISK2" --no-freeze
assert_cmd cbt snapshot drop c
assert_cmd dmsetup remove c
assert_cmd dmsetup remove low
pass
