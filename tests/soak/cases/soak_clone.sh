#!/bin/sh
# The COW device fails during `cbt clone`, under fio --verify on the source:
# once pass 1 has its snapshot, the COW device is swapped to dm-error (then,
# a fresh clone, to dm-flakey). The clone must stop with the documented
# error (the snapshot became invalid, or a read error; exit 1) and leave
# tracking intact (no closed epoch, no snapshot), the target marked
# incomplete; no acknowledged source write is lost; with the
# COW device healthy again the same command resumes, and the target then
# equals the source (fio stopped, the last pass's snapshot is the source).
# disks: 32M 32M 64M
# cost: 50
# timeout: 600

# shellcheck source=tests/soak/cases/soak.inc
. /harness/cases/soak.inc

cleanup() {
	bg_kill
	dm_remove c-snap
	soak_cleanup
}

need_module dm_cbt dm_flakey
need_cmd cbt fio
rm -rf "$SOAK" && mkdir -p "$SOAK"
TGT=$DISK2

cbt_create c "$DISK1" 8
assert_cmd dmsetup create cow --table "0 $(sectors "$DISK3") linear $DISK3 0"
has_snapshot() { cbt status c | grep -q 'snapshot:'; }

for mode in error flakey; do
	log "=== the COW device turns $mode during pass 1"
	ST=$SOAK/state-$mode
	STF=$ST/clone-${TGT#/dev/}.json
	fio_load /dev/mapper/c "$mode"
	# --rate 1M: pass 1 over 32 MiB takes ~30 s, time for the fault to land in it.
	log "+ cbt clone c $TGT --cow /dev/mapper/cow --rate 1M (in the background)"
	bg_start clone cbt clone c "$TGT" --cow /dev/mapper/cow --rate 1M --no-freeze --state-dir "$ST" \
		>"$SOAK/out1" 2>"$SOAK/err1"
	wait_until 120 has_snapshot
	swap cow "$mode" "$DISK3"
	rc=0
	bg_wait clone || rc=$?
	cat "$SOAK/out1" "$SOAK/err1"
	assert_eq "$rc" 1 "exit status of the clone whose COW device failed"
	# A failed COW write invalidates the snapshot; with dm-flakey a read
	# of a COW block in a down second can come first (a read error).
	case "$mode" in
	error) grep -q 'the snapshot became invalid during pass 1 (Input/output error)' "$SOAK/err1" ||
		fail "the message does not say the snapshot became invalid with EIO" ;;
	flakey) grep -q 'the snapshot became invalid during pass 1 (Input/output error)\|reading the snapshot at byte [0-9]*: Input/output error' "$SOAK/err1" ||
		fail "the message names neither the invalid snapshot nor the read error" ;;
	esac
	grep -q 'the source is untouched and its tracking intact' "$SOAK/err1" || fail "no word on the source"
	grep -q 'run the same command again to resume' "$SOAK/err1" || fail "no hint to resume"
	fio_wait
	assert_eq "$(sed -n 's/.*"complete": \([a-z]*\).*/\1/p' "$STF")" false "state: complete"
	assert_eq "$(closed_epochs c | wc -l)" 0 "closed epochs after the failed clone (aborted)"
	if cbt status c | grep -q 'snapshot:'; then fail "the invalid snapshot was left attached"; fi

	swap cow linear "$DISK3"
	rc=0
	cbt clone c "$TGT" --cow /dev/mapper/cow --no-freeze --verify --state-dir "$ST" \
		>"$SOAK/out2" 2>"$SOAK/err2" || rc=$?
	cat "$SOAK/out2" "$SOAK/err2"
	assert_eq "$rc" 0 "exit status of the clone with the COW device healthy"
	grep -q '^resuming the first pass at block' "$SOAK/out2" || fail "it did not resume"
	grep -q '^verify: the target matches' "$SOAK/out2" || fail "not verified"
	assert_eq "$(sed -n 's/.*"complete": \([a-z]*\).*/\1/p' "$STF")" true "state: complete"
	cmp -n $(($(sectors /dev/mapper/c) * 512)) /dev/mapper/c "$TGT" || fail "the target differs from the source"
	log "the target equals the source"
	assert_eq "$(closed_epochs c | wc -l)" 0 "closed epochs at the end"
done
pass
