#!/bin/sh
# Filesystem-consistent snapshots of a mounted, busy ext4: while a workload
# rewrites files, `cbt snapshot take --freeze' five times (and once with
# the default, which must freeze because ext4 is mounted). Each snapshot is
# clean for `e2fsck -fn', mounts read-only, and holds every file written
# and synced before its take, byte for byte (sha256). Logs how long the
# filesystem was frozen and writes were held.
# disks: 128M 64M
# timeout: 400

W=/tmp/frz

cleanup() {
	: >"$W/stop" 2>/dev/null || true
	for p in $(cat "$W/pid" 2>/dev/null); do
		while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
	done
	umount /mnt/s 2>/dev/null || true
	umount /mnt/o 2>/dev/null || true
	dmsetup remove c-snap 2>/dev/null || true
	dmsetup remove c 2>/dev/null || true
}

need_module dm_cbt ext4
need_cmd cbt mkfs.ext4 e2fsck sha256sum
rm -rf "$W" && mkdir -p "$W" /mnt/o /mnt/s

assert_cmd dmsetup create c --table "0 $(sectors "$DISK1") cbt $DISK1 8"
assert_cmd mkfs.ext4 -q /dev/mapper/c
assert_cmd mount -t ext4 /dev/mapper/c /mnt/o
mkdir -p /mnt/o/work /mnt/o/kept

# The workload: rewrite, append and delete files, some with fsync.
(
	i=0
	while [ ! -e "$W/stop" ]; do
		i=$((i + 1))
		dd if=/dev/urandom of=/mnt/o/work/f$((i % 40)) bs=64k count=$((i % 7 + 1)) \
			conv=fsync 2>/dev/null || { echo "write $i failed" >"$W/failed"; exit 1; }
		dd if=/dev/urandom bs=4k count=3 2>/dev/null >>/mnt/o/work/log$((i % 5))
		[ $((i % 11)) -ne 0 ] || rm -f /mnt/o/work/f$((i % 13))
	done
) &
echo $! >"$W/pid"

for r in 1 2 3 4 5 6; do
	dd if=/dev/urandom of=/mnt/o/kept/before.$r bs=64k count=$((r * 5)) 2>/dev/null
	sync
	sha256sum /mnt/o/kept/before.$r | cut -d' ' -f1 >"$W/sum.$r"
	sleep 1
	if [ "$r" -eq 6 ]; then
		log "round $r: take with the default (ext4 is mounted: must freeze)"
		out=$(cbt snapshot take c --cow "$DISK2" --json) || fail "take failed in round $r"
	else
		log "round $r: take --freeze under the workload"
		out=$(cbt snapshot take c --cow "$DISK2" --freeze --json) || fail "take failed in round $r"
	fi
	epoch=$(echo "$out" | sed -n 's/.*"epoch": \([0-9]*\).*/\1/p')
	fns=$(echo "$out" | sed -n 's/.*"freeze_ns": \([0-9]*\).*/\1/p')
	hns=$(echo "$out" | sed -n 's/.*"hold_ns": \([0-9]*\).*/\1/p')
	assert_eq "$(echo "$out" | sed -n 's/.*"frozen": \([a-z]*\).*/\1/p')" true "frozen"
	log "FREEZE round $r: epoch $epoch, filesystem frozen $((fns / 1000)) us, writes held $((hns / 1000)) us"
	echo "$fns $hns" >>"$W/durations"
	[ "$fns" -gt 0 ] || fail "a frozen take reports a freeze of 0 ns"
	e2fsck -fn /dev/mapper/c-snap >"$W/fsck" 2>&1 || {
		cat "$W/fsck"
		fail "round $r: e2fsck -fn finds the frozen snapshot unclean"
	}
	log "e2fsck -fn: $(tail -1 "$W/fsck")"
	assert_cmd mount -t ext4 -o ro,noload /dev/mapper/c-snap /mnt/s
	for k in $(seq 1 "$r"); do
		got=$(sha256sum /mnt/s/kept/before.$k | cut -d' ' -f1)
		[ "$got" = "$(cat "$W/sum.$k")" ] ||
			fail "round $r: before.$k in the snapshot differs from what was synced before the take"
	done
	log "all $r files synced before the take are in the snapshot, intact"
	assert_cmd umount /mnt/s
	assert_cmd cbt snapshot drop c
	assert_cmd cbt epoch commit c "$epoch"
done
: >"$W/stop"
while kill -0 "$(cat "$W/pid")" 2>/dev/null; do sleep 0.1; done
[ ! -e "$W/failed" ] || fail "the workload failed: $(cat "$W/failed")"
awk '{ f += $1; h += $2; if ($1 > fm) fm = $1; if ($2 > hm) hm = $2 }
	END { printf "FREEZE summary: %d takes, frozen %.1f ms mean (max %.1f), writes held %.1f ms mean (max %.1f)\n",
		NR, f / NR / 1e6, fm / 1e6, h / NR / 1e6, hm / 1e6 }' "$W/durations"
assert_cmd umount /mnt/o
assert_cmd e2fsck -fn /dev/mapper/c
assert_cmd dmsetup remove c
pass
