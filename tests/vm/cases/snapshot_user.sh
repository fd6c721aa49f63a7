#!/bin/sh
# A snapshot the user took with `cbt snapshot take' (theirs to read, then
# to drop and commit or abort its epoch) is not an interrupted backup's
# leftover: a later `cbt backup' (a scheduled one) refuses at once, exit
# status 1, with a message naming the snapshot, its epoch and the way out,
# and changes nothing: the snapshot reads the sha256 it read when taken,
# the epochs are as they were (the snapshot's closed, the same open one),
# the chain's files are the same bytes. `cbt snapshot release' is refused
# while c's lock is held (a backup reading the snapshot), like drop.
# After `cbt snapshot drop c' and `cbt epoch abort c N', the incremental
# runs and its restore equals c.
# Before: the backup dropped the user's snapshot ("dropping snapshot c-snap
# left by an interrupted run"), aborted its epoch and went on; release
# took no lock.
# disks: 32M 16M 16M
# cost: 40
# timeout: 400
# busybox sh has local.
# shellcheck disable=SC3043

W=/tmp/snapshot_user
COW=$DISK2	# the backups'
COW2=$DISK3	# the user's take

cleanup() {
	[ ! -p "$W/release" ] || echo go 1<>"$W/release"
	dm_remove c-snap c
}

need_module dm_cbt
need_cmd cbt flock mkfifo

rm -rf "$W" && mkdir -p "$W"
cbt_create c "$DISK1" 8
assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=1M count=32 oflag=direct status=none
LOCK=/run/cbt/$(dmsetup info -c --noheadings -o major,minor --separator : c | tr -d ' ').lock
assert_cmd cbt backup c --full --to "$W/chain" --cow "$COW" --no-freeze --quiet
assert_cmd dd if=/dev/urandom of=/dev/mapper/c bs=4k count=16 seek=100 oflag=direct status=none

log "the user takes a snapshot of c"
epoch=$(status_json c current_epoch)
assert_cmd cbt snapshot take c --cow "$COW2" --no-freeze
snapsum=$(sha256_of /dev/mapper/c-snap)
# epochs: c's open epoch and the closed ones; chain: its files' bytes.
epochs() { echo "open $(status_json c current_epoch) closed $(closed_epochs c | tr '\n' ' ')"; }
chain() { (cd "$W/chain" && find . -type f | sort | xargs sha256sum); }
epochs0=$(epochs)
chain0=$(chain)
assert_eq "$epochs0" "open $((epoch + 1)) closed $epoch " "c's epochs after the take"

msg="cbt backup: c failed while checking the snapshot on the device: c's snapshot c-snap (epoch $epoch) was taken by \`cbt snapshot take', not left by an interrupted backup: it is left as it is; when done with it, \`cbt snapshot drop c', then \`cbt epoch commit c $epoch' or \`cbt epoch abort c $epoch', and run the backup again"
for kind in --incremental --full; do
	log "cbt backup $kind of c is refused and changes nothing"
	rc=0
	cbt backup c $kind --to "$W/chain" --cow "$COW" --no-freeze >"$W/out" 2>"$W/err" || rc=$?
	cat "$W/out" "$W/err"
	assert_eq "$rc" 1 "exit status of the backup $kind"
	assert_eq "$(cat "$W/err")" "$msg" "the backup $kind's message"
	assert_eq "$(sha256_of /dev/mapper/c-snap)" "$snapsum" "sha256 of c-snap after the backup $kind"
	assert_eq "$(epochs)" "$epochs0" "c's epochs after the backup $kind"
	assert_eq "$(chain)" "$chain0" "the chain after the backup $kind"
	assert_cmd flock -x -n "$LOCK" true
done

log "c's lock held (a backup reading the snapshot): release refused"
mkfifo "$W/ready" "$W/release"
( exec 9>"$LOCK" && flock -x 9 && echo held >"$W/ready" && exec cat "$W/release" >/dev/null ) &
read -r _ <"$W/ready"
held="another cbt backup, clone or serve of c is running, or a program holds its snapshot through libcbt (it holds $LOCK); run this one when it has finished"
rc=0
cbt snapshot release c 0 1M 2>"$W/err" || rc=$?
assert_eq "$rc" 1 "exit status of the release"
assert_eq "$(cat "$W/err")" "cbt snapshot release: $held (--force releases anyway, failing whoever reads those bytes)" \
	"the release's message"
echo go >"$W/release"
wait
assert_eq "$(sha256_of /dev/mapper/c-snap)" "$snapsum" "sha256 of c-snap after the refused release"

log "the user is done: drop, abort; the incremental runs and restores c"
assert_cmd cbt snapshot drop c
assert_cmd cbt epoch abort c "$epoch"
assert_cmd cbt backup c --incremental --to "$W/chain" --cow "$COW" --no-freeze --quiet
assert_cmd cbt restore --quiet "$W/chain" "$W/restored.img"
assert_eq "$(sha256_of "$W/restored.img")" "$(sha256_of /dev/mapper/c)" "sha256 of the restore against c"
if cbt status c | grep -q 'snapshot:'; then fail "a snapshot was left attached"; fi
assert_eq "$(closed_epochs c | wc -l)" 0 "closed epochs after the backup"
pass
