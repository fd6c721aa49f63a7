# Sourced by tests/boot/run after persist.sh (uses run's W, ROOTIMG, TOOL,
# TOP, qemu_boot, check, result, say and persist.sh's P, val): issue 13, a
# restore point of persist.sh's chain booted straight from the chain,
# nothing restored. On the host, `cbt serve CHAIN --at N --socket SOCK'
# (with this tree's plugin, CBT_NBDKIT_PLUGIN) exports point N read-only;
# qemu boots the lane's kernel and tracked initramfs with root on
#   -drive file=nbd:unix:SOCK,format=raw,if=virtio,snapshot=on
# snapshot=on: the guest's writes go to a temporary qcow2 overlay of qemu
# (in $TMPDIR), never to the export, which is read-only: without it qemu
# refuses to start ("Block node is read-only"), checked. Step pointboot of
# tests/boot/init says which markers root holds, then writes to root.
#   point3   --at 3 (boot3's incremental): boot2's precrash marker, synced
#            before the crash; not boot3's clonemarker, written after
#   point2   --at 2, an earlier point (boot2's incremental): boot2's
#            marker2; not the precrash marker, written after it
# After each boot SIGTERM stops the server, which must exit 0; after both,
# the chain's files are unchanged (sha256) and `cbt verify' passes.
# shellcheck shell=bash

boot_part bootpoint || return 0
if [ -z "$TOOL" ]; then
	return 0
fi
say "bootpoint: points of the chain booted over NBD (cbt serve), nothing restored"
BP_START=$(date +%s)
PLUGIN=$TOP/tools/nbdkit-cbt-plugin.so
if ! make -s -C "$TOP/tools" WERROR=1 nbdkit-cbt-plugin.so >"$W/plugin-build.log" 2>&1; then
	result bootpoint "the nbdkit plugin builds (make -C tools nbdkit-cbt-plugin.so)" 1 \
		"$(tail -n 20 "$W/plugin-build.log")"
	return 0
fi
CHAIN=$P/out/chain
sha256sum "$CHAIN"/* >"$P/chain.sums" 2>&1 || true

# boot_point NAME N: point N served on a Unix socket while qemu boots it
# (step pointboot); then SIGTERM, and the server must exit 0 quietly.
boot_point() {
	local name=$1 n=$2 sock=$P/$1.sock spid size st out
	# nbdkit leaves its socket file behind, and will not listen on one.
	rm -f "$sock"
	CBT_NBDKIT_PLUGIN=$PLUGIN "$TOOL" serve "$CHAIN" --at "$n" --socket "$sock" \
		>"$W/$name.serve.log" 2>&1 &
	spid=$!
	# Listening once an NBD handshake succeeds (the socket file appears
	# at bind, before listen); a server that exited ends the wait.
	for _ in $(seq 600); do
		nbdinfo --can connect "nbd+unix:///?socket=$sock" 2>/dev/null && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	size=$(nbdinfo --size "nbd+unix:///?socket=$sock" 2>&1) || true
	st=1
	[ "$size" = "$(stat -c %s "$ROOTIMG")" ] && st=0
	result "$name" "cbt serve --at $n listens, the export root's size" "$st" \
		"size: $size" "$(tail -n 10 "$W/$name.serve.log")"
	# Without snapshot=on the drive is writable: qemu must refuse the
	# read-only export at once (-S: should it start, it waits, stopped).
	st=0
	out=$(timeout 60 qemu-system-x86_64 -accel tcg -m 128M -S -nographic -monitor none -serial none \
		-display none -drive "file=nbd:unix:$sock,format=raw,if=virtio" 2>&1 </dev/null) && st=1
	[[ "$out" == *"Block node is read-only"* ]] || st=1
	result "$name" "without snapshot=on qemu refuses the read-only export" "$st" "$out"
	qemu_boot "$name" "$W/tracked.img" roottest=pointboot "nbd:unix:$sock,snapshot=on"
	st=0
	kill -TERM "$spid" 2>/dev/null || true
	wait "$spid" || st=$?
	[ "$st" -eq 0 ] && grep -qi error "$W/$name.serve.log" && st=1
	result "$name" "cbt serve exits 0 on SIGTERM, no error logged" "$st" \
		"exit status $st" "$(tail -n 10 "$W/$name.serve.log")"
	check "$name" "root mounted from /dev/mapper/root over the export" '^ROOTTEST root: /dev/mapper/root$'
	check "$name" "root writable (qemu's overlay)" '^ROOTTEST written: pointwrite [0-9a-f]{16}$'
	check "$name" "clean power-off" '^ROOTTEST end$'
}
# marker NAME FILE WANT WHAT: step pointboot of NAME read WANT in /FILE
# ("absent": no such file).
marker() {
	local got st=1
	got=$(val "$1" "$2")
	[ -n "$3" ] && [ "$got" = "$3" ] && st=0
	result "$1" "$4" "$st" "want: ${3:-nothing (its boot did not say)}" "got: ${got:-no line}"
}

boot_point point3 3
marker point3 precrash "$(val boot2 precrash-marker)" "holds boot2's precrash marker, synced before image 3"
marker point3 clonemarker absent "has no clonemarker (boot3 wrote it after image 3)"
boot_point point2 2
marker point2 marker2 "$(val boot2 marker2)" "holds boot2's marker2, written before image 2"
marker point2 precrash absent "has no precrash marker (written after image 2)"

st=0
out=$(sha256sum "$CHAIN"/* 2>&1 | diff "$P/chain.sums" - 2>&1) || st=1
result bootpoint "the chain's files are unchanged by both boots" "$st" "$out"
st=0
out=$("$TOOL" verify "$CHAIN" 2>&1) || st=1
result bootpoint "cbt verify of the chain after both boots" "$st" "$out"
say "bootpoint: $(($(date +%s) - BP_START))s wall-clock (two boots)"
