#!/bin/sh
# A failed metadata write at a new device's first resume (docs/target.md):
# the metadata device fails every I/O (an `error` table swapped under it
# after the load), so the format of a blank one, or the load's writes of one
# holding a history, fail; the resume fails with the write named in the
# kernel log, the device stays suspended and a write to it waits, reaching
# nothing. With the metadata device back, a later resume formats it
# (version 3, new-metadata) or continues the history (same identity, the
# bitmap kept), and the waiting write is let through and marked. A failed
# superblock write costs no sequence number: the retry writes the copy it
# was for, never the other (the newest valid one). A device whose first
# resume failed can be removed; its metadata is unchanged and loads again.
# disks: 64M 8M
# timeout: 180
# cost: 15

W=/tmp/tfr

cleanup() {
	dmsetup load md --table "0 ${MDS:-0} linear $DISK2 0" 2>/dev/null &&
		dmsetup resume md 2>/dev/null
	dmsetup resume c 2>/dev/null
	bg_kill
	dm_remove c md
}

need_module dm_cbt
need_cmd cbt

mkdir -p "$W"
N=$(sectors "$DISK1")
MDS=$(sectors "$DISK2")
CBT="0 $N cbt $DISK1 8 2 metadata /dev/mapper/md"

# md_swap TABLE: the metadata device's table, replaced under c.
md_swap() {
	assert_cmd dmsetup suspend md
	assert_cmd dmsetup load md --table "$1"
	assert_cmd dmsetup resume md
}

# sb_seq COPY: the sequence number of superblock copy COPY (0, 1), past the
# page cache.
sb_seq() {
	dd if="$DISK2" bs=4096 skip="$1" count=1 iflag=direct 2>/dev/null |
		od -An -tu8 -j16 -N8 | tr -d ' '
}

# sb_newest: the sequence number of the newer superblock copy.
sb_newest() {
	local a b
	a=$(sb_seq 0)
	b=$(sb_seq 1)
	if [ "$a" -gt "$b" ]; then echo "$a"; else echo "$b"; fi
}

# resume_refused MESSAGE: `dmsetup resume c` fails, the kernel log names
# the failed write (MESSAGE), c stays suspended.
resume_refused() {
	dmesg -c >/dev/null
	if dmsetup resume c 2>"$W/err"; then
		fail "c resumed with its metadata device failing"
	fi
	dmesg | grep -q "$1 (-5); the device stays suspended" ||
		fail "no kernel log line '$1 ...; the device stays suspended': $(dmesg | tail -5)"
	dmsetup info c | grep -q "State: *SUSPENDED" || fail "c is not suspended: $(dmsetup info c)"
}

# load_failing: c loaded over md, then md fails every I/O. dmsetup makes
# /dev/mapper/c only at a resume that succeeds: mknodes makes it now.
load_failing() {
	assert_cmd dmsetup create c --notable
	assert_cmd dmsetup mknodes c
	[ -b /dev/mapper/c ] || fail "no block device node /dev/mapper/c"
	assert_cmd dmsetup load c --table "$CBT"
	md_swap "0 $MDS error"
}

# write_waits BLOCK: a 4 KiB write of $W/blk at BLOCK of the suspended c,
# in the background as `w`, until it waits in the kernel (D state).
write_waits() {
	local pid rc=0
	bg_start w dd if="$W/blk" of=/dev/mapper/c bs=4096 seek="$1" oflag=direct
	pid=$(bg_pid w)
	until grep -q '^State:.*D' "/proc/$pid/status" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null; then
			bg_wait w || rc=$?
			fail "the write to the suspended c ended (exit $rc)"
		fi
	done
	log "the write waits: $(grep '^State:' "/proc/$pid/status")"
}

# md_sum: the sha256 of the whole metadata disk, past the page cache.
md_sum() { dd if="$DISK2" bs=1M iflag=direct 2>/dev/null | sha256_of; }

# origin_block BLOCK: the sha256 of the origin's 4 KiB block BLOCK.
origin_block() {
	dd if="$DISK1" bs=4096 skip="$1" count=1 iflag=direct 2>/dev/null | sha256_of
}

dd if=/dev/urandom of="$W/blk" bs=4096 count=1 2>/dev/null
blk=$(sha256_of "$W/blk")
zero=$(dd if=/dev/zero bs=4096 count=1 2>/dev/null | sha256_of)
assert_cmd dmsetup create md --table "0 $MDS linear $DISK2 0"

log "a blank metadata device failing at the first resume: the format fails"
load_failing
resume_refused "Cannot zero the metadata device"
write_waits 9
assert_eq "$(origin_block 9)" "$zero" "origin block 9 while c is suspended"
resume_refused "Cannot zero the metadata device"
assert_eq "$(origin_block 9)" "$zero" "origin block 9 after a second failed resume"
log "the metadata device back: the resume formats it, the write goes through"
md_swap "0 $MDS linear $DISK2 0"
dmesg -c >/dev/null
assert_cmd dmsetup resume c
bg_wait w || fail "the write to c failed"
assert_eq "$(dd if="$DISK2" bs=4096 count=1 iflag=direct 2>/dev/null | od -An -tu4 -j4 -N4 |
	tr -d ' ')" 3 "format version"
assert_eq "$(dm_status_word c 11)" new-metadata "identity reason"
uuid=$(dm_status_word c 4)
assert_eq "$(dmesg | grep -c "new tracking identity $uuid (new-metadata)")" 1 \
	"kernel log lines naming the new identity"
assert_eq "$(origin_block 9)" "$blk" "origin block 9 after the resume"
assert_eq "$(marked_blocks c)" "9 " "changed blocks after the resume"

log "a history failing at the first resume: the superblock write fails"
write_block 7
assert_cmd dmsetup remove c
load_failing
resume_refused "Cannot write the metadata superblock"
write_waits 11
assert_eq "$(origin_block 11)" "$zero" "origin block 11 while c is suspended"
log "the metadata device back: the history continues, the write goes through"
md_swap "0 $MDS linear $DISK2 0"
assert_cmd dmsetup resume c
bg_wait w || fail "the write to c failed"
assert_eq "$(dm_status_word c 4) $(dm_status_word c 11)" "$uuid continued" \
	"identity after the retried resume"
assert_eq "$(marked_blocks c)" "7 9 11 " "changed blocks after the retried resume"

# The retry writes the superblock copy the failed write was for, so the
# other copy (the newest valid one) is never overwritten while the first
# is not yet written: a failed write costs no sequence number. A load and
# a removal without writes, once as is, once with a failed first resume.
log "a failed superblock write costs no sequence number"
assert_cmd dmsetup remove c
s0=$(sb_newest)
assert_cmd dmsetup create c --table "$CBT"
assert_cmd dmsetup remove c
s1=$(sb_newest)
load_failing
resume_refused "Cannot write the metadata superblock"
md_swap "0 $MDS linear $DISK2 0"
assert_cmd dmsetup resume c
s2=$(sb_newest)
assert_cmd dmsetup remove c
s3=$(sb_newest)
assert_eq "$((s3 - s1))" "$((s1 - s0))" \
	"superblock writes of a load whose first superblock write failed once ($s1 -> $s2 -> $s3)"

log "a device whose first resume failed is removed; its metadata loads again"
md_sum=$(md_sum)
load_failing
resume_refused "Cannot write the metadata superblock"
assert_cmd dmsetup remove c
md_swap "0 $MDS linear $DISK2 0"
assert_eq "$(md_sum)" "$md_sum" "the metadata device after the removal"
assert_cmd dmsetup create c --table "$CBT"
assert_eq "$(dm_status_word c 4) $(dm_status_word c 11)" "$uuid continued" \
	"identity after the removed load"
assert_eq "$(marked_blocks c)" "7 9 11 " "changed blocks after the removed load"
pass
