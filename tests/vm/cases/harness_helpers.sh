#!/bin/sh
# The guest helpers (lib/guest-helpers.sh) fail the case on what they
# check: stamps_match_log on a stale and on a torn block, bg_check on a
# failed round, wait_until at its deadline, assert_same_start on one
# differing byte, table_refused on an accepted table and on another
# reason; each passes on good input, and bg_stop leaves no process. A helper that cannot fail would pass every case built on it.
# disks: 8M 8M
# cost: 5
# timeout: 120

W=/tmp/harness_helpers

cleanup() {
	bg_stop
	dm_remove hh
}

need_cmd stamp stampscan
rm -rf "$W" && mkdir -p "$W"

# must_fail WHAT CMD...: CMD, which asserts, fails: run in a subshell whose
# `fail` reports nothing to the host (only this case's own fail does).
must_fail() {
	local what=$1 rc=0
	shift
	(
		# shellcheck disable=SC2317 # called by the command "$@" runs
		fail() { echo "(expected) FAIL: $*"; exit 1; }
		"$@"
	) || rc=$?
	[ "$rc" -ne 0 ] || fail "$what: it passed"
	log "ok: $what: fails"
}

log "stamps_match_log"
assert_cmd stamp write "$DISK1" -r 1 -n 64 -g 1 -l "$W/log"
assert_cmd stamp write "$DISK1" -r 2 -n 64 -g 2 -l "$W/log"
stamps_match_log "$DISK1" "$W/log" "the disk against its log"
off=$(tail -n 1 "$W/log" | cut -d' ' -f1)
assert_cmd stamp write "$DISK1" -o "$off" -n 1 -g 1
must_fail "a stale block" stamps_match_log "$DISK1" "$W/log" "stale"
assert_cmd stamp write "$DISK1" -o "$off" -n 1 -g 2
stamps_match_log "$DISK1" "$W/log" "the block rewritten"
printf x | dd of="$DISK1" bs=1 seek=$((off + 100)) conv=notrunc 2>/dev/null
must_fail "a torn block" stamps_match_log "$DISK1" "$W/log" "torn"

log "bg_loop, bg_check, bg_stop"
# round R: fails from round 3 on
third() { [ "$1" -lt 3 ]; }
bg_loop third 0 third
bg_wait third || true
must_fail "a failed round" bg_check third "third"
bg_loop fine 0 true
bg_loop slow 0.2 true
bg_running slow || fail "bg_loop slow is not running"
bg_stop
bg_check fine "fine"
bg_running slow && fail "bg_stop left slow running"
bg_running fine && fail "bg_stop left fine running"
bg_start sleeper sleep 1000
bg_kill sleeper
bg_running sleeper && fail "bg_kill left sleeper running"

log "wait_until"
must_fail "a condition never met" wait_until 1 false
wait_until 5 test -d "$W"

log "assert_same_start"
dd if="$DISK1" of="$DISK2" bs=1M count=4 conv=notrunc 2>/dev/null
dd if="$DISK1" of="$W/head" bs=1M count=4 2>/dev/null
assert_same_start "$W/head" "$DISK2" "the disk's first 4 MiB, copied"
printf y | dd of="$DISK2" bs=1 seek=4000000 conv=notrunc 2>/dev/null
must_fail "one byte differs" assert_same_start "$W/head" "$DISK2"
# sha256_head reads with dd in 64 KiB blocks: a length that is no multiple
# of them still hashes exactly that many bytes
assert_eq "$(sha256_head "$DISK2" 100001)" "$(head -c 100001 "$DISK2" | sha256sum | cut -d' ' -f1)" \
	"sha256_head of 100001 bytes"

log "table_refused"
need_module dm_mod
table_refused create hh "0 8 linear /dev/nonexistent 0" "linear: Device lookup failed"
must_fail "an accepted table" table_refused create hh "0 8 linear $DISK1 0" "anything"
dm_remove hh
must_fail "another reason than the one named" table_refused create hh "0 8 linear /dev/nonexistent 0" \
	"Invalid block size"
pass
