#!/bin/sh
# Scale: many cbt devices on one host (issue 16).
# Growth: cbt devices over 2 MiB dm-linear slices of DISK1, 4 KiB blocks,
# every other one with a 64 KiB metadata slice of DISK2, created in steps
# up to 256 (STEPS; SCALE_STEPS=16:64 in the guest's environment, as
# VM_GUEST_ENV=SCALE_STEPS=16:64 tests/bench/run scale, for fewer). Per
# step: the time to create the step's cbt devices (dmsetup create, one
# process each) next to the time to create as many dm-linear slices (the
# same process cost without cbt); kernel memory (/proc/meminfo Slab +
# VmallocUsed + Percpu) and the cbt bitmaps' own bytes (dmsetup status)
# with the devices idle and after 1% of every new device's blocks written
# (5 scattered 4 KiB writes each, one fio job per device), and where that
# memory went (below); `cbt status --json` of all devices; `cbt epoch
# close` + `commit` of every device, one process each, one after another,
# next to as many `cbt version` runs (the process start alone), and
# `cbt epoch close --all` + `cbt epoch commit --all` (one process each
# for all devices).
# Memory of the writes: /proc/meminfo and /proc/slabinfo snapshots taken
# after fio exited (its threads are gone): before the writes and after,
# with empty slabs released first (/sys/kernel/slab/*/shrink: "live", the
# objects that stay) and without ("held", what the kernel keeps, as the
# meminfo sum counts it); then the same writes on the dm-linear slices
# under the new devices (the block layer's and fio's share, without cbt).
# phase=slab lines name the caches that grew most.
# (16 backups at once against one after another: bench_parallel.)
# Results: BENCH lines; no pass/fail threshold.
# disks: 520M 12M
# timeout: 3600
# grace: 60

STEPS=$(echo "${SCALE_STEPS:-16 64 256}" | tr : " ")	# cbt devices after each growth step
SLICE=4096		# sectors per slice (2 MiB)
MDSLICE=128		# sectors per metadata slice (64 KiB)

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
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

# mem_snap FILE [shrink]: /proc/meminfo's kernel fields and every slab
# cache's live bytes and held KiB into FILE, after releasing empty slabs
# when asked; also the number of tasks and of kworkers.
mem_snap() {
	if [ "${2:-}" = shrink ]; then
		for f in /sys/kernel/slab/*/shrink; do
			echo 1 >"$f" 2>/dev/null
		done
	fi
	# the tasks first: reading /proc/PID/comm creates proc inodes, which
	# this snapshot then counts, not the next one
	# shellcheck disable=SC2012 # a count: the names do not matter
	echo "tasks all $(ls -d /proc/[0-9]* | wc -l)" >"$1.tasks"
	echo "tasks kworker $(grep -l '^kworker' /proc/[0-9]*/comm 2>/dev/null | wc -l)" >>"$1.tasks"
	{
		cat "$1.tasks"
		awk '/^(Slab|SReclaimable|SUnreclaim|VmallocUsed|Percpu|KernelStack|PageTables):/ {
			print "meminfo", substr($1, 1, length($1) - 1), $2 }' /proc/meminfo
		# name active_objs num_objs objsize objperslab pagesperslab : tunables ... : slabdata active num shared
		awk 'NR > 2 { print "slab", $1, $2 * $4, $15 * $6 * 4 }' /proc/slabinfo
	} >"$1"
}

# mem_kib FILE: Slab + VmallocUsed + Percpu of a mem_snap.
mem_kib() {
	awk '$1 == "meminfo" && $2 ~ /^(Slab|VmallocUsed|Percpu)$/ { s += $3 } END { print s + 0 }' "$1"
}

# mem_out RUN KIND BEFORE AFTER: phase=slab line: meminfo and task deltas,
# and the 6 caches that grew most (KiB; live bytes or held pages by KIND).
mem_out() {
	# shellcheck disable=SC2046 # key=value words, split on purpose
	bench_out scale phase=slab "devices=$step" "added=$add" "run=$1" "kind=$2" $(awk -v kind="$2" '
		FNR == NR { v[$1 " " $2] = (kind == "live" && $1 == "slab") ? $3 / 1024 : $NF; next }
		{ k = $1 " " $2; d = ((kind == "live" && $1 == "slab") ? $3 / 1024 : $NF) - v[k]
		  if ($1 == "meminfo") printf "%s=%d\n", $2, d
		  else if ($1 == "tasks") printf "tasks_%s=%d\n", $2, d
		  else if (d > 0) printf "slab %d %s\n", d, $2 }' "$3" "$4" |
		sort -k2,2nr | awk '$1 == "slab" { if (n++ < 6) printf "%s=%d ", $3, $2; next } { printf "%s ", $0 }')
}

# bitmap_bytes: the bitmap bytes of every cbt device (dmsetup status field 9).
bitmap_bytes() {
	dmsetup status --target cbt 2>/dev/null | awk '{ s += $10 } END { print s + 0 }'
}

rm -rf "$W" && mkdir -p "$W"
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
		# disk_util=0: fio's disk statistics walk all of /sys/block to find
		# each device, creating sysfs inodes and dentries (about 200 KiB per
		# device, reclaimable) that are not the writes' cost
		printf '[global]\nthread\nrw=randwrite\nbs=4k\ndirect=1\nnumber_ios=5\nrandrepeat=0\ndisk_util=0\n'
		i=$n
		while [ "$i" -lt "$step" ]; do
			i=$((i + 1))
			printf '[d%s]\nfilename=/dev/mapper/sc-c%s\n' "$i" "$i"
		done
	} >"$W/writes.fio"
	mem_snap "$W/c0" shrink
	(cd /tmp && fio --eta=never --output=/dev/null "$W/writes.fio") || fail "fio could not write"
	sync
	m2=$(kmem_kib)
	b2=$(bitmap_bytes)
	mem_snap "$W/c1"
	mem_snap "$W/c2" shrink
	mem_out cbt held "$W/c0" "$W/c1"
	mem_out cbt live "$W/c0" "$W/c2"
	# the same writes on the dm-linear slices under the new devices (untracked)
	sed 's,/dev/mapper/sc-c,/dev/mapper/sc-l,' "$W/writes.fio" >"$W/linear.fio"
	(cd /tmp && fio --eta=never --output=/dev/null "$W/linear.fio") || fail "fio could not write the slices"
	sync
	mem_snap "$W/l1"
	mem_snap "$W/l2" shrink
	mem_out linear held "$W/c2" "$W/l1"
	mem_out linear live "$W/c2" "$W/l2"
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
	# one process for every device: close all, then commit all
	cbt epoch close --all >"$W/close.out" || fail "cbt epoch close --all failed"
	t8=$(now_us)
	cbt epoch commit --all >"$W/commit.out" || fail "cbt epoch commit --all failed"
	t9=$(now_us)
	[ "$(grep -c '^sc-c[0-9]*: epoch [0-9]* closed$' "$W/close.out")" = "$step" ] ||
		fail "cbt epoch close --all closed $(grep -c closed "$W/close.out") devices, not $step"
	[ "$(grep -c '^sc-c[0-9]*: epoch [0-9]* committed$' "$W/commit.out")" = "$step" ] ||
		fail "cbt epoch commit --all committed $(grep -c committed "$W/commit.out") devices, not $step"
	bench_out scale phase=growth "devices=$step" "added=$add" "linear_us=$((t1 - t0))" \
		"load_us=$((t3 - t2))" "kmem_before_kib=$m0" "kmem_idle_kib=$m1" "kmem_written_kib=$m2" \
		"kmem_w0_kib=$(mem_kib "$W/c0")" "kmem_w_held_kib=$(mem_kib "$W/c1")" \
		"kmem_w_live_kib=$(mem_kib "$W/c2")" "kmem_lin_held_kib=$(mem_kib "$W/l1")" \
		"kmem_lin_live_kib=$(mem_kib "$W/l2")" \
		"bitmap_idle=$b1" "bitmap_written=$b2" "status_us=$((t5 - t4))" \
		"close_commit_us=$((t6 - t5))" "noop_us=$((t7 - t6))" \
		"close_all_us=$((t8 - t7))" "commit_all_us=$((t9 - t8))"
	n=$step
done

pass
