#!/bin/sh
# Takes of different devices do not wait for each other (issue 16): while
# a take of one device waits for a write in flight that cannot end (its
# origin sits on a suspended device), a group take of two other devices
# (one with metadata) completes, its snapshots hold exactly the data of
# the instant, a release and a drop of one of them and an epoch close of
# the other complete too, all while the first take still waits. Then the
# lower device resumes and the first take succeeds with the write that
# was in flight inside its snapshot. Before per-device claims, every one
# of these waited for the first take (up to its 30 s limit).
# disks: 32M 16M 16M 16M 2M
# cost: 15
# kernels: all
# timeout: 200
# grace: 60

W=/tmp/par

cleanup() {
	unstick low "${TAKE:-}"
	dm_remove a-snap b-snap c-snap a b c low b-o c-o b-w c-w b-m
}

need_module dm_cbt
need_cmd cbt stamp
rm -rf "$W" && mkdir -p "$W"
STUCK=
TAKE=

# a: on low (all of DISK1); b and c: halves of DISK3, COW halves of DISK4;
# b keeps its bitmaps on DISK5 (so its take writes metadata), c in memory.
N=$(sectors "$DISK1")
H=$(($(sectors "$DISK3") / 2))
assert_cmd dmsetup create low --table "0 $N linear $DISK1 0"
assert_cmd dmsetup create a --table "0 $N cbt /dev/mapper/low 8"
assert_cmd dmsetup create b-o --table "0 $H linear $DISK3 0"
assert_cmd dmsetup create c-o --table "0 $H linear $DISK3 $H"
assert_cmd dmsetup create b-w --table "0 $H linear $DISK4 0"
assert_cmd dmsetup create c-w --table "0 $H linear $DISK4 $H"
assert_cmd dmsetup create b-m --table "0 $(sectors "$DISK5") linear $DISK5 0"
assert_cmd dmsetup create b --table "0 $H cbt /dev/mapper/b-o 128 2 metadata /dev/mapper/b-m"
assert_cmd dmsetup create c --table "0 $H cbt /dev/mapper/c-o 8"
stamp write /dev/mapper/b -r 1 -n 64 -g 1 >/dev/null || fail "writing b failed"
stamp write /dev/mapper/c -r 2 -n 64 -g 1 >/dev/null || fail "writing c failed"
sum_b=$(sha256_of /dev/mapper/b)
sum_c=$(sha256_of /dev/mapper/c)

log "a write to a in flight, queued in the suspended low"
write_stuck a low

log "take of a: it holds a's writes and waits for the one in flight"
start=$(date +%s)
cbt snapshot take a --cow "$DISK2" --no-freeze >"$W/take.out" 2>&1 &
TAKE=$!
waiting() { take_waits "$TAKE"; }
until waiting; do
	kill -0 "$TAKE" 2>/dev/null || fail "the take of a ended before waiting: $(cat "$W/take.out")"
done

log "meanwhile: a group take of b and c, a release, a drop and an epoch close"
assert_cmd cbt snapshot take b c --cow /dev/mapper/b-w /dev/mapper/c-w --no-freeze
waiting || fail "the take of a no longer waits: the group take of b and c waited for it"
stamp write /dev/mapper/b -r 3 -n 64 -g 2 >/dev/null || fail "writing b after the take failed"
stamp write /dev/mapper/c -r 4 -n 64 -g 2 >/dev/null || fail "writing c after the take failed"
assert_eq "$(sha256_of /dev/mapper/b-snap)" "$sum_b" "b's snapshot"
assert_eq "$(sha256_of /dev/mapper/c-snap)" "$sum_c" "c's snapshot"
assert_cmd cbt snapshot release c 0 64K
assert_cmd cbt snapshot drop b
assert_cmd cbt epoch close c
waiting || fail "the take of a no longer waits: the requests on b and c waited for it"
log "all done $(($(date +%s) - start)) s after the take of a began, which still waits"

log "low resumes: the write ends, the take of a succeeds"
assert_cmd dmsetup resume low
wait "$STUCK" || fail "the write to a failed"
STUCK=
wait "$TAKE" || fail "the take of a failed: $(cat "$W/take.out")"
TAKE=
assert_eq "$(sha256_of /dev/mapper/a-snap)" "$(sha256_of /dev/mapper/a)" "a's snapshot (the write in flight is in)"
assert_cmd cbt snapshot drop a
assert_cmd cbt snapshot drop c
assert_cmd dmsetup remove a b c low b-o c-o b-w c-w b-m
pass
