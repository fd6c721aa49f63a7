#!/bin/sh
# cbt clone: throughput of a clone of an idle device against dd of the
# same device onto the same target, in the same boot; then clones under a
# fio write load at LOAD_RATES, with the passes the clone took and the
# bytes it copied against the write rate.
# The source is a cbt device with a metadata disk (64 KiB blocks) over a
# 2 GiB disk filled with fio data, no filesystem (so no freeze); the
# target another 2 GiB disk; the COW store a third.
# Idle, ROUNDS rounds, configurations rotated each round: `dd` (dd
# if=<cbt device> of=<target> bs=1M iflag=direct oflag=direct conv=fsync:
# the same I/O size, O_DIRECT on both sides and final flush as cbt clone),
# `dd-snap` (the same from a snapshot of it, `cbt snapshot take
# --no-freeze`; only the dd is timed: what reading through the snapshot
# costs), `clone` (`cbt clone SRC TARGET --cow COW --json`, the whole
# process: one pass when nothing writes). Under load, LOAD_ROUNDS clones
# per rate, the rates in increasing order (a crash at the highest loses
# the least): fio 4 KiB random writes (O_DIRECT, libaio, iodepth 16,
# `--rate`) to the cbt device, started 2 s before `cbt clone` and stopped
# after it; the write rate reached is read from the device's /sys/block
# stat over the clone, and the p50/p99 latency of those writes from fio's
# latency log (the writes that completed while cbt clone ran), next to the
# same fio load on dm-linear over the same disk for LAT_SECS (no clone, no
# tracking: the baseline). Per clone, the final pass's downtime next to
# its copy time: the report's frozen/freeze_ns (no filesystem here, so no
# freeze) and hold_ns (the writes held while its snapshot was taken) per
# pass, and the worst latency of a write that completed in the final
# pass's window (its copy and FINAL_LEAD_MS before it). Each clone starts from scratch (fresh --state-dir,
# --force); their correctness is the VM cases' business (clone_*), so no
# --verify here.
# Results: BENCH lines; no pass/fail threshold.
# disks: 2G 2G 8M 512M
# timeout: 1200
# grace: 60

ROUNDS=3		# rounds of the idle comparison
LOAD_ROUNDS=2		# clones per write rate
LOAD_RATES="1m 4m 16m"	# fio --rate (bytes per second) of the 4 KiB random writes
LAT_SECS=8		# the dm-linear latency baseline per rate
CONFIGS="dd dd-snap clone"
BLOCK=65536		# tracking block size (128 sectors)
FINAL_LEAD_MS=1000	# the final pass's latency window starts this long before its copy

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

W=/tmp/bc

cleanup() {
	[ -f "$W/fio.pid" ] && kill "$(cat "$W/fio.pid")" 2>/dev/null
	[ -f "$W/fio.pid" ] && sleep 1
	rm -f "$W/fio.pid"
	cbt snapshot drop bc 2>/dev/null || true
	dm_remove bc bc-lin
}

need_module dm_cbt
need_cmd cbt fio

# jtop KEY FILE: a top-level number or string member of cbt's JSON output.
jtop() {
	sed -n "s/^  \"$1\": *\"*\([^\",]*\)\"*,*\$/\1/p" "$2" | head -n 1
}

# jpass KEY FILE: that member of every pass, comma-separated.
jpass() {
	sed -n "s/^      \"$1\": *\"*\([^\",]*\)\"*,*\$/\1/p" "$2" | paste -sd, -
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# wstat: sectors written and writes completed on the cbt device so far.
wstat() {
	awk '{ print $7, $5 }' "/sys/block/dm-$(dmsetup info -c --noheadings -o minor bc | tr -d ' ')/stat"
}

rm -rf "$W" && mkdir -p "$W"
log "filling the disks"
zero_disks "$DISK1" "$DISK2" "$DISK4"
S=$(sectors "$DISK1")
DEV_BYTES=$((S * 512))
assert_cmd dmsetup create bc --table "0 $S cbt $DISK1 $((BLOCK / 512)) 2 metadata $DISK3"
(cd /tmp && fio --eta=never --name=fill --filename=/dev/mapper/bc --rw=write --bs=1M --direct=1 \
	--buffer_compress_percentage=50 --refill_buffers --output=/dev/null) ||
	fail "fio could not fill the device"
assert_cmd cbt_reset bc
bench_out clone "configs=$(echo "$CONFIGS" | tr ' ' ,)" "rates=$(echo "$LOAD_RATES" | tr ' ' ,)" \
	reps=$ROUNDS load_reps=$LOAD_ROUNDS dev_bytes=$DEV_BYTES block=$BLOCK

# clone_run TAG [OPTION...]: one cbt clone from scratch onto DISK2; its
# JSON report in $W/TAG.json, wall time in $T_US.
clone_run() {
	local tag=$1 t0 t1 rc=0
	shift
	rm -rf "$W/state-$tag"
	mkdir -p "$W/state-$tag"
	t0=$(now_us)
	cbt clone bc "$DISK2" --cow "$DISK4" --json --force --state-dir "$W/state-$tag" "$@" \
		>"$W/$tag.json" 2>"$W/$tag.err" || rc=$?
	t1=$(now_us)
	T_US=$((t1 - t0))
	if [ "$rc" != 0 ] || [ "$(jtop result "$W/$tag.json")" != complete ]; then
		cat "$W/$tag.json" "$W/$tag.err"
		fail "cbt clone failed (exit $rc): $(tail -n 1 "$W/$tag.err")"
	fi
}

log "idle: $ROUNDS rounds of $CONFIGS"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	# shellcheck disable=SC2086 # the list of names, split on purpose
	for c in $(rotate $((r - 1)) $CONFIGS); do
		log "round $r: $c"
		drop_caches
		case "$c" in
		dd)
			t0=$(now_us)
			dd if=/dev/mapper/bc of="$DISK2" bs=1M iflag=direct oflag=direct conv=fsync 2>/dev/null ||
				fail "dd failed"
			t1=$(now_us)
			bench_out clone phase=idle "rep=$r" "cfg=$c" "time_us=$((t1 - t0))" "bytes=$DEV_BYTES"
			;;
		dd-snap)
			cbt snapshot take bc --cow "$DISK4" --no-freeze --json >"$W/take.json" ||
				fail "cbt snapshot take failed"
			t0=$(now_us)
			dd if=/dev/mapper/bc-snap of="$DISK2" bs=1M iflag=direct oflag=direct conv=fsync 2>/dev/null ||
				fail "dd failed"
			t1=$(now_us)
			cbt snapshot drop bc || fail "cbt snapshot drop failed"
			cbt epoch abort bc "$(sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' "$W/take.json")" ||
				fail "cbt epoch abort failed"
			bench_out clone phase=idle "rep=$r" "cfg=$c" "time_us=$((t1 - t0))" "bytes=$DEV_BYTES"
			;;
		clone)
			clone_run "idle$r"
			bench_out clone phase=idle "rep=$r" "cfg=$c" "time_us=$T_US" \
				"bytes=$(jtop bytes_copied "$W/idle$r.json")" \
				"passes=$(jpass pass "$W/idle$r.json" | awk -F, '{ print NF }')" \
				"copy_ms=$(jtop duration_ms "$W/idle$r.json")"
			;;
		esac
	done
	r=$((r + 1))
done

# load_fio DEV RATE LOG [FIO OPTION...]: the write load (4 KiB random
# writes at RATE), with a completion-latency log.
load_fio() {
	local dev=$1 rate=$2 lat=$3
	shift 3
	cd /tmp && exec fio --eta=never --name=load --filename="$dev" --rw=randwrite \
		--bs=4k --direct=1 --ioengine=libaio --iodepth=16 --rate="$rate" --randrepeat=0 \
		--norandommap --buffer_compress_percentage=50 --refill_buffers --output=/dev/null \
		--write_lat_log="$lat" --log_avg_msec=0 "$@"
}

log "under load: fio --rate $LOAD_RATES, $LOAD_ROUNDS clones each"
for rate in $LOAD_RATES; do
	# The baseline: the same load on dm-linear over the same disk.
	assert_cmd dmsetup create bc-lin --table "0 $S linear $DISK1 0"
	rm -f "$W"/lin_*.log
	(load_fio /dev/mapper/bc-lin "$rate" "$W/lin" --time_based --runtime="$LAT_SECS") ||
		fail "fio on dm-linear failed"
	dm_remove bc-lin
	# shellcheck disable=SC2046 # its words (numbers), split on purpose
	set -- $(lat_pcts "$W/lin_clat.1.log" 0 $((LAT_SECS * 1000)))
	bench_out clone phase=lat cfg=linear "rate=$rate" "p50_us=$1" "p99_us=$2" \
		"max_us=$(lat_max "$W/lin_clat.1.log" 0 $((LAT_SECS * 1000)))"
	r=1
	while [ "$r" -le "$LOAD_ROUNDS" ]; do
		log "fio 4 KiB random writes at $rate/s, clone $r"
		drop_caches
		rm -f "$W"/load_*.log
		# Unix times (ms) in the log: the windows below are then exact, not
		# shifted by fio's own start-up.
		load_fio /dev/mapper/bc "$rate" "$W/load" --time_based --runtime=3600 --log_unix_epoch=1 &
		echo $! >"$W/fio.pid"
		sleep 2
		# shellcheck disable=SC2046 # its words (numbers), split on purpose
		set -- $(wstat)
		s0=$1 n0=$2
		c0=$(now_us)
		clone_run "load-$rate-$r"
		# shellcheck disable=SC2046 # its words (numbers), split on purpose
		set -- $(wstat)
		s1=$1 n1=$2
		kill "$(cat "$W/fio.pid")"
		wait "$(cat "$W/fio.pid")" 2>/dev/null || true
		rm -f "$W/fio.pid"
		# fio writes its log as it exits (SIGTERM ends it cleanly)
		j=$W/load-$rate-$r.json
		# The final pass's window: its copy (the last duration_ms before
		# cbt clone returned) and FINAL_LEAD_MS before it, which holds its
		# snapshot's take (and the writes' hold) after the pass before.
		e=$(((c0 + T_US) / 1000))
		last_ms=$(jpass duration_ms "$j" | awk -F, '{ print $NF }')
		# shellcheck disable=SC2046 # its words (numbers), split on purpose
		set -- $(lat_pcts "$W/load_clat.1.log" $((c0 / 1000)) "$e")
		bench_out clone phase=lat cfg=clone "rate=$rate" "rep=$r" "p50_us=$1" "p99_us=$2" \
			"max_us=$(lat_max "$W/load_clat.1.log" $((c0 / 1000)) "$e")" \
			"final_max_us=$(lat_max "$W/load_clat.1.log" $((e - last_ms - FINAL_LEAD_MS)) "$e")" \
			"final_win_ms=$((last_ms + FINAL_LEAD_MS))"
		set -- "$s1" "$n1"
		bench_out clone phase=load "rep=$r" "rate=$rate" "time_us=$T_US" \
			"write_bytes=$((($1 - s0) * 512))" "write_ios=$(($2 - n0))" \
			"bytes=$(jtop bytes_copied "$j")" "copy_ms=$(jtop duration_ms "$j")" \
			"passes=$(jpass pass "$j" | awk -F, '{ print NF }')" \
			"pass_bytes=$(jpass bytes "$j")" "pass_ms=$(jpass duration_ms "$j")" \
			"cow_peak=$(jpass cow_peak_bytes "$j")" \
			"pass_frozen=$(jpass frozen "$j")" "pass_freeze_ns=$(jpass freeze_ns "$j")" \
			"pass_hold_ns=$(jpass hold_ns "$j")" \
			"final_reason=$(jtop final_reason "$j" | tr ' ' _)"
		r=$((r + 1))
	done
done
dmsetup status bc
pass
