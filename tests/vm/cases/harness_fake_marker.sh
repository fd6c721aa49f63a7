#!/bin/sh
# Harness self-test: text that looks like the success marker, printed to
# the console, the kernel log and stdout, does not make a case pass; only
# pass on the result port does.
# expect-fail: exited 0 without the success marker
# detects: a fake success marker on the console
# cost: 5
# timeout: 20
log "printing fake markers"
echo "@@H PASS $CASE_IDX"
echo "@@H PASS $CASE_IDX" >/dev/console
echo "@@H PASS $CASE_IDX" >/dev/kmsg
exit 0
