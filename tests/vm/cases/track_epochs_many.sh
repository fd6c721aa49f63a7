#!/bin/sh
# `cbt epoch close|commit DEVICE...' and `--all': one process closes and
# commits the epochs of three devices, each device's epochs and bitmaps
# checked exactly after every step; a device that fails (no such device,
# too many closed epochs) is reported while the others are done; a
# malformed DEVICE among good ones changes nothing.
# disks: 8M 8M 8M
# cost: 8
# timeout: 240

W=/tmp/epochs-many

cleanup() {
	dm_remove a b c
}

need_module dm_cbt
need_cmd cbt
rm -rf "$W" && mkdir -p "$W"

# epochs DEV: "N:state ..." of every epoch the kernel holds for DEV.
epochs() {
	cbt status "$1" | awk '/^  epoch [0-9]+:/ { n = $2; sub(":", "", n); s = $3; sub(",", "", s)
		printf "%s:%s ", n, s }'
}

# expect_epochs A B C: the epochs of a, b and c.
expect_epochs() {
	assert_eq "$(epochs a)" "$1" "epochs of a"
	assert_eq "$(epochs b)" "$2" "epochs of b"
	assert_eq "$(epochs c)" "$3" "epochs of c"
}

cbt_create a "$DISK1" 8
cbt_create b "$DISK2" 8
cbt_create c "$DISK3" 8
write_block 1 /dev/mapper/a
write_block 2 /dev/mapper/b
write_block 3 /dev/mapper/c

log "one process closes the epochs of a, b and c"
out=$(cbt epoch close a b c) || fail "cbt epoch close a b c failed"
assert_eq "$out" "a: epoch 1 closed
b: epoch 1 closed
c: epoch 1 closed" "close a b c"
expect_epochs "1:closed 2:open " "1:closed 2:open " "1:closed 2:open "
assert_eq "$(marked_blocks a --epoch 1)$(marked_blocks b --epoch 1)$(marked_blocks c --epoch 1)" \
	"1 2 3 " "epoch 1 of a, b, c"

# b one epoch ahead: a second closed epoch there
write_block 4 /dev/mapper/b
assert_eq "$(cbt epoch close b)" 2 "second close of b"
write_block 5 /dev/mapper/a

log "without N commit refuses b's two closed epochs and commits a's and c's"
if out=$(cbt epoch commit a b c 2>"$W/err"); then fail "commit of a b c with two closed on b succeeded"; fi
assert_eq "$out" "a: epoch 1 committed
c: epoch 1 committed" "commit a b c"
grep -q "b: epochs 1, 2 are closed; say which to commit" "$W/err" || fail "no error for b: $(cat "$W/err")"
grep -q "1 of 3 devices failed" "$W/err" || fail "no summary: $(cat "$W/err")"
expect_epochs "2:open " "1:closed 2:closed 3:open " "2:open "
assert_eq "$(marked_blocks a --epoch 2)" "5 " "open epoch of a"

log "--oldest commits b's epoch 1"
assert_eq "$(cbt epoch commit b --oldest && epochs b)" "2:closed 3:open " "b after --oldest"
assert_eq "$(marked_blocks b --epoch 2)" "4 " "epoch 2 of b"

log "a device that does not exist among good ones"
if out=$(cbt epoch close a nosuch c 2>"$W/err"); then fail "close with nosuch succeeded"; else rc=$?; fi
assert_eq "$rc" 5 "exit status, no such device"
assert_eq "$out" "a: epoch 2 closed
c: epoch 2 closed" "close a nosuch c"
grep -q "nosuch: No such device" "$W/err" || fail "nosuch not reported: $(cat "$W/err")"
expect_epochs "2:closed 3:open " "2:closed 3:open " "2:closed 3:open "

log "a device the kernel refuses (three epochs closed) among good ones"
assert_eq "$(cbt epoch close b)" 3 "third close of b"
assert_eq "$(cbt epoch close b)" 4 "fourth close of b"
if out=$(cbt epoch close a b c 2>"$W/err"); then fail "close of b with three closed succeeded"; else rc=$?; fi
assert_eq "$rc" 1 "exit status, refused close"
assert_eq "$out" "a: epoch 3 closed
c: epoch 3 closed" "close a b c with b full"
grep -q "b: .*Too many closed epochs" "$W/err" || fail "b's refusal not reported: $(cat "$W/err")"
expect_epochs "2:closed 3:closed 4:open " "2:closed 3:closed 4:closed 5:open " \
	"2:closed 3:closed 4:open "

log "a malformed DEVICE among good ones changes nothing"
if cbt epoch commit a 8:x c --oldest 2>"$W/err"; then fail "malformed device accepted"; else rc=$?; fi
assert_eq "$rc" 2 "exit status, malformed device"
grep -q "device \`8:x' is not MAJ:MIN" "$W/err" || fail "no usage error: $(cat "$W/err")"
expect_epochs "2:closed 3:closed 4:open " "2:closed 3:closed 4:closed 5:open " \
	"2:closed 3:closed 4:open "

log "--all: every cbt device, --epoch N for each"
out=$(cbt epoch commit --all --epoch 2) || fail "commit --all --epoch 2 failed"
assert_eq "$out" "a: epoch 2 committed
b: epoch 2 committed
c: epoch 2 committed" "commit --all --epoch 2"
out=$(cbt epoch commit --all --oldest --json) || fail "commit --all --oldest --json failed"
for d in a b c; do
	echo "$out" | tr -d ' \n' | grep -q "{\"device\":\"$d\",\"ok\":true,\"epoch\":3}" ||
		fail "no result for $d in $out"
done
expect_epochs "4:open " "4:closed 5:open " "4:open "
assert_eq "$(marked_blocks b --epoch 4)" "" "epoch 4 of b"
assert_cmd cbt epoch abort b 4
expect_epochs "4:open " "5:open " "4:open "
pass
