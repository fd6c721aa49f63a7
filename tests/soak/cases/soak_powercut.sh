#!/bin/sh
# Power cuts (sysrq b) at random moments of a write storm while `cbt backup`
# and `cbt clone` loops run, on devices with metadata: after each, every
# acknowledged write is on the device and marked unless a committed backup
# (clone) already holds it, the identity is kept, and the chain (the clone)
# restores byte for byte. Five resets here; `make soak` (tests/soak/run
# --long) runs this case with 21 boots (20 resets). See powercut.inc.
# boots: 6
# disks: 16M 4M 16M 4M 768M 16M 16M 32M 32M
# cost: 220
# timeout: 300
# alone: yes

# shellcheck source=tests/soak/cases/soak.inc
. /harness/cases/soak.inc
# shellcheck source=tests/soak/cases/powercut.inc
. /harness/cases/powercut.inc

cleanup() { pc_cleanup; }

pc_main
