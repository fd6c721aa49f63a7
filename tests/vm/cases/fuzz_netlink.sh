#!/bin/sh
# Netlink fuzzing: nlfuzz throws seeded random, mostly malformed dm_cbt
# requests (see helpers/nlfuzz.c) for a fixed time at three cbt devices
# under writes: one with metadata, one memory-only with a cbt-snap attached,
# and one that a second process creates and removes all the time (and the
# snapshot device with it), so requests and dumps race with removal. Every
# reply must be a clean error or a well-formed reply, every request
# answered, and no kernel report (the harness fails the case on any). The
# devices must still work after. Set NLFUZZ_SEED to replay a run (the seed
# is printed), NLFUZZ_SECS to change the time.
# disks: 64M 8M 32M 32M 16M
# cost: 45
# timeout: 300

W=/tmp/nlfuzz

cleanup() {
	bg_kill
	dm_remove fbs ft fa fb
}

need_module dm_cbt
need_cmd cbt nlfuzz
rm -rf "$W" && mkdir -p "$W"

cbt_create fa "$DISK1" 8 2 metadata "$DISK2"
cbt_create fb "$DISK3" 128
ST=$(sectors "$DISK5")
FB=$(sectors /dev/mapper/fb)

# writes R: so that bitmaps have bits and epochs have something to hold.
writes() {
	local d
	for d in fa fb ft; do
		[ -e "/dev/mapper/$d" ] || continue
		dd if=/dev/urandom of="/dev/mapper/$d" bs=4096 count=1 \
			seek=$(((($1 - 1) * 37) % 4000)) oflag=direct 2>/dev/null || :
	done
	return 0
}
bg_loop writer 0 writes

# toggle: a device and a snapshot attachment that come and go while
# requests fly.
toggle() {
	# shellcheck disable=SC3028 # busybox ash has $RANDOM (checked as dash, which has not)
	dmsetup create ft --table "0 $ST cbt $DISK5 $((8 << (RANDOM % 4)))" 2>/dev/null || :
	dmsetup create fbs --readonly --table "0 $FB cbt-snap /dev/mapper/fb $DISK4 8" 2>/dev/null || :
	dmsetup remove ft 2>/dev/null || :
	dmsetup remove fbs 2>/dev/null || :
}
bg_loop toggle 0 toggle

seed=${NLFUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
log "nlfuzz for ${NLFUZZ_SECS:-40} s, seed $seed"
nlfuzz -s "$seed" -t "${NLFUZZ_SECS:-40}" fa fb ft nosuch >"$W/out" 2>&1 || {
	cat "$W/out"
	fail "nlfuzz found a bad reply or could not run (seed $seed; replay: NLFUZZ_SEED=$seed)"
}
cat "$W/out"
bg_kill
grep -q "every reply clean" "$W/out" || fail "nlfuzz did not finish"

log "the devices still work"
dmsetup remove fbs 2>/dev/null || :
dmsetup remove ft 2>/dev/null || :
for d in fa fb; do
	assert_cmd cbt status "$d"
	# The fuzzer may have left epochs closed: aborting them keeps their bits.
	for n in $(cbt status "$d" | sed -n 's/^ *epoch \([0-9]*\): closed.*/\1/p'); do
		assert_cmd cbt epoch abort "$d" "$n"
	done
	n=$(cbt epoch close "$d") || fail "cannot close an epoch of $d after fuzzing"
	assert_cmd cbt bitmap "$d" --epoch "$n" --summary
	assert_cmd cbt epoch commit "$d" "$n"
	log "$d: closed and committed epoch $n"
done
pass
