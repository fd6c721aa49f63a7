#!/bin/sh
# Harness self-test: a kernel WARNING during a case fails it. With
# panic_on_warn=1 the guest panics at once; the harness must report the
# case with the warning, and run the remaining cases in a new boot.
# expect-fail: kernel died during the case: .*WARNING: .*harness_warn
# detects: a kernel WARNING in a case (panic_on_warn)
# timeout: 30
# ends-boot: yes
log "loading harness_warn.ko, which WARNs on load"
mark_module_load harness_warn
insmod "/lib/modules/$KVER/extra/harness_warn.ko"
log "still alive: panic_on_warn did not panic"
pass
