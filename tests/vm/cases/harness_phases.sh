#!/bin/sh
# Harness self-test of multi-boot cases: data and $STATE survive a clean
# reboot (vm_reboot) and a hard kill of the VM (vm_crash); every write the
# guest saw complete before the crash marker is on the disk afterwards, and
# the writes still running when qemu was killed left whole blocks only.
# boots: 3
# disks: 16M
# cost: 5
# timeout: 60

MiB=1048576

case "$PHASE" in
1)
	log "phase 1: stamp 256 blocks, note it in \$STATE, reboot cleanly"
	assert_cmd stamp write "$DISK1" -n 256 -g 1
	echo "phase 1 done" >"$STATE/phase1"
	vm_reboot
	;;
2)
	assert_eq "$(cat "$STATE/phase1")" "phase 1 done" "state file written in phase 1"
	assert_cmd stamp check "$DISK1" -n 256 -g 1
	log "phase 2: stamp 256 more blocks, logging each, then crash while writing"
	assert_cmd stamp write "$DISK1" -o $((4 * MiB)) -n 256 -g 2 -l "$STATE/gen2.log"
	sync
	# Keeps rewriting 8 MiB-12 MiB until qemu is killed under it.
	(while :; do stamp write "$DISK1" -o $((8 * MiB)) -n 1024 -g 3 >/dev/null; done) &
	assert_cmd stamp write "$DISK1" -o $((8 * MiB)) -n 64 -g 3
	vm_crash
	;;
3)
	log "phase 3: everything completed before the crash is there"
	assert_cmd stamp check "$DISK1" -n 256 -g 1
	assert_cmd stamp check "$DISK1" -o $((4 * MiB)) -n 256 -g 2
	assert_eq "$(wc -l <"$STATE/gen2.log")" 256 "writes logged before the crash"
	assert_cmd stamp check "$DISK1" -o $((8 * MiB)) -n 64 -g 3
	log "blocks being written at the kill: each whole, or never written"
	assert_cmd stamp check "$DISK1" -o $((8 * MiB)) -n 1024 -g 3 -z
	pass
	;;
esac
