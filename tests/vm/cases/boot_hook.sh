#!/bin/sh
# The boot-time scripts, as a unit: boot/cbt-boot.sh and the initramfs-tools
# local-top script create /dev/mapper/NAME over the disks devices.conf
# lists and point ROOT at it when root= names a tracked disk; a bad line,
# a missing disk or a missing module leaves the disk untouched, boots on,
# and says why in the kernel log; a metadata device of a line that was not
# set up gets its two superblock magics marked stale, nothing else.
# disks: 32M 8M
# cost: 31
# timeout: 300

LIB=/usr/share/cbt/cbt-boot.sh
LOCALTOP=/harness/boot/local-top-cbt

cleanup() {
	unmount /mnt/t
	dm_remove tr tr2 late
	[ -f "/lib/modules/$KVER/extra/dm-cbt.ko.hidden" ] &&
		mv "/lib/modules/$KVER/extra/dm-cbt.ko.hidden" "/lib/modules/$KVER/extra/dm-cbt.ko"
	rm -rf /etc/cbt /conf
	true
	true
}

need_module dm_cbt
need_cmd dmsetup
[ -f "$LIB" ] || fail "$LIB is not in the initramfs"

assert_cmd mkfs.ext4 -q -b 4096 "$DISK1"
U=$(blkid "$DISK1" | sed -n 's/.* UUID="\([^"]*\)".*/\1/p')
[ -n "$U" ] || fail "no UUID on $DISK1: $(blkid "$DISK1")"
log "filesystem UUID $U"

log "local-top with root=UUID=$U: creates tr and rewrites ROOT"
mkdir -p /etc/cbt /conf
echo "tr UUID=$U block-size=4k metadata=$DISK2   # the root disk" >/etc/cbt/devices.conf
: >/conf/param.conf
dmesg -c >/dev/null
ROOT="UUID=$U" sh "$LOCALTOP" || fail "local-top exited with $?"
[ -b /dev/mapper/tr ] || { dmesg | tail; fail "no /dev/mapper/tr"; }
assert_eq "$(cat /conf/param.conf)" "ROOT=/dev/mapper/tr" "param.conf"
dmsetup table tr | grep -q "^0 $(sectors "$DISK1") cbt [0-9]*:[0-9]* 8 2 metadata " ||
	fail "table of tr: $(dmsetup table tr)"
dmesg | grep "cbt-boot: .* is /dev/mapper/tr, tracked at 4 KiB blocks" >/dev/null || fail "no kernel log line"
mkdir -p /mnt/t
assert_cmd mount /dev/mapper/tr /mnt/t
echo hello >/mnt/t/f
assert_cmd umount /mnt/t
assert_cmd cbt status tr
assert_cmd dmsetup remove tr

log "a root that is not tracked is left alone"
: >/conf/param.conf
ROOT=/dev/nonexistent CBT_BOOT_WAIT=1 sh "$LOCALTOP" || fail "local-top exited with $?"
assert_eq "$(cat /conf/param.conf)" "" "param.conf for an untracked root"
assert_cmd dmsetup remove tr

log "bad lines: each is skipped with a reason, the disk untouched"
before=$(sha256sum <"$DISK1")
cat >/etc/cbt/devices.conf <<CONF
onlyname
a $DISK1 block-size=3k
b $DISK1 block-size=xyzk
c $DISK1 frobnicate=1
d /dev/nonexistent
e UUID=00000000-0000-0000-0000-000000000000
f/g $DISK1
h $DISK1 metadata=$DISK1
i $DISK1 block-size=64k metadata=/dev/nonexistent
*
CONF
dmesg -c >/dev/null
: >/conf/param.conf
ROOT="UUID=$U" CBT_BOOT_WAIT=1 sh "$LOCALTOP" || fail "local-top exited with $? on a bad config"
dmesg | grep 'cbt-boot:' || true
assert_eq "$(dmsetup ls | grep -vc 'No devices found')" 0 "dm devices made from a bad config"
assert_eq "$(cat /conf/param.conf)" "" "param.conf after a bad config"
assert_eq "$(sha256sum <"$DISK1")" "$before" "disk content after a bad config"
for want in "line 1: " "line 2: bad block size" "line 3: bad block size" "line 4: unknown option" \
	"line 5: no disk" "line 6: no disk" "line 7: bad name" "line 8: the kernel refused" \
	"line 9: no metadata disk"; do
	dmesg | grep "cbt-boot: $want" >/dev/null || fail "the kernel log does not say \"$want\""
done
log "ok: every bad line is reported in the kernel log"

log "a good line after bad ones still works; a busy disk is refused, the rest goes on"
printf 'bad line here x=1\ntr2 %s\n' "$DISK1" >/etc/cbt/devices.conf
assert_cmd sh "$LIB" /etc/cbt/devices.conf
[ -b /dev/mapper/tr2 ] || fail "tr2 not made after a bad line"
assert_cmd dmsetup remove tr2

# The scenario, not a synchronisation: a disk udev is still probing when
# the script starts. The wait was 10 s until 2026-12-07 (root then booted
# untracked, and the next backup was forced to be a full one).
log "a root disk that appears 12 s after the script starts is tracked"
echo "tr2 /dev/mapper/late block-size=4k" >/etc/cbt/devices.conf
: >/conf/param.conf
dmesg -c >/dev/null
(sleep 12 && dmsetup create late --table "0 $(sectors "$DISK1") linear $DISK1 0") &
late=$!
ROOT=/dev/mapper/late sh "$LOCALTOP" || fail "local-top exited with $?"
wait "$late" || fail "could not create the late disk"
[ -b /dev/mapper/tr2 ] || fail "a disk that appeared after 12 s is not tracked: $(dmesg | grep cbt-boot)"
assert_eq "$(cat /conf/param.conf)" "ROOT=/dev/mapper/tr2" "param.conf for a late root"
assert_cmd dmsetup remove tr2
assert_cmd dmsetup remove late

# magic DEV PAGE: the 8 bytes of the superblock magic in page PAGE of DEV
magic() { dd if="$1" bs=1 skip=$(($2 * 4096 + 8)) count=8 2>/dev/null; }

log "no dm-cbt module: boots untracked, says so, and marks the metadata stale"
# $DISK2 holds the metadata tr wrote above.
assert_eq "$(magic "$DISK2" 0)$(magic "$DISK2" 1)" "TSCDtbcdTSCDtbcd" "metadata magic before"
dd if="$DISK2" of=/tmp/md.before bs=1M status=none
before1=$(sha256sum <"$DISK1")
KO=/lib/modules/$KVER/extra/dm-cbt.ko
assert_cmd rmmod dm_cbt
mv "$KO" "$KO.hidden"
echo "tr UUID=$U block-size=4k metadata=$DISK2" >/etc/cbt/devices.conf
dmesg -c >/dev/null
: >/conf/param.conf
rc=0
ROOT="UUID=$U" sh "$LOCALTOP" || rc=$?
assert_eq "$rc" 0 "local-top exit status without a module"
[ ! -e /dev/mapper/tr ] || fail "tr made without a module?"
assert_eq "$(cat /conf/param.conf)" "" "param.conf without a module"
dmesg | grep "cbt-boot: dm-cbt: module not available for $(uname -r), root not tracked" >/dev/null || fail "no kernel log line about the module"
dmesg | grep "cbt-boot: line 1: tr is used untracked: marked the dm-cbt metadata on .* stale (superblock 0 1)" >/dev/null ||
	{ dmesg | grep cbt-boot; fail "no kernel log line about the stale metadata"; }
assert_eq "$(magic "$DISK2" 0)$(magic "$DISK2" 1)" "cbtStalecbtStale" "metadata magic after"
# Nothing else changed: the copy taken before, with the same 16 bytes written, is equal.
for p in 0 1; do
	printf cbtStale | dd of=/tmp/md.before bs=1 seek=$((p * 4096 + 8)) count=8 conv=notrunc 2>/dev/null
done
cmp /tmp/md.before "$DISK2" || fail "the metadata device changed beyond the two magics"
assert_eq "$(sha256sum <"$DISK1")" "$before1" "origin content after an untracked boot"

log "foreign data on the metadata disk is never touched"
dd if=/dev/urandom of="$DISK2" bs=4096 count=4 conv=notrunc status=none
printf 'TSCDtbcX' | dd of="$DISK2" bs=1 seek=8 conv=notrunc 2>/dev/null
before2=$(sha256sum <"$DISK2")
dmesg -c >/dev/null
ROOT="UUID=$U" sh "$LOCALTOP" || fail "local-top exited with $?"
assert_eq "$(sha256sum <"$DISK2")" "$before2" "foreign data on the metadata disk"
if dmesg | grep "stale" >/dev/null; then fail "marked foreign data stale: $(dmesg | grep cbt-boot)"; fi
mv "$KO.hidden" "$KO"
need_module dm_cbt
pass
