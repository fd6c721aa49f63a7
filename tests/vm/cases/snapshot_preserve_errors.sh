#!/bin/sh
# The preserve set's and the release's netlink errors (docs/snapshot.md
# "Preserve set and release", include/uapi/linux/dm-cbt.h), over raw
# netlink where the cbt tool cannot send them: each with its errno and
# extack message, and the state unchanged after it (a take that fails
# after closing the epoch aborts it: its blocks stay in the open epoch,
# whose number moves on, and nothing is taken). Release: no snapshot,
# one not taken yet, attributes missing or of the wrong size, ranges past
# the end (also one whose end overflows), and a release twice (the second
# changes nothing).
# disks: 16M 8M
# cost: 6
# timeout: 120

cleanup() {
	dm_remove c-snap cow c
}

need_module dm_cbt
need_cmd cbt nlprobe

EINVAL=22 ENOENT=2
S=$(sectors "$DISK1")

# probe ERRNO MESSAGE CMD ATTR...: nlprobe must report that errno and, when
# MESSAGE is not empty, that extack message.
probe() {
	local want=$1 msg=$2
	shift 2
	nlprobe "$@" >/tmp/probe || fail "nlprobe could not ask the kernel: $*"
	grep -qx "errno=$want" /tmp/probe || fail "nlprobe $*: expected errno $want: $(cat /tmp/probe)"
	[ -z "$msg" ] || grep -qxF "msg=$msg" /tmp/probe ||
		fail "nlprobe $*: expected the message '$msg': $(cat /tmp/probe)"
	log "ok: nlprobe $* -> $(tr '\n' ' ' </tmp/probe)"
}

# CBT_CMD_SNAPSHOT 7, CBT_CMD_SNAP_RELEASE 8; CBT_A_DEVICES 36, CBT_A_DEVICE
# 37, CBT_A_DEV_NAME 1, CBT_A_SNAP_PRESERVE_FROM 43, CBT_A_RANGE_SECTOR 47,
# CBT_A_RANGE_SECTORS 48.
# take ERRNO MESSAGE PRESERVE-ATTR: a take of c with that attribute in its
# device nest.
take() { probe "$1" "$2" 7 36:nest 37:nest 1:str=c "$3" end end; }
# release ERRNO MESSAGE ATTR...
release() {
	local want=$1 msg=$2
	shift 2
	probe "$want" "$msg" 8 1:str=c "$@"
}

# state: c's open epoch, closed epochs and marked blocks, and the snapshot
# device's status (its state, chunks to read, released, forfeited).
state() {
	echo "open $(dm_status_word c 6) closed $(dm_status_word c 7) marked $(marked_blocks c)"
	if dmsetup info c-snap >/dev/null 2>&1; then
		dmsetup status c-snap
	fi
}

cbt_create c "$DISK1" 8
write_block 3
probe 0 "" 2 1:str=c                              # close epoch 1
probe 0 "" 3 1:str=c 13:u64=1                     # commit it
write_block 5

log "release without a snapshot device"
before=$(state)
release $ENOENT "No snapshot device attached" 47:u64=0 48:u64=8
assert_eq "$(state)" "$before" "state after a release without a snapshot"

assert_cmd dmsetup create cow --table "0 $(sectors "$DISK2") linear $DISK2 0"
assert_cmd dmsetup create c-snap --readonly --table "0 $S cbt-snap /dev/mapper/c /dev/mapper/cow 8"
log "release of a snapshot not taken yet"
before=$(state)
release $EINVAL "The snapshot is not active (not taken yet, or invalid)" 47:u64=0 48:u64=8
assert_eq "$(state)" "$before" "state after a release of a prepared snapshot"

log "takes with a bad preserve set: refused by the policy, nothing closed"
take 34 "integer out of range" 43:u64=0
assert_eq "$(state)" "$before" "state after a preserve set from epoch 0"
take $EINVAL "" 43:u32=2
assert_eq "$(state)" "$before" "state after a preserve epoch of 4 bytes"
take $EINVAL "" 43:raw=0200000000000000ff
assert_eq "$(state)" "$before" "state after a preserve epoch of 9 bytes"

# aborted OPEN: the state after a take that closed epoch OPEN and failed.
aborted() {
	echo "open $(($1 + 1)) closed 0 marked 5 "
	dmsetup status c-snap
}
n=$(dm_status_word c 6)
log "a preserve set from an epoch newer than the one the take closes ($n)"
take $EINVAL "The preserve epoch is newer than the epoch the take closes" 43:u64=$((n + 1))
assert_eq "$(state)" "$(aborted "$n")" "state after a preserve set newer than the take"
n=$(dm_status_word c 6)
log "a preserve set from a committed epoch (1)"
take $ENOENT "An epoch of the preserve set is not held (committed, or never)" 43:u64=1
assert_eq "$(state)" "$(aborted "$n")" "state after a preserve set from a committed epoch"
assert_eq "$(dm_status_word c-snap 4)" prepared "snapshot state after the refused takes"

n=$(dm_status_word c 6)
log "a take preserving epoch $n (block 5), then bad releases"
take 0 "" 43:u64="$n"
assert_eq "$(dm_status_word c-snap 4) $(dm_status_word c-snap 8)" "active 1" \
	"snapshot state and chunks to read after the take"
before=$(state)
release $EINVAL "" 47:u64=0
release $EINVAL "" 48:u64=8
release $EINVAL "" 47:u32=0 48:u64=8
release $EINVAL "" 47:u64=0 48:raw=0800
release $EINVAL "The range passes the end of the snapshot" 47:u64=$((S + 8)) 48:u64=0
release $EINVAL "The range passes the end of the snapshot" 47:u64=0 48:u64=$((S + 1))
release $EINVAL "The range passes the end of the snapshot" 47:u64=8 48:u64=18446744073709551615
assert_eq "$(state)" "$before" "state after the bad releases"

log "a release of chunk 5, twice: the second changes nothing"
release 0 "" 47:u64=40 48:u64=8
assert_eq "$(dm_status_word c-snap 8) $(dm_status_word c-snap 9)" "0 1" \
	"chunks to read and released after the release"
after=$(state)
release 0 "" 47:u64=40 48:u64=8
assert_eq "$(state)" "$after" "state after releasing chunk 5 again"
pass
