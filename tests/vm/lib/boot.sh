# Host side: boot one VM, follow its result port, judge its cases.
# Sourced by tests/vm/run.
# shellcheck shell=bash
#
# The guest writes its results to its second serial port (ttyS1), which
# qemu hands to us on its stdout; the kernel console (ttyS0) goes to a file.
# Lines on the result port (guest: tests/vm/runner.sh and guest-lib.sh):
#   @@H READY <kver>               modules loaded, cases about to run
#   @@H BEGIN <i> <name> <phase>   case i started
#   @@H PASS <i>                   case i sent its success marker (pass)
#   @@H FAIL <i> <reason>          case i called fail
#   @@H SKIP <i> <reason>          case i called skip
#   @@H REBOOT <i> <phase>         case i ended its phase with vm_reboot
#   @@H CRASH <i> <phase>          case i asks to be killed now (vm_crash)
#   @@H LEAK <i> <what>            case i left devices, mounts or processes
#   @@H DMESG <i|boot|end> ... @@H DMESG-END   kernel log, lines "@@D ..."
#   @@H END <i> <rc> <timed-out 0|1> <last step>
#   @@H ABORT <i> <reason>         the runner cannot go on in this boot
#   @@H BOOTFAIL <reason>          a problem outside any case
#   @@H KMEMLEAK <i|boot|end> <n|unsupported> ... @@H KMEMLEAK-END <tag>
#                                  kmemleak's suspects since the last scan,
#                                  after case i, at boot (the baseline: not
#                                  counted), at the end; lines "@@D ..."
#   @@H DONE                       all cases ran; the VM powers off
# and, from this side, "@@QEMU-EXIT <status>" once qemu is gone.
# Every wait has a deadline; when one passes the VM is killed (SIGKILL).

VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-180}	# qemu start to READY (52 s seen on a loaded host)
VM_IDLE_TIMEOUT=${VM_IDLE_TIMEOUT:-60}	# between cases, and to power off
VM_BAD_RE='BUG:|WARNING:|Oops|general protection|hung task|blocked for more than|refcount_t:|list_add corruption|list_del corruption|KASAN|UBSAN|Kernel panic|kernel BUG|soft lockup|detected stalls|trying to register non-static key'
VM_QBOOT=/usr/share/qemu/qboot.rom
# qboot's MP table has no PCI interrupt entries: a kernel without ACPI (the
# debug kernel, tinyconfig) then finds no IRQ for virtio-pci ("can't find
# IRQ for PCI INT A") and waits for its disks for ever. SeaBIOS's has them.
VM_SEABIOS=0
# Seconds of the host per second a case declares (# timeout:) and for the
# boot: KASAN and lockdep under TCG make the debug kernel several times
# slower than Debian's (tests/vm/README.md, Speed). The guest's timer
# gets it too (harness.tscale).
VM_TSCALE=1
# The debug kernel's own switches (tests/debugkernel): kmemleak on (the
# runner scans after every case), a KASAN report panics as a WARN does,
# KFENCE samples every 10 ms instead of 100.
VM_DEBUG_ARGS=${VM_DEBUG_ARGS:-kmemleak=on kasan.fault=panic kfence.sample_interval=10}
# One host thread runs both vCPUs in turn. With multi-threaded TCG, 6.12
# guests now and then take an "Oops: int3" in a static key being patched
# (text_poke_bp: 1 boot in ~15 here); never seen with thread=single.
VM_ACCEL=${VM_ACCEL:-tcg,thread=single}
# The guest's CPU model (qemu's -cpu; tests/vm/README.md, "The guest CPU").
# Nehalem (2008, the first with POPCNT, which every x86 server since has; TCG
# emulates all of it, no warning): the kernel's hweight64 and the tool's
# count use the popcnt instruction, as on real hardware. qemu's default,
# qemu64, has no POPCNT: popcounts go through __sw_hweight64 and count 3-4x
# slower under TCG. The debug kernel runs on VM_DEBUG_CPU, qemu64, so one
# lane keeps the paths without popcnt (tests/boot and tests/upgrade start
# their own qemu, on qemu64 too). Empty: qemu's default.
VM_CPU=${VM_CPU-Nehalem}
VM_DEBUG_CPU=${VM_DEBUG_CPU-qemu64}

# vm_hdr FILE KEY: value of a "# KEY: value" header line of a case.
vm_hdr() { sed -n "s/^# $2: *//p" "$1" | head -n 1; }

vm_case_file() { echo "$VM_CASES/$1.sh"; }

# Disk images of a case: one per size in "# disks:", then (multi-boot
# cases) an ext4 state disk. vm_case_disks NAME prints "serial-suffix path".
vm_case_disks() {
	local name=$1 f n=1 s
	f=$(vm_case_file "$name")
	for s in $(vm_hdr "$f" disks); do
		echo "d$n $VM_DISKS/$name.d$n.img $s"
		n=$((n + 1))
	done
	if [ "$(vm_hdr "$f" boots)" -gt 1 ] 2>/dev/null; then
		echo "st $VM_DISKS/$name.state.img 32M"
	fi
}

# Fresh images for a case (sparse; on tmpfs they cost only what is written).
vm_make_disks() {
	local suffix path size
	mkdir -p "$VM_DISKS"
	while read -r suffix path size; do
		rm -f "$path"
		truncate -s "$size" "$path"
		if [ "$suffix" = st ]; then mkfs.ext4 -q -F -L state "$path"; fi
	done < <(vm_case_disks "$1")
}

vm_drop_disks() {
	[ "$VM_KEEP" = 1 ] && return 0
	local suffix path size
	while read -r suffix path size; do rm -f "$path"; done < <(vm_case_disks "$1")
}

vm_now() { printf -v VM_NOW '%(%s)T' -1; }

vm_kill_qemu() {
	local pid
	pid=$(cat "$B_DIR/qemu.pid" 2>/dev/null) || return 0
	kill -KILL "$pid" 2>/dev/null || true
}

# vm_boot KVER DIR NAME:PHASE...: run these cases (each in the given phase)
# in one VM, in order. Results are left in the B_* arrays (indexed by
# position) for vm_verdict.
vm_boot() {
	local i n cache fd line tag idx rest left rc dtarget="" t job
	local kver=$1
	B_DIR=$2
	shift 2
	B_CASES=() B_PHASES=()
	for job in "$@"; do
		B_CASES+=("${job%%:*}") B_PHASES+=("${job#*:}")
	done
	B_READY=0 B_DONE=0 B_RUNNER_RC="" B_ABORT="" B_BOOTFAIL="" B_HOSTKILL="" B_QEMU_RC="" B_CUR=-1
	declare -gA B_BEGUN=() B_PASS=() B_FAIL=() B_SKIP=() B_LEAK=() B_REBOOT=() B_CRASH=()
	declare -gA B_RC=() B_TO=() B_STEP=() B_START=() B_SECS=() B_TIMEOUT=() B_KMEMLEAK=()
	rm -rf "$B_DIR" && mkdir -p "$B_DIR"

	local -a args=(qemu-system-x86_64 -accel "$VM_ACCEL" -m 1G -smp 2
		-nodefaults -nographic -no-reboot
		-kernel "$VM_KIMAGE" -initrd "$VM_INITRD"
		-serial "file:$B_DIR/console.log" -serial stdio -monitor none
		-pidfile "$B_DIR/qemu.pid")
	local cpu=$VM_CPU
	[ "$kver" = debug ] && cpu=$VM_DEBUG_CPU
	[ -n "$cpu" ] && args+=(-cpu "$cpu")
	[ -f "$VM_QBOOT" ] && [ "$VM_SEABIOS" = 0 ] && args+=(-bios "$VM_QBOOT")
	# shellcheck disable=SC2206 # VM_QEMU_ARGS: words, by design
	[ -n "${VM_QEMU_ARGS:-}" ] && args+=($VM_QEMU_ARGS)
	n=0
	local boot_to=$((VM_BOOT_TIMEOUT * VM_TSCALE)) idle_to=$((VM_IDLE_TIMEOUT * VM_TSCALE))
	local hard=$((boot_to + 60))
	for i in "${!B_CASES[@]}"; do
		B_TIMEOUT[$i]=$(vm_hdr "$(vm_case_file "${B_CASES[$i]}")" timeout)
		B_TIMEOUT[$i]=$((${B_TIMEOUT[$i]:-60} * VM_TSCALE))
		t=$(vm_hdr "$(vm_case_file "${B_CASES[$i]}")" grace)
		hard=$((hard + B_TIMEOUT[$i] + ${t:-30} + idle_to))
		# Single-boot cases: cache=unsafe (no host fsync). Multi-boot
		# cases: cache=writeback, host fsync on flush. The guest sees a
		# write cache either way and sends flushes; a SIGKILLed qemu
		# loses nothing the guest saw completed (see README.md).
		cache=unsafe
		[ "$(vm_hdr "$(vm_case_file "${B_CASES[$i]}")" boots)" -gt 1 ] 2>/dev/null && cache=writeback
		while read -r tag line _; do
			args+=(-drive "file=$line,if=none,id=h$n,format=raw,cache=$cache,aio=threads,discard=unmap"
				-device "virtio-blk-pci,drive=h$n,serial=c$i$tag")
			n=$((n + 1))
		done < <(vm_case_disks "${B_CASES[$i]}")
	done
	# "# s3: yes": a NIC on qemu's user network, and the server's endpoint (tests/vm/run)
	local genv=${VM_GUEST_ENV:-}
	for i in "${!B_CASES[@]}"; do
		{ [ "$(vm_hdr "$(vm_case_file "${B_CASES[$i]}")" s3)" = yes ] && [ -n "${VM_S3_ENV:-}" ]; } || continue
		args+=(-netdev "user,id=n0" -device "virtio-net-pci,netdev=n0")
		genv=${genv:+$genv,}$VM_S3_ENV
		break
	done
	args+=(-append "console=ttyS0 quiet no_timer_check panic_on_warn=1 oops=panic panic=-1 softlockup_panic=1 hung_task_panic=1 sysctl.kernel.hung_task_timeout_secs=$((60 * VM_TSCALE)) log_buf_len=4M mitigations=off${VM_KERNEL_ARGS:+ $VM_KERNEL_ARGS} rdinit=/init harness.retry=${VM_RETRY_BOOT:-0} harness.tscale=$VM_TSCALE${genv:+ harness.env=$genv} harness.cases=$(IFS=,; echo "$*")")
	# A slow kernel's watchdogs wait as much longer: under TCG on a loaded
	# host a guest vCPU can go without the host's CPU for a minute, and a
	# soft lockup or RCU stall then says nothing about the kernel (seen:
	# PREEMPT_RT's kdevtmpfs "stuck for 46s" in early boot at load 24).
	if [ "$VM_TSCALE" -gt 1 ]; then
		t=$((10 * VM_TSCALE)) && [ "$t" -le 60 ] || t=60
		i=$((21 * VM_TSCALE)) && [ "$i" -le 300 ] || i=300
		args[-1]+=" watchdog_thresh=$t rcupdate.rcu_cpu_stall_timeout=$i"
	fi
	printf '%q ' "${args[@]}" >"$B_DIR/qemu.cmd"

	# The outer timeout is a last resort; the deadlines below act first.
	# (errexit holds in the subshell too: the status must not stop it.)
	exec {fd}< <(rc=0
		timeout -s KILL "$hard" "${args[@]}" </dev/null 2>"$B_DIR/qemu.err" || rc=$?
		echo "@@QEMU-EXIT $rc")
	vm_now
	B_T0=$VM_NOW B_TREADY=""
	local deadline=$((VM_NOW + boot_to)) what="booting"
	while :; do
		vm_now
		left=$((deadline - VM_NOW))
		rc=142
		if [ "$left" -gt 0 ]; then
			IFS= read -r -t "$left" -u "$fd" line && rc=0 || rc=$?
		fi
		if [ "$rc" = 0 ]; then
			vm_now
			line=${line%$'\r'}
			case "$line" in
			"@@D "*) [ -n "$dtarget" ] && printf '%s\n' "${line#@@D }" >>"$B_DIR/$dtarget"; continue ;;
			esac
			printf '%s\n' "$line" >>"$B_DIR/serial.log"
			read -r tag idx rest <<<"${line#@@H }"
			case "$line" in
			"@@QEMU-EXIT "*) B_QEMU_RC=${line#@@QEMU-EXIT } ;;
			"@@H READY "*)
				# B_TREADY, B_SECS, B_TEND, VM_FAULT_SIG: read by tests/vm/run
				# shellcheck disable=SC2034
				B_READY=1 B_TREADY=$((VM_NOW - B_T0)); deadline=$((VM_NOW + idle_to)); what="between cases" ;;
			"@@H BEGIN "*)
				B_BEGUN[$idx]=1 B_CUR=$idx B_START[$idx]=$VM_NOW
				t=$(vm_hdr "$(vm_case_file "${B_CASES[$idx]}")" grace)
				deadline=$((VM_NOW + B_TIMEOUT[$idx] + ${t:-30}))
				what="in case ${B_CASES[$idx]} (timeout ${B_TIMEOUT[$idx]}s + ${t:-30}s grace)" ;;
			"@@H PASS "*) B_PASS[$idx]=1 ;;
			"@@H FAIL "*) B_FAIL[$idx]=${B_FAIL[$idx]:-$rest} ;;
			"@@H SKIP "*) B_SKIP[$idx]=$rest ;;
			"@@H LEAK "*) B_LEAK[$idx]=$rest ;;
			"@@H REBOOT "*) B_REBOOT[$idx]=1 ;;
			"@@H CRASH "*)
				B_CRASH[$idx]=1
				vm_kill_qemu
				deadline=$((VM_NOW + 15)) what="after the crash kill" ;;
			"@@H DMESG "*) dtarget=dmesg.$idx; : >"$B_DIR/$dtarget" ;;
			"@@H DMESG-END "*) dtarget="" ;;
			"@@H END "*)
				read -r "B_RC[$idx]" "B_TO[$idx]" "B_STEP[$idx]" <<<"$rest"
				# shellcheck disable=SC2034
				B_SECS[$idx]=$((VM_NOW - B_START[$idx])) B_CUR=-1
				deadline=$((VM_NOW + idle_to)) what="between cases" ;;
			"@@H ABORT "*) B_ABORT="$rest" ;;
			"@@H BOOTFAIL "*) B_BOOTFAIL="${B_BOOTFAIL:+$B_BOOTFAIL; }$idx $rest" ;;
			"@@H KMEMLEAK "*)
				B_KMEMLEAK[$idx]=${rest%% *}
				[ "$rest" = unsupported ] || { dtarget=kmemleak.$idx; : >"$B_DIR/$dtarget"; } ;;
			"@@H KMEMLEAK-END "*) dtarget="" ;;
			"@@H DONE"*) B_DONE=1; deadline=$((VM_NOW + idle_to)) what="powering off" ;;
			"@@H RUNNER-EXIT "*) B_RUNNER_RC=$idx ;;
			*) echo "unexpected line on the result port: $line" >>"$B_DIR/serial.log" ;;
			esac
			# Between cases the runner reports its own steps (the
			# kmemleak scans, the kernel log): each one is a sign of
			# life (a scan takes minutes on a loaded host's debug guest).
			[ "$what" != "between cases" ] || deadline=$((VM_NOW + idle_to))
		else
			[ "$rc" -gt 128 ] || break	# EOF: qemu is gone
			[ -z "$B_HOSTKILL" ] || break	# killed, and still no EOF
			B_HOSTKILL="no word from the guest ${what}: VM killed (host timer)"
			vm_kill_qemu
			vm_now
			deadline=$((VM_NOW + 15))
		fi
	done
	exec {fd}<&-
	wait $! 2>/dev/null || true
	[ -n "$B_QEMU_RC" ] || B_QEMU_RC=unknown
	vm_now
	# shellcheck disable=SC2034
	B_TEND=$VM_NOW
}

# First line of kernel log FILE that shows a kernel problem. With --console,
# only kernel lines ("[   12.345] ...") count: cases print to the console.
vm_bad_line() {
	local re=$VM_BAD_RE
	if [ "$1" = --console ]; then
		shift
		grep -aE '^\[ *[0-9]+\.[0-9]+\] ' "$1" 2>/dev/null | grep -aE -m1 "$re" | cut -c1-240 || true
	else
		grep -aE -m1 "$re" "$1" 2>/dev/null | cut -c1-240 || true
	fi
}

# Console lines of case NAME in this boot: from its BEGIN to its END.
vm_console_section() {
	awk -v b="harness: BEGIN $1 phase $2" -v e="harness: END $1 " \
		'index($0, b) { on = 1 } on { print } on && index($0, e) { exit }' "$B_DIR/console.log" 2>/dev/null
}

# vm_verdict I: judge case I of the last boot. Sets V_STATUS (pass, fail,
# skip, reboot, crash, notrun) and V_REASON; V_DETAIL names a file of lines
# to show under a failure. Keeps the case's logs in $VM_LOGS.
vm_verdict() {
	local i=$1 phase=${B_PHASES[$1]} name=${B_CASES[$1]} bad panic art
	V_STATUS="" V_REASON="" V_DETAIL=""
	if [ -z "${B_BEGUN[$i]:-}" ]; then
		V_STATUS=notrun
		return 0
	fi
	art=$VM_LOGS/$name
	[ "$(vm_hdr "$(vm_case_file "$name")" boots)" -gt 1 ] 2>/dev/null && art=$art.p$phase
	vm_console_section "$name" "$phase" >"$art.console"
	cp "$B_DIR/dmesg.$i" "$art.dmesg" 2>/dev/null || : >"$art.dmesg"
	local step=${B_STEP[$i]:-}
	if [ -n "${B_RC[$i]:-}" ]; then
		if [ "${B_TO[$i]}" = 1 ]; then
			V_STATUS=fail V_REASON="timed out after ${B_TIMEOUT[$i]}s (killed by the guest timer; last step: $step)"
		elif [ -n "${B_FAIL[$i]:-}" ]; then
			V_STATUS=fail V_REASON=${B_FAIL[$i]}
		elif [ "${B_RC[$i]}" != 0 ]; then
			V_STATUS=fail V_REASON="exited with status ${B_RC[$i]} without the success marker (last step: $step)"
		elif [ -n "${B_SKIP[$i]:-}" ]; then
			V_STATUS=skip V_REASON=${B_SKIP[$i]}
		elif [ -n "${B_REBOOT[$i]:-}" ]; then
			V_STATUS=reboot
		elif [ -n "${B_PASS[$i]:-}" ]; then
			V_STATUS=pass
		else
			V_STATUS=fail V_REASON="exited 0 without the success marker (last step: $step)"
		fi
		if [ -n "${B_LEAK[$i]:-}" ] && [ "$V_STATUS" != fail ]; then
			V_STATUS=fail V_REASON="left behind: ${B_LEAK[$i]}"
		fi
		if [ "${B_KMEMLEAK[$i]:-0}" -gt 0 ] 2>/dev/null; then
			cp "$B_DIR/kmemleak.$i" "$art.kmemleak"
			V_REASON="kmemleak: ${B_KMEMLEAK[$i]} unreferenced object(s) after the case${V_REASON:+; $V_REASON}" V_STATUS=fail
			V_DETAIL=$art.kmemleak
		fi
		bad=$(vm_bad_line "$art.dmesg")
		if [ -n "$bad" ]; then
			V_REASON="kernel log: $bad${V_REASON:+; $V_REASON}" V_STATUS=fail
			V_DETAIL=$art.dmesg
		fi
		[ "$V_STATUS" != fail ] || [ -n "$V_DETAIL" ] || V_DETAIL=$art.console
		return 0
	fi
	if [ -n "${B_CRASH[$i]:-}" ]; then
		V_STATUS=crash
		bad=$(vm_bad_line --console "$art.console")
		[ -z "$bad" ] || V_STATUS=fail V_REASON="kernel log before the crash: $bad" V_DETAIL=$art.console
		return 0
	fi
	# Begun, never ended: the guest died or hung.
	V_STATUS=fail V_DETAIL=$art.console
	[ -s "$art.console" ] || V_DETAIL=$B_DIR/console.log
	bad=$(vm_bad_line --console "$V_DETAIL")
	panic=$(grep -a -m1 'Kernel panic' "$V_DETAIL" | cut -c1-160 || true)
	if [ -n "$B_HOSTKILL" ]; then
		V_REASON="$B_HOSTKILL${bad:+; kernel log: $bad}"
	else
		V_REASON="kernel died during the case${bad:+: $bad}${panic:+ / $panic}"
		[ -n "$bad$panic" ] || V_REASON="VM exited during the case (qemu status $B_QEMU_RC)"
	fi
	[ -z "${B_FAIL[$i]:-}" ] || V_REASON="${B_FAIL[$i]}; then $V_REASON"
}

# vm_emulator_fault: the last boot died of a kernel crash before any module
# was loaded (tests/lib.sh, emulator_fault says what counts): a qemu-TCG
# fault, worth one retry. Sets VM_FAULT_SIG to the crash's first line.
# shellcheck disable=SC2034 # VM_FAULT_SIG: read by tests/vm/run
vm_emulator_fault() {
	VM_FAULT_SIG=""
	[ "$B_DONE" != 1 ] && [ -z "$B_ABORT" ] || return 1
	# a case that asked to be killed (vm_crash) meant it
	[ ${#B_CRASH[@]} -eq 0 ] || return 1
	VM_FAULT_SIG=$(emulator_fault "$B_DIR/console.log")
}

# Problems of the last boot outside any case, one per line (none: empty).
vm_boot_problems() {
	local bad f
	if [ "$B_READY" != 1 ]; then
		bad=$(vm_bad_line --console "$B_DIR/console.log")
		echo "VM did not boot: ${B_HOSTKILL:-qemu exited with status $B_QEMU_RC}${bad:+; kernel log: $bad}$(head -c 200 "$B_DIR/qemu.err" | tr '\n' ' ' | sed 's/^./; &/')"
		return 0
	fi
	[ -z "$B_BOOTFAIL" ] || echo "$B_BOOTFAIL"
	for f in boot end; do
		bad=$(vm_bad_line "$B_DIR/dmesg.$f")
		[ -z "$bad" ] || echo "kernel log ($f of the boot): $bad"
	done
	case "${B_KMEMLEAK[end]:-}" in
	"" | unsupported | 0) ;;
	*) echo "kmemleak: ${B_KMEMLEAK[end]} unreferenced object(s) after the last case and dm_cbt's unload (see $B_DIR/kmemleak.end)" ;;
	esac
	# The guest said DONE but qemu did not end: the host's timer killed it,
	# after VM_IDLE_TIMEOUT, time every such boot wastes (a guest that
	# could not power off: tests/vm/init).
	if [ "$B_DONE" = 1 ] && [ -n "$B_HOSTKILL" ]; then
		echo "the VM did not end after its last case: $B_HOSTKILL"
	fi
	if [ -n "$B_RUNNER_RC" ] && [ "$B_RUNNER_RC" != 0 ]; then
		echo "the guest runner failed (exit $B_RUNNER_RC): $(grep -a -v '^\[ *[0-9.]*\]' "$B_DIR/console.log" | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
	elif [ "$B_DONE" != 1 ] && [ -z "$B_ABORT" ] && [ "$B_CUR" = -1 ]; then
		bad=$(vm_bad_line --console "$B_DIR/console.log")
		echo "VM died between cases: ${B_HOSTKILL:-qemu exited with status $B_QEMU_RC}${bad:+; kernel log: $bad}"
	fi
}
