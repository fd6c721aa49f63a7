#!/bin/sh
# Harness self-test: a leak in a case fails it, on a kernel with kmemleak
# (the debug kernel; others skip). harness_leak.ko leaks 128 bytes on load;
# the runner's scan after the case must report it.
# expect-fail: ^kmemleak: [0-9]+ unreferenced object
# detects: a kernel memory leak in a case (kmemleak)
# cost: 5
# timeout: 30
[ -e /sys/kernel/debug/kmemleak ] || skip "no kmemleak in this kernel"
log "loading harness_leak.ko, which leaks on load"
mark_module_load harness_leak
insmod "/lib/modules/$KVER/extra/harness_leak.ko"
# kmemleak reports an object only once it is 5 s old (MSECS_MIN_AGE): this
# wait is its threshold, not a synchronisation.
sleep 6
pass
