#!/bin/sh
# What cbt and cbt-snap give device-mapper's IMA measurement at a table
# load (STATUSTYPE_IMA, docs/target.md and docs/snapshot.md): dmsetup cannot
# ask for it, so the case loads an IMA policy measuring device-mapper's
# critical data (once per boot: alone) and reads the dm_table_load records
# from the runtime measurement list (template ima-buf: the buffer in hex).
# disks: 16M 8M 8M
# alone: yes
# timeout: 60
# cost: 5

SECFS=/sys/kernel/security
LIST=$SECFS/ima/ascii_runtime_measurements

cleanup() {
	dm_remove c-snap c md cow
	unmount "$SECFS"
}

need_module dm_cbt

mount -t securityfs securityfs "$SECFS" || skip "no securityfs in this kernel"
[ -e "$LIST" ] || skip "no IMA in this kernel"
[ -e "$SECFS/ima/policy" ] || skip "an IMA policy is loaded already (this boot)"
echo "measure func=CRITICAL_DATA label=device-mapper template=ima-buf" >"$SECFS/ima/policy" ||
	fail "the IMA policy measuring device-mapper was refused"

# hex TEXT: TEXT in lowercase hex, as ima-buf lists a buffer.
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }

# measured TEXT WHAT: the last dm_table_load record holds TEXT.
measured() {
	local rec
	rec=$(grep ' dm_table_load ' "$LIST" | tail -1 | awk '{ print $NF }')
	[ -n "$rec" ] || fail "$2: no dm_table_load record"
	case "$rec" in
	*"$(hex "$1")"*) log "ok: $2 measured: $1" ;;
	*) fail "$2: the record lacks '$1'" ;;
	esac
}

# devno DEV: DEV's MAJ:MIN, as device-mapper names a table's devices.
devno() { stat -L -c '%t %T' "$1" | { read -r ma mi; echo "$((0x$ma)):$((0x$mi))"; }; }

N=$(sectors "$DISK1")
origin=$(devno "$DISK1")
cbt_v=$(dmsetup targets | awk '$1 == "cbt" { sub(/^v/, "", $2); print $2 }')
snap_v=$(dmsetup targets | awk '$1 == "cbt-snap" { sub(/^v/, "", $2); print $2 }')

log "a memory-only cbt table"
assert_cmd dmsetup create c --table "0 $N cbt $DISK1 8"
measured "target_index=0,target_begin=0,target_len=$N,target_name=cbt,target_version=$cbt_v,origin_name=$origin,block_sectors=8,metadata_name=;" \
	"a memory-only cbt table"
assert_cmd dmsetup remove c

log "a cbt table with a metadata device"
assert_cmd dmsetup create md --table "0 $(sectors "$DISK2") linear $DISK2 0"
md=$(devno /dev/mapper/md)
assert_cmd dmsetup create c --table "0 $N cbt $DISK1 128 2 metadata /dev/mapper/md"
measured "target_name=cbt,target_version=$cbt_v,origin_name=$origin,block_sectors=128,metadata_name=$md;" \
	"a cbt table with metadata"

log "a cbt-snap table"
assert_cmd dmsetup create cow --table "0 $(sectors "$DISK3") linear $DISK3 0"
assert_cmd dmsetup create c-snap --readonly \
	--table "0 $N cbt-snap /dev/mapper/c /dev/mapper/cow 16"
measured "target_name=cbt-snap,target_version=$snap_v,cbt_name=$(devno /dev/mapper/c),cow_name=$(devno /dev/mapper/cow),chunk_sectors=16;" \
	"a cbt-snap table"
pass
