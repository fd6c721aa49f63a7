# Guest-side functions shared by the benches (sourced by bench_*.sh, after
# tests/vm/guest-lib.sh). Not a case itself: tests/bench/run names the
# cases it runs, and this file's name matches none of them.
# shellcheck shell=sh
#
# Results go to the console as lines
#   BENCH <bench> <key>=<value> ...
# which tests/bench/run reads back from build/vm/<kver>/logs/<case>.console.

# bench_out BENCH KEY=VALUE...: one result line.
bench_out() {
	echo "BENCH $*"
}

# drop_caches: a measurement that starts with cold caches (backup, merge).
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# now_us: wall-clock time in microseconds (busybox adjtimex reads the
# kernel's clock; busybox date has no %N).
now_us() {
	adjtimex | awk '/time.tv_sec/ { s = $2 } /time.tv_usec/ { u = $2 } END { printf "%d%06d\n", s, u }'
}

# time_us CMD...: run CMD (output dropped), print its wall time in us.
time_us() {
	local t0 t1
	t0=$(now_us)
	"$@" >/dev/null
	t1=$(now_us)
	echo $((t1 - t0))
}

# fio_jobs JOBFILE: run a fio job file, print "<job> <iops> <bw KiB/s>
# <runtime ms> <mean latency us>" per job (terse output v3: the write
# fields start at 47).
fio_jobs() {
	(cd /tmp && fio --eta=never --output-format=terse --terse-version=3 "$1") |
		awk -F';' '$1 == 3 { printf "%s %s %s %s %s\n", $3, $49, $48, $50, $81 }'
}

# fio_results BENCH JOBFILE WANT: run the job file (fio_jobs); fail unless
# it ran WANT jobs; print a result line per job, whose name r<rep>.<cfg>.<job>
# gives the keys rep, cfg and job.
fio_results() {
	local r rest name iops bw ms lat
	fio_jobs "$2" >/tmp/res || fail "fio failed ($2)"
	[ "$(wc -l </tmp/res)" = "$3" ] || fail "fio: expected $3 jobs, got $(wc -l </tmp/res)"
	while read -r name iops bw ms lat; do
		r=${name%%.*} rest=${name#*.}
		bench_out "$1" "rep=${r#r}" "cfg=${rest%%.*}" "job=${rest#*.}" "iops=$iops" "bw=$bw" "runtime_ms=$ms" "lat_us=$lat"
	done </tmp/res
}

# zero_disks DISK...: write zeroes over each disk to its end, so the sparse
# images are allocated before anything is measured.
zero_disks() {
	local d
	for d in "$@"; do
		dd if=/dev/zero of="$d" bs=1M oflag=direct 2>/dev/null || true
	done
}

# lat_pcts LOG FROM_MS TO_MS: p50 and p99 (us) of the completion latencies
# in a fio latency log (--write_lat_log, --log_avg_msec=0: one line per
# I/O, "msec since fio's start, nsec, ...") of the I/Os that completed
# between FROM_MS and TO_MS; "0 0" when none did.
lat_pcts() {
	awk -F', *' -v a="$2" -v b="$3" '$1 >= a && $1 <= b { print $2 }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "0 0"; exit }
			i = int(NR * 0.50 + 0.5); j = int(NR * 0.99 + 0.5); if (i < 1) i = 1; if (j < 1) j = 1
			printf "%d %d\n", v[i] / 1000, v[j] / 1000 }'
}

# lat_max LOG FROM_MS TO_MS: the worst completion latency (us) in a fio
# latency log (as lat_pcts) of the I/Os that completed between FROM_MS and
# TO_MS; 0 when none did.
lat_max() {
	awk -F', *' -v a="$2" -v b="$3" 'BEGIN { m = 0 } $1 >= a && $1 <= b && $2 > m { m = $2 }
		END { printf "%d\n", m / 1000 }' "$1"
}

# median of the numbers on stdin
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# cbt_reset DEV: start a fresh tracking epoch (close the open one, commit
# it), so the next writes find no block marked. Retries while a freed
# metadata slot is still being zeroed.
cbt_reset() {
	local n i=0
	while ! n=$(cbt epoch close "$1" 2>/dev/null); do
		i=$((i + 1))
		[ "$i" -lt 50 ] || { cbt epoch close "$1"; return 1; }
		sleep 0.1
	done
	cbt epoch commit "$1" "$n"
}

# reset_script NAME CMD...: a script fio's exec_prerun can call.
reset_script() {
	local f=/tmp/reset-$1.sh
	shift
	{
		echo '#!/bin/sh'
		echo '. /harness/cases/lib.sh'
		echo "$*"
	} >"$f"
	chmod +x "$f"
	echo "$f"
}

# rotate N WORDS...: the words, starting at the N-th (0-based), wrapping.
rotate() {
	local n=$1
	shift
	echo "$@" | awk -v n="$n" '{ for (i = 0; i < NF; i++) printf "%s%s", $((i + n) % NF + 1), (i < NF - 1 ? " " : "\n") }'
}

# BENCH_ALT_KO: a second dm-cbt.ko to compare with, when tests/bench/run
# --base packed one ("base"; the tree's is "new").
BENCH_ALT_KO=/harness/alt/dm-cbt.ko

# use_module new|base: dm_cbt reloaded from the tree's module or the base's
# (no dm-cbt device may exist).
use_module() {
	if [ -d /sys/module/dm_cbt ]; then
		assert_cmd rmmod dm_cbt
	fi
	mark_module_load dm_cbt
	if [ "$1" = base ]; then
		assert_cmd insmod "$BENCH_ALT_KO"
	else
		assert_cmd modprobe dm_cbt
	fi
}

# module_order R MODS...: MODS in round R's order (reversed every other
# round, so neither module always runs first).
module_order() {
	local r=$1
	shift
	if [ $((r % 2)) = 1 ]; then
		echo "$@"
	else
		echo "$@" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "\n") }'
	fi
}
