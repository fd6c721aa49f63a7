#!/bin/sh
# A snapshot whose COW store fills up, or fails, becomes invalid and never
# hurts the origin: a 1 MiB COW store under 8 MiB of random writes goes
# invalid with ENOSPC; a COW device that starts failing (dm-linear
# reloaded as dm-error) goes invalid with EIO. Each time every origin
# write succeeds and reads back right (stamps against the writer's log),
# the snapshot's reads fail with EIO, and the status says why.
# disks: 64M 1M 16M
# cost: 5
# timeout: 300

W=/tmp/ovf

cleanup() {
	dm_remove c-snap c cowx
}

need_module dm_cbt
need_cmd cbt stamp stampscan
rm -rf "$W" && mkdir -p "$W"
: >"$W/log"

# origin_ok WHEN: every block of the origin holds the last stamp the log
# says was written there (never-written blocks are zero).
origin_ok() { stamps_match_log /dev/mapper/c "$W/log" "the origin lost or mangled writes ($1)"; }

# snap_field NAME: a field of the snapshot nest of `cbt status c --json'.
snap_field() {
	cbt status c --json | sed -n '/"snapshot": {/,/}/p' | sed -n "s/.*\"$1\": \"*\([^\",]*\)\"*,*\$/\1/p"
}

# snap_reads_fail: a direct read of the snapshot fails with EIO.
snap_reads_fail() {
	if dd if=/dev/mapper/c-snap of=/dev/null bs=4096 count=16 iflag=direct 2>"$W/dd.err"; then
		fail "reading the invalid snapshot succeeded ($1)"
	fi
	grep -q "Input/output error" "$W/dd.err" || fail "snapshot read failed, but not with EIO: $(cat "$W/dd.err")"
	log "snapshot reads fail: $(tail -1 "$W/dd.err")"
}

cbt_create c "$DISK1" 8

log "--- COW store too small: 1 MiB (256 chunks) under 8 MiB of random writes"
out=$(cbt snapshot take c --cow "$DISK2" --no-freeze --json) || fail "take failed"
epoch=$(echo "$out" | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p')
assert_eq "$(snap_field state)" active "state after the take"
assert_cmd stamp write /dev/mapper/c -r 1 -n 2048 -g 1 -l "$W/log"
assert_eq "$(snap_field state)" invalid "state after overflowing"
assert_eq "$(snap_field error)" ENOSPC "snapshot error"
cbt status c | sed -n '/snapshot:/,$p'
snap_reads_fail ENOSPC
log "writes after the invalidation go through too"
assert_cmd stamp write /dev/mapper/c -r 2 -n 512 -g 2 -l "$W/log"
origin_ok ENOSPC
assert_cmd cbt snapshot drop c
assert_cmd cbt epoch commit c "$epoch"

log "--- COW device that starts failing"
size3=$(sectors "$DISK3")
assert_cmd dmsetup create cowx --table "0 $size3 linear $DISK3 0"
out=$(cbt snapshot take c --cow /dev/mapper/cowx --no-freeze --json) || fail "take failed"
epoch=$(echo "$out" | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p')
assert_cmd stamp write /dev/mapper/c -r 3 -n 64 -g 3 -l "$W/log"
assert_eq "$(snap_field state)" active "state while the COW device works"
assert_cmd dd if=/dev/mapper/c-snap of=/dev/null bs=64k iflag=direct
log "the COW device fails from now on"
assert_cmd dmsetup suspend cowx
assert_cmd dmsetup reload cowx --table "0 $size3 error"
assert_cmd dmsetup resume cowx
assert_cmd stamp write /dev/mapper/c -r 4 -n 256 -g 4 -l "$W/log"
assert_eq "$(snap_field state)" invalid "state after the COW device failed"
assert_eq "$(snap_field error)" EIO "snapshot error"
cbt status c | sed -n '/snapshot:/,$p'
snap_reads_fail EIO
assert_cmd stamp write /dev/mapper/c -r 5 -n 256 -g 5 -l "$W/log"
origin_ok EIO
assert_cmd cbt snapshot drop c
assert_cmd cbt epoch commit c "$epoch"
assert_cmd dmsetup remove cowx
assert_cmd dmsetup remove c
pass
