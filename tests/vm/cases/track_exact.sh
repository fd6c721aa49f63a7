#!/bin/sh
# The bitmap holds exactly the blocks written: fio random writes of random
# sizes and 512-byte alignment (so many straddle tracking blocks), logged
# with write_iolog, at 4 KiB and 64 KiB tracking blocks, on a device whose
# length is not a multiple of the block size. Then discards, write-zeroes
# and the last sector are tracked, and reads are not. `cbt bitmap --summary`
# counts the same blocks and extents as the list.
# disks: 96M
# kernels: all
# timeout: 300

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt fio

# expected_blocks LOG BS: the blocks fio's iolog says were written.
expected_blocks() {
	# iolog v2: "file action offset len"; v3 puts a timestamp first.
	awk -v bs="$2" '{
		for (i = 1; i < NF - 1; i++) if ($i == "write" || $i == "trim") break
		if (i >= NF - 1) next
		first = int($(i + 1) / bs); last = int(($(i + 1) + $(i + 2) - 1) / bs)
		for (b = first; b <= last; b++) print b
	}' "$1" | sort -n -u
}

# bitmap_blocks DEV EPOCH: the blocks the kernel reports, one per line.
bitmap_blocks() {
	cbt bitmap "$1" --epoch "$2" --blocks | awk '{ for (b = $1; b < $1 + $2; b++) print b }'
}

# check_summary DEV EPOCH: --summary's counts (popcount on the kernel's
# words) agree with the extent list of the same epoch.
check_summary() {
	local s
	s=$(cbt bitmap "$1" --epoch "$2" --summary) || fail "cbt bitmap --summary failed"
	assert_eq "$(echo "$s" | sed -n 's/^changed: .*, \([0-9]*\) blocks of .*/\1/p')" \
		"$(bitmap_blocks "$1" "$2" | wc -l | tr -d ' ')" "summary: changed blocks"
	assert_eq "$(echo "$s" | sed -n 's/^extents: //p')" \
		"$(cbt bitmap "$1" --epoch "$2" --blocks | wc -l | tr -d ' ')" "summary: extents"
}

# Leave 7 sectors past the last whole 64 KiB block.
LEN=$(( ($(sectors "$DISK1") / 128 - 1) * 128 + 7 ))

for BS in 8 128; do
	BYTES=$((BS * 512))
	log "tracking block $BYTES bytes"
	assert_cmd dmsetup create c --table "0 $LEN cbt $DISK1 $BS"
	epoch=$(cbt status c --json | sed -n 's/.*"current_epoch": *\([0-9]*\).*/\1/p')
	[ -n "$epoch" ] || epoch=1

	rm -f /tmp/iolog	# fio appends to an existing log
	assert_cmd fio --name=w --filename=/dev/mapper/c --direct=1 --ioengine=psync \
		--rw=randwrite --bsrange=512-96k --blockalign=512 --size=$((LEN * 512)) \
		--io_size=6M --numjobs=1 --randseed=$BS --write_iolog=/tmp/iolog \
		--output=/dev/null
	expected_blocks /tmp/iolog "$BYTES" >/tmp/want
	log "fio wrote $(wc -l </tmp/want) distinct blocks"
	[ -s /tmp/want ] || fail "fio's iolog lists no write"

	log "reads never set bits"
	assert_cmd dd if=/dev/mapper/c of=/dev/null bs=1M iflag=direct
	bitmap_blocks c "$epoch" >/tmp/got
	cmp -s /tmp/want /tmp/got || {
		diff /tmp/want /tmp/got | head -20
		fail "bitmap differs from fio's writes at block size $BYTES"
	}
	log "bitmap = fio's writes: $(wc -l </tmp/got) blocks"
	check_summary c "$epoch"

	log "discard, write-zeroes and the last sector, in a new epoch"
	closed=$(cbt epoch close c)
	assert_eq "$closed" "$epoch" "closed epoch"
	next=$((epoch + 1))
	off=$((BYTES * 37 + 512)) len=$((BYTES * 3))
	assert_cmd blkdiscard -o "$off" -l "$len" /dev/mapper/c
	zoff=$((BYTES * 101)) zlen=$((BYTES / 2))
	assert_cmd blkdiscard -z -o "$zoff" -l "$zlen" /dev/mapper/c
	assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=512 count=1 seek=$((LEN - 1)) oflag=direct
	{
		echo "x trim $off $len"
		echo "x write $zoff $zlen"
		echo "x write $(( (LEN - 1) * 512 )) 512"
	} >/tmp/iolog2
	expected_blocks /tmp/iolog2 "$BYTES" >/tmp/want
	bitmap_blocks c "$next" >/tmp/got
	cmp -s /tmp/want /tmp/got || {
		echo "want: $(tr '\n' ' ' </tmp/want)"
		echo "got:  $(tr '\n' ' ' </tmp/got)"
		fail "discard/write-zeroes/last-sector blocks wrong at block size $BYTES"
	}
	check_summary c "$next"
	log "closed epoch $closed unchanged by later writes"
	bitmap_blocks c "$epoch" | wc -l >/tmp/n
	assert_cmd cbt epoch commit c "$closed"
	assert_cmd dmsetup remove c
done
pass
