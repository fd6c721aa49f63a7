#!/bin/sh
# cbt backup: full-image throughput against `dd | zstd -3` of the same
# kind of snapshot, image size against the filesystem's used space, and
# incremental time as a function of the changed data, in one boot.
# A cbt device with a metadata disk (64 KiB blocks) over a 512 MiB disk,
# ext4 mounted on it (so snapshots freeze it, the default), filled to ~40%
# with files of fio data that zstd halves (buffer_compress_percentage=50).
# Full images, ROUNDS rounds, the configurations in a rotated order each
# round: `dd-zstd` (`cbt snapshot take`, then dd iflag=direct bs=1M of the
# snapshot piped into `zstd -3` to a file, then sync: the pipeline is
# timed, the snapshot's take and drop apart), `cbt-full` (`cbt backup
# --full --to DIR`: the blocks ext4 uses), `cbt-all` (the same with
# --all-blocks). Then a chain's full image and INC_ROUNDS rounds of
# incrementals after changing 0%, 1% and 10% of the device's tracking
# blocks (4 KiB O_DIRECT writes at distinct, random 64 KiB-aligned offsets
# of one file, replayed by fio from a generated iolog), each timed. The
# images go to an ext4 of their own on another disk; page caches are
# dropped before each measurement. The chain is verified at the end
# (`cbt verify`). Then write latency: fio 4 KiB random writes to hot.dat
# (O_DIRECT, libaio, iodepth 16, --rate LAT_RATE, every completion logged)
# during a `cbt backup --full`, for LAT_SECS with no backup, and for
# LAT_SECS with the same ext4 mounted through dm-linear over the same disk
# instead of cbt (the baseline): p50 and p99 of each.
# Results: BENCH lines; no pass/fail threshold.
# disks: 512M 8M 64M 1G
# timeout: 1800
# grace: 60

ROUNDS=5		# rounds of the full-image comparison
INC_ROUNDS=3		# rounds of incrementals (one per change size each)
HOT_MIB=128		# the file the changes go to
COLD_FILES=4		# ... and COLD_FILES files of COLD_MIB that stay as they are
COLD_MIB=20
CONFIGS="dd-zstd cbt-full cbt-all"
CHANGES="0 1 10"	# percent of the device's tracking blocks changed
BLOCK=65536		# tracking block size (128 sectors)
LAT_RATE=4m		# the write load of the latency phase
LAT_SECS=8

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

SRC=/mnt/bb-src
STORE=/mnt/bb-store
W=/tmp/bb

cleanup() {
	cbt snapshot drop bb 2>/dev/null || true
	[ -f "$W/fio.pid" ] && kill "$(cat "$W/fio.pid")" 2>/dev/null
	rm -f "$W/fio.pid"
	unmount "$SRC" "$STORE"
	dm_remove bb bb-lin
}

need_module dm_cbt
need_cmd cbt fio zstd mkfs.ext4

# jget KEY FILE: a number member of cbt's JSON output (first match).
jget() {
	sed -n "s/^ *\"$1\": *\([0-9][0-9]*\).*/\1/p" "$2" | head -n 1
}

rm -rf "$W" && mkdir -p "$W" "$SRC" "$STORE"
log "filling the disks"
zero_disks "$DISK1" "$DISK3" "$DISK4"
S=$(sectors "$DISK1")
DEV_BYTES=$((S * 512))
NBLOCKS=$((DEV_BYTES / BLOCK))
assert_cmd dmsetup create bb --table "0 $S cbt $DISK1 $((BLOCK / 512)) 2 metadata $DISK2"
assert_cmd mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/bb
assert_cmd mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$DISK4"
assert_cmd mount -o noatime /dev/mapper/bb "$SRC"
assert_cmd mount -o noatime "$DISK4" "$STORE"

log "writing the data: ${HOT_MIB} MiB + $COLD_FILES x $COLD_MIB MiB"
{
	printf '[global]\ndirect=1\nioengine=psync\nrw=write\nbs=1M\nbuffer_compress_percentage=50\nrefill_buffers\n'
	printf '[hot]\nfilename=%s/hot.dat\nsize=%sM\n' "$SRC" "$HOT_MIB"
	i=0
	while [ "$i" -lt "$COLD_FILES" ]; do
		printf '[cold%s]\nfilename=%s/cold.%s\nsize=%sM\nstonewall\n' "$i" "$SRC" "$i" "$COLD_MIB"
		i=$((i + 1))
	done
} >"$W/fill.fio"
(cd /tmp && fio --eta=never --output=/dev/null "$W/fill.fio") || fail "fio could not write the data"
sync
df_used_kib=$(df -k "$SRC" | awk 'NR == 2 { print $3 }')
df_size_kib=$(df -k "$SRC" | awk 'NR == 2 { print $2 }')
bench_out backup "configs=$(echo "$CONFIGS" | tr ' ' ,)" "changes=$(echo "$CHANGES" | tr ' ' ,)" \
	reps=$ROUNDS inc_reps=$INC_ROUNDS dev_bytes=$DEV_BYTES block=$BLOCK \
	data_bytes=$(((HOT_MIB + COLD_FILES * COLD_MIB) * 1048576)) df_used_bytes=$((df_used_kib * 1024)) \
	df_size_bytes=$((df_size_kib * 1024)) "zstd=$(zstd -V | sed -n 's/.* v\([0-9.]*\).*/\1/p')"

# full CONFIG ROUND: one full image, timed; prints its BENCH line.
full() {
	local c=$1 r=$2 t0 t1 t2 t3 size
	rm -rf "${STORE:?}/img" "$STORE/dd.zst"
	drop_caches
	case "$c" in
	dd-zstd)
		t0=$(now_us)
		cbt snapshot take bb --cow "$DISK3" --json >"$W/take.json" || fail "cbt snapshot take failed"
		t1=$(now_us)
		dd if=/dev/mapper/bb-snap bs=1M iflag=direct 2>/dev/null | zstd -3 -q -c >"$STORE/dd.zst" ||
			fail "dd | zstd failed"
		sync
		t2=$(now_us)
		cbt snapshot drop bb || fail "cbt snapshot drop failed"
		cbt epoch abort bb "$(jget epoch "$W/take.json")" || fail "cbt epoch abort failed"
		t3=$(now_us)
		size=$(wc -c <"$STORE/dd.zst")
		bench_out backup phase=full "rep=$r" "cfg=$c" "time_us=$((t2 - t1))" \
			"snap_us=$((t1 - t0 + t3 - t2))" "read_bytes=$DEV_BYTES" "logical_bytes=$DEV_BYTES" \
			"stored_bytes=$size" "blocks=$NBLOCKS"
		;;
	cbt-full | cbt-all)
		set -- --full
		[ "$c" = cbt-all ] && set -- --full --all-blocks
		t0=$(now_us)
		cbt backup bb "$@" --to "$STORE/img" --cow "$DISK3" --json >"$W/full.json" ||
			fail "cbt backup $* failed"
		t1=$(now_us)
		bench_out backup phase=full "rep=$r" "cfg=$c" "time_us=$((t1 - t0))" \
			"read_bytes=$(jget read_bytes "$W/full.json")" \
			"logical_bytes=$(jget logical_bytes "$W/full.json")" \
			"stored_bytes=$(jget stored_bytes "$W/full.json")" \
			"blocks=$(jget blocks "$W/full.json")" "freeze_ns=$(jget freeze_ns "$W/full.json")"
		;;
	esac
}

log "full images: $ROUNDS rounds of $CONFIGS"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	# shellcheck disable=SC2086 # the list of names, split on purpose
	for c in $(rotate $((r - 1)) $CONFIGS); do
		log "round $r: $c"
		full "$c" "$r"
	done
	r=$((r + 1))
done
rm -rf "${STORE:?}/img" "$STORE/dd.zst"

# change PCT SEED: 4 KiB writes at PCT% of the device's block count of
# distinct random 64 KiB-aligned offsets of hot.dat (one tracking block
# each, as long as the file is contiguous on disk).
change() {
	local n=$(($1 * NBLOCKS / 100))
	[ "$n" -gt 0 ] || return 0
	awk -v n="$n" -v slots=$((HOT_MIB * 1048576 / BLOCK)) -v bs=$BLOCK -v seed="$2" -v f="$SRC/hot.dat" 'BEGIN {
		srand(seed)
		for (i = 0; i < slots; i++) p[i] = i
		for (i = slots - 1; i > 0; i--) { j = int(rand() * (i + 1)); t = p[i]; p[i] = p[j]; p[j] = t }
		print "fio version 2 iolog"; print f " add"; print f " open"
		for (i = 0; i < n; i++) print f " write " p[i] * bs " 4096"
		print f " close"
	}' >"$W/change.log"
	(cd /tmp && fio --eta=never --name=change --read_iolog="$W/change.log" --direct=1 --ioengine=libaio \
		--iodepth=16 --buffer_compress_percentage=50 --refill_buffers --output=/dev/null) ||
		fail "fio could not replay the changes"
}

log "the chain's full image"
drop_caches
t0=$(now_us)
assert_cmd cbt backup bb --full --to "$STORE/chain" --cow "$DISK3" --json >"$W/chain-full.json"
t1=$(now_us)
bench_out backup phase=chain-full "time_us=$((t1 - t0))" \
	"logical_bytes=$(jget logical_bytes "$W/chain-full.json")" \
	"stored_bytes=$(jget stored_bytes "$W/chain-full.json")" "blocks=$(jget blocks "$W/chain-full.json")"

log "incrementals: $INC_ROUNDS rounds of $CHANGES % changed"
r=1
while [ "$r" -le "$INC_ROUNDS" ]; do
	# shellcheck disable=SC2086 # the list of names, split on purpose
	for pct in $(rotate $((r - 1)) $CHANGES); do
		log "round $r: $pct% changed"
		change "$pct" $((r * 1000 + pct))
		drop_caches
		t0=$(now_us)
		cbt backup bb --incremental --to "$STORE/chain" --cow "$DISK3" --json >"$W/inc.json" ||
			fail "cbt backup --incremental failed"
		t1=$(now_us)
		bench_out backup phase=inc "rep=$r" "pct=$pct" "target_blocks=$((pct * NBLOCKS / 100))" \
			"time_us=$((t1 - t0))" "blocks=$(jget blocks "$W/inc.json")" \
			"logical_bytes=$(jget logical_bytes "$W/inc.json")" \
			"stored_bytes=$(jget stored_bytes "$W/inc.json")" \
			"read_bytes=$(jget read_bytes "$W/inc.json")"
	done
	r=$((r + 1))
done

log "verifying the chain"
assert_cmd cbt verify --quiet "$STORE/chain"
du -sk "$STORE/chain"
rm -rf "${STORE:?}/chain"

# lat_load LOG [FIO OPTION...]: the latency phase's write load on hot.dat.
lat_load() {
	local lat=$1
	shift
	cd /tmp && exec fio --eta=never --name=lat --filename="$SRC/hot.dat" --rw=randwrite --bs=4k \
		--direct=1 --ioengine=libaio --iodepth=16 --rate="$LAT_RATE" --randrepeat=0 \
		--norandommap --buffer_compress_percentage=50 --refill_buffers --output=/dev/null \
		--write_lat_log="$lat" --log_avg_msec=0 "$@"
}

log "write latency at $LAT_RATE: during a full backup, without one, on dm-linear"
rm -f "$W"/lat*_clat.1.log
f0=$(now_us)
lat_load "$W/latb" --time_based --runtime=3600 &
echo $! >"$W/fio.pid"
sleep 2
t0=$(now_us)
cbt backup bb --full --to "$STORE/lat" --cow "$DISK3" --json >"$W/lat.json" ||
	fail "cbt backup --full under load failed"
t1=$(now_us)
kill "$(cat "$W/fio.pid")"
wait "$(cat "$W/fio.pid")" 2>/dev/null || true
rm -f "$W/fio.pid" && rm -rf "${STORE:?}/lat"
# shellcheck disable=SC2046 # its words (numbers), split on purpose
set -- $(lat_pcts "$W/latb_clat.1.log" $(((t0 - f0) / 1000)) $(((t1 - f0) / 1000)))
bench_out backup phase=lat cfg=backup "rate=$LAT_RATE" "time_us=$((t1 - t0))" "p50_us=$1" "p99_us=$2" \
	"freeze_ns=$(jget freeze_ns "$W/lat.json")"
(lat_load "$W/latc" --time_based --runtime="$LAT_SECS") || fail "fio on cbt failed"
# shellcheck disable=SC2046 # its words (numbers), split on purpose
set -- $(lat_pcts "$W/latc_clat.1.log" 0 $((LAT_SECS * 1000)))
bench_out backup phase=lat cfg=cbt "rate=$LAT_RATE" "p50_us=$1" "p99_us=$2"
# The same filesystem through dm-linear: cbt only passes the data through.
unmount "$SRC"
dm_remove bb
assert_cmd dmsetup create bb-lin --table "0 $S linear $DISK1 0"
assert_cmd mount -o noatime /dev/mapper/bb-lin "$SRC"
(lat_load "$W/latl" --time_based --runtime="$LAT_SECS") || fail "fio on dm-linear failed"
# shellcheck disable=SC2046 # its words (numbers), split on purpose
set -- $(lat_pcts "$W/latl_clat.1.log" 0 $((LAT_SECS * 1000)))
bench_out backup phase=lat cfg=linear "rate=$LAT_RATE" "p50_us=$1" "p99_us=$2"
pass
