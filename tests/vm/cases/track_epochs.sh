#!/bin/sh
# The epoch state machine seen from outside: close, commit in order, abort
# merges back, at most 3 closed, messages and netlink agree.
# disks: 32M
# cost: 7
# timeout: 180

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt

# write_block N: write 4 KiB at block N (4 KiB tracking blocks).

cbt_create c "$DISK1" 8
write_block 1
write_block 5
e1=$(cbt epoch close c)
assert_eq "$e1" 1 "first closed epoch"
write_block 2
e2=$(dmsetup message c 0 close_epoch)
assert_eq "$e2" 2 "closed by message"
write_block 3
e3=$(cbt epoch close c)
assert_eq "$e3" 3 "third closed epoch"
write_block 4

log "a fourth close is refused and changes nothing"
if cbt epoch close c; then fail "a fourth closed epoch was accepted"; fi
assert_eq "$(marked_blocks c --epoch 4)" "4 " "open epoch after refused close"

assert_eq "$(marked_blocks c --epoch 1)" "1 5 " "epoch 1"
assert_eq "$(marked_blocks c --epoch 2)" "2 " "epoch 2"
assert_eq "$(marked_blocks c --range 1..3)" "1 2 3 5 " "union of epochs 1-3"

log "commit out of order is refused"
if cbt epoch commit c 2; then fail "committing epoch 2 before 1 was accepted"; fi
assert_cmd cbt epoch commit c 1
if cbt bitmap c --epoch 1 >/dev/null 2>&1; then fail "committed epoch 1 still readable"; fi

log "abort merges epoch 3 into the open epoch"
assert_cmd cbt epoch abort c 3
assert_eq "$(marked_blocks c --epoch 4)" "3 4 " "open epoch after abort"
assert_cmd dmsetup message c 0 abort_epoch 2
assert_eq "$(marked_blocks c --epoch 4)" "2 3 4 " "open epoch after second abort"
if dmsetup message c 0 commit_epoch 9 2>/dev/null; then fail "commit of unknown epoch accepted"; fi

log "status line"
# shellcheck disable=SC2046 # the status line's words, split on purpose
set -- $(dmsetup status c)
# 0 len cbt uuid persistence epoch closed set/blocks bytes errors
assert_eq "$3 $5 $6 $7" "cbt none 4 0" "status: target, persistence, open epoch, closed"
assert_eq "${8%/*}" 3 "status: blocks set"
assert_cmd dmsetup remove c
pass
