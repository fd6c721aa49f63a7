# Guest helpers for the cases: writes, block sets, status fields, waits,
# checksums, background writers and the stamp checker. Sourced by
# tests/vm/guest-lib.sh (after the harness functions, so `fail` and `log`
# are there), so every case, soak and bench case has them. A helper that
# asserts calls `fail` with the reason; one that only answers returns a
# status for the case to assert on. README.md, "Writing a case", lists them.
# shellcheck shell=sh

# ---- scale ----------------------------------------------------------------

# reps N N_DEBUG: how many rounds of a repeated step to run: N, or N_DEBUG
# on the debug kernel (harness.tscale 4 and more). Lockdep, KASAN and
# KFENCE judge a path the first time it runs, and a round there costs
# 3-8 times as long; the races that want many rounds get them on
# Debian's kernels and PREEMPT_RT.
reps() {
	if [ "${HARNESS_TSCALE:-1}" -ge 4 ]; then echo "$2"; else echo "$1"; fi
}

# ---- devices --------------------------------------------------------------

# cbt_create NAME DISK BLOCK [FEATURE-ARG...]: create the dm device NAME, a
# cbt target over the whole of DISK with tracking blocks of BLOCK sectors
# and the optional feature arguments as given (`2 metadata $DISK2`); fails
# the case if dmsetup refuses. Leaves /dev/mapper/NAME for cleanup.
cbt_create() {
	local name=$1 disk=$2
	shift 2
	assert_cmd dmsetup create "$name" --table "0 $(sectors "$disk") cbt $disk $*"
}

# table_refused OP NAME TABLE MESSAGE: `dmsetup OP NAME --table TABLE' (OP
# create or reload) is refused, and the kernel's last lines say MESSAGE (its
# "table: ..." line); after a refused create no device NAME is left. Fails
# if not. What the table must not have changed, the caller checks.
table_refused() {
	log "refused ($1 $2): $3"
	if dmsetup "$1" "$2" --table "$3" 2>/dev/null; then
		fail "table accepted ($1 $2): $3"
	fi
	dmesg | tail -5 | grep -qF "$4" || {
		dmesg | tail -5
		fail "the kernel did not say '$4' for ($1 $2): $3"
	}
	[ "$1" != create ] || ! dmsetup info "$2" >/dev/null 2>&1 || fail "$2 left behind by: $3"
}

# dm_remove NAME...: remove these dm devices, in this order, those that
# exist; never fails (for cleanup, which must cope with a half-done setup).
dm_remove() {
	local d
	for d in "$@"; do
		dmsetup remove "$d" 2>/dev/null || true
	done
}

# unmount DIR...: unmount these, in this order, those mounted; never fails
# (for cleanup).
unmount() {
	local d
	for d in "$@"; do
		umount "$d" 2>/dev/null || true
	done
}

# lvm_setup: an lvm.conf for this guest, which has no udev: LVM scans
# /dev itself, waits for no udev event, runs no dmeventd and writes no
# metadata backups. Leaves /etc/lvm (the guest's, gone at power-off).
lvm_setup() {
	mkdir -p /etc/lvm /run/lvm /run/lock/lvm
	cat >/etc/lvm/lvm.conf <<-'CONF'
	devices { obtain_device_list_from_udev = 0 scan_lvs = 0 }
	activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
	backup { backup = 0 archive = 0 }
	CONF
}

# ---- waiting ------------------------------------------------------------

# wait_until SECONDS CMD [ARG...]: run CMD every 0.1 s until it succeeds
# (its stderr is dropped); fail the case after SECONDS. The bound is a
# deadline for a condition, not a sleep: the case goes on the moment CMD
# succeeds.
wait_until() {
	local n=$(($1 * 10))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || fail "timed out waiting for: $*"
		sleep 0.1
	done
}

# running NAME: true if a process named NAME runs. A zombie does not count:
# a server cbt ended and that init has not reaped yet (busybox pidof lists
# it) has exited.
running() {
	local stat line
	for stat in /proc/[0-9]*/stat; do
		read -r line <"$stat" 2>/dev/null || continue
		case "$line" in
		*"($1) Z "*) ;;
		*"($1) "*) return 0 ;;
		esac
	done
	return 1
}

# ---- writes and what tracking saw ---------------------------------------

# write_block BLOCK [DEV]: write 4 KiB of random data at 4 KiB block BLOCK
# of DEV (default /dev/mapper/c), O_DIRECT, so it reached the device when
# this returns. Fails the case if the write fails.
write_block() {
	dd if=/dev/urandom of="${2:-/dev/mapper/c}" bs=4096 count=1 seek="$1" oflag=direct 2>/dev/null ||
		fail "write to block $1 failed"
}

# marked_blocks DEV [ARG...]: the tracking blocks `cbt bitmap DEV ARG...
# --blocks` marks, one number each, space-separated on one line (with a
# trailing space; empty when none), for assert_eq against a literal list.
# Asserts nothing: a failing `cbt bitmap` fails the pipeline (pipefail).
marked_blocks() {
	local dev=$1
	shift
	cbt bitmap "$dev" "$@" --blocks | awk '{ for (b = $1; b < $1 + $2; b++) printf "%d ", b }'
}

# bits_at_least DEV N: true if DEV's open epoch has at least N blocks
# marked (the 10th word of the cbt target's status line: "marked/total").
bits_at_least() {
	# shellcheck disable=SC2046 # the status line's words, split on purpose
	set -- "$1" "$2" $(dmsetup status "$1")
	[ "${10%%/*}" -ge "$2" ]
}

# wait_written DEV [N]: wait (a 60 s deadline) until DEV's open epoch has
# N (default 1) blocks marked: a background load wrote since the epoch
# opened, so the next backup or snapshot has changes to hold. A condition
# instead of a fixed sleep: a loaded host waits longer, an idle one not at all.
wait_written() {
	wait_until 60 bits_at_least "$1" "${2:-1}"
}

# closed_epochs DEV: the numbers of DEV's closed epochs, one a line.
closed_epochs() {
	cbt status "$1" | sed -n 's/^ *epoch \([0-9]*\): closed.*/\1/p'
}

# write_stuck DEV LOWER: suspend LOWER (DEV's origin is on it), then write
# one stamped 4 KiB block (generation 7) at 40 KiB of DEV in the background
# ($STUCK: its pid), and wait until DEV's open epoch has it marked: the
# write is in flight, queued in LOWER until `dmsetup resume LOWER'.
write_stuck() {
	assert_cmd dmsetup suspend "$2"
	stamp write "/dev/mapper/$1" -b 4096 -o 40960 -n 1 -g 7 >/dev/null &
	STUCK=$!
	until [ "$(status_json "$1" changed_blocks)" = 1 ]; do
		kill -0 "$STUCK" 2>/dev/null || fail "the write finished with $2 suspended"
	done
}

# unstick LOWER [PID...]: for cleanup after write_stuck: resume LOWER, then
# wait for $STUCK and each PID given (empty ones skipped); never fails.
unstick() {
	local p
	dmsetup resume "$1" 2>/dev/null || true
	shift
	for p in "${STUCK:-}" "$@"; do
		[ -z "$p" ] || wait "$p" 2>/dev/null || true
	done
}

# take_waits PID: PID (a `cbt snapshot take') is in the kernel, waiting
# for writes in flight (its stack has cbt_wait_writes). Asserts nothing.
take_waits() {
	grep -q "cbt_wait_writes" "/proc/$1/stack" 2>/dev/null
}

# ---- status fields ------------------------------------------------------

# dm_status_word DEV N: the N-th word of `dmsetup status DEV` (1 is the
# start sector, 3 the target name; for cbt, 4 the history uuid, 5 the
# persistence, 11 the identity reason: docs/target.md).
dm_status_word() {
	local n=$2
	# shellcheck disable=SC2046 # the status line's words, split on purpose
	set -- $(dmsetup status "$1")
	eval echo "\${$n}"
}

# status_json DEV KEY: the first value of KEY (string or number, quotes
# dropped) in `cbt status DEV --json`; empty if there is none.
status_json() {
	cbt status "$1" --json | sed -n "s/.*\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\}.*/\1/p" | head -n 1
}

# ---- checksums ----------------------------------------------------------

# sha256_of [FILE]: the sha256 (hex only) of FILE, or of stdin.
sha256_of() {
	if [ $# -gt 0 ]; then
		sha256sum <"$1" | cut -d' ' -f1
	else
		sha256sum | cut -d' ' -f1
	fi
}

# sha256_head DEV BYTES: the sha256 of the first BYTES bytes of DEV (a
# target disk larger than what was restored or cloned onto it). dd, not
# busybox `head -c', which copies a byte at a time: 9 s for 64 MiB in a
# TCG guest, where the sha256 itself takes under 2 s.
sha256_head() {
	dd if="$1" bs=64k iflag=count_bytes count="$2" 2>/dev/null | sha256sum | cut -d' ' -f1
}

# assert_same_start SRC DST [WHAT]: the whole of SRC (a snapshot, say, or
# a file) equals the first as many bytes of DST, by sha256; fails the case
# if not.
assert_same_start() {
	local bytes
	if [ -b "$1" ]; then bytes=$(blockdev --getsize64 "$1"); else bytes=$(wc -c <"$1"); fi
	assert_eq "$(sha256_head "$2" "$bytes")" "$(sha256_of "$1")" "${3:-sha256 of $2 against $1}"
}

# ---- background writers -------------------------------------------------
#
# A case's background processes, by NAME, under $_H_BG: NAME.pid while it
# runs, NAME.stop once asked to stop, NAME.failed if a round failed. The
# case's cleanup must call bg_stop (or bg_kill) so none outlives the case;
# the harness fails a case that leaves a process behind.

_H_BG=/tmp/bg.$CASE
rm -rf "$_H_BG"

# bg_start NAME CMD [ARG...]: run CMD ARG... in the background as NAME
# (fio, a clone, a writer loop of the case's own). Leaves NAME running.
bg_start() {
	local name=$1
	shift
	mkdir -p "$_H_BG"
	rm -f "$_H_BG/$name.stop" "$_H_BG/$name.failed"
	"$@" &
	echo $! >"$_H_BG/$name.pid"
}

# bg_loop NAME PAUSE CMD [ARG...]: in the background as NAME, run
# `CMD ARG... ROUND` for ROUND = 1, 2, 3 ... until bg_stop NAME, with PAUSE
# seconds between rounds (0: none). The round in progress always
# completes. A round that fails ends the loop (status 1) and leaves
# "round ROUND failed (exit RC)" for bg_failed. CMD may be a function of
# the case (a stamped writer: `stamp write ... -r $((100 + $1)) ...`); it
# runs with `set -e` suspended (it is the left side of `||`), so a
# function of several commands must return a failure itself.
bg_loop() {
	local name=$1 pause=$2
	shift 2
	bg_start "$name" _bg_rounds "$name" "$pause" "$@"
}

_bg_rounds() {
	local name=$1 pause=$2 round=0 rc
	shift 2
	while [ ! -e "$_H_BG/$name.stop" ]; do
		round=$((round + 1))
		rc=0
		"$@" "$round" || rc=$?
		if [ "$rc" -ne 0 ]; then
			echo "round $round failed (exit $rc)" >"$_H_BG/$name.failed"
			exit 1
		fi
		[ "$pause" = 0 ] || sleep "$pause"
	done
	exit 0
}

# bg_running NAME: true while NAME runs.
bg_running() {
	[ -f "$_H_BG/$1.pid" ] && kill -0 "$(cat "$_H_BG/$1.pid")" 2>/dev/null
}

# bg_failed NAME: true (and prints why) if a round of bg_loop NAME failed.
bg_failed() {
	[ -f "$_H_BG/$1.failed" ] && cat "$_H_BG/$1.failed"
}

# bg_check NAME [WHAT]: fail the case ("WHAT: round N failed (exit RC)") if
# a round of bg_loop NAME failed.
bg_check() {
	local why
	why=$(bg_failed "$1") || return 0
	fail "${2:-$1}: $why"
}

# bg_pid NAME: the pid of NAME (for a signal of the case's choosing).
bg_pid() {
	cat "$_H_BG/$1.pid"
}

# bg_wait NAME: wait until NAME ends by itself; returns its exit status
# (127 if it is not a child of this shell, e.g. started in a subshell).
bg_wait() {
	local rc=0
	[ -f "$_H_BG/$1.pid" ] || return 0
	wait "$(cat "$_H_BG/$1.pid")" 2>/dev/null || rc=$?
	rm -f "$_H_BG/$1.pid"
	return "$rc"
}

# bg_stop [NAME...]: ask the named background processes (default: all of
# the case's) to stop after their current round, and wait until they are
# gone. Never fails: safe in cleanup, also for names never started.
bg_stop() {
	_bg_end stop "$@"
}

# bg_kill [-SIG] [NAME...]: as bg_stop, but sends SIG (default TERM) first,
# for fio, a clone and other tools that do not loop in rounds.
bg_kill() {
	local sig=TERM
	case "${1:-}" in -*) sig=${1#-}; shift ;; esac
	_bg_end "$sig" "$@"
}

_bg_end() {
	local how=$1 n p
	shift
	[ -d "$_H_BG" ] || return 0
	if [ $# -eq 0 ]; then
		for p in "$_H_BG"/*.pid; do
			[ -f "$p" ] || continue
			n=${p##*/}
			set -- "$@" "${n%.pid}"
		done
	fi
	for n in "$@"; do
		: >"$_H_BG/$n.stop"
		[ -f "$_H_BG/$n.pid" ] || continue
		p=$(cat "$_H_BG/$n.pid")
		[ "$how" = stop ] || kill -"$how" "$p" 2>/dev/null || true
		# wait reaps a child; a process started elsewhere is polled.
		wait "$p" 2>/dev/null || true
		while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
		rm -f "$_H_BG/$n.pid"
	done
}

# monitor_ready NAME ERR: wait until the `cbt monitor` running as NAME
# (bg_start, its stderr in file ERR) listens: status 0; or until it exited
# without: status 1. Asserts nothing.
monitor_ready() {
	until grep -q listening "$2"; do
		bg_running "$1" || return 1
	done
}

# ---- backups ------------------------------------------------------------

# snap_sum_hook DIR [AFTER]: export a CBT_BACKUP_HOOK with which every
# `cbt backup` writes the sha256 of its snapshot to DIR/snapsum and its
# size in bytes to DIR/snapsize, once the snapshot is taken: what a
# restore of that point must equal. AFTER: a command the hook runs after
# the checksum (a resume of a device the case suspended for the take:
# until then no write reaches the snapshot's origin, so an incremental's
# snapshot, which keeps only the blocks it reads, is still whole).
snap_sum_hook() {
	export CBT_BACKUP_HOOK="sha256sum \"\$CBT_SNAP_PATH\" | cut -d' ' -f1 >$1/snapsum; blockdev --getsize64 \"\$CBT_SNAP_PATH\" >$1/snapsize${2:+; $2}"
}

# backup_summed N DIR CMD [ARG...]: run the backup command CMD (`cbt backup
# ...`, or a function of the case) as backup number N, under snap_sum_hook
# DIR. Fails unless it exits 0 and the hook checksummed the snapshot; keeps
# the snapshot's sha256 as DIR/sum.N and its size as DIR/size.N.
backup_summed() {
	local n=$1 dir=$2 rc=0
	shift 2
	rm -f "$dir/snapsum" "$dir/snapsize"
	"$@" || rc=$?
	[ "$rc" -eq 0 ] || fail "backup $n ($*) failed with exit status $rc"
	[ -s "$dir/snapsum" ] || fail "backup $n: the hook did not checksum the snapshot"
	mv "$dir/snapsum" "$dir/sum.$n"
	mv "$dir/snapsize" "$dir/size.$n"
}

# ---- stamped blocks (helpers/stamp.c, stampscan.c) ------------------------

# stamps_match_log DEV LOG WHAT [STAMPSCAN-ARG...]: every block of DEV
# holds the generation the writers' log LOG (`stamp write -l`: "offset
# length generation" lines, in completion order) last wrote there, and a
# block the log never names is zero. Prints a summary and the first wrong
# blocks; fails the case with WHAT otherwise (also if DEV cannot be read).
stamps_match_log() {
	local dev=$1 log=$2 what=$3 scan
	shift 3
	scan=$_H_RUN/stampscan.out
	stampscan "$dev" "$@" >"$scan" || fail "reading $dev failed"
	awk 'FILENAME == ARGV[1] { if (!($1 in last)) nw++; last[$1] = $3; next }
	{ want = ($1 in last) ? last[$1] : "zero"
	  if ($2 != want && bad++ < 5) print "block " $1 ": " $2 ", expected " want }
	END { printf "%d blocks checked, %d written, %d wrong\n", FNR, nw, bad
	      exit bad > 0 }' "$log" "$scan" || fail "$what"
	rm -f "$scan"
}
