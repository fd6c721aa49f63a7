#!/bin/sh
# The kernel's counts (CBT_CMD_COUNT_BITMAP, what `cbt bitmap --summary`
# asks for) against the dump's extent list (`cbt bitmap --blocks`) and
# against the numbers worked out by hand, on written patterns: runs across
# 64-bit words and across bitmap leaves (32768 blocks each: a 1 GiB device
# over dm-zero at 4 KiB blocks has 8 leaves and a ninth of one block), a
# whole leaf, a partial last block, one epoch and the union of two. Then
# bad count requests (and bad GET_DEVICE flags) are refused with a message
# and change nothing, and
# counts of a 1 TiB device (several holds of the device's lock each) race
# writes, epoch closes and commits: each ends with the counts or a clean
# error, and once quiet they agree with the dump again.
# disks: 8M
# cost: 8
# timeout: 400

cleanup() {
	bg_stop
	dm_remove z zero big bigzero
}

need_module dm_cbt dm_zero
need_cmd cbt nlprobe

# 1 GiB and 3 sectors: block 262144, the last, is 1.5 KiB.
SECT=$((2097152 + 3))
assert_cmd dmsetup create zero --table "0 $SECT zero"
assert_cmd dmsetup create z --table "0 $SECT cbt /dev/mapper/zero 8"

# w FIRST COUNT: write 4 KiB blocks FIRST.. (dm-zero drops the data; cbt marks them).
w() {
	dd if=/dev/zero of=/dev/mapper/z bs=4096 seek="$1" count="$2" oflag=direct 2>/dev/null ||
		fail "cannot write blocks $1 +$2"
}

# check WHAT BLOCKS EXTENTS ARGS...: --summary and the dump's list of
# `cbt bitmap $DEV ARGS` (DEV: z unless set) both give BLOCKS blocks in
# EXTENTS extents.
check() {
	local what=$1 blocks=$2 extents=$3 s list
	shift 3
	s=$(cbt bitmap "${DEV:-z}" "$@" --summary) || fail "$what: cbt bitmap --summary failed"
	list=$(cbt bitmap "${DEV:-z}" "$@" --blocks) || fail "$what: cbt bitmap --blocks failed"
	log "$what: $(echo "$s" | tr '\n' ' ')"
	assert_eq "$(echo "$list" | awk '{ n += $2 } END { print n + 0 }')" "$blocks" "$what: dumped blocks"
	assert_eq "$(echo "$list" | grep -c .)" "$extents" "$what: dumped extents"
	assert_eq "$(echo "$s" | sed -n 's/^changed: .*, \([0-9]*\) blocks of .*/\1/p')" "$blocks" \
		"$what: counted blocks"
	assert_eq "$(echo "$s" | sed -n 's/^extents: //p')" "$extents" "$what: counted extents"
}

E=$(cbt status z --json | sed -n 's/.*"current_epoch": *\([0-9]*\).*/\1/p')
[ -n "$E" ] || fail "no current epoch"
check "empty epoch $E" 0 0 --epoch "$E"

log "epoch $E: runs across words, across leaves, a whole leaf, the partial last block"
w 60 10			# words 0 and 1
w 127 2			# the last bit of word 1, the first of word 2
w 32765 6		# leaves 0 and 1
w 65535 1		# the last block of leaf 1 ...
w 65537 1		# ... and one past a gap, in leaf 2
dd if=/dev/zero of=/dev/mapper/z bs=1M seek=384 count=128 oflag=direct 2>/dev/null ||
	fail "cannot write leaf 3"	# blocks 98304..131071: all of leaf 3
w 131072 5		# the run goes on into leaf 4
dd if=/dev/zero of=/dev/mapper/z bs=512 seek=$((SECT - 1)) count=1 oflag=direct 2>/dev/null ||
	fail "cannot write the last sector"	# block 262144, alone in leaf 8
check "epoch $E" $((10 + 2 + 6 + 1 + 1 + 32768 + 5 + 1)) 7 --epoch "$E"
# The partial last block counts its 1.5 KiB, not 4 KiB (the summary's bytes).
assert_eq "$(cbt bitmap z --epoch "$E" --json | sed -n 's/.*"changed_bytes": *\([0-9]*\).*/\1/p')" \
	$(((10 + 2 + 6 + 1 + 1 + 32768 + 5) * 4096 + 1536)) "epoch $E: changed bytes"

N=$(cbt epoch close z) || fail "cannot close epoch $E"
assert_eq "$N" "$E" "closed epoch"
log "epoch $((E + 1)): runs that join epoch $E's in the union"
w 70 1			# after [60, 70)
w 32771 1		# after [32765, 32771)
w 200000 3
check "epoch $((E + 1))" 5 3 --epoch $((E + 1))
check "epochs $E..$((E + 1))" $((32794 + 5)) 8 --range "$E..$((E + 1))"
check "every epoch held" $((32794 + 5)) 8

log "bad count requests: refused, with a message, nothing changed"
before=$(cbt status z --json)
bits_before=$(cbt bitmap z --json | sha256_of)
# probe ERRNO MESSAGE-PART ARGS...: nlprobe gets that errno and message.
probe() {
	local want=$1 msg=$2
	shift 2
	nlprobe "$@" >/tmp/probe || fail "nlprobe could not ask the kernel: $*"
	{ grep -q "^errno=$want\$" /tmp/probe && grep -qF "$msg" /tmp/probe; } || {
		cat /tmp/probe
		fail "nlprobe $*: expected errno $want and '$msg'"
	}
	log "ok: nlprobe $* -> $(tr '\n' ' ' </tmp/probe)"
}
CNT=9	# CBT_CMD_COUNT_BITMAP
probe 0 "" $CNT 1:str=z 13:u64="$E"
MM=$(dmsetup info -c --noheadings -o major,minor z | tr -d ' ')
probe 0 "" $CNT 2:u32="${MM%%:*}" 3:u32="${MM##*:}" 16:u64="$E" 17:u64=$((E + 1))
probe 22 "Unsupported attribute" $CNT 1:str=z 13:u64="$E" 18:u32=1	# GET_BITMAP's flags
probe 22 "Give an epoch number" $CNT 1:str=z
probe 22 "Give an epoch number" $CNT 1:str=z 13:u64="$E" 16:u64="$E" 17:u64="$E"
probe 22 "Invalid epoch range" $CNT 1:str=z 16:u64=$((E + 1)) 17:u64="$E"
probe 22 "Invalid epoch range" $CNT 1:str=z 16:u64=1 17:u64=1000
probe 2 "Epoch not held" $CNT 1:str=z 13:u64=$((E + 7))
probe 19 "No cbt device" $CNT 1:str=nosuch 13:u64=1
probe 22 "" $CNT 1:str=z 13:raw=0100				# a u64 of two bytes
probe 1 "CAP_SYS_ADMIN" -u 65534 $CNT 1:str=z 13:u64="$E"
probe 95 "" -d $CNT 1:str=z 13:u64="$E"				# no dump of it
# GET_DEVICE (1) with CBT_A_DEVICE_FLAGS (52): CBT_DEVICE_F_NO_EPOCH_BITS
# (1) is taken; an unknown bit or a wrong size is refused. That the reply
# then has no CBT_A_EPOCH_BITS, every `cbt bitmap --summary` above checks:
# the tool refuses a reply that has it (and `cbt status`, one without).
probe 0 "" 1 1:str=z 52:u32=1
probe 22 "reserved bit set" 1 1:str=z 52:u32=2
probe 22 "" 1 1:str=z 52:raw=01
assert_eq "$(cbt status z --json)" "$before" "device state after bad requests"
# the blocks every held epoch lists, exactly (the device is over dm-zero:
# its data cannot change, what tracking recorded can)
assert_eq "$(cbt bitmap z --json | sha256_of)" "$bits_before" "bitmaps after bad requests"

assert_cmd cbt epoch commit z "$E"

log "counts racing writes, closes and commits on a 1 TiB device"
assert_cmd dmsetup create bigzero --table "0 2147483648 zero"
assert_cmd dmsetup create big --table "0 2147483648 cbt /dev/mapper/bigzero 8"
# One block in every third leaf: 256 leaves, so a count holds the lock 16 times.
i=0
while [ "$i" -lt 256 ]; do
	dd if=/dev/zero of=/dev/mapper/big bs=4096 seek=$((i * 3 * 32768)) count=1 \
		oflag=direct 2>/dev/null || fail "cannot write block $((i * 3 * 32768)) of big"
	i=$((i + 1))
done
DEV=big check "big, before the race" 256 256
bigw() {
	dd if=/dev/zero of=/dev/mapper/big bs=4096 seek=$((($1 * 104729) % 268435000)) count=2 \
		oflag=direct 2>/dev/null
}
cycle() {
	local n
	n=$(cbt epoch close big) && cbt epoch commit big "$n"
}
bg_loop bigw 0 bigw
bg_loop cycle 0 cycle
ok=0 gone=0 i=0 rounds=$(reps 40 10)
while [ "$i" -lt "$rounds" ]; do
	if s=$(cbt bitmap big --summary 2>/tmp/err); then
		ok=$((ok + 1))
		echo "$s" | grep -q '^extents: [0-9]' || fail "summary without extents: $s"
	elif grep -qE "committed or aborted|not held" /tmp/err; then
		gone=$((gone + 1))	# an epoch of the range went before or while it was counted
	else
		cat /tmp/err
		fail "a count racing commits failed otherwise"
	fi
	i=$((i + 1))
done
bg_stop
bg_check bigw "writes to big"
bg_check cycle "epoch close and commit of big"
log "$rounds counts racing commits: $ok counted, $gone found an epoch gone"
[ "$ok" -gt 0 ] || fail "no count succeeded while epochs closed and committed"
# What the last commit left in the open epoch, and three more runs, one across leaves.
{ bigw 1 && bigw 2 && bigw 3; } || fail "cannot write big"
dd if=/dev/zero of=/dev/mapper/big bs=4096 seek=$((5 * 32768 - 2)) count=4 oflag=direct 2>/dev/null ||
	fail "cannot write across leaves 4 and 5 of big"
n=$(cbt bitmap big --blocks | awk '{ n += $2 } END { print n + 0 }')
e=$(cbt bitmap big --blocks | grep -c . || :)
[ "$n" -ge 4 ] || fail "big has $n blocks set after the last writes"
DEV=big check "big, quiet again" "$n" "$e"
pass
