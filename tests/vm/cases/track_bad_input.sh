#!/bin/sh
# Bad table lines and bad netlink requests get precise errors and change
# nothing: no device appears, a foreign metadata device is not written, the
# tracked device keeps its state. Also the metadata device's size rule of
# docs/target.md at its boundaries (too small: refused, nothing written; the
# least size: version 2; room for the region maps: version 3), and reloads
# of a live device that would change its meaning (block size, metadata
# device, a size the metadata has no room for) refused with the live table
# and the tracking state unchanged. A cbt line in a table dm refuses at a
# later line ("must appear alone") writes nothing to its metadata, blank or
# holding a history, nor does a table loaded and removed unresumed (epoch
# operations are refused until the first resume, ENXIO); the same
# line alone then formats it, or continues the history.
# disks: 32M 8M 256M
# cost: 8
# timeout: 180

cleanup() {
	dm_remove c bad md md2
}

need_module dm_cbt
need_cmd cbt nlprobe

S=$(sectors "$DISK1")

# refuse TABLE EXPECTED-KERNEL-MESSAGE
refuse() { table_refused create bad "$1" "$2"; }

refuse "0 $S cbt $DISK1" "Invalid argument count"
refuse "0 $S cbt $DISK1 12" "Invalid block size"
refuse "0 $S cbt $DISK1 4096" "Invalid block size"
refuse "0 $S cbt $DISK1 4" "Invalid block size"
refuse "0 $S cbt $DISK1 128x" "Invalid block size"
# 2^32 + 128: sscanf("%u") once wrapped it to a valid 128 (fuzz_table)
refuse "0 $S cbt $DISK1 4294967424" "Invalid block size"
refuse "0 $S cbt /dev/nonexistent 128" "Error opening origin device"
refuse "0 $S cbt $DISK1 128 1 nosuch" "Unrecognised feature argument"
refuse "0 $S cbt $DISK1 128 2 metadata" "Invalid number of feature arguments"
refuse "0 $S cbt $DISK1 128 2 metadata $DISK1" "The metadata device cannot be the origin"
refuse "0 $S cbt $DISK1 128 2 metadata $DISK2 extra" "Trailing arguments"

log "a metadata device holding foreign data is refused and left alone"
dd if=/dev/urandom of="$DISK2" bs=4096 count=4 conv=fsync 2>/dev/null
before=$(sha256sum <"$DISK2")
refuse "0 $S cbt $DISK1 128 2 metadata $DISK2" "Metadata device holds foreign data"
assert_eq "$(sha256sum <"$DISK2")" "$before" "foreign metadata device content"

log "netlink: a working device, then bad requests against it"
assert_cmd dmsetup create c --table "0 $S cbt $DISK1 8"
dd if=/dev/urandom of=/dev/mapper/c bs=4096 count=1 seek=3 oflag=direct 2>/dev/null
before=$(cbt status c --json)

# probe EXPECTED-ERRNO ARGS...: nlprobe must report that errno.
probe() {
	local want=$1
	shift
	nlprobe "$@" >/tmp/probe || fail "nlprobe could not ask the kernel: $*"
	grep -q "^errno=$want\$" /tmp/probe || {
		cat /tmp/probe
		fail "nlprobe $*: expected errno $want"
	}
	log "ok: nlprobe $* -> $(tr '\n' ' ' </tmp/probe)"
}
EINVAL=22 ENODEV=19 EPERM=1 ENOENT=2
probe 0 1 1:str=c                                # GET_DEVICE by name
probe $EINVAL 1                                  # no selector
probe $EINVAL 1 1:str=c 2:u32=253 3:u32=0        # both selectors
probe $EINVAL 1 2:u32=253                        # major without minor
probe $ENODEV 1 1:str=nosuch                     # unknown device
probe $ENODEV 2 2:u32=7 3:u32=12345              # close on an unknown number
probe $EINVAL 1 "1:str=$(printf '%0200d' 0)"      # name longer than DM_NAME_LEN
probe $EINVAL 1 2:raw=0100 3:u32=0               # a u32 of two bytes
probe $EINVAL 1 1:str=c 250:u32=1                # unknown attribute
probe $EINVAL 3 1:str=c                          # commit without an epoch
probe $ENOENT 3 1:str=c 13:u64=77                # commit of an epoch not closed
probe $EINVAL -d 5 1:str=c 13:u64=1 18:u32=128   # unknown bitmap flag
probe $ENOENT -d 5 1:str=c 13:u64=9              # bitmap of an unknown epoch
probe $EINVAL -d 5 1:str=c 16:u64=3 17:u64=1     # range backwards
probe $EPERM -u 65534 1 1:str=c                  # not root
probe $EPERM -u 65534 2 1:str=c                  # not root, changing state
assert_eq "$(cbt status c --json)" "$before" "device state after bad requests"
assert_cmd dmsetup remove c

# md_dev NAME SECTORS: NAME, a zeroed linear device of SECTORS at 4 MiB into
# $DISK2 (past the first 8 KiB the foreign-data check above filled).
md_dev() {
	dd if=/dev/zero of="$DISK2" bs=512 seek=8192 count="$2" conv=fsync 2>/dev/null
	assert_cmd dmsetup create "$1" --table "0 $2 linear $DISK2 8192"
}
# md_version DEV: the format version in DEV's first superblock
md_version() { od -An -tu4 -j4 -N4 "$1" | tr -d ' '; }

# Origin $DISK1, 32 MiB at 4 KiB blocks: 8192 blocks, L = 1, R = 256;
# 8 KiB + 4 x 4 KiB = 48 sectors; with the region maps 8 KiB more = 64.
log "metadata one page short of the least size: refused, nothing written"
md_dev md 47
zero=$(sha256sum </dev/mapper/md)
refuse "0 $S cbt $DISK1 8 2 metadata /dev/mapper/md" "Metadata device too small (see docs/target.md"
assert_eq "$(sha256sum </dev/mapper/md)" "$zero" "the too small metadata device"
dm_remove md
log "the least size: accepted, format version 2"
md_dev md 48
assert_cmd dmsetup create c --table "0 $S cbt $DISK1 8 2 metadata /dev/mapper/md"
assert_eq "$(md_version /dev/mapper/md)" 2 "format version of a 48-sector metadata device"
dm_remove c md
log "room for the region maps: format version 3"
md_dev md 63
assert_cmd dmsetup create c --table "0 $S cbt $DISK1 8 2 metadata /dev/mapper/md"
assert_eq "$(md_version /dev/mapper/md)" 2 "format version of a 63-sector metadata device"
dm_remove c md
md_dev md 64
assert_cmd dmsetup create c --table "0 $S cbt $DISK1 8 2 metadata /dev/mapper/md"
assert_eq "$(md_version /dev/mapper/md)" 3 "format version of a 64-sector metadata device"
dm_remove c md

# dm runs the cbt constructor of the first line before it refuses the
# second: that constructor only reads the metadata, the first resume writes.
# refuse_later WHAT: a cbt line over md then a second line, refused; md's
# bytes unchanged.
refuse_later() {
	local sum
	sum=$(sha256sum </dev/mapper/md)
	refuse "0 $S cbt $DISK1 8 2 metadata /dev/mapper/md
$S 8 error" "target type cbt must appear alone in table"
	assert_eq "$(sha256sum </dev/mapper/md)" "$sum" "$1 after a refused later line"
}
log "a refused later line writes nothing: a blank metadata device, then a history"
md_dev md 64
zero=$(sha256sum </dev/mapper/md)
refuse_later "a blank metadata device"
# loaded and never resumed, then removed: nothing written either
assert_cmd dmsetup create c --notable
assert_cmd dmsetup load c --table "0 $S cbt $DISK1 8 2 metadata /dev/mapper/md"
probe 6 2 1:str=c                                # close before the first resume: ENXIO
grep -q "never resumed" /tmp/probe || fail "close before the first resume: $(cat /tmp/probe)"
probe 6 4 1:str=c 13:u64=1                       # abort before the first resume: ENXIO
assert_cmd dmsetup remove c
assert_eq "$(sha256sum </dev/mapper/md)" "$zero" "a blank metadata device loaded, never resumed"
assert_cmd dmsetup create c --table "0 $S cbt $DISK1 8 2 metadata /dev/mapper/md"
assert_eq "$(md_version /dev/mapper/md)" 3 "format version after the refusals"
assert_eq "$(dm_status_word c 11)" new-metadata "reason of the first identity"
uuid=$(status_json c uuid)
write_block 7
assert_cmd dmsetup remove c
refuse_later "a metadata device holding a history"
assert_cmd dmsetup create c --table "0 $S cbt $DISK1 8 2 metadata /dev/mapper/md"
assert_eq "$(status_json c uuid)" "$uuid" "identity after the refused later line"
assert_eq "$(dm_status_word c 11)" continued "reason after the refused later line"
assert_eq "$(cbt bitmap c --blocks | tr '\n' ' ')" "7 1 " "changed blocks after the refused later line"
dm_remove c md

# A live device on $DISK3 (a 64 MiB table of it, 16384 blocks) with 48
# sectors of metadata: room for 32768 blocks, 128 MiB.
log "reloads that would change a live device's meaning"
md_dev md 48
T=131072
table="0 $T cbt $DISK3 8 2 metadata /dev/mapper/md"
assert_cmd dmsetup create c --table "$table"
write_block 5
live=$(dmsetup table c)
before=$(cbt status c --json)
uuid=$(status_json c uuid)

# refuse_reload TABLE MESSAGE: reloading c with TABLE fails with the kernel's
# MESSAGE; c keeps its live table, no inactive one, and its tracking state.
refuse_reload() {
	table_refused reload c "$1" "$2"
	dmsetup info c | grep -q "Tables present: *LIVE$" || fail "an inactive table is left after: $1"
	assert_eq "$(dmsetup table c)" "$live" "c's table after the reload $1"
	assert_eq "$(cbt status c --json)" "$before" "c's state after the reload $1"
}
refuse_reload "0 $T cbt $DISK3 16 2 metadata /dev/mapper/md" \
	"Cannot change the block size of a live cbt device"
refuse_reload "0 $T cbt $DISK3 8" "Cannot change the metadata device of a live cbt device"
dd if=/dev/urandom of="$DISK2" bs=512 seek=12288 count=64 conv=fsync 2>/dev/null
assert_cmd dmsetup create md2 --table "0 64 linear $DISK2 12288"
other=$(sha256sum </dev/mapper/md2)
refuse_reload "0 $T cbt $DISK3 8 2 metadata /dev/mapper/md2" \
	"Cannot change the metadata device of a live cbt device"
assert_eq "$(sha256sum </dev/mapper/md2)" "$other" "the other metadata device"
refuse_reload "0 $((T - 8)) cbt $DISK3 8 2 metadata /dev/mapper/md" \
	"Shrinking a cbt device is not supported"
refuse_reload "0 $((2 * T + 8)) cbt $DISK3 8 2 metadata /dev/mapper/md" \
	"Metadata device too small for the new size"

log "the origin is c's metadata device: refused, c unchanged"
refuse "0 48 cbt /dev/mapper/md 8" "The origin is another cbt device's metadata device"
assert_eq "$(cbt status c --json)" "$before" "c's state after the refused table"

log "growing to the metadata's room (128 MiB): accepted, the new area marked"
assert_cmd dmsetup reload c --table "0 $((2 * T)) cbt $DISK3 8 2 metadata /dev/mapper/md"
assert_cmd dmsetup resume c
assert_eq "$(sectors /dev/mapper/c)" $((2 * T)) "c's size after the grow"
assert_eq "$(status_json c uuid)" "$uuid" "identity after the grow"
assert_eq "$(cbt bitmap c --blocks | tr '\n' ' ')" "5 1 16384 16384 " \
	"changed blocks after the grow (block 5 and the new area)"
dm_remove c md md2
pass
