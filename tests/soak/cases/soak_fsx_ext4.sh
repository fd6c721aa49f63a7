#!/bin/sh
# fstests' fsx (buffered and O_DIRECT, with fallocate, punch hole, zero
# range, copy range ) and fsstress on ext4 over a cbt device with
# metadata: tracking only, with a frozen snapshot taken mid-run, and during
# `cbt backup'; then the origin, the snapshot (log replayed on a copy) and
# every image (restored, against its snapshot's checksum) are clean. Skips
# when fsx/fsstress were not built (FSTESTS_SRC). See fsx.inc.
# disks: 128M 4M 128M 320M 128M
# cost: 60
# timeout: 900

# shellcheck source=tests/soak/cases/soak.inc
. /harness/cases/soak.inc
# shellcheck source=tests/soak/cases/fsx.inc
. /harness/cases/fsx.inc

cleanup() { fx_cleanup; }

fx_main ext4
