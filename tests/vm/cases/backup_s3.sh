#!/bin/sh
# cbt backup of a live, mounted ext4 into S3 (a radosgw on the host, reached
# through qemu's user network: tests/vm/run, "# s3: yes"), then reading it
# back: `cbt mount' of a point of the S3 chain and `cbt restore --path' of a
# file from another, each file's sha256 as written. Then a full image
# killed with SIGKILL in the middle of its upload (the server holds some of
# its parts): the next run finds the killed run's snapshot and closed epoch
# in the kernel, continues from that same snapshot (its sha256 taken again by
# the hook is the killed run's, though the origin was written since) and
# resumes the upload: no part the server had acknowledged is sent again,
# the parts are proven instead (docs/storage.md, "A killed cbt backup"); the
# image restores byte for byte to the snapshot's checksum (its JSON summary
# says "continued": true). Last, the same
# kill with other options (another compression level): the snapshot is
# dropped, the upload aborted, and a new image of a new snapshot is written.
# disks: 160M 160M 160M
# cost: 180
# timeout: 900
# s3: yes
# busybox sh has local; the hooks expand in the shell cbt runs them in.
# shellcheck disable=SC3043,SC2016

W=/tmp/bs3
SRC=/mnt/bs3-src
MP=/mnt/bs3-point
# A prefix per kernel: tests/vm/run boots its kernels side by side against
# the one server, and a backup aborts the uploads it finds under its prefix
# (6.12's full failed with "DELETE ...: NoSuchUpload" beside 6.1's); '+'
# is not a prefix character.
URL=s3://cbt/vm-$(uname -r | tr -c "A-Za-z0-9._\n-" _)

cleanup() {
	cbt unmount "$MP" 2>/dev/null || true
	for d in /dev/nbd*; do nbd-client -d "$d" >/dev/null 2>&1 || true; done
	bg_kill
	unmount "$MP" "$SRC"
	dm_remove c-snap c
}

[ -n "${CBT_S3_ENDPOINT:-}" ] || skip "no S3 server on the host (tests/vm/run starts tests/s3/server)"
need_module dm_cbt virtio_net
need_cmd cbt nbdkit nbd-client mkfs.ext4 sha256sum ip

log "network: the host is 10.0.2.2 on qemu's user network ($CBT_S3_ENDPOINT)"
nic=""
for n in /sys/class/net/*; do
	[ -e "$n/device" ] && nic=${n##*/} && break
done
[ -n "$nic" ] || fail "no network interface (virtio-net) in the guest"
assert_cmd ip link set "$nic" up
assert_cmd ip addr add 10.0.2.15/24 dev "$nic"
export CBT_S3_RETRIES=3 CBT_S3_PATIENCE=60

rm -rf "$W" && mkdir -p "$W" "$SRC" "$MP"
DEV_SECTORS=$(sectors "$DISK1")
assert_cmd dmsetup create c --table "0 $DEV_SECTORS cbt $DISK1 8"
assert_cmd mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/c
assert_cmd mount -o noatime /dev/mapper/c "$SRC"
snap_sum_hook "$W"

# put NAME MIB: a file of random data, its sha256 kept as $W/NAME.sum
put() {
	dd if=/dev/urandom of="$SRC/$1" bs=1M count="$2" 2>/dev/null || fail "writing $1"
	sync
	sha256_of "$SRC/$1" >"$W/$1.sum"
}

log "a full and an incremental image of the mounted filesystem into $URL"
put a 3
backup_summed 1 "$W" cbt backup c --full --to "$URL" --cow "$DISK2" --quiet
put b 2
backup_summed 2 "$W" cbt backup c --incremental --to "$URL" --cow "$DISK2" --quiet
assert_cmd cbt verify "$URL"

log "cbt mount of point 1 from S3: a as written, no b yet"
assert_cmd cbt mount "$URL" --at 1 "$MP"
assert_eq "$(sha256_of "$MP/a")" "$(cat "$W/a.sum")" "file a in point 1 mounted from S3"
[ ! -e "$MP/b" ] || fail "point 1 holds b, written after it"
assert_cmd cbt unmount "$MP"
log "cbt restore --path of b from point 2 in S3"
assert_cmd cbt restore "$URL" --at 2 --path /b -o "$W/b.out"
assert_eq "$(sha256_of "$W/b.out")" "$(cat "$W/b.sum")" "file b restored from point 2 in S3"

# killed_full ARGS...: a full image (cbt backup c --full ARGS...) killed with
# SIGKILL once the server acknowledged 2 parts of its upload (its request
# trace); $W/killed.acked: the parts acknowledged before the kill.
killed_full() {
	rm -f "$W/killed.trace" "$W/snapsum"
	CBT_S3_TRACE=$W/killed.trace cbt backup c --full --to "$URL" --cow "$DISK2" --quiet "$@" \
		>"$W/killed.out" 2>&1 &
	local pid=$! parts=""
	# polled, bounded: the upload is 12 parts or more
	for _ in $(seq 3000); do
		parts=$(good_parts "$W/killed.trace" | wc -l)
		[ "$parts" -ge 2 ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[ "$parts" -ge 2 ] || fail "the upload ended before 2 parts were acknowledged: $(cat "$W/killed.out")"
	good_parts "$W/killed.trace" | sort -n >"$W/killed.acked"
	[ -s "$W/snapsum" ] || fail "the killed run's hook did not checksum its snapshot"
	mv "$W/snapsum" "$W/killed.sum"
	cbt status c >"$W/killed.status"
	grep -q closed "$W/killed.status" || fail "no closed epoch left by the killed run: $(cat "$W/killed.status")"
	dmsetup info c-snap >/dev/null 2>&1 || fail "the killed run's snapshot is gone"
}
# good_parts TRACE: the part numbers the server answered 200 to a PUT of
good_parts() {
	[ -f "$1" ] || return 0
	awk '$1 == "PUT" && $2 ~ /partNumber=/ && $3 == 200 { sub(/.*partNumber=/, "", $2); sub(/&.*/, "", $2); print $2 }' "$1"
}

log "a full image of 100 MiB of new data, killed (SIGKILL) mid-upload"
put big 100
killed_full --compress zstd:1
log "the origin is written after the kill: the resumed image must not see it"
put late 1
rm -f "$W/snapsum"
CBT_S3_TRACE=$W/resumed.trace cbt backup c --full --to "$URL" --cow "$DISK2" --compress zstd:1 \
	--json >"$W/resumed.json" 2>"$W/resumed.out" ||
	fail "the backup after the killed one failed: $(cat "$W/resumed.out")"
cat "$W/resumed.json" "$W/resumed.out" >&2
grep -q '"continued": *true' "$W/resumed.json" ||
	fail "the next run did not continue from the killed run's snapshot: $(cat "$W/resumed.json")"
assert_eq "$(cat "$W/snapsum")" "$(cat "$W/killed.sum")" "the resumed run read the killed run's snapshot"
grep -q "continuing the upload of an interrupted run" "$W/resumed.out" ||
	fail "the upload was not resumed"
good_parts "$W/resumed.trace" | sort -n >"$W/resumed.puts"
again=$(grep -Fxf "$W/killed.acked" "$W/resumed.puts" | paste -sd' ' || true)
[ -z "$again" ] || fail "parts the server had acknowledged were sent again: $again"
proven=$(sed -n 's/.* \([0-9]*\) proven already there.*/\1/p' "$W/resumed.out")
[ "${proven:-0}" -ge "$(wc -l <"$W/killed.acked")" ] ||
	fail "${proven:-0} parts proven, the server held $(wc -l <"$W/killed.acked")"
log "parts acknowledged before the kill: $(wc -l <"$W/killed.acked"), proven: $proven, sent: $(wc -l <"$W/resumed.puts")"
cbt status c | grep -q closed && fail "a closed epoch is left after the resumed run"
dmsetup info c-snap >/dev/null 2>&1 && fail "the snapshot is left after the resumed run"
assert_cmd cbt verify "$URL"
assert_cmd cbt restore --quiet "$URL" --at 3 "$DISK3"
assert_eq "$(sha256_head "$DISK3" $((DEV_SECTORS * 512)))" "$(cat "$W/killed.sum")" \
	"the resumed full image restored against the killed run's snapshot"

log "killed again, then run with another compression level: a new snapshot, a new upload"
killed_full --compress zstd:1
put later 1
rm -f "$W/snapsum"
cbt backup c --full --to "$URL" --cow "$DISK2" --compress zstd:2 >"$W/other.out" 2>&1 ||
	fail "the backup with other options failed: $(cat "$W/other.out")"
cat "$W/other.out" >&2
grep -q "not continuing from snapshot c-snap of the interrupted run: this run's target or options differ" \
	"$W/other.out" || fail "the run with other options did not say why it started over"
grep -q "dropping snapshot" "$W/other.out" || fail "the killed run's snapshot was not dropped"
grep -q "aborted 1 unfinished upload" "$W/other.out" || fail "the dead upload was not aborted"
[ "$(cat "$W/snapsum")" != "$(cat "$W/killed.sum")" ] || fail "the new image read the old snapshot"
mv "$W/snapsum" "$W/other.sum"
assert_cmd umount "$SRC"
assert_cmd cbt restore --quiet "$URL" --at 4 "$DISK3"
assert_eq "$(sha256_head "$DISK3" $((DEV_SECTORS * 512)))" "$(cat "$W/other.sum")" \
	"the image written again restored against its own snapshot"
assert_cmd e2fsck -fn "$DISK3"
pass
