#!/bin/sh
# A device's fingerprint validation (a read of its origin's first and last
# MiB) holds no lock the device's other requests need (issue 16): while
# a's validation cannot finish (its origin sits on a suspended device),
# `cbt status a', `cbt status' of all devices and `cbt epoch close a'
# answer. Before, the read ran under a's tracker mutex and each of them
# waited for it. A write to the first MiB during the read goes down (the
# validation then starts over), and after the resume the fingerprint
# recorded is the origin's as written: the next load continues the
# history. Not provoked here: a hash read before such a write and
# recorded after it. On resume the stuck flush, then the write, go down
# before the validation's reads, so a validation that skipped its
# recheck (cbt_fp_work()) passes this case too.
# disks: 16M 8M 16M
# cost: 8
# timeout: 120

W=/tmp/fpu
STUCK=

cleanup() {
	unstick low "${BG:-}"
	dm_remove a b low
}

need_module dm_cbt
need_cmd cbt stamp
rm -rf "$W" && mkdir -p "$W"
BG=

N=$(sectors "$DISK1")
CBT="0 $N cbt /dev/mapper/low 8 2 metadata $DISK2"

# The newest superblock on a's metadata device has fp_valid set (flags,
# bit 0, at byte 160; the sequence number's low word at byte 16).
sb_u32() {
	dd if="$DISK2" bs=4096 skip="$1" count=1 iflag=direct 2>/dev/null |
		od -An -tu4 -j "$2" -N4 | tr -d ' '
}
fp_valid_on_disk() {
	local s0 s1 p=0
	s0=$(sb_u32 0 16)
	s1=$(sb_u32 1 16)
	[ "$s1" -le "$s0" ] || p=1
	[ $(($(sb_u32 "$p" 160) & 1)) -eq 1 ]
}
# A kernel worker is in a's fingerprint validation (nothing else runs it).
fp_reading() {
	grep -qs cbt_fp_work /proc/[0-9]*/stack
}
# answers CMD...: CMD ends while the validation still waits for its read.
# Before, it slept on a's mutex until low resumed (for ever, here); now it
# answers in well under a second, so 30 s is a deadline for a hang, not a
# measurement. (A stack in /proc/PID/stack leaves out mutex_lock() and the
# other sleeping functions: it shows where in dm-cbt the command sleeps.)
answers() {
	local n=300
	"$@" >"$W/out" 2>&1 &
	BG=$!
	while kill -0 "$BG" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || fail "'$*' did not answer in 30 s while a's fingerprint is read;" \
			"it sleeps in $(sed -n 1,2p "/proc/$BG/stack" 2>/dev/null | tr '\n' ' ')"
		sleep 0.1
	done
	wait "$BG" || fail "'$*' failed: $(cat "$W/out")"
	BG=
	fp_reading || fail "a's fingerprint validation ended with its origin suspended"
}

assert_cmd dmsetup create low --table "0 $N linear $DISK1 0"
assert_cmd dmsetup create b --table "0 $(sectors "$DISK3") cbt $DISK3 8"
assert_cmd dmsetup suspend low
log "a on the suspended low: its first validation, a second after the resume, waits for low"
assert_cmd dmsetup create a --table "$CBT"
wait_until 30 fp_reading

log "meanwhile: status of a, status of all, an epoch close of a"
answers cbt status a
grep -q "epoch 1: open" "$W/out" || fail "status of a: $(cat "$W/out")"
answers cbt status
grep -q "^device: b " "$W/out" || fail "b missing from the status of all: $(cat "$W/out")"
answers cbt epoch close a
assert_eq "$(cat "$W/out")" 1 "the epoch closed"

log "a write to a's first MiB during the read goes down (queued in low)"
stamp write /dev/mapper/a -b 4096 -o 8192 -n 1 -g 5 >/dev/null &
STUCK=$!
wait_until 30 bits_at_least a 1
fp_reading || fail "the validation ended with low suspended"

log "low resumes: the write lands, the validation starts over and is recorded"
assert_cmd dmsetup resume low
wait "$STUCK" || fail "the write to a failed"
STUCK=
wait_until 60 fp_valid_on_disk
uuid=$(dm_status_word a 4)

log "remove (the fingerprint is valid: not taken again) and create: history continues"
assert_cmd dmsetup remove a
assert_cmd dmsetup create a --table "$CBT"
assert_eq "$(dm_status_word a 11)" continued "reason after the remove"
assert_eq "$(dm_status_word a 4)" "$uuid" "identity after the remove"
assert_cmd stamp check /dev/mapper/a -b 4096 -o 8192 -n 1 -g 5
pass
