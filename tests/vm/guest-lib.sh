# Guest library for VM cases. Sourced by the runner into a fresh busybox sh
# (POSIX sh plus `local` and `set -o pipefail`) with `set -eu` before the
# case itself; see tests/vm/README.md for the case format.
# shellcheck shell=sh
#
# The runner exports:
#   CASE, CASE_IDX      the case's name and its index in this boot
#   PHASE, BOOTS        which boot of the case this is (1..BOOTS)
#   KVER                uname -r
#   DISK1..DISKn, NDISKS  the scratch disks declared by `# disks:`, in order
#   STATE               (multi-boot cases) an ext4 directory kept across boots
#
# A case defines cleanup() if it sets anything up (dm devices, mounts, loop
# devices); it runs on every exit: before the success marker on pass, on
# fail, on an error under `set -e`, and before vm_reboot. It must tolerate
# being run when setup only got half way. Do not `trap` EXIT yourself.
#
# Results go to the host on /dev/ttyS1, a serial port that nothing else
# writes to (the kernel console is ttyS0), as "@@H <what> <idx> ..." lines.

set -o pipefail
_H_TTY=/dev/ttyS1
_H_RUN=/tmp/harness
_H_T0=$(cut -d' ' -f1 /proc/uptime)

# Real tools whose names are also busybox applets: busybox sh would run the
# applet even with the real tool first in PATH, so call them by path.
while read -r _h_name _h_dir; do
	eval "$_h_name() { $_h_dir/$_h_name \"\$@\"; }"
done </harness/shadowed

_h_msg() { echo "@@H $*" >"$_H_TTY"; }

# log MSG...: print one step of the case, with the time since it began.
log() {
	local now
	now=$(cut -d' ' -f1 /proc/uptime)
	[ -n "${_H_EXITING:-}" ] || echo "$*" >"$_H_RUN/step"
	echo "[$CASE +$(awk "BEGIN { printf \"%.1f\", $now - $_H_T0 }")s] $*"
}

# fail MSG...: the case failed; MSG is the reason the host reports.
fail() {
	_H_EXITING=1
	echo "[$CASE] FAIL: $*"
	_h_msg FAIL "$CASE_IDX" "$*"
	exit 1
}

# skip REASON...: the case cannot run here (reported as "# SKIP REASON").
skip() {
	trap - EXIT INT TERM
	_h_cleanup
	echo "[$CASE] SKIP: $*"
	_h_msg SKIP "$CASE_IDX" "$*"
	exit 0
}

# assert_cmd CMD [ARG...]: log and run a command; fail if it fails.
assert_cmd() {
	local rc=0
	log "+ $*"
	"$@" || rc=$?
	[ "$rc" -eq 0 ] || fail "command failed (exit $rc): $*"
}

# assert_eq GOT WANT [WHAT]: fail unless GOT = WANT (as strings).
assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
	log "ok: ${3:-value} = '$2'"
}

# pass: every check is done. Runs cleanup, then sends the success marker.
# Nothing after it runs. The host counts the case as passed only with this
# marker, an exit status of 0, a clean kernel log and nothing left behind.
pass() {
	trap - EXIT INT TERM
	_h_cleanup
	log "pass"
	_h_msg PASS "$CASE_IDX"
	exit 0
}

# mark_module_load NAME: say in the kernel log, before loading a module, that
# from now on a crash is not an emulator fault to retry (tests/lib.sh,
# emulator_fault).
mark_module_load() { echo "harness: loading module $1" >/dev/kmsg; }

# need_module NAME...: load kernel modules (dm-cbt: skip the case if it did
# not build for this kernel; anything else missing fails the case, but on
# the debug kernel, which is built without some).
need_module() {
	local m n
	for m in "$@"; do
		n=$(echo "$m" | tr - _)
		[ -d "/sys/module/$n" ] && continue
		grep -q -e "/$n.ko\$" -e "/$(echo "$n" | tr _ -).ko\$" \
			"/lib/modules/$KVER/modules.builtin" 2>/dev/null && continue
		if [ "$n" = dm_cbt ] && grep -q '^module: failed' /harness/build-status; then
			skip "dm-cbt.ko did not build for $KVER ($(sed -n 's/^module: failed: //p' /harness/build-status))"
		fi
		# The debug kernel has no modules of its own (everything it has
		# is built in) and leaves out what the debug stage's cases do
		# not use (tests/debugkernel/config): a case needing more is
		# not for that kernel.
		if [ "$n" != dm_cbt ] && [ ! -d "/lib/modules/$KVER/kernel" ] &&
			! grep -q "/$n.ko\$" "/lib/modules/$KVER/modules.dep" 2>/dev/null; then
			skip "$KVER is built without $m (tests/debugkernel/config)"
		fi
		log "modprobe $m"
		mark_module_load "$n"
		modprobe "$m" || fail "cannot load kernel module $m"
	done
}

# need_cmd NAME...: fail unless these programs are in the initramfs.
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 && continue
		if [ "$c" = cbt ] && grep -q '^tool: failed' /harness/build-status; then
			fail "the cbt tool is not in the initramfs: $(sed -n 's/^tool: failed: //p' /harness/build-status)"
		fi
		fail "program $c is not in the initramfs (add it in tests/vm/lib/initramfs.sh)"
	done
}

# sectors DEV: size of a block device in 512-byte sectors.
sectors() { blockdev --getsz "$1"; }

# vm_reboot: end this phase with a clean reboot (cleanup, sync, reboot);
# the case runs again from the top with PHASE+1 on the same disks.
vm_reboot() {
	[ "$PHASE" -lt "$BOOTS" ] || fail "vm_reboot in phase $PHASE but the case declares # boots: $BOOTS"
	trap - EXIT INT TERM
	_h_cleanup
	log "clean reboot after phase $PHASE"
	sync
	: >"$_H_RUN/reboot"
	_h_msg REBOOT "$CASE_IDX" "$PHASE"
	exit 0
}

# vm_crash: end this phase with a hard crash: the host kills the VM with
# SIGKILL as soon as it reads the marker, while anything the case left
# running in the background keeps writing. No cleanup, no sync. Writes the
# guest saw completed are on the disk images; see README.md.
vm_crash() {
	[ "$PHASE" -lt "$BOOTS" ] || fail "vm_crash in phase $PHASE but the case declares # boots: $BOOTS"
	trap - EXIT INT TERM
	log "crash after phase $PHASE: waiting for the host to kill the VM"
	_h_msg CRASH "$CASE_IDX" "$PHASE"
	while :; do sleep 1; done
}

_h_cleanup() {
	command -v cleanup >/dev/null 2>&1 || return 0
	log "cleanup"
	cleanup
}

_h_on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	_H_EXITING=1	# the last step stays the one that failed
	[ "$rc" -eq 0 ] || log "exit status $rc"
	_h_cleanup
	exit "$rc"
}
trap _h_on_exit EXIT
trap 'exit 130' INT TERM

# The helpers cases share (writes, block sets, waits, background writers,
# the stamp checker): lib/guest-helpers.sh.
# shellcheck source=lib/guest-helpers.sh
. /harness/guest-helpers.sh
