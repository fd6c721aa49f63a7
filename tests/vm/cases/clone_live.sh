#!/bin/sh
# cbt clone of a mounted ext4 under a steady write load, onto a larger disk:
# it finishes, the target equals the last pass's snapshot byte for byte
# (checked by --verify and independently with sha256 of the snapshot
# device, kept with --keep-snapshot), e2fsck -fn on the target is clean, a
# file synced before the clone is intact on the mounted target, the last
# pass ran frozen, tracking is left with no closed epoch, the target past
# the source's size is untouched, the JSON report has every documented key,
# and the report says how to use the target's extra space.
# disks: 128M 192M 64M
# cost: 19
# timeout: 400

SRC=/mnt/clsrc
DST=/mnt/cldst
W=/tmp/clone_live

cleanup() {
	bg_kill fio
	unmount "$DST" "$SRC"
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt fio

rm -rf "$W" && mkdir -p "$W" "$SRC" "$DST"
cbt_create c "$DISK1" 128
assert_cmd mkfs.ext4 -q -F /dev/mapper/c
assert_cmd mount /dev/mapper/c "$SRC"

log "a file synced before the clone"
dd if=/dev/urandom of="$SRC/marker" bs=64k count=32 2>/dev/null
sync
marker=$(sha256_of "$SRC/marker")

log "steady write load: 4 KiB random writes at 1 MiB/s into a 24 MiB file"
bg_start fio fio --name=load --filename="$SRC/load.dat" --size=24M --rw=randwrite --bs=4k \
	--rate=1m --direct=1 --ioengine=psync --time_based --runtime=600 >"$W/fio.log" 2>&1
sleep 3

log "random data past the source's size on the larger target: the clone leaves it alone"
src_mib=$(($(sectors /dev/mapper/c) / 2048))
assert_cmd dd if=/dev/urandom of="$DISK2" bs=1M seek="$src_mib" count=$(($(sectors "$DISK2") / 2048 - src_mib)) \
	oflag=direct status=none
tail_sum() { dd if="$DISK2" bs=1M skip="$src_mib" iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1; }
tail0=$(tail_sum)

log "+ cbt clone c $DISK2 --cow $DISK3 --verify --keep-snapshot --json"
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --verify --keep-snapshot --json --state-dir "$W/state" \
	>"$W/out.json" 2>"$W/err" || rc=$?
cat "$W/out.json" "$W/err"
assert_eq "$rc" 0 "cbt clone exit status"
bg_kill fio

field() { grep -o "\"$1\": [^,]*" "$W/out.json" | tail -n 1 | sed 's/^[^:]*: //; s/"//g'; }
assert_eq "$(field result)" complete "result"
for k in result error source target uuid block_size size_bytes target_bytes resumed used_only epoch \
	bytes_copied duration_ms final_reason final_pass_ms passes verify snapshot state_file pass blocks \
	bytes rate_bytes_per_s cow_peak_bytes cow_total_bytes final follow frozen freeze_ns hold_ns \
	throttle_ns throttle_holds reason ok xxh3_128; do
	grep -q "\"$k\": " "$W/out.json" || fail "the JSON report lacks \"$k\" (docs/clone.md, Output)"
done
assert_eq "$(tail_sum)" "$tail0" "the target past the source's size"
assert_eq "$(field final_pass_ms)" 500 "the final-pass budget in force (the default)"
assert_eq "$(field ok)" true "verify ok"
assert_eq "$(field frozen)" true "last pass frozen"
assert_eq "$(field final)" true "last pass is the final one"
passes=$(grep -c '"pass": ' "$W/out.json")
log "passes: $passes; copied $(field bytes_copied) bytes"
grep -o '"pass": [0-9]*\|"blocks": [0-9]*\|"bytes": [0-9]*\|"cow_peak_bytes": [0-9]*\|"reason": "[^"]*"' \
	"$W/out.json" | tr '\n' ' '
echo
[ "$passes" -ge 2 ] || fail "a mounted source needs a final frozen pass after pass 1, got $passes"
[ "$passes" -le 8 ] || fail "more passes than the limit: $passes"
snap=$(field snapshot)
assert_eq "$snap" /dev/mapper/c-snap "kept snapshot"
assert_eq "$(sed -n 's/.*"complete": \([a-z]*\).*/\1/p' "$W/state/clone-${DISK2#/dev/}.json")" true \
	"state file says complete"

log "the target equals the snapshot (sha256, independently of --verify)"
assert_same_start /dev/mapper/c-snap "$DISK2" "sha256 of the target's first $(($(sectors /dev/mapper/c) / 2048)) MiB"

log "tracking: no epoch left closed"
cbt status c
if cbt status c | grep -q ': closed'; then fail "an epoch is still closed after the clone"; fi
assert_cmd cbt snapshot drop c

log "the target is a clean filesystem with the synced file"
assert_cmd e2fsck -fn "$DISK2"
assert_cmd mount -o ro "$DISK2" "$DST"
assert_eq "$(sha256_of "$DST/marker")" "$marker" "marker file on the target"
assert_cmd umount "$DST"

log "--used-only, human report: passes, the grow hint"
assert_cmd umount "$SRC"
rc=0
cbt clone c "$DISK2" --cow "$DISK3" --state-dir "$W/state2" --force --used-only --verify \
	>"$W/human" 2>&1 || rc=$?
cat "$W/human"
assert_eq "$rc" 0 "second clone (unmounted source, --force over the first, --used-only)"
p1=$(sed -n 's/^pass 1: epoch [0-9]*, \([0-9]*\) blocks.*/\1/p' "$W/human")
log "pass 1 copied $p1 of 2048 blocks"
{ [ -n "$p1" ] && [ "$p1" -lt 2048 ]; } || fail "--used-only copied every block"
grep -q '^verify: .*of blocks the filesystem uses' "$W/human" || fail "no verification of the used blocks"
grep -q 'growpart' "$W/human" || fail "no hint on growing the larger target"
grep -q 'writing over an ext4 filesystem' "$W/human" || fail "no word on what --force overwrote"
assert_cmd e2fsck -fn "$DISK2"
assert_cmd mount -o ro "$DISK2" "$DST"
assert_eq "$(sha256_of "$DST/marker")" "$marker" "marker file after --used-only"
assert_cmd umount "$DST"
pass
