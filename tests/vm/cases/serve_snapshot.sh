#!/bin/sh
# cbt serve DEVICE --snapshot on a Unix socket, read with nbdinfo and
# nbdcopy (libnbd). A first serve (nothing committed yet) marks every
# block in qemu:dirty-bitmap:cbt; its copy is the previous state, and
# SIGUSR1 commits. Then a known block set is written: the second serve's
# bitmap is exactly that set, base:allocation covers the device, writes
# to the origin while serving change nothing served (the export equals
# the device before them), and the previous state patched with the
# bitmap's ranges from the export equals it too. SIGTERM aborts; a
# SIGKILLed server aborts at the next serve's cleanup: its bitmap holds
# every block since the last commit (the aborted set, the writes made
# while serving, one after the kill), and a named bitmap is served. Over
# TCP with TLS: plain NBD and a client without a certificate are refused,
# a client with one reads the bitmap; SIGHUP aborts. qemu-img map with
# x-dirty-bitmap shows the bitmap inverted. While it serves, a backup of
# the device is refused (its lock) and SIGINT aborts; qemu-nbd dying fails
# the run and aborts the epoch, whose blocks stay marked. A SIGTERM sent
# while the take waits for a write in flight aborts once serving starts.
# disks: 16M 16M
# cost: 40
# timeout: 600
# busybox sh has local.
# shellcheck disable=SC3043

W=/tmp/ss
SOCK=$W/nbd.sock
URI="nbd+unix:///?socket=$SOCK"
LISTEN="--socket $SOCK"
SIZE=16777216

cleanup() {
	[ -z "${SERVE_PID:-}" ] || kill -KILL "$SERVE_PID" 2>/dev/null || true
	unstick low
	dm_remove c-snap c low
}

need_module dm_cbt
need_cmd cbt nbdinfo nbdcopy qemu-nbd qemu-img qemu-io sha256sum openssl stamp

rm -rf "$W" && mkdir -p "$W"
cbt_create c "$DISK1" 8
# 1 MiB of data: the first epoch changed 256 blocks, but nothing was committed before it.
assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=1M count=1 oflag=direct

# serve_start [ARG...]: cbt serve c on $LISTEN; returns when it says it
# serves (its output comes through a fifo: no polling for the socket).
serve_start() {
	local line
	rm -f "$W/out" "$W/lines"
	mkfifo "$W/out"
	# shellcheck disable=SC2086 # LISTEN is words
	cbt serve c --snapshot --cow "$DISK2" $LISTEN "$@" >"$W/out" 2>"$W/err" &
	SERVE_PID=$!
	exec 3<"$W/out"
	while read -r line <&3; do
		echo "$line" >>"$W/lines"
		log "serve: $line"
		case "$line" in *serving*) return 0 ;; esac
	done
	fail "cbt serve ended before serving: $(cat "$W/err")"
}

# serve_end SIG OUTCOME: send SIG, wait for the end, which must be a
# success saying "epoch N OUTCOME" for the served epoch N (in $SERVED),
# with no epoch left closed. SIG KILL: only that it died.
serve_end() {
	local rc=0
	SERVED=$(closed_epochs c)
	kill -"$1" "$SERVE_PID"
	wait "$SERVE_PID" || rc=$?
	cat <&3 >>"$W/lines"
	exec 3<&-
	SERVE_PID=
	cat "$W/err" >&2
	if [ "$1" = KILL ]; then
		[ "$rc" -ne 0 ] || fail "a SIGKILLed cbt serve exited 0"
		return 0
	fi
	[ "$rc" -eq 0 ] || fail "cbt serve failed (exit $rc) on SIG$1"
	tail -n 1 "$W/lines" | grep -Eq "^c: epoch $SERVED $2(: its changes go into the next epoch)?\$" ||
		fail "the last line is not 'c: epoch $SERVED $2': $(cat "$W/lines")"
	assert_eq "$(closed_epochs c)" "" "no epoch is left closed after SIG$1"
}

# dirty_blocks [NAME]: the 4 KiB blocks the served bitmap marks, space-separated.
dirty_blocks() {
	nbdinfo --map="qemu:dirty-bitmap:${1:-cbt}" "$URI" |
		awk '$4 == "dirty" { for (b = $1 / 4096; b < ($1 + $2) / 4096; b++) printf "%d ", b }'
}

log "first serve: nothing committed yet, every block is dirty"
serve_start
# The two lines docs/serve.md shows, in that order, with the epoch the snapshot closed.
assert_eq "$(cat "$W/lines")" "c: no epoch was committed under the device's tracking identity: the bitmap marks every block
c: serving the snapshot of epoch $(closed_epochs c) on $URI with qemu:dirty-bitmap:cbt (4096 blocks of 4096 bytes)" \
	"the first serve's lines"
assert_eq "$(nbdinfo --map=qemu:dirty-bitmap:cbt "$URI" | awk '{ print $1, $2, $4 }')" \
	"0 $SIZE dirty" "the first bitmap marks every block"
assert_cmd nbdcopy "$URI" "$W/prev.img"
assert_eq "$(sha256_of "$W/prev.img")" "$(sha256_of /dev/mapper/c-snap)" "the export is the snapshot"
serve_end USR1 committed
e1=$SERVED
assert_eq "$(status_json c last_committed_epoch)" "$e1" "the served epoch was committed"

log "second serve: exactly the blocks written"
for b in 3 7 8 100 4095; do write_block "$b"; done
want=$(sha256_of /dev/mapper/c)
serve_start
assert_eq "$(cat "$W/lines")" \
	"c: serving the snapshot of epoch $(closed_epochs c) on $URI with qemu:dirty-bitmap:cbt (5 blocks of 4096 bytes)" \
	"the serving line counts the changed blocks"
assert_eq "$(dirty_blocks)" "3 7 8 100 4095 " "the bitmap is exactly the blocks written"
# QEMU's client as docs/serve.md shows it: x-dirty-bitmap reports the
# bitmap inverted, the changed ranges are those with "data": false.
qemu-img map --output=json --image-opts \
	"driver=nbd,server.type=unix,server.path=$SOCK,x-dirty-bitmap=qemu:dirty-bitmap:cbt" >"$W/map.json" ||
	fail "qemu-img map with x-dirty-bitmap failed"
assert_eq "$(sed -n 's/.*"start": *\([0-9]*\), *"length": *\([0-9]*\),.*"data": *false.*/\1 \2/p' "$W/map.json" |
	awk '{ for (b = $1 / 4096; b < ($1 + $2) / 4096; b++) printf "%d ", b }')" "3 7 8 100 4095 " \
	"qemu-img map's \"data\": false ranges are the bitmap"
total=$(nbdinfo --map "$URI" | awk '{ n += $2 } END { print n }')
assert_eq "$total" "$SIZE" "base:allocation covers the device"
# Point in time: these land in the next epoch, not in the export.
write_block 3
write_block 500
assert_cmd nbdcopy "$URI" "$W/cur.img"
assert_eq "$(sha256_of "$W/cur.img")" "$want" "the export is the device before the writes made while serving"
# An incremental pull: the bitmap's ranges from the export onto the previous state.
nbdinfo --map=qemu:dirty-bitmap:cbt "$URI" | awk '$4 == "dirty" { print $1 / 4096, $2 / 4096 }' |
	while read -r off n; do
		dd if="$W/cur.img" of="$W/prev.img" bs=4096 skip="$off" seek="$off" count="$n" \
			conv=notrunc 2>/dev/null || fail "dd of blocks $off+$n failed"
	done
assert_eq "$(sha256_of "$W/prev.img")" "$want" "the previous state plus the dirty blocks is the snapshot"
serve_end TERM aborted
assert_eq "$(status_json c last_committed_epoch)" "$e1" "nothing was committed by the abort"

log "a killed server: the next serve aborts its epoch"
serve_start
assert_eq "$(dirty_blocks)" "3 7 8 100 500 4095 " "the aborted set and the writes made while serving"
serve_end KILL
# qemu-nbd goes with it (parent-death signal); the next run drops the snapshot once it is gone.
wait_until 30 sh -c '! pidof qemu-nbd'
write_block 1000
serve_start --bitmap-name backup-1
grep -q "aborting epoch" "$W/err" || fail "the next serve did not abort the killed one's epoch"
assert_eq "$(dirty_blocks backup-1)" "3 7 8 100 500 1000 4095 " \
	"after the kill: every block since the last commit"
serve_end USR1 committed
assert_eq "$(status_json c last_committed_epoch)" "$SERVED" "the last serve committed"
[ ! -e /dev/mapper/c-snap ] || fail "the snapshot is still attached"
[ ! -e "$SOCK" ] || fail "the socket was left behind"
# The killed run's scratch files were replaced, the last run's removed.
[ -z "$(ls -d /run/cbt/serve-* 2>/dev/null)" ] || fail "scratch files left: $(ls -d /run/cbt/serve-*)"

log "TCP with TLS"
# mkcert NAME: $W/pki/NAME-key.pem and NAME-cert.pem, signed by ca (ca: self-signed, a CA).
mkcert() {
	local n="$1"
	if [ "$n" = ca ]; then
		openssl req -config "$W/pki/cnf" -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-nodes -keyout "$W/pki/ca-key.pem" -out "$W/pki/ca-cert.pem" -days 2 -subj /CN=ca \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign
	else
		openssl req -config "$W/pki/cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-nodes -keyout "$W/pki/$n-key.pem" -out "$W/pki/$n.csr" -subj /CN=127.0.0.1 &&
			openssl x509 -req -in "$W/pki/$n.csr" -CA "$W/pki/ca-cert.pem" \
				-CAkey "$W/pki/ca-key.pem" -CAcreateserial -out "$W/pki/$n-cert.pem" \
				-days 2 -extfile "$W/pki/ext"
	fi >/dev/null 2>&1 || fail "openssl: making the $n certificate failed"
}
mkdir -p "$W/pki/srv" "$W/pki/cli" "$W/pki/caonly"
printf '[req]\ndistinguished_name=dn\n[dn]\n' >"$W/pki/cnf"
echo 'subjectAltName=IP:127.0.0.1' >"$W/pki/ext"
mkcert ca
mkcert server
mkcert client
cp "$W/pki/ca-cert.pem" "$W/pki/server-cert.pem" "$W/pki/server-key.pem" "$W/pki/srv/"
cp "$W/pki/ca-cert.pem" "$W/pki/client-cert.pem" "$W/pki/client-key.pem" "$W/pki/cli/"
cp "$W/pki/ca-cert.pem" "$W/pki/caonly/"
assert_cmd ip link set lo up
write_block 9
LISTEN="--tcp 127.0.0.1:10809 --tls-certificates $W/pki/srv"
serve_start
grep -q 'on nbds://127.0.0.1:10809 ' "$W/lines" || fail "no nbds:// URI in: $(cat "$W/lines")"
nbdinfo --size nbd://127.0.0.1:10809/ && fail "plain NBD was served with --tls-certificates"
nbdinfo --size "nbds://127.0.0.1:10809/?tls-certificates=$W/pki/caonly" &&
	fail "a client without a certificate was served"
URI="nbds://127.0.0.1:10809/?tls-certificates=$W/pki/cli"
assert_eq "$(dirty_blocks)" "9 " "the bitmap over TLS"
serve_end HUP aborted
LISTEN="--socket $SOCK"
URI="nbd+unix:///?socket=$SOCK"

log "while serving, the device's lock refuses a backup; SIGINT aborts"
write_block 20
serve_start
cbt backup c --full --to "$W/chain" --cow "$DISK1" 2>"$W/berr" && fail "a backup ran beside cbt serve"
grep -q "another cbt backup, clone or serve of c is running" "$W/berr" ||
	fail "the backup was not refused for the lock: $(cat "$W/berr")"
[ -z "$(ls "$W/chain" 2>/dev/null)" ] || fail "the refused backup wrote: $(ls "$W/chain")"
serve_end INT aborted

log "qemu-nbd ending by itself: the epoch is aborted, cbt serve fails"
write_block 21
serve_start
assert_eq "$(dirty_blocks)" "9 20 21 " "the SIGHUP- and SIGINT-aborted blocks and the new one"
SERVED=$(closed_epochs c)
kill -KILL "$(pidof qemu-nbd)"
rc=0
wait "$SERVE_PID" || rc=$?
exec 3<&-
SERVE_PID=
[ "$rc" -ne 0 ] || fail "cbt serve exited 0 after qemu-nbd died"
grep -q "qemu-nbd ended (signal 9)" "$W/err" || fail "no reason given: $(cat "$W/err")"
grep -q "epoch $SERVED was aborted" "$W/err" || fail "no abort said: $(cat "$W/err")"
assert_eq "$(closed_epochs c)" "" "no epoch is left closed after qemu-nbd died"
assert_eq "$(marked_blocks c)" "9 20 21 " "the aborted epoch's blocks are in the open epoch"
[ ! -e /dev/mapper/c-snap ] || fail "the snapshot is still attached after qemu-nbd died"
[ ! -e "$SOCK" ] || fail "the socket was left behind after qemu-nbd died"

log "bad input changes nothing"
e=$(status_json c current_epoch)
cbt serve c --snapshot --cow "$DISK2" --tcp nonsense && fail "--tcp nonsense was accepted"
cbt serve c --cow "$DISK2" --socket "$SOCK" && fail "serve without --snapshot was accepted"
assert_eq "$(status_json c current_epoch)" "$e" "no epoch was closed by refused runs"

log "a signal sent while the snapshot is taken is acted on once serving starts"
assert_cmd dmsetup remove c
N=$(sectors "$DISK1")
assert_cmd dmsetup create low --table "0 $N linear $DISK1 0"
cbt_create c /dev/mapper/low 8
# The take holds c's writes and waits for this one, queued in the suspended low.
write_stuck c low
cbt serve c --snapshot --cow "$DISK2" --no-freeze --socket "$SOCK" >"$W/late.out" 2>"$W/late.err" &
SERVE_PID=$!
until take_waits "$SERVE_PID"; do
	kill -0 "$SERVE_PID" 2>/dev/null || fail "cbt serve ended before its take waited: $(cat "$W/late.err")"
done
kill -TERM "$SERVE_PID"
assert_cmd dmsetup resume low
wait "$STUCK" || fail "the stuck write failed"
STUCK=
rc=0
wait "$SERVE_PID" || rc=$?
SERVE_PID=
cat "$W/late.err" >&2
[ "$rc" -eq 0 ] || fail "cbt serve exited $rc after a SIGTERM during its take"
grep -q "^c: serving the snapshot of epoch " "$W/late.out" || fail "it did not serve: $(cat "$W/late.out")"
tail -n 1 "$W/late.out" | grep -q "^c: epoch [0-9]* aborted" || fail "the SIGTERM did not abort: $(cat "$W/late.out")"
assert_eq "$(closed_epochs c)" "" "no epoch is left closed"
[ ! -e /dev/mapper/c-snap ] || fail "the snapshot is still attached"
pass
