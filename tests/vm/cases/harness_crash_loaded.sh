#!/bin/sh
# Harness self-test: a kernel crash after the dm-cbt module was loaded is a
# failure, never retried as an emulator fault. In a retry boot
# ($HARNESS_RETRY=1) this case passes, so a wrong retry shows as a pass.
# expect-fail: kernel died during the case: .*(sysrq|Kernel panic)
# detects: a crash after the module was loaded (not retried)
# timeout: 30
# ends-boot: yes
need_module dm_cbt
if [ "${HARNESS_RETRY:-0}" = 0 ]; then
	log "crashing the kernel with dm_cbt loaded"
	echo c >/proc/sysrq-trigger
	fail "sysrq c did not crash the kernel"
fi
pass
