#!/bin/sh
# A group snapshot whose members are stacked (b's origin is a) completes
# under a write load on b, whichever order the members are named in: the
# kernel holds, drains and closes the upper device before the lower one,
# so b's writes in flight are never stuck behind a's held writes. b keeps
# its metadata on a slow device (dm-delay, 300 ms per write), so its first
# writes to a block wait for a commit, in flight, before they reach a: a
# take that held a first would wait for them forever. Each snapshot of b
# reads back as whole, valid stamps.
# disks: 32M 32M 32M 8M
# cost: 58
# timeout: 200

W=/tmp/stacked

cleanup() {
	bg_stop
	dm_remove b-snap a-snap b a slowmeta
}

need_module dm_cbt dm_delay
need_cmd cbt stamp stampscan
rm -rf "$W" && mkdir -p "$W"

N=$(sectors "$DISK1")
assert_cmd stamp write "$DISK1" -b 4096 -n $((N / 8)) -g 1
assert_cmd dmsetup create a --table "0 $N cbt $DISK1 8"
M=$(sectors "$DISK4")
assert_cmd dmsetup create slowmeta --table "0 $M delay $DISK4 0 0 $DISK4 0 300"
assert_cmd dmsetup create b --table "0 $N cbt /dev/mapper/a 8 2 metadata /dev/mapper/slowmeta"

# writer ROUND: 16 stamped blocks on b, generation (and seed) 100 + ROUND.
writer() {
	stamp write /dev/mapper/b -b 4096 -s $((N * 512)) -r $((100 + $1)) -n 16 -g $((100 + $1)) >/dev/null
}
bg_loop writer 0 writer

for round in 1 2 3 4; do
	if [ $((round % 2)) = 1 ]; then order="a b"; cows="$DISK2 $DISK3"
	else order="b a"; cows="$DISK3 $DISK2"; fi
	log "round $round: cbt snapshot take $order under writes to b"
	# shellcheck disable=SC2086
	cbt snapshot take $order --cow $cows --no-freeze >"$W/take" 2>&1 ||
		fail "group take of $order failed: $(cat "$W/take")"
	bg_check writer "the writer failed"
	bad=$(stampscan /dev/mapper/b-snap | grep -vc " [0-9][0-9]*$" || true)
	assert_eq "$bad" 0 "blocks of b-snap that are not whole stamps"
	assert_cmd cbt snapshot drop a
	assert_cmd cbt snapshot drop b
	assert_cmd cbt epoch commit a "$round"
	assert_cmd cbt epoch commit b "$round"
done
bg_stop writer
bg_check writer "the writer failed"
assert_cmd dmsetup remove b
assert_cmd dmsetup remove a
pass
