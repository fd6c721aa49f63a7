#!/bin/sh
# failslab on dm-cbt's own allocations (the debug kernel's fault injection;
# other kernels skip): slab allocations whose call stack passes through
# dm-cbt's code fail (require-start/require-end over the module's text; it
# has no kmem cache of its own to mark), one in ten, sleeping ones too.
# Under it: table creation and `cbt snapshot take' either work or are
# refused with an error and leave nothing behind; a fio --verify on the cbt
# device loses no acknowledged write (a bitmap leaf that cannot be
# allocated marks its whole range: over-reporting, never a miss); and,
# with failslab off again, the next incremental is correct (restored equal
# to the device) or refused for a full when the identity changed. The
# runner's kmemleak scan after the case checks that the refusals leaked
# nothing.
# disks: 32M 4M 64M 32M
# cost: 5
# timeout: 600

# shellcheck source=tests/soak/cases/soak.inc
. /harness/cases/soak.inc
# shellcheck source=tests/soak/cases/fault.inc
. /harness/cases/fault.inc

cleanup() {
	fi_off failslab
	soak_stop
	cbt snapshot drop c 2>/dev/null || true
	for d in c t; do dmsetup remove "$d" 2>/dev/null || true; done
}

# dm-cbt's text: from its lowest function's start to its highest's (on the
# debug kernel every other driver is built in, so the module area beyond
# it holds only the harness's test modules, never loaded with it).
text_range() {
	awk '$4 == "[dm_cbt]" && ($2 == "t" || $2 == "T") { print $1 }' /proc/kallsyms | sort |
		sed -n '1p;$p' | tr '\n' ' '
}

need_fault_injection failslab
[ -e "$FI/failslab/require-start" ] || skip "failslab has no stack filter (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)"
need_module dm_cbt
need_cmd cbt fio
rm -rf "$SOAK" && mkdir -p "$SOAK"
COW=$DISK3 TGT=$DISK4 CH=$SOAK/chain
# shellcheck disable=SC2046 # the range's two addresses, split on purpose
set -- $(text_range)
[ $# = 2 ] || fail "no dm_cbt functions in /proc/kallsyms"
# up to the end of the 64 KiB block after the highest function's start
# (hex prefixes: the full addresses overflow the shell's signed arithmetic)
lo=0x$1 hi=$(printf '0x%x0000' $((0x${2%????} + 1)))
fi_set failslab probability=0 interval=1 times=-1 verbose=1 space=0 \
	ignore-gfp-wait=N task-filter=N stacktrace-depth=32 \
	require-start="$lo" require-end="$hi" reject-start=0 reject-end=0
dd if=/dev/zero of="$DISK2" bs=64k count=1 conv=fsync 2>/dev/null
table="0 $(sectors "$DISK1") cbt $DISK1 8 2 metadata $DISK2"
before=$(injected)

log "=== table creation under failslab"
fi_set failslab probability=10
ok=0 refused=0
for _ in $(seq 20); do
	if dmsetup create t --table "$table" 2>"$SOAK/ctr.err"; then
		ok=$((ok + 1))
		dmsetup remove t || fail "cannot remove t after a table created under failslab"
	else
		refused=$((refused + 1))
		! dmsetup info t >/dev/null 2>&1 || dmsetup remove t ||
			fail "a refused table left device t that cannot be removed"
	fi
done
log "tables: $ok created, $refused refused ($(head -c 160 "$SOAK/ctr.err"))"
fi_off failslab

assert_cmd dmsetup create c --table "$table"
assert_cmd cbt backup c --full --all-blocks --to "$CH" --cow "$COW" --no-freeze --quiet
uuid=$(status_json c uuid)

log "=== snapshot take under failslab"
fi_set failslab probability=10
ok=0 refused=0
for _ in $(seq 10); do
	if cbt snapshot take c --cow "$COW" --no-freeze >/dev/null 2>"$SOAK/take.err"; then
		ok=$((ok + 1))
		cbt snapshot drop c || fail "cannot drop a snapshot taken under failslab"
	else
		refused=$((refused + 1))
		! cbt snapshot list | grep -qw c || cbt snapshot drop c ||
			fail "a refused snapshot take left a snapshot that cannot be dropped"
	fi
done
log "snapshots: $ok taken, $refused refused ($(head -c 160 "$SOAK/take.err"))"
fi_off failslab

log "=== writes under failslab"
fio_load /dev/mapper/c linear
fi_set failslab probability=10
fio_wait
fi_off failslab
n=$(($(injected) - before))
log "$n allocations failed by failslab in all"
[ "$n" -gt 0 ] || fail "failslab failed no dm-cbt allocation: the case tested nothing"

identity_check c "$uuid"
next_backup c "$CH" "$COW" "$TGT"
assert_cmd dmsetup remove c
pass
