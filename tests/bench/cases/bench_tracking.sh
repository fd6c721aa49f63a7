#!/bin/sh
# Write throughput with tracking, as ratios to dm-linear and to the raw disk
# measured in the same boot. Configurations (all over the same disk): raw
# disk, dm-linear, cbt in memory (64 KiB blocks), cbt with metadata at 4 KiB
# and 64 KiB blocks, dm-era (persistent, 64 KiB). Workloads per
# configuration, in one fio run: 4 KiB random writes (O_DIRECT, libaio,
# iodepth 16) over a fixed region, first pass just after a new epoch (no
# block marked: with metadata every first write to a block waits for a
# commit) and second pass over the same blocks (all marked); 1 MiB
# sequential writes over the whole disk, first and second pass. Then the
# PEERS workload on an ext4 of its own per configuration: fio 4 KiB random
# O_DIRECT writes to a fresh 48 MB file, after a new epoch. The block
# jobs run in one fio process, configurations alternating job by job; the
# configurations come in a rotated order each round (drift cancels out of
# the per-round ratios). Results: BENCH lines (tests/bench/run turns them into
# tables); nothing here is a pass/fail threshold.
# disks: 1G 8M 8M 8M 128M 128M 128M 128M 128M 128M 8M 8M 8M
# timeout: 1500
# grace: 60

BLOCK_ROUNDS=5	# rounds of the block-device jobs
PEERS_ROUNDS=3	# rounds of the ext4 workload (~10 s per run)
RAND_SIZE=32M	# region of the 4 KiB random writes: 8192 writes per pass
SEQ_SIZE=1G	# the whole disk, in 1 MiB writes
CONFIGS="raw linear cbt-mem cbt-md-4k cbt-md-64k era-64k"

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

cleanup() {
	local c
	for c in $CONFIGS; do
		unmount "/mnt/$c"
	done
	for c in $CONFIGS; do
		dm_remove "b-$c" "e-$c"
	done
}

need_module dm_cbt
need_cmd cbt fio
have_era=1
modprobe dm_era 2>/dev/null || have_era=0
[ "$have_era" = 1 ] || { log "no dm-era in this kernel: left out"; CONFIGS="raw linear cbt-mem cbt-md-4k cbt-md-64k"; }

# table CONFIG ORIGIN METADATA: the dm table of a configuration.
table() {
	local s
	s=$(sectors "$2")
	case "$1" in
	linear) echo "0 $s linear $2 0" ;;
	cbt-mem) echo "0 $s cbt $2 128" ;;
	cbt-md-4k) echo "0 $s cbt $2 8 2 metadata $3" ;;
	cbt-md-64k) echo "0 $s cbt $2 128 2 metadata $3" ;;
	era-64k) echo "0 $s era $3 $2 128" ;;
	esac
}

# reset_cmd CONFIG DEV: what starts a fresh tracking epoch.
reset_cmd() {
	case "$1" in
	cbt-*) echo "cbt_reset $2" ;;
	era-*) echo "dmsetup message $2 0 checkpoint" ;;
	*) echo true ;;
	esac
}

# Fill every disk once, so that no pass pays for the host allocating the
# sparse image's pages (mkfs gets nodiscard for the same reason).
log "filling the disks"
zero_disks "$DISK1" "$DISK5" "$DISK6" "$DISK7" "$DISK8" "$DISK9" "$DISK10"

# Block-device configurations, all over DISK1; metadata on DISK2-4.
set -- "" "$DISK2" "$DISK3" "$DISK4"
i=0
for c in $CONFIGS; do
	case "$c" in
	raw) eval "BDEV_$i=$DISK1" ;;
	linear | cbt-mem)
		assert_cmd dmsetup create "b-$c" --table "$(table "$c" "$DISK1")"
		eval "BDEV_$i=/dev/mapper/b-$c" ;;
	*)
		shift
		assert_cmd dmsetup create "b-$c" --table "$(table "$c" "$DISK1" "$1")"
		eval "BDEV_$i=/dev/mapper/b-$c" ;;
	esac
	i=$((i + 1))
done

# ext4 configurations: one disk each (DISK5-10), metadata on DISK11-13.
set -- "$DISK5" "$DISK6" "$DISK7" "$DISK8" "$DISK9" "$DISK10"
md="$DISK11 $DISK12 $DISK13"
i=0
for c in $CONFIGS; do
	d=$1
	shift
	case "$c" in
	raw) dev=$d ;;
	linear | cbt-mem)
		assert_cmd dmsetup create "e-$c" --table "$(table "$c" "$d")"
		dev=/dev/mapper/e-$c ;;
	*)
		m=${md%% *} md=${md#* }
		assert_cmd dmsetup create "e-$c" --table "$(table "$c" "$d" "$m")"
		dev=/dev/mapper/e-$c ;;
	esac
	assert_cmd mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$dev"
	mkdir -p "/mnt/$c"
	assert_cmd mount -t ext4 "$dev" "/mnt/$c"
	eval "EDEV_$i=$dev"
	i=$((i + 1))
done

# idx CONFIG: its position in CONFIGS.
idx() {
	echo "$CONFIGS" | awk -v c="$1" '{ for (i = 1; i <= NF; i++) if ($i == c) print i - 1 }'
}

# block_jobs: one fio job file for every block-device measurement, so that
# configurations alternate job by job (seconds apart) with no fio start in
# between. Job names: r<round>.<config>.<workload>-<pass>.
block_jobs() {
	local r=1 c dev reset w
	printf '[global]\ndirect=1\nioengine=libaio\niodepth=16\nrandrepeat=1\nstonewall\n'
	while [ "$r" -le "$BLOCK_ROUNDS" ]; do
		for w in rand seq; do
			# shellcheck disable=SC2086 # the list of names, split on purpose
			for c in $(rotate $((r - 1)) $CONFIGS); do
				eval "dev=\$BDEV_$(idx "$c")"
				reset=$(reset_script "b-$c" "$(reset_cmd "$c" "$dev")")
				if [ "$w" = rand ]; then
					set -- "rw=randwrite" "bs=4k" "size=$RAND_SIZE"
				else
					set -- "rw=write" "bs=1M" "size=$SEQ_SIZE"
				fi
				printf '[r%s.%s.%s-1st]\nfilename=%s\nexec_prerun=%s\n%s\n%s\n%s\n' "$r" "$c" "$w" "$dev" "$reset" "$@"
				printf '[r%s.%s.%s-2nd]\nfilename=%s\n%s\n%s\n%s\n' "$r" "$c" "$w" "$dev" "$@"
			done
		done
		r=$((r + 1))
	done
}

peers_job() {
	cat <<EOF
[ext4-peers]
filename=/mnt/$1/f
size=48M
rw=randwrite
bs=4k
direct=1
ioengine=libaio
iodepth=16
randrepeat=1
EOF
}

bench_out tracking "configs=$(echo "$CONFIGS" | tr ' ' ,)" reps=$BLOCK_ROUNDS peers_reps=$PEERS_ROUNDS \
	rand_size=$RAND_SIZE seq_size=$SEQ_SIZE
log "block devices: $BLOCK_ROUNDS rounds in one fio run"
block_jobs >/tmp/jobs.fio
fio_results tracking /tmp/jobs.fio $((BLOCK_ROUNDS * $(echo "$CONFIGS" | wc -w) * 4))

r=1
while [ "$r" -le "$PEERS_ROUNDS" ]; do
	# shellcheck disable=SC2086 # the list of names, split on purpose
	order=$(rotate $((r - 1)) $CONFIGS)
	log "ext4 round $r/$PEERS_ROUNDS: $order"
	for c in $order; do
		eval "dev=\$EDEV_$(idx "$c")"
		rm -f "/mnt/$c/f"
		sync
		eval "$(reset_cmd "$c" "$dev")" >/dev/null || fail "cannot start a new epoch on $dev"
		peers_job "$c" >/tmp/jobs.fio
		fio_jobs /tmp/jobs.fio >/tmp/res || fail "fio on ext4 over $c failed"
		read -r job iops bw ms lat </tmp/res
		bench_out tracking "rep=$r" "cfg=$c" "job=$job" "iops=$iops" "bw=$bw" "runtime_ms=$ms" "lat_us=$lat"
	done
	r=$((r + 1))
done
for c in $CONFIGS; do
	case "$c" in cbt-*) bench_out tracking-status "cfg=$c" "status=$(dmsetup status "b-$c" | tr ' ' ,)" ;; esac
done
pass
