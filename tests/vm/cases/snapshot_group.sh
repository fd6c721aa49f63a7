#!/bin/sh
# Consistency groups: `cbt snapshot take a b' snapshots two devices at one
# instant. A writer writes pairs of identically stamped blocks, first on a,
# then (once that completed) on b, so at any instant the two devices agree
# on every block except the one pair being written. Five group snapshots
# under that writer must show exactly this: every pair equal, at most one
# where a is one write ahead, none where b is ahead. (Two separate takes,
# for comparison, show how far apart the devices drift without a group.)
# disks: 16M 16M 32M 32M
# cost: 16
# timeout: 300

W=/tmp/grp

cleanup() {
	bg_kill
	dm_remove a-snap b-snap a b
}

need_module dm_cbt
need_cmd cbt stamppair stampscan
rm -rf "$W" && mkdir -p "$W"

cbt_create a "$DISK1" 8
cbt_create b "$DISK2" 128

# pairs: compare a-snap with b-snap; prints the counts, fails on b ahead.
pairs() {
	stampscan /dev/mapper/a-snap >"$W/sa" || fail "reading a-snap failed"
	stampscan /dev/mapper/b-snap >"$W/sb" || fail "reading b-snap failed"
	awk -v OUT="$W/ahead" 'FILENAME == ARGV[1] { a[$1] = $2; next }
	{
		ga = a[$1]; gb = $2
		if (ga == "zero") ga = 0
		if (gb == "zero") gb = 0
		if (ga !~ /^[0-9]+$/ || gb !~ /^[0-9]+$/) { bad++; print "bad block at " $1 ": " a[$1] " / " $2; next }
		if (ga + 0 == gb + 0) same++
		else if (ga + 0 > gb + 0) ahead++
		else { behind++; print "b ahead of a at " $1 ": " ga " / " gb }
	}
	END { printf "pairs: %d equal, %d with a one write ahead, %d with b ahead, %d bad\n", same, ahead, behind, bad
	      print ahead + behind >OUT; exit (bad + behind) > 0 }' "$W/sa" "$W/sb"
}

bg_start pair stamppair /dev/mapper/a /dev/mapper/b -g 1 -r 7 >/dev/null
sleep 1

for r in 1 2 3 4 5; do
	out=$(cbt snapshot take a b --cow "$DISK3" "$DISK4" --no-freeze --json) ||
		fail "group take failed in round $r"
	ea=$(echo "$out" | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' | sed -n 1p)
	eb=$(echo "$out" | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' | sed -n 2p)
	log "round $r: group snapshot, epochs $ea and $eb, writes held $(echo "$out" | sed -n 's/.*"hold_ns": \([0-9]*\).*/\1/p') ns"
	bg_running pair || fail "the pair writer died"
	pairs || fail "round $r: the group snapshot is not one instant of both devices"
	[ "$(cat "$W/ahead")" -le 1 ] ||
		fail "round $r: $(cat "$W/ahead") pairs differ: more than the one in flight"
	assert_cmd cbt snapshot drop a
	assert_cmd cbt snapshot drop b
	assert_cmd cbt epoch commit a "$ea"
	assert_cmd cbt epoch commit b "$eb"
	sleep 1
done

log "for comparison: two separate takes while the writer runs"
assert_cmd cbt snapshot take a --cow "$DISK3" --no-freeze
sleep 0.2
assert_cmd cbt snapshot take b --cow "$DISK4" --no-freeze
pairs || true
log "separate takes: $(cat "$W/ahead") pairs differ (a group take allows at most 1, a ahead)"
bg_kill pair
assert_cmd cbt snapshot drop a
assert_cmd cbt snapshot drop b
assert_cmd dmsetup remove a
assert_cmd dmsetup remove b
pass
