#!/bin/sh
# Harness self-test: when the guest stops answering altogether (here its
# runner is frozen, as if the kernel had hung it), the host's own timer
# kills the VM, the case fails with the console's last lines, and the
# remaining cases run in a new boot.
# expect-fail: no word from the guest in case harness_stuck .*VM killed \(host timer\)
# detects: a guest that stops answering (host timer)
# timeout: 2
# ends-boot: yes
# grace: 5
log "freezing the runner (pid $PPID): nothing will report this case"
kill -STOP "$PPID"
sleep 1000
pass
