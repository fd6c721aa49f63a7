#!/bin/sh
# Netlink bitmap dump time and bitmap memory for a 1 TiB device (cbt over
# dm-zero) at 64 KiB and 4 KiB tracking blocks, per pattern of changed
# blocks: none, 1% (every 100th block), 10% (every 10th), every 64th block
# (one bit per 64-bit word: the densest case for extents), all.
#
# Marking hundreds of millions of blocks by writing would take hours under
# TCG, so the patterns are loaded from the metadata device: the device is
# created once (formatting the metadata), removed, the pattern is written
# into the open epoch's bitmap slot, and the device is created again, which
# loads it. One pattern at 64 KiB is also marked by real writes (fio, one
# 4 KiB write every 4 MiB) as a cross-check: same bits, same memory, same
# dump time. Dump time is the wall time of `cbt bitmap DEV --summary` (a
# whole process, netlink dump included), median of DUMPS runs; "noop" is
# the cost of the timing itself. The same dump read by the nlprobe helper,
# which receives every message and decodes nothing, gives the kernel's and
# the socket's share (kdump), and the count the summary asks for
# (CBT_CMD_COUNT_BITMAP, no bitmap crosses the socket) read by nlprobe
# gives the kernel's count alone (kcount); the device query with every
# epoch's count (kdev) is what `cbt status` asks and --summary no longer
# does; `cbt --version` beside /bin/true is the process start.
# disks: 9M 129M
# timeout: 900
# grace: 60

DUMPS=3
SECTORS=2147483648	# 1 TiB
PATTERNS="none 1pct 10pct every64 all"

# shellcheck source=lib.sh # the guest path of tests/bench/cases/lib.sh
. /harness/cases/lib.sh

cleanup() {
	dm_remove bd-cbt bd-zero
	rm -f /tmp/pat /tmp/chunk
}

need_module dm_cbt dm_zero
need_cmd cbt fio nlprobe

# pattern_bytes NAME: one period of the pattern, as printf octal escapes
# (block b is bit b % 8 of byte b / 8).
pattern_bytes() {
	local z11='\000\000\000\000\000\000\000\000\000\000\000'
	case "$1" in
	none) echo '\000' ;;
	1pct) echo "\\001$z11\\020$z11\\000" ;;	# bits 0 and 100 of 200
	10pct) echo '\001\004\020\100\000' ;;	# bits 0, 10, 20, 30 of 40
	every64) echo '\001\000\000\000\000\000\000\000' ;;
	all) echo '\377' ;;
	esac
}

# write_pattern NAME MDDEV BYTES: the pattern into bitmap slot 0 (pages 2..).
write_pattern() {
	local i=0 n
	# shellcheck disable=SC2059
	printf "$(pattern_bytes "$1")" >/tmp/chunk
	while [ "$i" -lt 17 ]; do	# period x 128 Ki: >= 128 KiB
		cat /tmp/chunk /tmp/chunk >/tmp/pat && mv /tmp/pat /tmp/chunk
		i=$((i + 1))
	done
	n=$(( ($3 + $(wc -c </tmp/chunk) - 1) / $(wc -c </tmp/chunk) ))
	: >/tmp/pat
	i=0
	while [ "$i" -lt "$n" ]; do cat /tmp/chunk >>/tmp/pat; i=$((i + 1)); done
	dd if=/tmp/pat of="$2" bs=4096 seek=2 count=$(($3 / 4096)) conv=notrunc,fsync 2>/dev/null ||
		fail "cannot write pattern $1 to $2"
	rm -f /tmp/pat /tmp/chunk
}

# measure BS PATTERN HOW: dump times and memory of device bd-cbt.
measure() {
	local bs=$1 pat=$2 how=$3 st set bytes n=0 t all="" kall="" call="" dall="" med kmed cmed dmed sum
	st=$(dmsetup status bd-cbt)
	set=$(echo "$st" | awk '{ split($8, a, "/"); print a[1] }')
	bytes=$(echo "$st" | awk '{ print $9 }')
	sum=$(cbt bitmap bd-cbt --summary | tr '\n' ' ')
	log "$bs sectors, $pat ($how): $sum"
	while [ "$n" -lt "$DUMPS" ]; do
		t=$(time_us cbt bitmap bd-cbt --summary)
		all="$all $t"
		# GET_BITMAP (5) of epoch 1 (13), extents allowed (18): the tool's request
		t=$(time_us nlprobe -d 5 1:str=bd-cbt 13:u64=1 18:u32=1)
		kall="$kall $t"
		# COUNT_BITMAP (9) of epoch 1: what --summary asks a module that has it
		t=$(time_us nlprobe 9 1:str=bd-cbt 13:u64=1)
		call="$call $t"
		# GET_DEVICE (1) with each epoch's count: the query --summary no
		# longer sends (it asks CBT_DEVICE_F_NO_EPOCH_BITS), `cbt status` does
		t=$(time_us nlprobe 1 1:str=bd-cbt)
		dall="$dall $t"
		n=$((n + 1))
	done
	t=$(nlprobe -d 5 1:str=bd-cbt 13:u64=1 18:u32=1)
	case "$t" in *errno=0*) ;; *) fail "nlprobe dump failed: $t" ;; esac
	t=$(nlprobe 9 1:str=bd-cbt 13:u64=1)
	case "$t" in *errno=0*) ;; *) fail "nlprobe count failed: $t" ;; esac
	med=$(echo "$all" | tr ' ' '\n' | grep . | median)
	kmed=$(echo "$kall" | tr ' ' '\n' | grep . | median)
	cmed=$(echo "$call" | tr ' ' '\n' | grep . | median)
	dmed=$(echo "$dall" | tr ' ' '\n' | grep . | median)
	# shellcheck disable=SC2086 # split on purpose: the runs without the leading space
	bench_out dump block=$((bs * 512)) "pattern=$pat" "how=$how" "blocks_set=$set" \
		"bitmap_bytes=$bytes" "dump_us=$med" "kdump_us=$kmed" "kcount_us=$cmed" "kdev_us=$dmed" \
		"runs_us=$(echo $all | tr ' ' ,)"
}

assert_cmd dmsetup create bd-zero --table "0 $SECTORS zero"

# The timing's own cost: two clock reads around a no-op.
all=""
for n in 1 2 3 4 5; do all="$all $(time_us true)"; done
bench_out dump pattern=noop dump_us="$(echo "$all" | tr ' ' '\n' | grep . | median)"
# Process start: /bin/true (busybox, static) and `cbt --version` (the tool's
# libraries loaded and relocated, the module asked for its version).
all="" call=""
for n in 1 2 3 4 5; do all="$all $(time_us /bin/true)"; call="$call $(time_us cbt --version)"; done
bench_out dump pattern=start true_us="$(echo "$all" | tr ' ' '\n' | grep . | median)" \
	version_us="$(echo "$call" | tr ' ' '\n' | grep . | median)"

for bs in 128 8; do
	if [ "$bs" = 128 ]; then md=$DISK1; else md=$DISK2; fi
	nblocks=$((SECTORS / bs))
	bmbytes=$((nblocks / 8))
	tbl="0 $SECTORS cbt /dev/mapper/bd-zero $bs 2 metadata $md"
	log "formatting the metadata for $bs-sector blocks"
	assert_cmd dmsetup create bd-cbt --table "$tbl"
	assert_cmd dmsetup remove bd-cbt
	for pat in $PATTERNS; do
		log "pattern $pat: $bmbytes bytes of bitmap"
		write_pattern "$pat" "$md" "$bmbytes"
		t0=$(now_us)
		assert_cmd dmsetup create bd-cbt --table "$tbl"
		t1=$(now_us)
		bench_out dump block=$((bs * 512)) "pattern=$pat" load_us=$((t1 - t0))
		measure "$bs" "$pat" loaded
		assert_cmd dmsetup remove bd-cbt
	done
	# Leave the metadata empty for the cross-check.
	write_pattern none "$md" "$bmbytes"
done

# Cross-check at 64 KiB: every 64th block marked by writing.
assert_cmd dmsetup create bd-cbt --table "0 $SECTORS cbt /dev/mapper/bd-zero 128"
log "marking every 64th 64 KiB block by writing (262144 writes)"
t0=$(now_us)
assert_cmd fio --eta=never --name=mark --filename=/dev/mapper/bd-cbt --direct=1 --ioengine=libaio \
	--iodepth=32 --rw=write:4092k --bs=4k --size=1T --io_size=1G --output=/dev/null
t1=$(now_us)
bench_out dump block=65536 pattern=every64 mark_us=$((t1 - t0))
measure 128 every64 written
pass
