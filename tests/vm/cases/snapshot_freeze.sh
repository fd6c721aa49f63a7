#!/bin/sh
# Filesystem-consistent snapshots of a mounted, busy filesystem: while a
# workload rewrites files, `cbt snapshot take --freeze' five times on ext4
# (and once with the default, which must freeze because it is mounted),
# three times on XFS. Each ext4 snapshot is clean for `e2fsck -fn'; a
# frozen XFS keeps a covered but unreplayed log (xfs_repair -n on the
# snapshot says so), so each XFS snapshot is copied, mounted once to replay
# its log, and must then be clean for `xfs_repair -n'. Each snapshot mounts
# read-only (ext4: ro,noload; XFS: ro,norecovery,nouuid) and holds every
# file written and synced before its take, byte for byte (sha256). Logs how
# long the filesystem was frozen and writes were held.
# XFS's smallest filesystem is 300 MiB; the XFS rounds copy all of DISK1.
# disks: 320M 256M 320M
# cost: 20
# timeout: 600

W=/tmp/frz

cleanup() {
	bg_stop
	unmount /mnt/s /mnt/o
	dm_remove c-snap c
}

need_module dm_cbt ext4 xfs
need_cmd cbt mkfs.ext4 e2fsck mkfs.xfs xfs_repair sha256sum
rm -rf "$W" && mkdir -p "$W" /mnt/o /mnt/s

# run_fs FS ROUNDS: the rounds on a fresh FS.
run_fs() {
FS=$1
log "=== $FS"
rm -f "$W"/sum.*
cbt_create c "$DISK1" 8
if [ "$FS" = xfs ]; then
	assert_cmd mkfs.xfs -f -q /dev/mapper/c
	ROOPTS=ro,norecovery,nouuid
else
	assert_cmd mkfs.ext4 -q -F /dev/mapper/c
	ROOPTS=ro,noload
fi
assert_cmd mount -t "$FS" /dev/mapper/c /mnt/o
mkdir -p /mnt/o/work /mnt/o/kept

# work I: the workload's I-th step: rewrite, append and delete files, some
# with fsync.
work() {
	dd if=/dev/urandom of=/mnt/o/work/f$(($1 % 40)) bs=64k count=$(($1 % 7 + 1)) \
		conv=fsync 2>/dev/null || return
	dd if=/dev/urandom bs=4k count=3 2>/dev/null >>/mnt/o/work/log$(($1 % 5)) || return
	[ $(($1 % 11)) -ne 0 ] || rm -f /mnt/o/work/f$(($1 % 13))
}
bg_loop work 0 work

for r in $(seq 1 "$2"); do
	dd if=/dev/urandom of="/mnt/o/kept/before.$r" bs=64k count=$((r * 5)) 2>/dev/null
	sync
	sha256sum "/mnt/o/kept/before.$r" | cut -d' ' -f1 >"$W/sum.$r"
	# the workload (no pause between its rounds) dirties the filesystem
	# again right after the sync: the take below freezes a busy one
	bg_check work "the workload failed"
	if [ "$r" -eq 6 ] || { [ "$FS" = xfs ] && [ "$r" -eq 3 ]; }; then
		log "round $r: take with the default ($FS is mounted: must freeze)"
		out=$(cbt snapshot take c --cow "$DISK2" --json) || fail "take failed in round $r"
	else
		log "round $r: take --freeze under the workload"
		out=$(cbt snapshot take c --cow "$DISK2" --freeze --json) || fail "take failed in round $r"
	fi
	epoch=$(echo "$out" | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p')
	fns=$(echo "$out" | sed -n 's/.*"freeze_ns": \([0-9]*\).*/\1/p')
	hns=$(echo "$out" | sed -n 's/.*"hold_ns": \([0-9]*\).*/\1/p')
	assert_eq "$(echo "$out" | sed -n 's/.*"frozen": \([a-z]*\).*/\1/p')" true "frozen"
	log "FREEZE $FS round $r: epoch $epoch, filesystem frozen $((fns / 1000)) us, writes held $((hns / 1000)) us"
	echo "$fns $hns" >>"$W/durations.$FS"
	[ "$fns" -gt 0 ] || fail "a frozen take reports a freeze of 0 ns"
	if [ "$FS" = xfs ]; then
		xfs_repair -n /dev/mapper/c-snap >"$W/fsck0" 2>&1 ||
			log "xfs_repair -n on the snapshot itself: $(grep -c ALERT "$W/fsck0") log alert(s), $(grep -v -e '^        - ' -e '^Phase' -e ALERT -e ignored -e 'Expect spurious' -e 'resolved by' -e 'No modify' "$W/fsck0" | tr '\n' ' ')"
		dd if=/dev/mapper/c-snap of="$DISK3" bs=1M iflag=direct oflag=direct 2>/dev/null ||
			fail "cannot copy the snapshot"
		assert_cmd mount -t xfs -o nouuid "$DISK3" /mnt/s
		assert_cmd umount /mnt/s
		xfs_repair -n "$DISK3" >"$W/fsck" 2>&1 || {
			grep -v -e '^        - ' -e '^Phase' "$W/fsck" | head -30
			fail "$FS round $r: the frozen snapshot, its log replayed, is not clean for xfs_repair -n"
		}
	else
		e2fsck -fn /dev/mapper/c-snap >"$W/fsck" 2>&1 || {
			cat "$W/fsck"
			fail "$FS round $r: e2fsck -fn finds the frozen snapshot unclean"
		}
	fi
	log "$FS check of the snapshot is clean: $(tail -1 "$W/fsck")"
	assert_cmd mount -t "$FS" -o "$ROOPTS" /dev/mapper/c-snap /mnt/s
	for k in $(seq 1 "$r"); do
		got=$(sha256sum "/mnt/s/kept/before.$k" | cut -d' ' -f1)
		[ "$got" = "$(cat "$W/sum.$k")" ] ||
			fail "round $r: before.$k in the snapshot differs from what was synced before the take"
	done
	log "all $r files synced before the take are in the snapshot, intact"
	assert_cmd umount /mnt/s
	assert_cmd cbt snapshot drop c
	assert_cmd cbt epoch commit c "$epoch"
done
bg_stop work
bg_check work "the workload failed"
awk -v FS_NAME="$FS" '{ f += $1; h += $2; if ($1 > fm) fm = $1; if ($2 > hm) hm = $2 }
	END { printf "FREEZE summary " FS_NAME ": %d takes, frozen %.1f ms mean (max %.1f), writes held %.1f ms mean (max %.1f)\n",
		NR, f / NR / 1e6, fm / 1e6, h / NR / 1e6, hm / 1e6 }' "$W/durations.$FS"
assert_cmd umount /mnt/o
if [ "$FS" = xfs ]; then
	assert_cmd xfs_repair -n /dev/mapper/c
else
	assert_cmd e2fsck -fn /dev/mapper/c
fi
assert_cmd dmsetup remove c
}

run_fs ext4 6
run_fs xfs 3
pass
