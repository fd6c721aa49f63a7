#!/bin/sh
# cbt backup --encrypt through the real tool on a tracked device
# (docs/format.md, "Encryption"): a key from cbt keygen kept outside the
# chain, a full and an incremental image written encrypted with --threads
# 2, each point restored with --key equal to the snapshot it was taken
# from; without the key verify and restore refuse (exit 2, no target
# made), a backup without --encrypt into the encrypted chain is refused
# before a snapshot (exit 2, chain unchanged), and cbt mount --key
# --device-only serves the last point byte for byte.
# disks: 64M 8M 64M 128M
# cost: 15
# timeout: 400
# shellcheck disable=SC3043

W=/tmp/be
STORE=/mnt/be-store
CH=$STORE/chain
KEYS=/root/be-keys

cleanup() {
	[ -s "$W/nbd" ] && { cbt unmount "$(cat "$W/nbd")" 2>/dev/null || true; }
	unmount "$STORE"
	dm_remove c-snap c
	true
}

need_module dm_cbt
need_cmd cbt sha256sum mkfs.ext4 nbdkit nbd-client

rm -rf "$W" "$KEYS" && mkdir -p "$W" "$STORE" "$KEYS"
chmod 700 "$KEYS"
assert_cmd cbt keygen "$KEYS/k"
assert_eq "$(stat -c %a "$KEYS/k")" 600 "the key file's mode"
assert_cmd mkfs.ext4 -q "$DISK4"
assert_cmd mount "$DISK4" "$STORE"
assert_cmd dmsetup create c --table "0 $((64 * 2048)) cbt $DISK1 8 2 metadata $DISK2"

put() { dd if=/dev/urandom of=/dev/mapper/c bs=4k seek="$1" count="$2" conv=notrunc,fsync 2>/dev/null; }

snap_sum_hook "$W"
backup() {
	local n="$1"
	shift
	backup_summed "$n" "$W" cbt backup c "$@" --to "$CH" --cow "$DISK3" --no-freeze --quiet \
		--threads 2 --encrypt "$KEYS/k"
}

put 0 1280
put 10000 5
backup 1 --full
put 3000 300
backup 2 --incremental

assert_cmd cbt verify -q --key "$KEYS/k" "$CH"
assert_cmd cbt info --key "$KEYS/k" "$CH" >"$W/info"
assert_cmd grep -q 'format version: 3' "$W/info"
for n in 1 2; do
	rm -f "$STORE/r"
	assert_cmd cbt restore --quiet --key "$KEYS/k" "$CH" --at "$n" "$STORE/r"
	assert_eq "$(sha256sum <"$STORE/r" | cut -d' ' -f1)" "$(cat "$W/sum.$n")" "point $n against its snapshot"
	log "ok: point $n restored exact"
done
rm -f "$STORE/r"

# without the key: refused, nothing made
rc=0
cbt verify "$CH" >"$W/v.out" 2>&1 || rc=$?
assert_eq "$rc" 2 "verify's exit status without the key"
assert_cmd grep -q 'give its key file with --key' "$W/v.out"
rc=0
cbt restore "$CH" "$STORE/r" >"$W/r.out" 2>&1 || rc=$?
assert_eq "$rc" 2 "restore's exit status without the key"
[ ! -e "$STORE/r" ] || fail "restore without the key made its target"

# a plain image into the encrypted chain: refused before the snapshot, chain unchanged
cp "$CH/chain.idx" "$W/idx"
put 4000 1
epoch() { cbt status c --json | sed -n 's/.*"current_epoch": *\([0-9]*\).*/\1/p'; }
e=$(epoch)
rc=0
cbt backup c --incremental --to "$CH" --cow "$DISK3" --no-freeze --quiet >"$W/b.out" 2>&1 || rc=$?
assert_eq "$rc" 2 "backup without --encrypt into an encrypted chain"
assert_cmd grep -q 'give its key file with --key' "$W/b.out"
assert_cmd cmp "$CH/chain.idx" "$W/idx"
assert_eq "$(epoch)" "$e" "the open epoch (no snapshot was taken)"

# the last point through nbdkit's plugin, with the key's path
assert_cmd sh -c "cbt mount --key '$KEYS/k' '$CH' --device-only >'$W/nbd'"
nbd=$(cat "$W/nbd")
assert_eq "$(sha256_head "$nbd" "$(cat "$W/size.2")")" "$(cat "$W/sum.2")" \
	"the mounted point against its snapshot"
assert_cmd cbt unmount "$nbd"
pass
