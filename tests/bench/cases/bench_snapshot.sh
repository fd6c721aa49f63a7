#!/bin/sh
# Write throughput on an origin with a point-in-time snapshot active, as
# ratios to dm-linear and to cbt without a snapshot, in the same boot:
# dm-linear; cbt (in memory, 64 KiB blocks) without a snapshot; cbt with a
# snapshot taken with `cbt snapshot take` (COW chunk 4 KiB, COW store on
# its own disk); the same taken with `--preserve` over an epoch of its own
# in which 1 MiB of the region changed (16 runs of 64 KiB, 1/16 of it: a
# backup's view, where only those chunks are copied); the same with a
# preserve set holding the whole region (every chunk copied in the first
# pass, as without one: the second pass is "once copied" with a preserve
# set, nothing forfeited); the
# kernel's dm-snapshot (snapshot-origin + persistent snapshot, chunk 4 KiB,
# COW on its own disk). fio 4 KiB random writes (O_DIRECT, libaio, iodepth
# 16) over a fixed region: first pass just after the snapshot is taken
# (every write copies its chunk first), second pass over the same blocks
# (chunks already copied). REPS rounds in one fio run, the configurations
# alternating job by job, in a rotated order each round (reversed every
# other round, so no configuration always follows the same one).
#
# Then "once copied" alone (ONCE_REPS rounds): four more cbt devices over
# the same disk, three of them with a snapshot that stays active the
# whole time (without a preserve set; with the 1/16 set; with the whole
# region in the set), every chunk of the region copied or forfeited by a
# first pass of 1 MiB writes, and the fourth without one. Every round
# writes the region once more on each device and on dm-linear (4 KiB
# random, twice over): no take or drop between the jobs, so they run
# back to back, and the snapshots' COW use and forfeit counts must not
# move (no write copied or forfeited anything).
#
# VM_GUEST_ENV=SNAP_REPS=N,SNAP_CONFIGS=a:b:...,SNAP_ONCE_REPS=N changes
# the rounds and the configurations (linear always runs: the ratios need
# it); 0 rounds leaves a part out. SNAP_ONCE_SWAP=1 with a base module
# (tests/bench/run --base REV) runs each "once" round with the tree's
# module and with REV's, in alternating order, the devices, snapshots and
# first pass made again for each (bench snapshot-new, snapshot-base).
# Runs only when the cbt tool has the `snapshot` command.
# disks: 256M 64M 64M 64M 64M
# timeout: 900
# grace: 60

REPS=${SNAP_REPS:-5}
ONCE_REPS=${SNAP_ONCE_REPS:-10}
RAND_SIZE=16M
CONFIGS="linear cbt cbt-snap cbt-preserve cbt-preserve-all dm-snapshot"
if [ -n "${SNAP_CONFIGS:-}" ]; then
	CONFIGS=$(echo "linear:$SNAP_CONFIGS" | awk -F: '{ for (i = 1; i <= NF; i++) if ($i != "" && !seen[$i]++) o = o (o == "" ? "" : " ") $i; print o }')
fi
# Configurations that take a cbt snapshot, and dm-snapshot's, per round.
NSNAP=$(echo "$CONFIGS" | tr ' ' '\n' | grep -c '^cbt-') || true
NDSNAP=$(echo "$CONFIGS" | tr ' ' '\n' | grep -c '^dm-snapshot$') || true

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

ONCE_DEVS="o-snap o-preserve o-preserve-all"

cleanup() {
	local d
	for d in s-cbt $ONCE_DEVS; do cbt snapshot drop "$d" 2>/dev/null || true; done
	dm_remove s-dsnap
	for d in s-linear s-cbt s-origin o-cbt $ONCE_DEVS; do dmsetup remove "$d" 2>/dev/null || true; done
}

need_module dm_cbt dm_snapshot
need_cmd cbt fio
if ! cbt help 2>&1 | grep -q '^ *snapshot'; then
	bench_out snapshot skipped=the_cbt_tool_has_no_snapshot_command_yet
	skip "the cbt tool has no snapshot command yet"
fi

log "filling the disks"
zero_disks "$DISK1" "$DISK2" "$DISK3" "$DISK4" "$DISK5"
S=$(sectors "$DISK1")
assert_cmd dmsetup create s-linear --table "0 $S linear $DISK1 0"
assert_cmd dmsetup create s-cbt --table "0 $S cbt $DISK1 128"
assert_cmd dmsetup create s-origin --table "0 $S snapshot-origin $DISK1"

# Scripts for fio's exec_prerun: take a snapshot just before the first pass.
cat >/tmp/snap-cbt.sh <<EOF
#!/bin/sh
set -e
cbt snapshot take s-cbt --cow $DISK2 --chunk 4K --no-freeze
EOF
cat >/tmp/snap-preserve.sh <<EOF
#!/bin/sh
set -e
n=\$(cbt epoch close s-cbt)
cbt epoch commit s-cbt \$n
k=0
while [ \$k -lt 16 ]; do
	dd if=/dev/urandom of=/dev/mapper/s-cbt bs=64K seek=\$((k * 16)) count=1 oflag=direct conv=notrunc 2>/dev/null
	k=\$((k + 1))
done
cbt snapshot take s-cbt --cow $DISK2 --chunk 4K --no-freeze --preserve
EOF
cat >/tmp/snap-preserve-all.sh <<EOF
#!/bin/sh
set -e
n=\$(cbt epoch close s-cbt)
cbt epoch commit s-cbt \$n
dd if=/dev/urandom of=/dev/mapper/s-cbt bs=1M count=${RAND_SIZE%M} oflag=direct conv=notrunc 2>/dev/null
cbt snapshot take s-cbt --cow $DISK2 --chunk 4K --no-freeze --preserve
EOF
cat >/tmp/snap-dm.sh <<EOF
#!/bin/sh
set -e
dd if=/dev/zero of=$DISK3 bs=4096 count=1 oflag=direct 2>/dev/null
dmsetup suspend s-origin
dmsetup create s-dsnap --table "0 $S snapshot $DISK1 $DISK3 P 8"
dmsetup resume s-origin
EOF
chmod +x /tmp/snap-cbt.sh /tmp/snap-preserve.sh /tmp/snap-preserve-all.sh /tmp/snap-dm.sh

# ... and drop it after the second.
cat >/tmp/drop-cbt.sh <<EOF
#!/bin/sh
dmsetup status s-cbt-snap >>/tmp/snap-status.log
cbt snapshot drop s-cbt && cbt epoch commit s-cbt && echo dropped >>/tmp/snap-status.log
EOF
cat >/tmp/drop-dm.sh <<EOF
#!/bin/sh
dmsetup status s-dsnap >>/tmp/dsnap-status.log
dmsetup remove s-dsnap && echo dropped >>/tmp/dsnap-status.log
EOF
chmod +x /tmp/drop-cbt.sh /tmp/drop-dm.sh
: >/tmp/snap-status.log
: >/tmp/dsnap-status.log

# All rounds in one fio run: configurations alternate job by job.
jobs() {
	local r=1 c dev pre post order
	printf '[global]\ndirect=1\nioengine=libaio\niodepth=16\nrandrepeat=1\nstonewall\nrw=randwrite\nbs=4k\nsize=%s\n' "$RAND_SIZE"
	while [ "$r" -le "$REPS" ]; do
		# shellcheck disable=SC2086 # the list of names, split on purpose
		order=$(rotate $((r - 1)) $CONFIGS)
		[ $((r % 2)) = 1 ] || order=$(echo "$order" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "\n") }')
		for c in $order; do
			pre="" post=""
			case "$c" in
			linear) dev=/dev/mapper/s-linear ;;
			cbt) dev=/dev/mapper/s-cbt ;;
			cbt-snap) dev=/dev/mapper/s-cbt pre="exec_prerun=/tmp/snap-cbt.sh" post="exec_postrun=/tmp/drop-cbt.sh" ;;
			cbt-preserve) dev=/dev/mapper/s-cbt pre="exec_prerun=/tmp/snap-preserve.sh" post="exec_postrun=/tmp/drop-cbt.sh" ;;
			cbt-preserve-all) dev=/dev/mapper/s-cbt pre="exec_prerun=/tmp/snap-preserve-all.sh" post="exec_postrun=/tmp/drop-cbt.sh" ;;
			dm-snapshot) dev=/dev/mapper/s-origin pre="exec_prerun=/tmp/snap-dm.sh" post="exec_postrun=/tmp/drop-dm.sh" ;;
			*) fail "unknown configuration '$c'" ;;
			esac
			printf '[r%s.%s.rand-1st]\nfilename=%s\n%s\n' "$r" "$c" "$dev" "$pre"
			printf '[r%s.%s.rand-2nd]\nfilename=%s\n%s\n' "$r" "$c" "$dev" "$post"
		done
		r=$((r + 1))
	done
}

bench_out snapshot "configs=$(echo "$CONFIGS" | tr ' ' ,)" "reps=$REPS" "rand_size=$RAND_SIZE" "once_reps=$ONCE_REPS"
if [ "$REPS" -gt 0 ]; then
	log "$REPS rounds in one fio run"
	jobs >/tmp/jobs.fio
	fio_results snapshot /tmp/jobs.fio $((REPS * $(echo "$CONFIGS" | wc -w) * 2))
	cat /tmp/snap-status.log /tmp/dsnap-status.log
	[ "$(grep -c ' active ' /tmp/snap-status.log)" = $((REPS * NSNAP)) ] || fail "a cbt snapshot was not active at the end of its run"
	[ "$(grep -c dropped /tmp/snap-status.log)" = $((REPS * NSNAP)) ] || fail "a cbt snapshot could not be dropped"
	[ "$(grep -c dropped /tmp/dsnap-status.log)" = $((REPS * NDSNAP)) ] || fail "a dm-snapshot could not be removed"
	if grep -q Invalid /tmp/dsnap-status.log; then fail "a dm-snapshot became invalid"; fi
	bench_out snapshot-status "status=$(grep ' active ' /tmp/snap-status.log | tail -n 1 | tr ' ' ,)"
fi
[ "$ONCE_REPS" -gt 0 ] || pass

# "Once copied" alone: the snapshots stay active through every round.
# once_take DEV COW MARK: a cbt device DEV over the disk, a snapshot of it
# on COW (MARK: "" none, "runs" a preserve set of the 16 runs of 64 KiB,
# "all" a preserve set of the whole region), then the first pass.
once_take() {
	local k=0
	assert_cmd dmsetup create "$1" --table "0 $S cbt $DISK1 128"
	case "$3" in
	runs)
		while [ $k -lt 16 ]; do
			dd if=/dev/urandom of="/dev/mapper/$1" bs=64K seek=$((k * 16)) count=1 oflag=direct conv=notrunc 2>/dev/null
			k=$((k + 1))
		done ;;
	all) dd if=/dev/urandom of="/dev/mapper/$1" bs=1M count=${RAND_SIZE%M} oflag=direct conv=notrunc 2>/dev/null ;;
	esac
	assert_cmd cbt snapshot take "$1" --cow "$2" --chunk 4K --no-freeze ${3:+--preserve}
	assert_cmd dd if=/dev/zero of="/dev/mapper/$1" bs=1M count=${RAND_SIZE%M} oflag=direct conv=notrunc
}
# once_status: "DEV <state> <COW used/size> <forfeited>" per snapshot.
once_status() {
	local d
	for d in $ONCE_DEVS; do
		dmsetup status "$d-snap" | awk -v d="$d" '{ print d, $4, $6, $10 }'
	done
}
# once_setup: the four devices, the three snapshots, the first pass.
once_setup() {
	assert_cmd dmsetup create o-cbt --table "0 $S cbt $DISK1 128"
	assert_cmd dd if=/dev/zero of=/dev/mapper/o-cbt bs=1M count=${RAND_SIZE%M} oflag=direct conv=notrunc
	once_take o-snap "$DISK2" ""
	once_take o-preserve "$DISK4" runs
	once_take o-preserve-all "$DISK5" all
	once_status >/tmp/once-before
	cat /tmp/once-before
	# Chunks of 4 KiB: the region's 4096 copied, or 256 copied and 3840 forfeited.
	chunks=$((${RAND_SIZE%M} * 256))
	printf '%s\n' "o-snap active $chunks/16383 0" "o-preserve active $((chunks / 16))/16383 $((chunks - chunks / 16))" \
		"o-preserve-all active $chunks/16383 0" | diff - /tmp/once-before || fail "the first pass did not copy or forfeit every chunk"
}
once_teardown() {
	local d
	for d in $ONCE_DEVS; do assert_cmd cbt snapshot drop "$d"; done
	# shellcheck disable=SC2086 # the list of names, split on purpose
	dm_remove o-cbt $ONCE_DEVS
}

# once_jobs FIRST LAST: rounds FIRST to LAST, one job per device each.
once_jobs() {
	local r=$1 c order
	printf '[global]\ndirect=1\nioengine=libaio\niodepth=16\nrandrepeat=1\nstonewall\nrw=randwrite\nbs=4k\nsize=%s\nloops=2\n' "$RAND_SIZE"
	while [ "$r" -le "$2" ]; do
		order=$(rotate $((r - 1)) linear cbt cbt-snap cbt-preserve cbt-preserve-all)
		[ $((r % 2)) = 1 ] || order=$(echo "$order" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "\n") }')
		for c in $order; do
			case "$c" in
			linear) printf '[r%s.%s.once]\nfilename=/dev/mapper/s-linear\n' "$r" "$c" ;;
			cbt) printf '[r%s.%s.once]\nfilename=/dev/mapper/o-cbt\n' "$r" "$c" ;;
			*) printf '[r%s.%s.once]\nfilename=/dev/mapper/o-%s\n' "$r" "$c" "${c#cbt-}" ;;
			esac
		done
		r=$((r + 1))
	done
}

if [ "${SNAP_ONCE_SWAP:-0}" = 1 ] && [ -f "$BENCH_ALT_KO" ]; then
	# Each round twice, once per module (tests/bench/run --base): results
	# as bench snapshot-new and snapshot-base.
	bench_out snapshot once_swap=new,base
	dm_remove s-cbt
	r=1
	while [ "$r" -le "$ONCE_REPS" ]; do
		for m in $(module_order "$r" new base); do
			log "once copied, round $r: module $m"
			use_module "$m"
			once_setup
			once_jobs "$r" "$r" >/tmp/once.fio
			fio_results "snapshot-$m" /tmp/once.fio 5
			once_status >/tmp/once-after
			diff /tmp/once-before /tmp/once-after || fail "a write to a copied or forfeited chunk copied or forfeited one"
			once_teardown
		done
		r=$((r + 1))
	done
	pass
fi
once_setup
log "once copied: $ONCE_REPS rounds in one fio run"
once_jobs 1 "$ONCE_REPS" >/tmp/once.fio
fio_results snapshot /tmp/once.fio $((ONCE_REPS * 5))
once_status >/tmp/once-after
diff /tmp/once-before /tmp/once-after || fail "a write to a copied or forfeited chunk copied or forfeited one"
pass
