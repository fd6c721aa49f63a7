#!/bin/sh
# A cbt-snap whose COW device is stacked on the very cbt device it
# snapshots (here another cbt device over it; the tool refuses such a COW
# device, dmsetup does not). Either the kernel refuses the table, or, once
# the snapshot is taken, a write to the origin completes within 30 s (the
# snapshot may go invalid): the origin must never hang because of a
# snapshot.
#
# Found by fuzz_table (issue 15): the kernel accepted the table and the
# first origin write hung for good (dd in D state in submit_bio_wait: the
# copy-on-write went through the COW device back into the origin). The
# cbt-snap constructor now refuses a COW device stacked on the cbt device.
# disks: 16M
# cost: 5
# timeout: 90

cleanup() {
	dm_remove fbs fz fb
}

need_module dm_cbt
need_cmd nlprobe
S=$(sectors "$DISK1")
assert_cmd dmsetup create fb --table "0 $S cbt $DISK1 8"
assert_cmd dmsetup create fz --table "0 $S cbt /dev/mapper/fb 8"
if ! dmsetup create fbs --readonly --table "0 $S cbt-snap /dev/mapper/fb /dev/mapper/fz 8"; then
	log "refused: a COW device stacked on the cbt device"
	pass
fi
log "snapshot of fb, its COW device fz sitting on fb"
# CBT_CMD_SNAPSHOT (7), CBT_A_DEVICES (36 | NLA_F_NESTED) holding one
# CBT_A_DEVICE nest (37 | NLA_F_NESTED) with CBT_A_DEV_NAME "fb"
nlprobe 7 32804:raw=0c0025800700010066620000 >/tmp/snap.out
grep -q '^errno=0$' /tmp/snap.out || fail "snapshot refused: $(cat /tmp/snap.out)"
dd if=/dev/urandom of=/dev/mapper/fb bs=4096 count=8 seek=100 oflag=direct 2>/dev/null &
pid=$!
n=0
while kill -0 "$pid" 2>/dev/null; do
	n=$((n + 1))
	[ "$n" -lt 300 ] || fail "an origin write hangs with a COW device stacked on the cbt device"
	sleep 0.1
done
wait "$pid" || fail "the origin write failed"
log "the write completed; snapshot: $(cbt status fb | sed -n 's/^ *snapshot: //p')"
pass
