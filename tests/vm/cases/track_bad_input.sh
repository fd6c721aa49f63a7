#!/bin/sh
# Bad table lines and bad netlink requests get precise errors and change
# nothing: no device appears, a foreign metadata device is not written, the
# tracked device keeps its state.
# disks: 32M 8M
# cost: 5
# timeout: 180

cleanup() {
	dm_remove c bad
}

need_module dm_cbt
need_cmd cbt nlprobe

S=$(sectors "$DISK1")

# refuse TABLE EXPECTED-KERNEL-MESSAGE
refuse() {
	log "refused: $1"
	if dmsetup create bad --table "$1" 2>/tmp/err; then
		fail "table accepted: $1"
	fi
	dmesg | tail -5 | grep -qF "$2" || {
		dmesg | tail -5
		fail "kernel did not say '$2' for: $1"
	}
	[ ! -e /dev/mapper/bad ] || fail "device left behind by: $1"
	dm_remove bad
}

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
pass
