#!/bin/sh
# A snapshot take's latency, in a loop of take and drop: a cbt device with
# 4 KiB blocks and metadata (coarse marks, format version 3), 64 blocks
# written in scattered places of 16 regions before each take, so that each
# take's epoch close has a region generation to fold (fold_ms is raised
# so the fold worker never does it first). Per take: the tool's wall time
# (`cbt snapshot take', attach included) and the kernel's hold time
# (writes held, from the take's reply). ROUNDS takes, medians and p90s.
# disks: 256M 16M 64M
# timeout: 900
# grace: 60

ROUNDS=40

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

cleanup() {
	cbt snapshot drop t 2>/dev/null || true
	dm_remove t
}

need_module dm_cbt
need_cmd cbt stamp

S=$(sectors "$DISK1")
assert_cmd dmsetup create t --table "0 $S cbt $DISK1 8 2 metadata $DISK2"
echo 600000 >/sys/module/dm_cbt/parameters/fold_ms
: >/tmp/take.wall
: >/tmp/take.hold
i=0
while [ "$i" -lt "$ROUNDS" ]; do
	# 64 blocks, 4 in each of 16 regions (1 MiB apart), a new place each round.
	stamp write /dev/mapper/t -b 4096 -o $((i * 16384)) -n 4 -g "$i" >/dev/null ||
		fail "writing t failed"
	k=1
	while [ "$k" -lt 16 ]; do
		stamp write /dev/mapper/t -b 4096 -o $((k * 1048576 * 15 + i * 16384)) -n 4 -g "$i" \
			>/dev/null || fail "writing t failed"
		k=$((k + 1))
	done
	t0=$(now_us)
	cbt snapshot take t --cow "$DISK3" --no-freeze --json >/tmp/take.json ||
		fail "take $i failed: $(cat /tmp/take.json)"
	t1=$(now_us)
	echo $((t1 - t0)) >>/tmp/take.wall
	sed -n 's/.*"hold_ns": *\([0-9]*\).*/\1/p' /tmp/take.json >>/tmp/take.hold
	n=$(sed -n 's/.*"epoch": *\([0-9]*\).*/\1/p' /tmp/take.json)
	assert_cmd cbt snapshot drop t
	assert_cmd cbt epoch commit t "$n"
	i=$((i + 1))
done
echo 1000 >/sys/module/dm_cbt/parameters/fold_ms
[ "$(wc -l </tmp/take.hold)" -eq "$ROUNDS" ] || fail "hold_ns missing from the takes' replies"
p90() { sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.9 + 0.5); if (i < 1) i = 1; print v[i] }'; }
bench_out take rounds="$ROUNDS" \
	wall_ms_median="$(median </tmp/take.wall | awk '{ printf "%.1f", $1 / 1000 }')" \
	wall_ms_p90="$(p90 </tmp/take.wall | awk '{ printf "%.1f", $1 / 1000 }')" \
	hold_ms_median="$(median </tmp/take.hold | awk '{ printf "%.2f", $1 / 1e6 }')" \
	hold_ms_p90="$(p90 </tmp/take.hold | awk '{ printf "%.2f", $1 / 1e6 }')"
pass
