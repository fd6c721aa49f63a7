#!/bin/sh
# Snapshots are the origin at one instant, under a running write load.
# Three writers write stamped blocks (4 KiB and 64 KiB, random places) in
# their own regions and log each write once it completed. Six times, while
# they write: take a snapshot, read it back while they go on writing (so
# copy-on-write, reads of chunks being copied and later writes race), stop
# them, then check every block of the snapshot:
#   - a valid stamp (no torn, mixed or misplaced block);
#   - the generation of the last write completed before the take began, or
#     of one completed while it ran: never one the writers issued later;
#   - blocks not in the bitmap of the epochs after the snapshot's equal the
#     origin now (the snapshot and its bitmap agree exactly).
# disks: 32M 64M
# kernels: all
# timeout: 500

W=/tmp/pit
SNAP=/dev/mapper/c-snap

cleanup() {
	bg_stop
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt stamp stampscan

rm -rf "$W" && mkdir -p "$W"

# Regions: id block-size offset span (bytes).
REGIONS="1 4096 0 8388608
2 65536 8388608 16777216
3 4096 25165824 8388608"

log "every block starts as a generation-0 stamp"
echo "$REGIONS" | while read -r id bs off span; do
	stamp write "$DISK1" -b "$bs" -o "$off" -n $((span / bs)) -g 0 >/dev/null ||
		fail "cannot pre-fill region $id"
	: >"$W/log$id"
done
cbt_create c "$DISK1" 8

# writer ID BS OFF SPAN R: the R-th 8 writes of region ID in this ROUND, a
# new generation each time.
writer() {
	local g=$(($1 * 1000000 + ROUND * 10000 + $5))
	stamp write /dev/mapper/c -b "$2" -o "$3" -s "$4" -r "$g" -n 8 -g "$g" -l "$W/log$1" >/dev/null
}

# check ID BS OFF SPAN L0 L1: the snapshot's stamps against the log and the origin.
check_region() {
	local id=$1 bs=$2 off=$3 span=$4 l0=$5 l1=$6
	awk -v L0="$l0" -v L1="$l1" -v bs="$bs" -v tb=4096 -v ID="$id" -v DIFF="$W/differ$id" '
	FILENAME == ARGV[1] {
		n++
		if (n <= L0) last[$1] = $3
		else if (n <= L1 + 1) allow[$1] = allow[$1] " " $3
		next
	}
	FILENAME == ARGV[2] { for (b = $1; b < $1 + $2; b++) chg[b] = 1; next }
	FILENAME == ARGV[3] { orig[$1] = $2; next }
	{
		off = $1; g = $2; blocks++
		if (g !~ /^[0-9]+$/) { if (bad++ < 5) print "bad block at " off ": " g; next }
		base = (off in last) ? last[off] : 0
		ok = (g == base)
		if (!ok) { k = split(allow[off], a, " "); for (i = 1; i <= k; i++) if (a[i] == g) ok = 1 }
		if (!ok && bad++ < 5)
			print "not the instant at " off ": generation " g ", legal: " base allow[off]
		changed = 0
		for (b = off / tb; b < (off + bs) / tb; b++) if (b in chg) changed = 1
		if (orig[off] != g) { differ++; if (!changed && bad++ < 5)
			print "bitmap misses " off ": snapshot " g ", origin " orig[off] }
	}
	END { printf "region %s: %d blocks, %d differ from the origin now, %d bad\n", ID, blocks, differ, bad
		print differ + 0 >DIFF; exit bad > 0 }' "$W/log$id" "$W/changed" "$W/orig$id" "$W/snap$id"
}

echo 0 >"$W/total_differ"
for ROUND in 1 2 3 4 5 6; do
	log "round $ROUND: writers start"
	echo "$REGIONS" | while read -r id bs off span; do
		bg_loop "writer$id" 0 writer "$id" "$bs" "$off" "$span"
	done
	sleep 1
	echo "$REGIONS" | while read -r id bs off span; do wc -l <"$W/log$id" >"$W/l0.$id"; done
	cbt snapshot take c --cow "$DISK2" --no-freeze --json >"$W/take.json" ||
		fail "cbt snapshot take failed in round $ROUND"
	echo "$REGIONS" | while read -r id bs off span; do wc -l <"$W/log$id" >"$W/l1.$id"; done
	epoch=$(sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' "$W/take.json")
	log "took epoch $epoch: writes held $(sed -n 's/.*"hold_ns": \([0-9]*\).*/\1/p' "$W/take.json") ns"
	[ -n "$epoch" ] || fail "no epoch in: $(cat "$W/take.json")"

	log "reading the snapshot while the writers go on"
	echo "$REGIONS" | while read -r id bs off span; do
		stampscan "$SNAP" -b "$bs" -o "$off" -n $((span / bs)) >"$W/snap$id" ||
			fail "reading the snapshot failed: $(tail -1 "$W/snap$id")"
	done
	sleep 1
	bg_stop
	for id in $(echo "$REGIONS" | cut -d" " -f1); do bg_check "writer$id" "an origin write failed: writer $id"; done
	log "writers stopped: $(cat "$W"/log? | wc -l) writes logged in all"

	echo "$REGIONS" | while read -r id bs off span; do
		stampscan /dev/mapper/c -b "$bs" -o "$off" -n $((span / bs)) >"$W/orig$id" ||
			fail "reading the origin failed"
	done
	cbt bitmap c --epoch $((epoch + 1)) --blocks >"$W/changed" ||
		fail "cannot read the bitmap of epoch $((epoch + 1))"
	echo "$REGIONS" | while read -r id bs off span; do
		check_region "$id" "$bs" "$off" "$span" "$(cat "$W/l0.$id")" "$(cat "$W/l1.$id")" ||
			fail "round $ROUND: the snapshot of epoch $epoch is not the device at the instant"
		echo $(($(cat "$W/total_differ") + $(cat "$W/differ$id"))) >"$W/total_differ"
	done
	cbt status c | sed -n '/snapshot:/,$p'
	assert_cmd cbt snapshot drop c
	assert_cmd cbt epoch commit c "$epoch"
done
total_differ=$(cat "$W/total_differ")
[ "$total_differ" -gt 100 ] ||
	fail "only $total_differ blocks differed between snapshots and the origin: copy-on-write was hardly exercised"
log "$total_differ snapshot blocks were preserved by copy-on-write, all legal"
assert_cmd dmsetup remove c
pass
