#!/bin/sh
# Harness self-test (must pass): a guest kernel that dies before any module
# was loaded (what a qemu-TCG fault in early boot looks like) is retried
# once, in a new boot, and the case runs again there. This case crashes
# the kernel (sysrq c) in its first boot, with nothing but Debian's boot
# modules loaded; the retry boot has harness.retry=1 on its command line
# ($HARNESS_RETRY), where it passes. The run prints
# "# retried (emulator fault before module load): ..." for it.
# alone: yes
# cost: 10
# timeout: 30
if [ "${HARNESS_RETRY:-0}" = 0 ]; then
	log "crashing the kernel before any module was loaded"
	echo c >/proc/sysrq-trigger
	fail "sysrq c did not crash the kernel"
fi
log "the retry boot: the harness took the crash for an emulator fault"
[ ! -d /sys/module/dm_cbt ] || fail "dm_cbt is loaded in the retry boot"
pass
