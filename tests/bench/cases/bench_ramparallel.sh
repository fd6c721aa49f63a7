#!/bin/sh
# bench_parallel with every device in memory (issue 16's 17th-device goal,
# meant for `tests/bench/run --icount ramparallel`): 16 cbt devices (8 MiB
# slices of a memory-backed null_blk device, metadata slices of it, 64 KiB
# blocks), a full image each into chains on a tmpfs, COW stores on slices
# of the same null_blk device; a 17th cbt device (data and metadata on a
# second memory-backed null_blk device) takes fio 4 KiB random writes at
# 1 MiB/s (every completion logged) from start to end (RP_IODEPTH: fio's
# iodepth, default 4 as in bench_parallel; with a device that completes
# inline, a late writer's catch-up batch then shows in the latencies:
# tests/bench/README.md, "In memory, on the instruction clock"). No
# virtio disk is touched after boot (the guest runs from its initramfs),
# so on the instruction clock what is measured is the guest's own CPU,
# its scheduler and dm-cbt, not the host's disks.
#
# RP_ROUNDS rounds (default 3), each of the phases in RP_PHASES (default
# quiet:par:idle:serial; ":" as VM_GUEST_ENV cannot carry spaces), in an
# order rotated by round: before each but
# quiet, CHANGE% of every backed-up device's blocks change; before each the
# guest settles RP_SETTLE s (default 3: fingerprint re-reads and commits a
# second after writes pause); then the phase:
#   quiet   RP_QUIET s (default 5) with no backup: the baseline;
#   par     16 `cbt backup --incremental` at once, default priority;
#   idle    the same with `cbt backup --idle` (SCHED_IDLE once taken);
#   serial  the 16 one after another, default priority;
#   wholeidle  (not by default) the 16 at once, each whole process under
#           SCHED_IDLE from its start (`chrt --idle`);
#   nice    (not by default) the 16 at once at nice 10, as the scheduled
#           jobs' unit (cbt-job@.service) runs them.
# Per phase a "BENCH ramparallel" line: its length, bytes read, the 17th
# device's write count and p50/p99/p99.9/max latency in ns (fio's total
# latency, submission to completion: the device completes inline, so the
# write's work, dm-cbt's included, is inside io_submit(), which fio's
# completion latency leaves out: it measured 2.4 us, all of it reaping),
# and what fio's tasks did meanwhile (/proc/PID/task/*/schedstat: time
# runnable but waiting for the CPU, time slices; nonvoluntary context
# switches), so a slower write can be told apart as waiting for the CPU
# (the scheduler) or for something else (a lock, I/O).
# With RP_SLOW=1, per phase the 20 slowest writes as "phase=slow" lines
# (when, relative to the phase's start, and how long).
# timeout: 1800
# grace: 60

NB=${RP_NB:-16}		# devices backed up together
ROUNDS=${RP_ROUNDS:-3}
PHASES=$(echo "${RP_PHASES:-quiet:par:idle:serial}" | tr : ' ')
SETTLE=${RP_SETTLE:-3}
QUIET=${RP_QUIET:-5}
IODEPTH=${RP_IODEPTH:-4}
MDSLICE=128		# sectors per metadata slice (64 KiB)
BSLICE=16384		# sectors per backed-up device (8 MiB)
CSLICE=8192		# sectors per COW slice (4 MiB)
CHANGE=10		# percent of each backed-up device's blocks changed before a phase

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

W=/tmp/rp
STORE=/mnt/rp-store

cleanup() {
	[ -f "$W/fio.pid" ] && kill "$(cat "$W/fio.pid")" 2>/dev/null
	rm -f "$W/fio.pid"
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^rp-cb/ { print $1 }'); do
		cbt snapshot drop "$d" 2>/dev/null || true
		dmsetup remove "$d" 2>/dev/null || true
	done
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^rp-/ { print $1 }'); do
		dmsetup remove "$d" 2>/dev/null || true
	done
	unmount "$STORE"
	rmmod null_blk 2>/dev/null || true
}

need_module dm_cbt
need_cmd cbt fio
grep -q '/null_blk.ko' "/lib/modules/$KVER/modules.dep" 2>/dev/null || skip "$KVER has no null_blk module"
rm -rf "$W" && mkdir -p "$W" "$STORE"
# Two null_blk devices of 1 GiB with memory behind them (pages allocated as
# written; the guest has 1 GiB and this bench writes ~230 MiB of them),
# completions inline (irqmode=0): nullb0 for the 16 devices, their
# metadata and COW slices, nullb1 for the 17th device alone. (brd is not
# in the harness's initramfs; null_blk is, for bench_wpath.)
mark_module_load null_blk
assert_cmd modprobe null_blk nr_devices=2 gb=1 memory_backed=1 irqmode=0
wait_until 10 test -b /dev/nullb1
assert_cmd mount -t tmpfs -o size=512m tmpfs "$STORE"
log "$NB backed-up devices on null_blk, chains on tmpfs; $ROUNDS rounds of: $PHASES"
MD0=$((NB * BSLICE))
COW0=$((MD0 + NB * MDSLICE))
i=0
while [ "$i" -le "$NB" ]; do
	i=$((i + 1))
	if [ "$i" -le "$NB" ]; then
		assert_cmd dmsetup create "rp-bl$i" --table "0 $BSLICE linear /dev/nullb0 $(((i - 1) * BSLICE))"
		assert_cmd dmsetup create "rp-bm$i" --table "0 $MDSLICE linear /dev/nullb0 $((MD0 + (i - 1) * MDSLICE))"
		assert_cmd dmsetup create "rp-w$i" --table "0 $CSLICE linear /dev/nullb0 $((COW0 + (i - 1) * CSLICE))"
	else
		assert_cmd dmsetup create "rp-bl$i" --table "0 $BSLICE linear /dev/nullb1 0"
		assert_cmd dmsetup create "rp-bm$i" --table "0 $MDSLICE linear /dev/nullb1 $BSLICE"
	fi
	assert_cmd dmsetup create "rp-cb$i" --table "0 $BSLICE cbt /dev/mapper/rp-bl$i 128 2 metadata /dev/mapper/rp-bm$i"
done
{
	printf '[global]\nthread\nrw=write\nbs=1M\ndirect=1\nbuffer_compress_percentage=50\nrefill_buffers\n'
	i=0
	while [ "$i" -le "$NB" ]; do
		i=$((i + 1))
		printf '[f%s]\nfilename=/dev/mapper/rp-cb%s\n' "$i" "$i"
	done
} >"$W/fill.fio"
(cd /tmp && fio --eta=never --output=/dev/null "$W/fill.fio") || fail "fio could not fill"
i=0
while [ "$i" -lt "$NB" ]; do
	i=$((i + 1))
	cbt backup "rp-cb$i" --full --to "$STORE/b$i" --cow "/dev/mapper/rp-w$i" --quiet ||
		fail "cbt backup --full rp-cb$i failed"
done

# change: CHANGE% of the 64 KiB blocks of every backed-up device, 4 KiB each.
{
	printf '[global]\nthread\nrw=randwrite\nbs=4k\nblockalign=64k\nnorandommap\ndirect=1\nrandrepeat=0\n'
	# shellcheck disable=SC2017 # whole 64 KiB blocks first, as bench_parallel counts them
	printf 'number_ios=%s\nbuffer_compress_percentage=50\nrefill_buffers\n' \
		$((BSLICE / 128 * CHANGE / 100))
	i=0
	while [ "$i" -lt "$NB" ]; do
		i=$((i + 1))
		printf '[c%s]\nfilename=/dev/mapper/rp-cb%s\n' "$i" "$i"
	done
} >"$W/change.fio"
change() {
	(cd /tmp && fio --eta=never --output=/dev/null "$W/change.fio") || fail "fio could not change"
}

# backup_one I [ARGS]: an incremental of device I (ARGS: more options);
# with RUN_AS=idle, the whole process under SCHED_IDLE (`chrt --idle`,
# what a unit's CPUSchedulingPolicy=idle does) from its start; with
# RUN_AS=nice, at nice 10 (what cbt-job@.service runs a job at).
backup_one() {
	local i="$1"
	shift
	if [ "${RUN_AS:-}" = idle ]; then
		# shellcheck disable=SC2016 # $$ and $@ are the inner shell's
		sh -c 'chrt --idle -p 0 $$ >/dev/null && exec cbt "$@"' backup_one backup "rp-cb$i" \
			--incremental --to "$STORE/b$i" --cow "/dev/mapper/rp-w$i" --json "$@" \
			>"$W/inc$i.json" 2>"$W/inc$i.err"
		return
	fi
	if [ "${RUN_AS:-}" = nice ]; then
		# busybox has renice, not nice: the shell lowers itself, then execs.
		# shellcheck disable=SC2016 # $$ and $@ are the inner shell's
		sh -c 'renice -n 10 -p $$ >/dev/null && exec cbt "$@"' backup_one backup "rp-cb$i" \
			--incremental --to "$STORE/b$i" --cow "/dev/mapper/rp-w$i" --json "$@" \
			>"$W/inc$i.json" 2>"$W/inc$i.err"
		return
	fi
	cbt backup "rp-cb$i" --incremental --to "$STORE/b$i" --cow "/dev/mapper/rp-w$i" --json "$@" \
		>"$W/inc$i.json" 2>"$W/inc$i.err"
}

# at_once [ARGS]: the NB incrementals at once; fails if any did.
at_once() {
	local i=0 pids="" p rc=0
	while [ "$i" -lt "$NB" ]; do
		i=$((i + 1))
		backup_one "$i" "$@" &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || rc=1
	done
	return "$rc"
}

# read_bytes: the bytes the last phase's incrementals read, summed.
read_bytes() {
	cat "$W"/inc*.json 2>/dev/null | sed -n 's/^ *"read_bytes": *\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

# fio_sched: over fio's tasks, the ns spent runnable but waiting for the
# CPU, the time slices run, and the nonvoluntary context switches
# (preemptions), each summed (%.0f: busybox awk's %d stops at 2^31).
fio_sched() {
	local p
	p=$(cat "$W/fio.pid")
	cat /proc/"$p"/task/*/schedstat 2>/dev/null | awk '{ w += $2; s += $3 } END { printf "%.0f %.0f ", w, s }'
	cat /proc/"$p"/task/*/status 2>/dev/null | awk '/^nonvoluntary_ctxt_switches/ { n += $2 } END { print n + 0 }'
}

B=$((NB + 1))
rm -f "$W"/lat_lat.1.log "$W/phases"
(cd /tmp && exec fio --eta=never --name=lat --filename="/dev/mapper/rp-cb$B" --rw=randwrite --bs=4k \
	--direct=1 --ioengine=libaio --iodepth="$IODEPTH" --rate=1m --randrepeat=0 --norandommap --thread \
	--clocksource=clock_gettime --time_based --runtime=36000 --output=/dev/null \
	--write_lat_log="$W/lat" --log_avg_msec=0 --log_unix_epoch=1) &
echo $! >"$W/fio.pid"
sleep "$SETTLE"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	r=$((r + 1))
	# shellcheck disable=SC2086 # the phases, split on purpose
	for ph in $(rotate $(((r - 1) % $(echo $PHASES | wc -w))) $PHASES); do
		# No change before a quiet phase: the next backups then read 10%.
		[ "$ph" = quiet ] || change
		sleep "$SETTLE"
		rm -f "$W"/inc*.json
		# shellcheck disable=SC2046 # its words (numbers), split on purpose
		set -- $(fio_sched)
		w0=$1 s0=$2 n0=$3
		t0=$(now_us)
		case "$ph" in
		quiet) sleep "$QUIET" ;;
		par) at_once || fail "a parallel incremental failed: $(cat "$W"/inc*.err)" ;;
		idle)
			at_once --idle || fail "a parallel incremental --idle failed: $(cat "$W"/inc*.err)"
			[ "$(grep -l '"idle": true' "$W"/inc*.json | wc -l)" = "$NB" ] ||
				fail "--idle: not every backup says \"idle\": true"
			;;
		serial)
			i=0
			while [ "$i" -lt "$NB" ]; do
				i=$((i + 1))
				backup_one "$i" || fail "serial incremental $i: $(cat "$W/inc$i.err")"
			done
			;;
		wholeidle)
			RUN_AS=idle
			at_once || fail "a parallel incremental under chrt --idle failed: $(cat "$W"/inc*.err)"
			RUN_AS=""
			;;
		nice)
			RUN_AS="nice"
			at_once || fail "a parallel incremental at nice 10 failed: $(cat "$W"/inc*.err)"
			RUN_AS=""
			;;
		*) fail "RP_PHASES: unknown phase '$ph'" ;;
		esac
		t1=$(now_us)
		# shellcheck disable=SC2046 # its words (numbers), split on purpose
		set -- $(fio_sched)
		echo "$ph $r $t0 $t1 $(read_bytes) $(($1 - w0)) $(($2 - s0)) $(($3 - n0))" >>"$W/phases"
	done
done
kill "$(cat "$W/fio.pid")"
wait "$(cat "$W/fio.pid")" 2>/dev/null || true
rm -f "$W/fio.pid"
[ -s "$W/lat_lat.1.log" ] || fail "fio wrote no latency log"

# pcts FROM_MS TO_MS: the writes completed in the window: count, p50,
# p99, p99.9 and max total latency in ns.
pcts() {
	awk -F', *' -v a="$1" -v b="$2" '$1 >= a && $1 <= b { print $2 }' "$W/lat_lat.1.log" | sort -n |
		awk 'function at(q,  i) { i = int(NR * q + 0.5); if (i < 1) i = 1; return v[i] }
			{ v[NR] = $1 } END { if (NR == 0) { print "0 0 0 0 0"; exit }
			printf "%d %d %d %d %d\n", NR, at(0.50), at(0.99), at(0.999), v[NR] }'
}
# gaps FROM_MS TO_MS: between consecutive completions in the window (1 ms
# steps in fio's log), how many gaps were 8 ms or more (two writes' worth
# at 1 MiB/s: the writer did not get the CPU when its timer fired) and the
# longest, in ms.
gaps() {
	awk -F', *' -v a="$1" -v b="$2" '$1 >= a && $1 <= b { if (n++) { g = $1 - p; if (g >= 8) k++; if (g > m) m = g } p = $1 }
		END { printf "%d %d\n", k, m }' "$W/lat_lat.1.log"
}
while read -r ph r t0 t1 bytes wait slices nvcsw; do
	# fio's log in ms since the epoch, as now_us (ms since fio's start
	# would shift every window by fio's start-up, 0.1-0.3 s here).
	a=$((t0 / 1000)) && z=$((t1 / 1000))
	# shellcheck disable=SC2046 # its words (numbers), split on purpose
	set -- $(pcts "$a" "$z")
	bench_out ramparallel "phase=$ph" "round=$r" "n=$NB" "us=$((t1 - t0))" "bytes=$bytes" "writes=$1" \
		"p50_ns=$2" "p99_ns=$3" "p999_ns=$4" "max_ns=$5" "fio_wait_ns=$wait" "fio_slices=$slices" \
		"fio_preempted=$nvcsw" "late=$(gaps "$a" "$z" | tr ' ' ,)"
	if [ "${RP_SLOW:-0}" = 1 ]; then
		awk -F', *' -v a="$a" -v b="$z" '$1 >= a && $1 <= b { print $2, $1 - a }' "$W/lat_lat.1.log" |
			sort -rn | awk "NR <= 20" | while read -r ns at; do
				bench_out ramparallel phase=slow "of=$ph" "round=$r" "at_ms=$at" "ns=$ns"
			done
	fi
done <"$W/phases"
pass
