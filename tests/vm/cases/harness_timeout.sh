#!/bin/sh
# Harness self-test: a case that hangs is killed by the guest's per-case
# timer and reported as timed out; the boot goes on with the next case.
# expect-fail: timed out after (3|6|12)s \(killed by the guest timer; last step: sleeping
# detects: a hanging case (guest timer)
# cost: 5
# timeout: 3
# (3 s times the slow kernels' scale: PREEMPT_RT 2, the debug kernel 4)
log "sleeping far past the timeout"
sleep 1000
pass
