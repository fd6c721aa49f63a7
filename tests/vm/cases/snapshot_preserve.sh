#!/bin/sh
# A snapshot with a preserve set (cbt snapshot take --preserve) keeps only
# the blocks of the epoch it closes, and forgets what its reader releases:
#   - the preserved blocks read exactly as at the instant, while the whole
#     device is rewritten under the reads;
#   - a written chunk outside the set is not copied (forfeited): reading it
#     fails with EIO; an unwritten one still reads from the origin;
#   - released chunks read EIO, their COW space is freed and reused (the
#     store holds 256 chunks, 320 are copied in all), a partial chunk is
#     not released, and committing the epoch changes nothing;
#   - cbt backup --incremental preserves the epoch it reads (checked from
#     its hook) and restores byte for byte with a writer rewriting the
#     whole device while it reads.
# disks: 16M 16M 16M
# cost: 10
# timeout: 300
# shellcheck disable=SC2016

W=/tmp/preserve
SNAP=/dev/mapper/c-snap

cleanup() {
	: >"$W/stop"
	dm_remove c-snap cow c
}

need_module dm_cbt
need_cmd cbt cmp

rm -rf "$W" && mkdir -p "$W"

# field KEY: KEY's value in cbt snapshot list --json (one snapshot).
field() {
	cbt snapshot list --json | sed -n "s/.*\"$1\": \"\{0,1\}\([0-9a-z]*\).*/\1/p" | head -1
}
# rd BLOCK COUNT OUT: 64 KiB blocks of the snapshot to OUT.
rd() {
	dd if="$SNAP" of="$3" bs=64K skip="$1" count="$2" iflag=direct status=none
}
# must_eio BLOCK: reading that 64 KiB block of the snapshot fails with EIO.
must_eio() {
	if dd if="$SNAP" of=/dev/null bs=64K skip="$1" count=1 iflag=direct 2>"$W/eio.err"; then
		fail "block $1 of the snapshot read, but its data is gone"
	fi
	grep -q "Input/output error" "$W/eio.err" || fail "block $1: not EIO: $(cat "$W/eio.err")"
}
# rewrite FIRST COUNT: random 4 KiB writes over 4 KiB blocks FIRST.. of c.
rewrite() {
	dd if=/dev/urandom of=/dev/mapper/c bs=4K seek="$1" count="$2" oflag=direct \
		conv=notrunc status=none
}

# race FIRST BLOCK: rewrite 8 MiB of c from 4 KiB block FIRST while reading
# 64 KiB blocks BLOCK..BLOCK+9 of the snapshot; they must be as at the
# instant, read under the writes and again (from the COW store) after.
race() {
	rewrite "$1" 2048 &
	pid=$!
	rd "$2" 10 "$W/got.$2" || fail "reading preserved blocks failed"
	wait $pid || fail "an origin write failed"
	cmp "$W/want.$2" "$W/got.$2" || fail "preserved blocks $2.. differ from the instant (read under writes)"
	{ rd "$2" 10 "$W/got.$2" && cmp "$W/want.$2" "$W/got.$2"; } ||
		fail "preserved blocks $2.. differ from the instant (read after the writes)"
}

assert_cmd dd if=/dev/urandom of="$DISK1" bs=1M count=16 oflag=direct status=none
cbt_create c "$DISK1" 128
# 257 chunks of 4 KiB: the reserved first one and 256 for copies.
assert_cmd dmsetup create cow --table "0 2056 linear $DISK2 0"

log "epoch 1 changes 64 KiB blocks 0-9 and 200-209 (320 chunks of 4 KiB)"
for b in 0 200; do
	assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=64K seek=$b count=10 oflag=direct \
		conv=notrunc status=none
	assert_cmd dd if=/dev/mapper/c of="$W/want.$b" bs=64K skip=$b count=10 iflag=direct status=none
done
assert_cmd dd if=/dev/mapper/c of="$W/want.150" bs=64K skip=150 count=1 iflag=direct status=none
assert_cmd cbt snapshot take c --cow /dev/mapper/cow --no-freeze --preserve --json >"$W/take.json"
epoch=$(sed -n 's/.*"epoch": \([0-9]*\).*/\1/p' "$W/take.json")
assert_eq "$(field preserve_from)" "$epoch" "the preserve set's epoch"
assert_eq "$(field chunks_to_read)" 320 "chunks to read"
assert_eq "$(field chunks_forfeited)" 0 "chunks forfeited before any write"

log "rewrite the first 8 MiB while reading blocks 0-9 of the snapshot"
race 0 0
assert_eq "$(field chunks_forfeited)" 1888 "chunks forfeited (written, not in the set)"
assert_eq "$(field chunks_copied)" 160 "chunks copied"
assert_eq "$(field cow_used_bytes)" 655360 "COW bytes used"
must_eio 50
{ rd 150 1 "$W/got.150" && cmp "$W/want.150" "$W/got.150"; } ||
	fail "an unwritten chunk outside the set does not read from the origin"

log "release blocks 0-9; a partial chunk is not released"
assert_cmd cbt snapshot release c 0 640K
assert_cmd cbt snapshot release c 12800K 2K
assert_eq "$(field chunks_released)" 160 "chunks released"
assert_eq "$(field chunks_to_read)" 160 "chunks still to read"
assert_eq "$(field cow_used_bytes)" 0 "COW bytes used after the release"
must_eio 0
assert_cmd cbt epoch commit c "$epoch"

log "rewrite the last 8 MiB while reading blocks 200-209: freed COW space is reused"
race 2048 200
assert_eq "$(field state)" active "snapshot state (320 copies in a store of 256)"
assert_eq "$(field cow_used_bytes)" 655360 "COW bytes used"
assert_eq "$(field chunks_forfeited)" 3776 "chunks forfeited"
assert_cmd cbt snapshot drop c
assert_cmd dmsetup remove cow

log "an incremental backup under a writer rewriting the whole device"
assert_cmd cbt backup c --full --all-blocks --to "$W/chain" --cow "$DISK2" --no-freeze --quiet
for b in 20 230; do
	assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=64K seek=$b count=10 oflag=direct \
		conv=notrunc status=none
done
assert_cmd dd if=/dev/mapper/c of="$W/expect" bs=1M iflag=direct status=none
# Once taken: the set must be the epoch the image reads; then every block
# is rewritten before the backup reads one, and goes on being rewritten.
cat >"$W/hook.sh" <<EOF
cbt snapshot list --json >$W/hook.json
dd if=/dev/urandom of=/dev/mapper/c bs=64K oflag=direct conv=notrunc status=none 2>/dev/null
cbt snapshot list --json >$W/hook2.json
(while [ ! -e $W/stop ] && dd if=/dev/urandom of=/dev/mapper/c bs=64K count=64 \
	oflag=direct conv=notrunc status=none; do :; done; : >$W/writer.done) >/dev/null 2>&1 &
echo \$CBT_SNAP_EPOCH >$W/hook.epoch
EOF
CBT_BACKUP_HOOK="sh $W/hook.sh" cbt backup c --incremental --to "$W/chain" --cow "$DISK2" \
	--no-freeze --quiet || fail "the incremental backup failed"
: >"$W/stop"
wait_until 60 test -e "$W/writer.done"
jf() { sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" | head -1; }
assert_eq "$(jf "$W/hook.json" preserve_from)" "$(cat "$W/hook.epoch")" \
	"the preserve set is the epoch the backup reads"
assert_eq "$(jf "$W/hook2.json" chunks_forfeited)" 3776 "chunks forfeited by the writer"
assert_eq "$(jf "$W/hook2.json" chunks_copied)" 320 "chunks copied for the backup"
assert_cmd cbt restore --quiet "$W/chain" "$DISK3"
cmp "$W/expect" "$DISK3" || fail "the incremental restored is not the device at the instant"
assert_cmd dmsetup remove c
pass
