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
# (16 backups at once against one after another: bench_parallel.)
# Results: BENCH lines; no pass/fail threshold.
# disks: 520M 12M
# timeout: 3600
# grace: 60

STEPS="16 64 256"	# cbt devices after each growth step
SLICE=4096		# sectors per slice (2 MiB)
MDSLICE=128		# sectors per metadata slice (64 KiB)

. /harness/cases/lib.sh

W=/tmp/sc

cleanup() {
	[ -f "$W/fio.pid" ] && kill "$(cat "$W/fio.pid")" 2>/dev/null
	rm -f "$W/fio.pid"
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

pass
