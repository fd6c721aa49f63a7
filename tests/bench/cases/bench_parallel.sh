#!/bin/sh
# 16 backups at once against one after another (issue 16): 16 cbt devices
# (24 MiB slices of DISK2, metadata slices of DISK1, 64 KiB blocks) filled
# with fio data, a full image each into a chain on an ext4 of DISK4 (COW:
# 16 MiB slices of DISK3); then, after 10% of each device's blocks changed,
# 16 `cbt backup --incremental` one after another, and after another 10%,
# the same 16 at once. A 17th device (data and metadata on DISK5, a disk
# of its own since 2026-12-06; a slice of DISK2 and DISK1 before) takes fio
# 4 KiB random writes at 1 MiB/s all along (every completion logged): p50/p99 of its writes with no
# backup running, during the serial ones and during the parallel ones.
# With BENCH_WAITS=1 (VM_GUEST_ENV), where the backups' processes and
# dm_cbt's workers wait in the kernel, sampled from /proc/*/stack during
# each round: "BENCH scale phase=waits" lines (the innermost dm_cbt
# function, its caller, the kind of wait, whose). Off by default: the
# sampler takes CPU from what is measured, and on a loaded TCG guest it
# gets few samples. A third round, after another 10%: the 16 at once as
# cbt-job@.service runs a scheduled backup (Nice=10, best-effort I/O
# priority 7): whether the 17th device's writes wait for the guest's CPU,
# which a lower priority gives back, or for something the backups hold in
# the kernel, which it does not. Results: "BENCH scale phase=backups" (the
# bench_scale table shows them); no pass/fail threshold.
# BENCH_PRIOS (VM_GUEST_ENV) adds one more round per setting, each after
# another 10%, the 16 at once at that priority: settings separated by ":",
# each a "+" list of nice10 (nice 10), idle (SCHED_IDLE, `chrt --idle`,
# the unit's CPUSchedulingPolicy=idle), be7 (best-effort I/O priority 7),
# ioidle (the idle I/O class), tN (`cbt backup --threads N`), idlecopy
# (`cbt backup --idle`: SCHED_IDLE once the snapshot is taken); e.g.
# BENCH_PRIOS=nice10+be7:idle:idle+ioidle. BENCH_ROTATE=K starts the list
# at its K-th setting (so runs can take the settings in different orders).
# One "BENCH scale phase=prio" line per setting, and after the last round
# 20 s more with no backup (prio=none): a second baseline.
# disks: 2M 420M 272M 640M 25M
# timeout: 2400
# grace: 60

MDSLICE=128		# sectors per metadata slice (64 KiB)
NB=16			# devices backed up together
BSLICE=49152		# sectors per backed-up device (24 MiB)
CSLICE=32768		# sectors per COW slice (16 MiB)
CHANGE=10		# percent of each backed-up device's blocks changed before a round

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

W=/tmp/sc
STORE=/mnt/sc-store

cleanup() {
	[ -f "$W/fio.pid" ] && kill "$(cat "$W/fio.pid")" 2>/dev/null
	rm -f "$W/fio.pid"
	bg_kill
	unmount "$STORE"
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^sc-c/ { print $1 }'); do
		cbt snapshot drop "$d" 2>/dev/null || true
		dmsetup remove "$d" 2>/dev/null || true
	done
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^sc-/ { print $1 }'); do
		dmsetup remove "$d" 2>/dev/null || true
	done
}

need_module dm_cbt
need_cmd cbt fio mkfs.ext4 renice ionice
[ -z "${BENCH_PRIOS:-}" ] || need_cmd chrt

rm -rf "$W" && mkdir -p "$W" "$STORE"
zero_disks "$DISK1" "$DISK5"
log "$NB backed-up devices and a 17th written all along"
zero_disks "$DISK3"
assert_cmd mkfs.ext4 -q -F -E nodiscard "$DISK4"
assert_cmd mount -o noatime "$DISK4" "$STORE"
i=0
while [ "$i" -le "$NB" ]; do
	i=$((i + 1))
	if [ "$i" -le "$NB" ]; then
		assert_cmd dmsetup create "sc-bl$i" --table "0 $BSLICE linear $DISK2 $(((i - 1) * BSLICE))"
		assert_cmd dmsetup create "sc-bm$i" --table "0 $MDSLICE linear $DISK1 $(((i - 1) * MDSLICE))"
	else
		# The 17th device, data and metadata, on a disk of its own: what
		# its writes then share with the backups is the guest (CPU,
		# dm-cbt, the block layer), not a virtio disk.
		assert_cmd dmsetup create "sc-bl$i" --table "0 $BSLICE linear $DISK5 0"
		assert_cmd dmsetup create "sc-bm$i" --table "0 $MDSLICE linear $DISK5 $BSLICE"
	fi
	assert_cmd dmsetup create "sc-cb$i" --table "0 $BSLICE cbt /dev/mapper/sc-bl$i 128 2 metadata /dev/mapper/sc-bm$i"
	[ "$i" -le "$NB" ] &&
		assert_cmd dmsetup create "sc-w$i" --table "0 $CSLICE linear $DISK3 $(((i - 1) * CSLICE))"
done
{
	printf '[global]\nthread\nrw=write\nbs=1M\ndirect=1\nbuffer_compress_percentage=50\nrefill_buffers\n'
	i=0
	while [ "$i" -lt "$NB" ]; do
		i=$((i + 1))
		printf '[f%s]\nfilename=/dev/mapper/sc-cb%s\n' "$i" "$i"
	done
} >"$W/fill.fio"
(cd /tmp && fio --eta=never --output=/dev/null "$W/fill.fio") || fail "fio could not fill"
i=0
while [ "$i" -lt "$NB" ]; do
	i=$((i + 1))
	cbt backup "sc-cb$i" --full --to "$STORE/b$i" --cow "/dev/mapper/sc-w$i" --quiet ||
		fail "cbt backup --full sc-cb$i failed"
done

# change: CHANGE% of the 64 KiB blocks of every backed-up device, 4 KiB each.
change() {
	{
		printf '[global]\nthread\nrw=randwrite\nbs=4k\nblockalign=64k\ndirect=1\nrandrepeat=0\n'
		# shellcheck disable=SC2017 # whole 64 KiB slices first, as the rest of the bench counts them
		printf 'number_ios=%s\nbuffer_compress_percentage=50\nrefill_buffers\n' \
			$((BSLICE / 128 * CHANGE / 100))
		i=0
		while [ "$i" -lt "$NB" ]; do
			i=$((i + 1))
			printf '[c%s]\nfilename=/dev/mapper/sc-cb%s\n' "$i" "$i"
		done
	} >"$W/change.fio"
	(cd /tmp && fio --eta=never --output=/dev/null "$W/change.fio") || fail "fio could not change"
}

# backup_one I: an incremental of device I.
# backup_one I [niced]: niced: at nice 10 and best-effort I/O priority 7,
# as cbt-job@.service runs a scheduled backup (busybox has renice and
# ionice, not nice: the shell lowers its own priority, then execs cbt).
# backup_one I SETTING: the same at a BENCH_PRIOS setting (niced: nice10+be7).
backup_one() {
	local prio=${2:-} t pre="" thr=""
	[ "$prio" != niced ] || prio=nice10+be7
	for t in $(echo "$prio" | tr + ' '); do
		case "$t" in
		nice10) pre="$pre renice -n 10 -p \$\$ >/dev/null &&" ;;
		be7) pre="$pre ionice -c 2 -n 7 -p \$\$ &&" ;;
		ioidle) pre="$pre ionice -c 3 -p \$\$ &&" ;;
		idle) pre="$pre chrt --idle -p 0 \$\$ >/dev/null &&" ;;
		t[0-9]*) thr="$thr --threads ${t#t}" ;;
		idlecopy) thr="$thr --idle" ;;
		*) fail "BENCH_PRIOS: unknown setting '$t'" ;;
		esac
	done
	sh -c "{ $pre :; } || exit 99
		exec cbt backup \"sc-cb\$1\" --incremental --to \"\$2/b\$1\" --cow \"/dev/mapper/sc-w\$1\" $thr --json" \
		backup_one "$1" "$STORE" >"$W/inc$1.json" 2>"$W/inc$1.err"
}

# all_at_once [niced]: the NB incrementals at once (backup_one); fails if any did.
all_at_once() {
	local i=0 pids="" p rc=0
	while [ "$i" -lt "$NB" ]; do
		i=$((i + 1))
		backup_one "$i" "${1:-}" &
		pids="$pids $!"
	done
	for p in $pids; do
		wait "$p" || rc=1
	done
	return "$rc"
}

# read_bytes: the bytes the last round's incrementals read, summed.
read_bytes() {
	cat "$W"/inc*.json | sed -n 's/^ *"read_bytes": *\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }'
}

# sampling ROUND / sampled: start the sampler into $W/ROUND.stacks, stop it
# (only with BENCH_WAITS=1).
sampling() {
	[ "${BENCH_WAITS:-0}" = 1 ] || return 0
	bg_start sampler sampler "$W/$1.stacks"
	renice -n -10 -p "$(bg_pid sampler)" >/dev/null
}
sampled() {
	[ "${BENCH_WAITS:-0}" = 1 ] || return 0
	bg_running sampler || fail "the wait sampler died during the $1 round ($(grep -c '^@' "$W/$1.stacks") samples)"
	bg_kill sampler
}

# sampler FILE: every 0.2 s (at a higher priority than the load, or it
# gets no CPU), each task's name, then the kernel stack frames of every
# task that names dm_cbt or a wait, "@ N" before sample N. The case runs
# under `set -e`, and so does this loop: a task that exits between the
# glob and grep's read of its file makes grep exit 2, which ended the
# sampler at its first or second sample (and so no phase=waits lines,
# 2026-12-06): grep's status says nothing here.
sampler() {
	local n=0
	while :; do
		n=$((n + 1))
		echo "@ $n"
		grep -H -e . /proc/[0-9]*/comm 2>/dev/null || true
		grep -H -e dm_cbt -e mutex -e rcu -e io_schedule -e wait_for -e blk \
			-e bio -e schedule /proc/[0-9]*/stack 2>/dev/null || true
		sleep 0.2
	done >"$1"
}

# waits FILE ROUND DEV17: per task sample with a dm_cbt frame, the
# innermost dm_cbt function, its dm_cbt caller, what it waits for and
# who: cbt (the backups), wq17 (a dm_cbt work item of the 17th device,
# DEV17 its major:minor), wq (another device's), or the task's name. One
# BENCH line per place, the most frequent first.
# The kind comes from the frames inside the dm_cbt one. /proc/PID/stack
# leaves out every scheduler function (stack_trace_save_tsk() skips the
# __sched ones: schedule*, io_schedule*, mutex_lock, wait_for_completion*,
# the wait_event loops), so a dm_cbt function that calls one of them
# itself is the innermost frame shown, and nothing says how it waits: the
# kind is then what that function waits on directly (dm-cbt's sources:
# cbt_md_rw waits in wait_for_completion_io(), cbt_cow_drain in
# flush_work() and wait_event(), cbt_writes_atomic for the count's RCU
# switch; "sched" for one not in the table), not "other" as before
# (2026-12-07: every cbt_md_rw sample was "other"). The sampler keeps the
# "bio" frames too, which the classifier looks for.
waits() {
	awk -v round="$2" -v dev17="dm-cbt-$3" '
	BEGIN {
		# dm_cbt functions whose only direct sleep is one hidden wait.
		split("cbt_md_rw io cbt_wait_writes completion cbt_claim claim " \
		      "cbt_cow_drain drain cbt_writes_atomic rcu", d, " ")
		for (i = 1; i < 10; i += 2) direct[d[i]] = d[i + 1]
	}
	function flush() {
		if (fn != "") n[fn "<" caller "/" kind "/" who(cur)]++
		fn = ""; caller = ""; kind = ""; seen = ""
	}
	function who(t,  c) {
		c = comm[t]
		if (c == "cbt") return "cbt"
		if (index(c, dev17 "") && substr(c, index(c, dev17) + length(dev17)) !~ /^[0-9]/)
			return "wq17"
		if (c ~ /dm-cbt-/) return "wq"
		sub(/[\/:+].*/, "", c)
		return c
	}
	/^@ / { flush(); samples++; cur = ""; next }
	{
		split($1, a, "/"); task = a[3]
		if (a[4] ~ /^comm:/) { c = $0; sub(/^[^:]*:/, "", c); comm[task] = c; next }
		if (task != cur) { flush(); cur = task }
		f = $2; sub(/\+.*/, "", f)
		if ($0 ~ /\[dm_cbt\]/) {
			if (fn == "") {
				fn = f
				kind = "other"
				if (seen == "") kind = (f in direct) ? direct[f] : "sched"
				else if (seen ~ /mutex/) kind = "mutex"
				else if (seen ~ /rcu/) kind = "rcu"
				else if (seen ~ /io_schedule|blk|bio/) kind = "io"
				else if (seen ~ /wait_for_completion/) kind = "completion"
			} else if (caller == "") {
				caller = f
			}
		} else if (fn == "") {
			seen = seen " " f
		}
	}
	END {
		flush()
		for (k in n) {
			printf "BENCH scale phase=waits round=%s where=%s n=%d samples=%d\n", round, k, n[k], samples
			places++
		}
		# no task was seen in dm_cbt: say so, with the samples taken
		if (!places)
			printf "BENCH scale phase=waits round=%s where=none n=0 samples=%d\n", round, samples
	}' "$1" | sort -t= -k5 -nr | head -10
}

B=$((NB + 1))
rm -f "$W"/lat_clat.1.log "$W/prio.times"
f0=$(now_us)
(cd /tmp && exec fio --eta=never --name=lat --filename="/dev/mapper/sc-cb$B" --rw=randwrite --bs=4k \
	--direct=1 --ioengine=libaio --iodepth=4 --rate=1m --randrepeat=0 --norandommap \
	--time_based --runtime=3600 --output=/dev/null --write_lat_log="$W/lat" --log_avg_msec=0) &
echo $! >"$W/fio.pid"
sleep 20
q0=$(now_us)
change
sampling serial
t0=$(now_us)
i=0
while [ "$i" -lt "$NB" ]; do
	i=$((i + 1))
	backup_one "$i" || fail "serial incremental $i: $(cat "$W/inc$i.err")"
done
t1=$(now_us)
sampled serial
serial_bytes=$(read_bytes)
change
sampling parallel
t2=$(now_us)
all_at_once || fail "a parallel incremental failed: $(cat "$W"/inc*.err)"
t3=$(now_us)
sampled parallel
par_bytes=$(read_bytes)
change
t4=$(now_us)
all_at_once niced || fail "a niced parallel incremental failed: $(cat "$W"/inc*.err)"
t5=$(now_us)
nice_bytes=$(read_bytes)
# The BENCH_PRIOS rounds, the list rotated by BENCH_ROTATE.
# shellcheck disable=SC2046 # the rounds, split on purpose
set -- $(echo "${BENCH_PRIOS:-}" | tr : ' ')
k=0
while [ "$k" -lt "${BENCH_ROTATE:-0}" ] && [ $# -gt 1 ]; do
	p=$1 && shift && set -- "$@" "$p"
	k=$((k + 1))
done
prios="$*"
log "I/O schedulers: 17th device $(cat /sys/block/"${DISK5#/dev/}"/queue/scheduler), backed-up $(cat /sys/block/"${DISK2#/dev/}"/queue/scheduler)"
# cpu_ticks: the guest's busy CPU time (/proc/stat: all but idle and
# iowait), then that of the kernel's threads (children of kthreadd: the
# kworkers running dm_cbt's work items, writeback, jbd2), in clock ticks.
# Kernel threads run at nice 0 whatever the backups' priority: what they
# do for the backups competes with the 17th device's writer as it is.
cpu_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
	cat /proc/[0-9]*/stat 2>/dev/null |
		awk '{ sub(/^.*\) /, ""); if ($2 == 2) k += $12 + $13 } END { print k + 0 }'
}
# kthreads FILE: each kernel thread's "pid utime+stime comm" (children of
# kthreadd). A kworker's comm names the workqueue it last ran
# (kworker/u4:2-dm-cbt-253:3), as ps shows it.
kthreads() {
	for f in /proc/[0-9]*/stat; do
		cat "$f" 2>/dev/null
	done | awk '{ c = $0; sub(/^[^(]*\(/, "", c); sub(/\) .*$/, "", c); r = $0; sub(/^.*\) /, "", r)
		split(r, a, " "); if (a[2] == 2) print $1, a[12] + a[13], c }' >"$1"
}
# kthread_top ROUND BEFORE AFTER: the kernel threads' CPU ticks in the
# round, summed by name with the worker and device numbers taken out
# (kworker/u4:2-dm-cbt-253:3 -> kworker/u4-dm-cbt; an H after the CPU: a
# high-priority pool, nice -20), the 12 largest.
kthread_top() {
	awk -v round="$1" 'NR == FNR { t0[$1] = $2; next }
		{ d = $2 - ($1 in t0 ? t0[$1] : 0); c = $3
		  for (i = 4; i <= NF; i++) c = c "_" $i
		  sub(/:[0-9]+/, "", c); gsub(/-[0-9]+:[0-9]+/, "", c); gsub(/\/[0-9]+$/, "", c)
		  if (d > 0) { k[c] += d; n[c]++ } }
		END { for (c in k) printf "%d %s %d\n", k[c], c, n[c] }' "$2" "$3" | sort -rn | head -n 12 |
		while read -r t c n; do
			bench_out scale phase=kthreads "prio=$1" "name=$c" "ticks=$t" "threads=$n"
		done
}
for p in $prios; do
	change
	kthreads "$W/kt0"
	# shellcheck disable=SC2046 # its words (numbers), split on purpose
	set -- $(cpu_ticks)
	c0=$1 k0=$2
	s0=$(now_us)
	all_at_once "$p" || fail "a parallel incremental at $p failed: $(cat "$W"/inc*.err)"
	case "$p" in
	*idlecopy*) [ "$(grep -l '"idle": true' "$W"/inc*.json | wc -l)" = "$NB" ] ||
		fail "--idle: not every backup says \"idle\": true" ;;
	esac
	s1=$(now_us)
	# shellcheck disable=SC2046 # its words (numbers), split on purpose
	set -- $(cpu_ticks)
	echo "$p $s0 $s1 $(read_bytes) $(($1 - c0)) $(($2 - k0))" >>"$W/prio.times"
	kthreads "$W/kt1"
	kthread_top "$p" "$W/kt0" "$W/kt1"
done
if [ -n "$prios" ]; then
	kthreads "$W/kt0"
	# shellcheck disable=SC2046 # its words (numbers), split on purpose
	set -- $(cpu_ticks)
	c0=$1 k0=$2
	s0=$(now_us)
	sleep 20
	s1=$(now_us)
	# shellcheck disable=SC2046 # its words (numbers), split on purpose
	set -- $(cpu_ticks)
	echo "none $s0 $s1 0 $(($1 - c0)) $(($2 - k0))" >>"$W/prio.times"
	kthreads "$W/kt1"
	kthread_top none "$W/kt0" "$W/kt1"
fi
kill "$(cat "$W/fio.pid")"
wait "$(cat "$W/fio.pid")" 2>/dev/null || true
rm -f "$W/fio.pid"
# shellcheck disable=SC2046 # its words (numbers), split on purpose
set -- $(lat_pcts "$W/lat_clat.1.log" 1000 $(((q0 - f0) / 1000)))
idle50=$1 idle99=$2
# shellcheck disable=SC2046 # its words (numbers), split on purpose
set -- $(lat_pcts "$W/lat_clat.1.log" $(((t0 - f0) / 1000)) $(((t1 - f0) / 1000)))
ser50=$1 ser99=$2
# shellcheck disable=SC2046 # its words (numbers), split on purpose
set -- $(lat_pcts "$W/lat_clat.1.log" $(((t4 - f0) / 1000)) $(((t5 - f0) / 1000)))
nice50=$1 nice99=$2
# shellcheck disable=SC2046 # its words (numbers), split on purpose
set -- $(lat_pcts "$W/lat_clat.1.log" $(((t2 - f0) / 1000)) $(((t3 - f0) / 1000)))
bench_out scale phase=backups "n=$NB" "serial_us=$((t1 - t0))" "serial_bytes=$serial_bytes" \
	"parallel_us=$((t3 - t2))" "parallel_bytes=$par_bytes" "idle_p50_us=$idle50" \
	"idle_p99_us=$idle99" "serial_p50_us=$ser50" "serial_p99_us=$ser99" "parallel_p50_us=$1" \
	"parallel_p99_us=$2" "niced_us=$((t5 - t4))" "niced_bytes=$nice_bytes" \
	"niced_p50_us=$nice50" "niced_p99_us=$nice99"
if [ -n "$prios" ]; then
	while read -r p s0 s1 b cpu kt; do
		a=$(((s0 - f0) / 1000)) && z=$(((s1 - f0) / 1000))
		# shellcheck disable=SC2046 # its words (numbers), split on purpose
		set -- $(lat_pcts "$W/lat_clat.1.log" "$a" "$z")
		n=$(awk -F', *' -v a="$a" -v b="$z" '$1 >= a && $1 <= b { n++ } END { print n + 0 }' \
			"$W/lat_clat.1.log")
		bench_out scale phase=prio "prio=$p" "us=$((s1 - s0))" "bytes=$b" "p50_us=$1" \
			"p99_us=$2" "writes=$n" "idle_p99_us=$idle99" "cpu_ticks=$cpu" "kthread_ticks=$kt"
	done <"$W/prio.times"
fi
if [ "${BENCH_WAITS:-0}" = 1 ]; then
	d17=$(dmsetup info -c --noheadings -o major,minor "sc-cb$B" | tr -d ' ')
	waits "$W/serial.stacks" serial "$d17"
	waits "$W/parallel.stacks" parallel "$d17"
fi
pass
