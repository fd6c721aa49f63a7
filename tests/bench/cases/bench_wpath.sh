#!/bin/sh
# dm-cbt's own cost per write, with the disk's cost gone: dm-linear, cbt
# (in memory, 64 KiB blocks) and cbt with a snapshot whose chunks are all
# copied already (COW chunk 4 KiB, COW store on a virtio disk), each over
# the same null_blk device (no memory, completions in the submitter's
# context), so the differences between them are the code paths. fio 4 KiB
# random writes, psync, O_DIRECT, one job at a time, time-based, over a
# region the first pass wrote (every block marked, every chunk copied).
# Reports IOPS and CPU time per write (fio's usr+sys) per configuration,
# ratios to dm-linear of the same round.
#
# With /harness/alt/dm-cbt.ko (tests/bench/run --base REV) each round runs
# both modules, the tree's ("new") and REV's ("base"), one after the other
# in an order that alternates by round: rmmod, load, the three devices,
# the take and the first pass, the jobs in a rotated order, removal.
#
# Within a module's turn the three configurations alternate job by job,
# SUB times over (each time in a rotated order), each job short: the jobs
# compared are a fraction of a second apart, so the host's load, which
# moves a job's rate by 2x over seconds, moves them alike. Each (round,
# sub-round) is one ratio; new and base are paired by it.
#
# VM_GUEST_ENV=WPATH_ROUNDS=N,WPATH_SUB=N,WPATH_RUNTIME=T changes the
# rounds (default 12), the sub-rounds of a turn (default 10) and each job's
# time (default 500ms, as fio's runtime=).
# disks: 64M
# timeout: 1800
# grace: 60

ROUNDS=${WPATH_ROUNDS:-12}
SUB=${WPATH_SUB:-10}
RUNTIME=${WPATH_RUNTIME:-500ms}
REGION_MB=16

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

teardown() {
	cbt snapshot drop w-snap 2>/dev/null || true
	dm_remove w-linear w-cbt w-snap
}
cleanup() {
	teardown
	rmmod null_blk 2>/dev/null || true
}

need_module dm_cbt
need_cmd cbt fio
if ! grep -q '/null_blk.ko:' "/lib/modules/$KVER/modules.dep" 2>/dev/null; then
	skip "$KVER has no null_blk module"
fi
mark_module_load null_blk
# 1 GiB, no memory behind it, completion inline (irqmode=0).
assert_cmd modprobe null_blk nr_devices=1 gb=1 bs=4096 irqmode=0
NULLB=/dev/nullb0
wait_until 10 test -b "$NULLB"
S=$(sectors "$NULLB")

MODS=new
[ -f "$BENCH_ALT_KO" ] && MODS="new base"

setup() {
	local used
	assert_cmd dmsetup create w-linear --table "0 $S linear $NULLB 0"
	assert_cmd dmsetup create w-cbt --table "0 $S cbt $NULLB 128"
	assert_cmd dmsetup create w-snap --table "0 $S cbt $NULLB 128"
	assert_cmd cbt snapshot take w-snap --cow "$DISK1" --chunk 4K --no-freeze
	# The first pass: every block of the region marked, every chunk copied.
	assert_cmd dd if=/dev/zero of=/dev/mapper/w-linear bs=1M count=$REGION_MB oflag=direct
	assert_cmd dd if=/dev/zero of=/dev/mapper/w-cbt bs=1M count=$REGION_MB oflag=direct
	assert_cmd dd if=/dev/zero of=/dev/mapper/w-snap bs=1M count=$REGION_MB oflag=direct
	used=$(dmsetup status w-snap-snap | awk '{ print $4, $6 }')
	assert_eq "${used%/*}" "active $((REGION_MB * 256))" "the snapshot's state and copied chunks after the first pass"
}

# jobs R: SUB jobs per configuration, rotated by round and sub-round.
jobs() {
	local c k=1
	printf '[global]\ndirect=1\nioengine=psync\nrandrepeat=1\nstonewall\nrw=randwrite\nbs=4k\nsize=%sM\ntime_based\nruntime=%s\n' \
		"$REGION_MB" "$RUNTIME"
	while [ "$k" -le "$SUB" ]; do
		for c in $(rotate $(($1 + k)) linear cbt cbt-snap); do
			case "$c" in
			cbt-snap) printf '[%s.%s]\nfilename=/dev/mapper/w-snap\n' "$k" "$c" ;;
			*) printf '[%s.%s]\nfilename=/dev/mapper/w-%s\n' "$k" "$c" "$c" ;;
			esac
		done
		k=$((k + 1))
	done
}

bench_out wpath "mods=$(echo "$MODS" | tr ' ' ,)" rounds="$ROUNDS" sub="$SUB" runtime="$RUNTIME" region_mib=$REGION_MB
r=1
while [ "$r" -le "$ROUNDS" ]; do
	# shellcheck disable=SC2086 # MODS: one word per module
	for m in $(module_order "$r" $MODS); do
		log "round $r: module $m"
		use_module "$m"
		setup
		jobs "$r" >/tmp/wpath.fio
		# job iops usr% sys% (terse v3: write IOPS 49, CPU usr 88, sys 89)
		(cd /tmp && fio --eta=never --output-format=terse --terse-version=3 /tmp/wpath.fio) |
			awk -F';' '$1 == 3 { gsub("%", "", $88); gsub("%", "", $89); print $3, $49, $88, $89 }' >/tmp/wpath.res ||
			fail "fio failed"
		[ "$(wc -l </tmp/wpath.res)" = $((SUB * 3)) ] || fail "fio: expected $((SUB * 3)) jobs, got $(wc -l </tmp/wpath.res)"
		while read -r name iops usr sys; do
			# CPU microseconds per write: (usr + sys)% of the job's time over its writes.
			bench_out wpath "rep=$r.${name%%.*}" "mod=$m" "cfg=${name#*.}" "iops=$iops" "usr=$usr" "sys=$sys" \
				"cpu_us=$(awk -v i="$iops" -v u="$usr" -v s="$sys" 'BEGIN { if (i > 0) printf "%.3f", (u + s) * 10000 / i; else print 0 }')"
		done </tmp/wpath.res
		teardown
	done
	r=$((r + 1))
done
pass
