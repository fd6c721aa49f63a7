#!/bin/sh
# The netlink interface is for CAP_SYS_ADMIN only, as the uapi header says
# and as dm ioctls require: an unprivileged user, or a process with
# CAP_NET_ADMIN alone, gets EPERM from `cbt status' and cannot subscribe to
# the events (it sees no epoch-closed event while root's monitor does). A
# process with CAP_SYS_ADMIN alone, and root, may do both.
# disks: 16M
# cost: 5
# timeout: 120

cleanup() {
	bg_kill
	dm_remove c
}

need_module dm_cbt
need_cmd cbt asuser

NOBODY=65534
CAP_NET_ADMIN=12
CAP_SYS_ADMIN=21

# monitor TAG [asuser args]: a `cbt monitor --count 1' in the background as
# TAG, its output in /tmp/TAG.out and .err; waits until it listens or exits.
monitor() {
	local tag=$1
	shift
	bg_start "$tag" "$@" cbt monitor --count 1 >"/tmp/$tag.out" 2>"/tmp/$tag.err"
	monitor_ready "$tag" "/tmp/$tag.err" || true
}

cbt_create c "$DISK1" 8

log "cbt status: refused for nobody and for CAP_NET_ADMIN alone"
for who in "" "-c $CAP_NET_ADMIN"; do
	# shellcheck disable=SC2086
	if out=$(asuser $who $NOBODY cbt status c 2>&1); then
		fail "cbt status as uid $NOBODY ${who:+with $who }worked: $out"
	fi
	echo "$out" | grep -q "Operation not permitted" ||
		fail "cbt status as uid $NOBODY ${who:+with $who }failed, but not with EPERM: $out"
done
assert_cmd asuser -c $CAP_SYS_ADMIN $NOBODY cbt status c
assert_cmd cbt status c

log "events: only root and CAP_SYS_ADMIN receive them"
monitor root
monitor sys asuser -c $CAP_SYS_ADMIN $NOBODY
monitor nobody asuser $NOBODY
monitor net asuser -c $CAP_NET_ADMIN $NOBODY
assert_eq "$(cbt epoch close c)" 1 "closed"
# The multicast reaches every member socket at once: once root's and
# CAP_SYS_ADMIN's monitors have theirs, any other joined socket has it too.
bg_wait root || fail "root's monitor failed: $(cat /tmp/root.err)"
bg_wait sys || fail "CAP_SYS_ADMIN's monitor failed: $(cat /tmp/sys.err)"
grep -q "epoch-closed c" /tmp/root.out || fail "root got no event: $(cat /tmp/root.out)"
grep -q "epoch-closed c" /tmp/sys.out || fail "CAP_SYS_ADMIN got no event"
for tag in nobody net; do
	# Joined (old kernels): it got its one event and exits; refused: it exited.
	bg_wait "$tag" || true
	cat "/tmp/$tag.err"
	grep -q "epoch-closed" "/tmp/$tag.out" && fail "$tag received an event: $(cat "/tmp/$tag.out")"
done
assert_cmd dmsetup remove c
pass
