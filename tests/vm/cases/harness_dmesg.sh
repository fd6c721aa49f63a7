#!/bin/sh
# Harness self-test: a problem in the kernel log fails a case even after it
# called pass (here a fake "BUG:" line written to /dev/kmsg, standing in for
# one that does not panic, such as a hung-task report).
# expect-fail: kernel log: .*BUG: harness self-test
# detects: a kernel log problem in a case that passed
# cost: 5
# timeout: 20
echo "harness: BUG: harness self-test, not a real bug" >/dev/kmsg
pass
