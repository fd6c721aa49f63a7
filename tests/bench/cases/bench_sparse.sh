#!/bin/sh
# Sparse devices (issue 16): cbt in memory at 4 KiB blocks over dm-zero of
# 1 TiB and 16 TiB. Per configuration: scattered 4 MiB writes (runs of
# 1024 blocks at random places, each place once; dm-zero drops the data)
# that set 1% of the blocks, or of 16 TiB as many as 1% of 1 TiB; then the
# bitmap memory (dmsetup status) idle, written and after the commit, the
# time of `cbt bitmap --summary` (median of 3, whole process), of `cbt
# epoch close` and of `cbt epoch commit` (each a whole process; "noop" is
# `cbt version`, the process start alone). The goal: costs grow with the
# blocks written, not with the device size.
# Results: BENCH lines; no pass/fail threshold.
# timeout: 1800
# grace: 60

TIB=2147483648		# sectors in 1 TiB
RUN=4194304		# bytes per written run (4 MiB: 1024 blocks)
# size_in_TiB runs: 1% of 1 TiB, the same count on 16 TiB, 1% of 16 TiB
CONFIGS="1:2621 16:2621 16:41943"

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

cleanup() {
	dm_remove sp-cbt sp-zero
}

need_module dm_cbt dm_zero
need_cmd cbt fio

field() { dmsetup status sp-cbt | awk -v f="$1" '{ print $f }'; }

noop=$( (for _ in 1 2 3; do time_us cbt version; done) | median)
for c in $CONFIGS; do
	tib=${c%%:*} runs=${c#*:}
	assert_cmd dmsetup create sp-zero --table "0 $((tib * TIB)) zero"
	assert_cmd dmsetup create sp-cbt --table "0 $((tib * TIB)) cbt /dev/mapper/sp-zero 8"
	idle=$(field 9)
	log "${tib} TiB: $runs scattered 4 MiB writes"
	t0=$(now_us)
	(cd /tmp && fio --eta=never --output=/dev/null --name=runs --filename=/dev/mapper/sp-cbt \
		--rw=randwrite --bs=$RUN --direct=1 --ioengine=libaio --iodepth=16 \
		--number_ios="$runs" --randrepeat=0) || fail "fio failed"
	t1=$(now_us)
	set=$(field 8)
	set=${set%/*}
	[ "$set" = $((runs * 1024)) ] || fail "$set blocks set, want $((runs * 1024))"
	written=$(field 9)
	dump=$( (for _ in 1 2 3; do time_us cbt bitmap sp-cbt --summary; done) | median)
	t2=$(now_us)
	e=$(cbt epoch close sp-cbt) || fail "cbt epoch close failed"
	t3=$(now_us)
	cbt epoch commit sp-cbt "$e" || fail "cbt epoch commit failed"
	t4=$(now_us)
	committed=$(field 9)
	bench_out sparse "tib=$tib" "runs=$runs" "blocks_set=$set" "bitmap_idle=$idle" \
		"bitmap_written=$written" "bitmap_committed=$committed" "write_us=$((t1 - t0))" \
		"dump_us=$dump" "close_us=$((t3 - t2))" "commit_us=$((t4 - t3))" "noop_us=$noop"
	dm_remove sp-cbt sp-zero
done
pass
