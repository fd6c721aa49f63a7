#!/bin/sh
# Harness self-test: a case that passes but leaves a dm device behind fails,
# and the runner removes the device so the next cases start clean.
# expect-fail: left behind: dm devices: harness_leak
# detects: a case that leaves a dm device behind
# disks: 8M
# cost: 10
# timeout: 20
assert_cmd dmsetup create harness_leak --table "0 $(sectors "$DISK1") linear $DISK1 0"
pass
