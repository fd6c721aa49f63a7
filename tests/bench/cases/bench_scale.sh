#!/bin/sh
# Scale: many cbt devices on one host (issue 16).
# Growth: cbt devices over 2 MiB dm-linear slices of DISK1, 4 KiB blocks,
# every other one with a 64 KiB metadata slice of DISK2, created in steps
# up to 256 (STEPS). Per step: the time to create the step's cbt devices
# (dmsetup create, one process each) next to the time to create as many
# dm-linear slices (the same process cost without cbt); kernel memory
# (/proc/meminfo Slab + VmallocUsed + Percpu) and the cbt bitmaps' own
# bytes (dmsetup status) with the devices idle and after 1% of every
# device's blocks written (5 scattered 4 KiB writes each, one fio job per
# device); `cbt status --json` of all devices; `cbt epoch close` +
# `commit` of every device one after another, next to as many `cbt
# version` runs (the process start alone).
# Backups: 16 more cbt devices (24 MiB slices of DISK3, metadata, 64 KiB
# blocks) filled with fio data, a full image each into a chain on an ext4
# of DISK5 (COW: 16 MiB slices of DISK4); then, after 10% of each
# device's blocks changed, 16 `cbt backup --incremental` one after another,
# and after another 10%, the same 16 at once. A 17th device takes fio 4
# KiB random writes at 1 MiB/s all along (every completion logged): p50/p99
# of its writes with no backup running, during the serial ones and during
# the parallel ones.
# Results: BENCH lines; no pass/fail threshold.
# disks: 520M 12M 420M 272M 640M
# timeout: 3600
# grace: 60

STEPS="16 64 256"	# cbt devices after each growth step
SLICE=4096		# sectors per slice (2 MiB)
MDSLICE=128		# sectors per metadata slice (64 KiB)
NB=16			# devices backed up together
BSLICE=49152		# sectors per backed-up device (24 MiB)
CSLICE=32768		# sectors per COW slice (16 MiB)
CHANGE=10		# percent of each backed-up device's blocks changed before a round

. /harness/cases/lib.sh

W=/tmp/sc
STORE=/mnt/sc-store

cleanup() {
	[ -f "$W/fio.pid" ] && kill "$(cat "$W/fio.pid")" 2>/dev/null
	rm -f "$W/fio.pid"
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
need_cmd cbt fio mkfs.ext4

# kmem_kib: kernel memory that grows with devices and bitmaps.
kmem_kib() {
	awk '/^(Slab|VmallocUsed|Percpu):/ { s += $2 } END { print s }' /proc/meminfo
}

# bitmap_bytes: the bitmap bytes of every cbt device (dmsetup status field 9).
bitmap_bytes() {
	dmsetup status --target cbt 2>/dev/null | awk '{ s += $10 } END { print s + 0 }'
}

rm -rf "$W" && mkdir -p "$W" "$STORE"
zero_disks "$DISK2"
last=$(echo "$STEPS" | awk '{ print $NF }')

log "growth to $last devices in steps of $STEPS"
n=0
for step in $STEPS; do
	add=$((step - n))
	# the dm-linear slices first: their creation is the baseline
	t0=$(now_us)
	i=$n
	while [ "$i" -lt "$step" ]; do
		i=$((i + 1))
		dmsetup create "sc-l$i" --table "0 $SLICE linear $DISK1 $(((i - 1) * SLICE))" ||
			fail "cannot create slice $i"
		if [ $((i % 2)) = 0 ]; then
			dmsetup create "sc-m$i" --table "0 $MDSLICE linear $DISK2 $(((i / 2 - 1) * MDSLICE))" ||
				fail "cannot create metadata slice $i"
		fi
	done
	t1=$(now_us)
	sync
	m0=$(kmem_kib)
	t2=$(now_us)
	i=$n
	while [ "$i" -lt "$step" ]; do
		i=$((i + 1))
		md=""
		[ $((i % 2)) = 0 ] && md=" 2 metadata /dev/mapper/sc-m$i"
		dmsetup create "sc-c$i" --table "0 $SLICE cbt /dev/mapper/sc-l$i 8$md" ||
			fail "cannot create cbt device $i"
	done
	t3=$(now_us)
	sync
	m1=$(kmem_kib)
	b1=$(bitmap_bytes)
	# 1% of every new device's 512 blocks: 5 scattered 4 KiB writes each
	{
		printf '[global]\nthread\nrw=randwrite\nbs=4k\ndirect=1\nnumber_ios=5\nrandrepeat=0\n'
		i=$n
		while [ "$i" -lt "$step" ]; do
			i=$((i + 1))
			printf '[d%s]\nfilename=/dev/mapper/sc-c%s\n' "$i" "$i"
		done
	} >"$W/writes.fio"
	(cd /tmp && fio --eta=never --output=/dev/null "$W/writes.fio") || fail "fio could not write"
	sync
	m2=$(kmem_kib)
	b2=$(bitmap_bytes)
	t4=$(now_us)
	cbt status --json >"$W/status.json" || fail "cbt status failed"
	t5=$(now_us)
	[ "$(grep -c '"name": "sc-c' "$W/status.json")" = "$step" ] ||
		fail "cbt status lists $(grep -c '"name": "sc-c' "$W/status.json") devices, not $step"
	i=0
	while [ "$i" -lt "$step" ]; do
		i=$((i + 1))
		e=$(cbt epoch close "sc-c$i") || fail "cbt epoch close sc-c$i failed"
		cbt epoch commit "sc-c$i" "$e" || fail "cbt epoch commit sc-c$i failed"
	done
	t6=$(now_us)
	i=0
	while [ "$i" -lt "$step" ]; do
		i=$((i + 1))
		cbt version >/dev/null
	done
	t7=$(now_us)
	bench_out scale phase=growth "devices=$step" "added=$add" "linear_us=$((t1 - t0))" \
		"load_us=$((t3 - t2))" "kmem_before_kib=$m0" "kmem_idle_kib=$m1" "kmem_written_kib=$m2" \
		"bitmap_idle=$b1" "bitmap_written=$b2" "status_us=$((t5 - t4))" \
		"close_commit_us=$((t6 - t5))" "noop_us=$((t7 - t6))"
	n=$step
done

log "$NB backed-up devices and a 17th written all along"
zero_disks "$DISK4"
assert_cmd mkfs.ext4 -q -F -E nodiscard "$DISK5"
assert_cmd mount -o noatime "$DISK5" "$STORE"
i=0
while [ "$i" -le "$NB" ]; do
	i=$((i + 1))
	assert_cmd dmsetup create "sc-bl$i" --table "0 $BSLICE linear $DISK3 $(((i - 1) * BSLICE))"
	assert_cmd dmsetup create "sc-bm$i" --table "0 $MDSLICE linear $DISK2 $(((last / 2 + i) * MDSLICE))"
	assert_cmd dmsetup create "sc-cb$i" --table "0 $BSLICE cbt /dev/mapper/sc-bl$i 128 2 metadata /dev/mapper/sc-bm$i"
	[ "$i" -le "$NB" ] &&
		assert_cmd dmsetup create "sc-w$i" --table "0 $CSLICE linear $DISK4 $(((i - 1) * CSLICE))"
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
backup_one() {
	cbt backup "sc-cb$1" --incremental --to "$STORE/b$1" --cow "/dev/mapper/sc-w$1" --json \
		>"$W/inc$1.json" 2>"$W/inc$1.err"
}

B=$((NB + 1))
rm -f "$W"/lat_clat.1.log
f0=$(now_us)
(cd /tmp && exec fio --eta=never --name=lat --filename="/dev/mapper/sc-cb$B" --rw=randwrite --bs=4k \
	--direct=1 --ioengine=libaio --iodepth=4 --rate=1m --randrepeat=0 --norandommap \
	--time_based --runtime=3600 --output=/dev/null --write_lat_log="$W/lat" --log_avg_msec=0) &
echo $! >"$W/fio.pid"
sleep 6
q0=$(now_us)
change
t0=$(now_us)
i=0
while [ "$i" -lt "$NB" ]; do
	i=$((i + 1))
	backup_one "$i" || fail "serial incremental $i: $(cat "$W/inc$i.err")"
done
t1=$(now_us)
serial_bytes=$(cat "$W"/inc*.json | sed -n 's/^ *"read_bytes": *\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }')
change
t2=$(now_us)
i=0
pids=""
while [ "$i" -lt "$NB" ]; do
	i=$((i + 1))
	backup_one "$i" &
	pids="$pids $!"
done
rc=0
for p in $pids; do
	wait "$p" || rc=1
done
t3=$(now_us)
[ "$rc" = 0 ] || fail "a parallel incremental failed: $(cat "$W"/inc*.err)"
par_bytes=$(cat "$W"/inc*.json | sed -n 's/^ *"read_bytes": *\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }')
kill "$(cat "$W/fio.pid")"
wait "$(cat "$W/fio.pid")" 2>/dev/null || true
rm -f "$W/fio.pid"
set -- $(lat_pcts "$W/lat_clat.1.log" 1000 $(((q0 - f0) / 1000)))
idle50=$1 idle99=$2
set -- $(lat_pcts "$W/lat_clat.1.log" $(((t0 - f0) / 1000)) $(((t1 - f0) / 1000)))
ser50=$1 ser99=$2
set -- $(lat_pcts "$W/lat_clat.1.log" $(((t2 - f0) / 1000)) $(((t3 - f0) / 1000)))
bench_out scale phase=backups "n=$NB" "serial_us=$((t1 - t0))" "serial_bytes=$serial_bytes" \
	"parallel_us=$((t3 - t2))" "parallel_bytes=$par_bytes" "idle_p50_us=$idle50" \
	"idle_p99_us=$idle99" "serial_p50_us=$ser50" "serial_p99_us=$ser99" "parallel_p50_us=$1" \
	"parallel_p99_us=$2"
pass
