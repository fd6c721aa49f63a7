#!/bin/sh
# cbt job run on a device under writes: three runs (full, incremental,
# incremental) by the job's schedule, the job's retention (keep_last = 2)
# merging the first two images into a synthetic full after the third, every
# kept point restored byte for byte equal to its snapshot (sha256 taken by
# the backup hook at the instant of each snapshot); then a lost history (the
# cbt table replaced and written through another target) makes the next run
# take a full image by itself, saying so on stderr and in its JSON report;
# cbt job status reports the runs.
# disks: 48M 32M 160M 48M
# cost: 12
# timeout: 600
# shellcheck disable=SC3043

W=/tmp/job
STORE=/mnt/job-store
CH=$STORE/chain
CONF=$W/etc

cleanup() {
	bg_stop writer
	unmount "$STORE"
	dm_remove c
}

need_module dm_cbt
need_cmd cbt sha256sum mkfs.ext4

rm -rf "$W" && mkdir -p "$W" "$CONF/jobs.d" "$STORE"
DEV_SECTORS=$(sectors "$DISK1")
assert_cmd dmsetup create c --table "0 $DEV_SECTORS cbt $DISK1 8"
assert_cmd mkfs.ext4 -q "$DISK3"
assert_cmd mount "$DISK3" "$STORE"
cat >"$CONF/jobs.d/web.conf" <<EOT
# the case's job
device = /dev/mapper/c
chain = $CH
cow = $DISK2
freeze = no
compression = zstd:1
idle = yes
full_every = 7d
keep_last = 2
EOT

log "write load: random 4 KiB blocks of /dev/mapper/c"
# write I: a few random blocks, synced (the snapshot may land between any two)
write() {
	local k=0
	while [ $k -lt 4 ]; do
		dd if=/dev/urandom of=/dev/mapper/c bs=4k seek=$(( ($1 * 7919 + k * 104729) % 12000 )) \
			count=1 conv=notrunc,fsync 2>/dev/null || return 1
		k=$((k + 1))
	done
}
bg_loop writer 0.05 write

snap_sum_hook "$W"
# run N: cbt job run web as run N, its JSON report in $W/run.N, stderr in $W/run.N.err
run() {
	backup_summed "$1" "$W" sh -c "cbt job run web --config-dir $CONF --json >$W/run.$1 2>$W/run.$1.err"
	log "run $1: $(tr -d '\n' <"$W/run.$1")"
}
field() { sed -n "s/.*\"$2\": \"\\{0,1\\}\\([^\",]*\\).*/\\1/p" "$1" | head -1; }

run 1
assert_eq "$(field "$W/run.1" type)" full "run 1 (empty chain)"
run 2
assert_eq "$(field "$W/run.2" type)" incremental "run 2"
# idle = yes: the copy went under SCHED_IDLE, or the run says why not
grep -q -- "--idle" "$W/run.1.err" "$W/run.2.err" && fail "idle = yes: $(cat "$W/run.1.err" "$W/run.2.err")"
run 3
assert_eq "$(field "$W/run.3" type)" incremental "run 3"
bg_stop writer
bg_failed writer && fail "the write load failed"

log "retention: keep_last = 2 merged images 1 and 2 into a synthetic full"
assert_cmd cbt verify "$CH"
assert_eq "$(awk 'NR > 1 { print $9 }' "$CH/chain.idx" | tr '\n' ' ')" "000002-full.cbti 000003-incr.cbti " "the chain after the job's prune"
for n in 2 3; do
	assert_cmd cbt restore --quiet "$CH" --at "$n" "$DISK4"
	assert_eq "$(sha256_head "$DISK4" "$(cat "$W/size.$n")")" "$(cat "$W/sum.$n")" "point $n restored byte for byte"
done

log "history lost: the table replaced and written through dm-linear"
assert_cmd dmsetup suspend c
assert_cmd dmsetup load c --table "0 $DEV_SECTORS linear $DISK1 0"
assert_cmd dmsetup resume c
dd if=/dev/urandom of=/dev/mapper/c bs=4k seek=20 count=1 conv=notrunc,fsync 2>/dev/null
assert_cmd dmsetup suspend c
assert_cmd dmsetup load c --table "0 $DEV_SECTORS cbt $DISK1 8"
assert_cmd dmsetup resume c
run 4
assert_eq "$(field "$W/run.4" type)" full "run 4 after the lost history"
assert_eq "$(field "$W/run.4" scheduled)" incremental "run 4 was scheduled as"
[ -n "$(field "$W/run.4" history_lost)" ] || fail "run 4's report has no history_lost: $(cat "$W/run.4")"
grep -q "history was lost" "$W/run.4.err" || fail "run 4 did not say so on stderr: $(cat "$W/run.4.err")"
assert_cmd cbt restore --quiet "$CH" --at 4 "$DISK4"
assert_eq "$(sha256_head "$DISK4" "$(cat "$W/size.4")")" "$(cat "$W/sum.4")" "point 4 restored byte for byte"

cbt job status web --config-dir "$CONF" --json >"$W/status" || fail "cbt job status failed"
assert_eq "$(field "$W/status" result)" ok "the last run's result"
assert_eq "$(field "$W/status" last_image)" 000004-full.cbti "the last run's image"
assert_eq "$(field "$W/status" next_type)" incremental "the next run's type"
pass
