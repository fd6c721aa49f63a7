# Guest side: runs the cases of one boot, one after the other. Started by
# /init; the host chose the cases on the kernel command line:
#   harness.cases=<name>:<phase>,...  (index = position, from 0; phase: which
#                                      boot of a multi-boot case this is)
# Everything the host learns comes as "@@H ..." lines on /dev/ttyS1 (see
# tests/vm/lib/boot.sh for the protocol); the kernel console is ttyS0.
# shellcheck shell=sh
set -u
export PATH=/harness/bin:/usr/sbin:/usr/bin:/sbin:/bin
# No udev in the guest: libdevmapper makes the /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1
RUN=/tmp/harness
KVER=$(uname -r)
export KVER

msg() { echo "@@H $*" >/dev/ttyS1; }

# hdr FILE KEY: the value of a "# KEY: value" header line of a case.
hdr() { sed -n "s/^# $2: *//p" "$1" | head -n 1; }

# Send the kernel log gathered since the last dump, and clear it.
dump_dmesg() {
	{
		echo "@@H DMESG $1"
		dmesg -c | sed 's/^/@@D /'
		echo "@@H DMESG-END $1"
	} >/dev/ttyS1
}

load_module() {
	local n
	n=$(echo "$1" | tr - _)
	[ -d "/sys/module/$n" ] && return 0
	grep -q -e "/$n.ko\$" -e "/$(echo "$n" | tr _ -).ko\$" "/lib/modules/$KVER/modules.builtin" && return 0
	modprobe "$1"
}

disk_by_serial() {
	local d
	for d in /sys/block/vd*; do
		[ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] && echo "/dev/${d##*/}" && return 0
	done
	return 1
}

extra_mounts() { awk '{ print $2 }' /proc/mounts | grep -v -x -F -f "$BASE_MOUNTS" || true; }

# What a case left behind, on one line (empty if nothing).
leftovers() {
	local m d l
	m=$(extra_mounts)
	d=$(dmsetup ls 2>/dev/null | grep -v '^No devices found' | awk '{ print $1 }')
	l=$(/usr/sbin/losetup -a 2>/dev/null | cut -d: -f1)
	# shellcheck disable=SC2086,SC2116 # echo joins the lines into one
	echo "${m:+mounts: $(echo $m) }${d:+dm devices: $(echo $d) }${l:+loop devices: $(echo $l)}"
}

force_clean() {
	extra_mounts | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
	dmsetup remove_all --force >/dev/null 2>&1
	/usr/sbin/losetup -D 2>/dev/null
	return 0
}

# run_case IDX NAME PHASE: returns 1 if the boot cannot go on (a reboot, or
# state left dirty).
run_case() {
	local idx=$1 name=$2 file=/harness/cases/$2.sh PHASE=$3
	local timeout boots n dev pid wd rc to stragglers left="" v
	rm -rf "$RUN" && mkdir -p "$RUN"
	: >"$RUN/step"
	timeout=$(hdr "$file" timeout)
	timeout=$((${timeout:-60} * TSCALE))
	boots=$(hdr "$file" boots)
	for v in $(env | sed -n 's/^\(DISK[0-9]*\)=.*/\1/p'); do unset "$v"; done
	n=1
	while dev=$(disk_by_serial "c${idx}d$n"); do
		export "DISK$n=$dev"
		n=$((n + 1))
	done
	export CASE="$name" CASE_IDX="$idx" PHASE BOOTS="${boots:-1}" NDISKS=$((n - 1))
	unset STATE
	if dev=$(disk_by_serial "c${idx}st"); then
		mount -t ext4 "$dev" /state || { msg ABORT "$idx" "cannot mount the state disk $dev"; return 1; }
		export STATE=/state
	fi
	echo "harness: BEGIN $name phase $PHASE" >/dev/kmsg
	msg BEGIN "$idx" "$name" "$PHASE"

	# The case gets its own session so that the timer can kill all of it.
	# (The inner shells expand their own arguments: single quotes are meant.)
	# shellcheck disable=SC2016
	setsid sh -c 'set -eu; . /harness/guest-lib.sh; . "$0"' "$file" \
		</dev/null >/dev/console 2>&1 &
	pid=$!
	# shellcheck disable=SC2016
	setsid sh -c 'sleep "$0"; : >"$2"; sh /harness/dump-tasks.sh "$1" >/dev/console 2>&1
		kill -KILL -"$1"' "${timeout:-60}" "$pid" "$RUN/timedout" \
		</dev/null >/dev/null 2>&1 &
	wd=$!
	rc=0
	wait "$pid" || rc=$?
	kill -KILL -"$wd" 2>/dev/null
	to=0
	[ -e "$RUN/timedout" ] && to=1

	# Anything the case started and left running is killed now.
	stragglers=0
	if kill -KILL -"$pid" 2>/dev/null; then
		stragglers=1
		n=0
		while kill -0 -"$pid" 2>/dev/null && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	fi
	[ -n "${STATE:-}" ] && { umount /state || umount -l /state; }
	echo "harness: END $name rc $rc" >/dev/kmsg

	if [ -e "$RUN/reboot" ]; then
		force_clean
	else
		left=$(leftovers)
		[ "$stragglers" = 1 ] && left="${left}processes still running "
		if [ -n "$left" ]; then
			msg LEAK "$idx" "$left"
			force_clean
			left=$(leftovers)
		fi
	fi
	[ -e "$RUN/reboot" ] || kmemleak_scan "$idx"
	dump_dmesg "$idx"
	msg END "$idx" "$rc" "$to" "$(head -c 200 "$RUN/step" | tr '\n' ' ')"
	if [ -n "$left" ]; then
		msg ABORT "$idx" "could not clean up after $name: $left"
		return 1
	fi
	# Lockdep turns itself off after its first report (the case fails
	# on it): the cases after it get a boot where it is on.
	if [ "$LOCKDEP" = 1 ] && ! grep -q 'debug_locks: *1' /proc/lockdep_stats; then
		msg ABORT "$idx" "lockdep is off after a report in $name: the rest runs in a new boot"
		return 1
	fi
	[ ! -e "$RUN/reboot" ]
}

# kmemleak_scan TAG: where the kernel has kmemleak (the debug kernel), scan
# and send what it suspects as leaks since the last scan, as
# "@@H KMEMLEAK TAG N" and N reports; TAG is a case's index (the case
# fails), "boot" (the baseline: the kernel's own boot, before any case) or
# "end" (after dm_cbt was unloaded). Always two scans: kmemleak does not
# report an object whose contents changed since the scan before (its
# checksum: a new object's always has), so a leak made during a case is
# found only by the second scan after it. With one scan, the self-test
# harness_kmemleak's leak was blamed on the case after it. A scan takes
# 3-10 s on the debug kernel under TCG. Then "clear": what was reported is
# not reported again. An object is a candidate only once it is 5 s old
# (MSECS_MIN_AGE), so a leak from a case's last seconds shows up after the
# next case, or at the end.
kmemleak_scan() {
	local kl=/sys/kernel/debug/kmemleak n
	if [ ! -w "$kl" ]; then
		[ "$1" != end ] || msg KMEMLEAK end unsupported
		return 0
	fi
	echo scan >"$kl"
	echo scan >"$kl"
	n=$(grep -c '^unreferenced object' "$kl" || true)
	{
		echo "@@H KMEMLEAK $1 ${n:-0}"
		sed 's/^/@@D /' "$kl"
		echo "@@H KMEMLEAK-END $1"
	} >/dev/ttyS1
	echo clear >"$kl"
}

# At the end of the boot: dm-cbt must unload (a leaked reference would keep
# it in), and then kmemleak (what it still held is unreferenced now).
end_checks() {
	local out
	if [ -d /sys/module/dm_cbt ]; then
		out=$(rmmod dm_cbt 2>&1) || msg BOOTFAIL "dm_cbt does not unload after the cases: $out"
	fi
	kmemleak_scan end
	dump_dmesg end
}

CASES=
TSCALE=1
read -r cmdline </proc/cmdline || :
for w in $cmdline; do
	case "$w" in
	harness.cases=*) CASES=${w#*=} ;;
	# this boot retries one that died before any module was loaded
	harness.retry=*) HARNESS_RETRY=${w#*=}; export HARNESS_RETRY ;;
	# a slow kernel (the debug one): every case gets this many times its timeout
	# (exported: harness_config checks the hung-task timeout scaled by it)
	harness.tscale=*) TSCALE=${w#*=}; HARNESS_TSCALE=$TSCALE; export HARNESS_TSCALE ;;
	# VM_GUEST_ENV on the host: NAME=VALUE,... for the cases (a fuzz seed)
	harness.env=*)
		# shellcheck disable=SC2163 # v is NAME=VALUE: export "$v" sets and exports NAME
		for v in $(echo "${w#*=}" | tr , ' '); do export "$v"; done ;;
	esac
done
for m in virtio_pci virtio_blk dm_mod loop ext4 crc32c_generic; do
	load_module "$m" || { msg BOOTFAIL "cannot load module $m"; exit 1; }
done
BASE_MOUNTS=/tmp/mounts.base
awk '{ print $2 }' /proc/mounts >"$BASE_MOUNTS"
LOCKDEP=0
grep -q 'debug_locks: *1' /proc/lockdep_stats 2>/dev/null && LOCKDEP=1
msg READY "$KVER"
kmemleak_scan boot
dump_dmesg boot
# From here on the console shows every kernel message but debug ones, so a
# warning that panics the guest is on the console before it dies.
dmesg -n 7

idx=0
for job in $(echo "$CASES" | tr , ' '); do
	run_case "$idx" "${job%%:*}" "${job#*:}" || break
	idx=$((idx + 1))
done
[ -e "$RUN/reboot" ] || end_checks
msg DONE
