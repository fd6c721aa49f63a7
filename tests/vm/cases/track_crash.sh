#!/bin/sh
# A power cut during a write storm loses no tracking: after the guest is
# killed hard and boots again, every block whose content changed on the
# origin is set in the bitmap (write-ahead marking). Extra bits are allowed
# (writes marked but never completed); the case reports how many.
# disks: 64M 8M
# boots: 2
# kernels: all
# timeout: 300

cleanup() {
	dm_remove c
}

need_module dm_cbt
need_cmd cbt fio blkscan

TABLE="0 $(sectors "$DISK1") cbt $DISK1 8 2 metadata $DISK2"
assert_cmd dmsetup create c --table "$TABLE"

if [ "$PHASE" = 1 ]; then
	# An epoch boundary mid-storm: both epochs must be kept.
	fio --name=storm --filename=/dev/mapper/c --direct=1 --ioengine=libaio \
		--iodepth=16 --numjobs=2 --rw=randwrite --bsrange=4k-64k \
		--time_based --runtime=600 --output=/dev/null &
	until [ "$(cbt bitmap c --blocks | wc -l)" -gt 200 ]; do :; done
	assert_eq "$(cbt epoch close c)" 1 "epoch closed mid-storm"
	until [ "$(cbt bitmap c --epoch 2 --blocks | wc -l)" -gt 200 ]; do :; done
	log "storm running across two epochs; crashing"
	vm_crash
fi

cbt bitmap c --blocks | awk '{ for (b = $1; b < $1 + $2; b++) print b }' | sort -n -u >/tmp/marked
blkscan -b 4096 "$DISK1" | sort -n >/tmp/changed
[ -s /tmp/changed ] || fail "the storm left no data on the origin"
# only_in A B: lines of A not in B.
only_in() { awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen)' "$2" "$1"; }
missing=$(only_in /tmp/changed /tmp/marked | wc -l)
extra=$(only_in /tmp/marked /tmp/changed | wc -l)
log "changed blocks $(wc -l </tmp/changed), marked $(wc -l </tmp/marked), extra marks $extra"
[ "$missing" -eq 0 ] || {
	only_in /tmp/changed /tmp/marked | head
	fail "$missing changed blocks are not in the bitmap after the crash"
}
assert_eq "$(cbt status c --json | grep -c '"closed"')" 1 "closed epoch kept across the crash"
assert_cmd dmsetup remove c
pass
