#!/bin/sh
# cbt clone under a write load heavier than the copy (--rate 8M against
# unthrottled 4 KiB random writes): the changed set does not converge, so
# the clone stops at --max-passes 3 (--final-pass-ms 0: the time rule off),
# the last pass under a freeze, and the report shows every pass. The target
# still equals the last snapshot (--verify) and is a clean filesystem. The
# same load with a final-pass budget of an hour: pass 1 (the whole device)
# gives no rate, so pass 2 runs; after it the changed set fits the budget
# at pass 2's rate and pass 3 is the final one, for that reason. Then the
# same with --throttle: the writers are held (the report says for how
# long), none of their writes fails, DEVICE is left running, and the
# target still verifies.
# disks: 128M 128M 96M
# cost: 75
# timeout: 600

SRC=/mnt/cvsrc
W=/tmp/clone_converge

cleanup() {
	bg_kill fio
	unmount "$SRC"
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt fio

rm -rf "$W" && mkdir -p "$W" "$SRC"
cbt_create c "$DISK1" 128
assert_cmd mkfs.ext4 -q -F /dev/mapper/c
assert_cmd mount /dev/mapper/c "$SRC"
assert_cmd fio --name=lay --filename="$SRC/load.dat" --size=32M --rw=write --bs=1M --direct=1 \
	--output=/dev/null

log "heavy load: unthrottled 4 KiB random writes over a 32 MiB file"
bg_start fio fio --name=load --filename="$SRC/load.dat" --size=32M --rw=randwrite --bs=4k \
	--direct=1 --ioengine=psync --time_based --runtime=600 >"$W/fio.log" 2>&1
sleep 2

log "+ cbt clone c $DISK2 --cow $DISK3 --rate 8M --max-passes 3 --final-pass-ms 0 --verify"
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --rate 8M --max-passes 3 --final-pass-ms 0 --verify \
	--state-dir "$W/state" \
	>"$W/out" 2>"$W/err" || rc=$?
cat "$W/out" "$W/err"
assert_eq "$rc" 0 "cbt clone exit status"
bg_kill fio

assert_eq "$(grep -c '^pass [0-9]' "$W/out")" 3 "passes reported"
grep -q '^pass 1: epoch [0-9]*, 2048 blocks (128 MiB)' "$W/out" || fail "pass 1 is not the whole device"
grep -q '^pass 2: ' "$W/out" || fail "no pass 2"
grep -q '^pass 3 (final: pass limit): .*frozen' "$W/out" || fail "pass 3 is not the final, frozen one"
grep -q '^done: .*(3 passes, .*pass limit)' "$W/out" || fail "the clone did not stop at the pass limit"
grep -q '^verify: the target matches the snapshot' "$W/out" || fail "no verification"
# pass 2 copied what the load changed during pass 1: more than the threshold
p2=$(sed -n 's/^pass 2: epoch [0-9]*, \([0-9]*\) blocks.*/\1/p' "$W/out")
[ "$p2" -gt 20 ] || fail "pass 2 copied only $p2 blocks: the load was not heavier than the copy"

log "+ cbt clone c $DISK2 --cow $DISK3 --rate 8M --final-pass-ms 3600000 --verify (same load)"
bg_start fio fio --name=load --filename="$SRC/load.dat" --size=32M --rw=randwrite --bs=4k \
	--direct=1 --ioengine=psync --time_based --runtime=600 >"$W/fio1.log" 2>&1
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --force --rate 8M --final-pass-ms 3600000 --verify \
	--state-dir "$W/state1" >"$W/out1" 2>"$W/err1" || rc=$?
cat "$W/out1" "$W/err1"
assert_eq "$rc" 0 "cbt clone --final-pass-ms exit status"
bg_kill fio
assert_eq "$(grep -c '^pass [0-9]' "$W/out1")" 3 "passes reported (--final-pass-ms)"
grep -q '^pass 2: ' "$W/out1" || fail "pass 1's whole-device rate ended the clone (no pass 2)"
grep -q '^pass 3 (final: changed set fits the final-pass budget): .*frozen' "$W/out1" ||
	fail "pass 3 is not the final, frozen one for the time budget"
grep -q '^verify: the target matches the snapshot' "$W/out1" || fail "no verification (--final-pass-ms)"

log "+ cbt clone c $DISK2 --cow $DISK3 --rate 8M --throttle 256K --max-passes 2 --verify (same load)"
bg_start fio fio --name=load --filename="$SRC/load.dat" --size=32M --rw=randwrite --bs=4k \
	--direct=1 --ioengine=psync --time_based --runtime=600 >"$W/fio2.log" 2>&1
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --force --rate 8M --throttle 256K --max-passes 2 --verify \
	--state-dir "$W/state2" >"$W/out2" 2>"$W/err2" || rc=$?
cat "$W/out2" "$W/err2"
assert_eq "$rc" 0 "cbt clone --throttle exit status"
dmsetup info c | grep -q 'State: *ACTIVE' || fail "the throttled clone left c suspended"
# the load still writes: nothing it issued failed while it was held
assert_cmd dd if=/dev/urandom of="$SRC/after" bs=4k count=1 oflag=direct status=none
bg_kill fio
grep -q 'err= *[1-9]' "$W/fio2.log" && fail "a write of the load failed: $(grep err= "$W/fio2.log")"
grep -q '^pass 1: .*writers held [0-9.]* s ([0-9]* time' "$W/out2" ||
	fail "pass 1 did not hold the writers"
grep -q '^verify: the target matches the snapshot' "$W/out2" || fail "no verification (throttled)"

assert_cmd umount "$SRC"
assert_cmd e2fsck -fn "$DISK2"
if cbt status c | grep -q ': closed'; then fail "an epoch is still closed after the clone"; fi
pass
