#!/bin/sh
# Harness self-test: the kernel really runs with the settings the harness
# relies on to turn kernel problems into failures (see README.md), and the
# result port is the second serial port, not the console.
# cost: 10
# timeout: 20
sysctl_is() {
	assert_eq "$(cat "/proc/sys/kernel/$1")" "$2" "kernel.$1"
}
sysctl_is panic_on_warn 1
sysctl_is panic_on_oops 1
sysctl_is panic -1
sysctl_is softlockup_panic 1
sysctl_is hung_task_panic 1
# 60 s times the slow kernels' scale (the debug kernel 4, PREEMPT_RT 2)
sysctl_is hung_task_timeout_secs $((60 * ${HARNESS_TSCALE:-1}))
assert_eq "$(cat /sys/class/tty/console/active)" ttyS0 "active console"
assert_cmd test -c /dev/ttyS1
pass
