#!/bin/sh
# fail_make_request on the metadata disk (the debug kernel's fault
# injection; other kernels skip) under a running fio --verify on the cbt
# device: every metadata I/O failing, then one in five. Every time: no
# acknowledged origin write is lost (fio reads every block back), a failed
# metadata write turns persistence to `failed' under a new identity with
# metadata_errors counted, the next incremental is refused for a full when
# the identity changed and else accepted, and the chain restores equal to
# the device. The runner's kmemleak scan and kernel-log check follow.
# disks: 32M 4M 64M 32M
# cost: 5
# timeout: 600

# shellcheck source=tests/soak/cases/soak.inc
. /harness/cases/soak.inc
# shellcheck source=tests/soak/cases/fault.inc
. /harness/cases/fault.inc

cleanup() {
	fi_off fail_make_request
	[ -z "${MDBLK:-}" ] || echo 0 >"$MDBLK/make-it-fail" 2>/dev/null || true
	soak_stop
	dmsetup remove c 2>/dev/null || true
}

need_fault_injection fail_make_request
need_module dm_cbt
need_cmd cbt fio
rm -rf "$SOAK" && mkdir -p "$SOAK"
MDBLK=/sys/block/${DISK2##*/}
[ -e "$MDBLK/make-it-fail" ] || skip "no $MDBLK/make-it-fail"
COW=$DISK3 TGT=$DISK4
fi_set fail_make_request probability=0 interval=1 times=-1 verbose=1 space=0

for pct in 100 20; do
	log "=== every metadata I/O fails with probability $pct%"
	CH=$SOAK/chain-$pct
	dd if=/dev/zero of="$DISK2" bs=64k count=1 conv=fsync 2>/dev/null
	assert_cmd dmsetup create c --table "0 $(sectors "$DISK1") cbt $DISK1 8 2 metadata $DISK2"
	assert_eq "$(status_json c persistence)" metadata "persistence at the start"
	assert_cmd cbt backup c --full --all-blocks --to "$CH" --cow "$COW" --no-freeze --quiet
	uuid=$(status_json c uuid)
	before=$(injected)

	fio_load /dev/mapper/c linear
	echo 1 >"$MDBLK/make-it-fail"
	fi_set fail_make_request probability="$pct"
	fio_wait
	fi_off fail_make_request
	echo 0 >"$MDBLK/make-it-fail"
	n=$(($(injected) - before))
	log "$n metadata I/Os failed by fail_make_request"

	identity_check c "$uuid"
	if [ "$pct" = 100 ]; then
		[ "$n" -gt 0 ] || fail "fail_make_request failed no metadata I/O: the case tested nothing"
		assert_eq "$(status_json c persistence)" failed "persistence with every metadata I/O failing"
		[ "$(status_json c metadata_errors)" != 0 ] || fail "persistence failed but metadata_errors is 0"
	fi
	next_backup c "$CH" "$COW" "$TGT"
	assert_cmd dmsetup remove c
done
pass
