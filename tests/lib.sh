# Shared by the host-side test scripts. Source it; it defines no side effects.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}

# The Debian kernels the suite targets: every version with both an image in
# /boot and headers in /usr/src. Sorted oldest first.
test_kernels() {
	local v
	for v in /usr/src/linux-headers-*-amd64; do
		[ -d "$v" ] || continue
		v=${v#/usr/src/linux-headers-}
		[ -f "/boot/vmlinuz-$v" ] && echo "$v"
	done | sort -V
}

# Map a short name (6.1, 6.12) or a full version to the installed version.
resolve_kernel() {
	local want=$1 v
	for v in $(test_kernels); do
		case "$v" in "$want" | "$want".* | "$want"-*) echo "$v"; return 0 ;; esac
	done
	return 1
}

# Where the module is built for kernel $1 (a copy of the sources, so two
# kernels can build side by side).
module_dir() { echo "$BUILD/module/$1"; }

# A fresh copy of the module's sources (what Kbuild needs) in directory $1.
copy_module_sources() {
	rm -rf "$1"
	mkdir -p "$1"
	(cd "$TOP" && tar cf - Kbuild kmod include) | tar xf - -C "$1"
}

# Build dm-cbt.ko for kernel $1 into module_dir; prints the .ko path.
build_module() {
	local kver=$1 dir
	dir=$(module_dir "$kver")
	copy_module_sources "$dir/src"
	make -s -C "/usr/src/linux-headers-$kver" M="$dir/src" modules >&2 || return 1
	echo "$dir/src/dm-cbt.ko"
}

# Debian's linux-source-6.1 tree (for KUnit on UML, checkpatch.pl), extracted
# once into $BUILD/kunit/ and reused: the marker file, written last, names
# the tarball it came from, so a half-done extraction or a new package is
# redone. Serialised with flock so two stages can ask at once. Prints the
# tree's path.
LINUX_SOURCE_TARBALL=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
kernel_source_tree() {
	local dir=$BUILD/kunit tree id
	tree=$dir/linux-source-6.1
	if [ ! -f "$LINUX_SOURCE_TARBALL" ]; then
		echo "no $LINUX_SOURCE_TARBALL (run tests/deps.sh)" >&2
		return 1
	fi
	id=$(stat -c '%n %s %Y' "$LINUX_SOURCE_TARBALL")
	mkdir -p "$dir"
	(
		flock 9
		[ "$(cat "$dir/.extracted" 2>/dev/null)" = "$id" ] && exit 0
		echo "extracting $LINUX_SOURCE_TARBALL into $tree (once)" >&2
		rm -f "$dir/.extracted"
		rm -rf "$tree" "$dir/.extracting"
		mkdir -p "$dir/.extracting"
		tar -xJf "$LINUX_SOURCE_TARBALL" -C "$dir/.extracting" \
			--strip-components=1 || exit 1
		mv "$dir/.extracting" "$tree"
		echo "$id" >"$dir/.extracted"
	) 9>"$dir/.extract.lock" || return 1
	echo "$tree"
}

# Emulator faults. qemu-TCG now and then kills a guest kernel in early boot
# (an "Oops: int3" in sched_clock_cpu while a static key is patched), long
# before dm-cbt is there: not a dm-cbt bug, and a boot worth one retry. A
# guest counts as having had the module loaded when its console shows any
# of:
#   - a kernel line "harness: loading module NAME": the VM harness writes it
#     to /dev/kmsg before it loads any module a case asks for (dm-cbt, the
#     test modules, and to be safe Debian's too);
#   - a kernel line of dm-cbt or its boot script ("dm_cbt", "device-mapper:
#     cbt", "cbt-boot:");
#   - a crash report whose taint flags hold O: an out-of-tree module was
#     loaded in this boot (taint is sticky, so even one already unloaded
#     counts); dm-cbt and the test modules are the only ones the guests load.
# A crash after that is always a failure.
#
# emulator_fault LOG: prints the crash signature (the first kernel line of
# LOG that shows a kernel problem) and succeeds when LOG shows a kernel crash
# and no sign of the module; fails otherwise (no crash, or the module was
# there).
EMULATOR_FAULT_RE='Oops|Kernel panic|BUG:|general protection|kernel BUG|double fault|invalid opcode'
RETRY_TAG='# retried (emulator fault before module load)'
emulator_fault() {
	local log=$1 klines sig
	[ -f "$log" ] || return 1
	klines=$(grep -a -E '^\[ *[0-9]+\.[0-9]+\] ' "$log" | tr -d '\r')
	sig=$(grep -a -E -m1 "$EMULATOR_FAULT_RE" <<<"$klines" | cut -c1-200)
	[ -n "$sig" ] || return 1
	grep -q -E '\] (harness: loading module |dm_cbt|device-mapper: cbt|cbt-boot:)' <<<"$klines" && return 1
	grep -q -E 'Tainted: [A-Z ]*O' <<<"$klines" && return 1
	printf '%s\n' "$sig"
}

# TAP-style result lines, read by tests/check.
tap_ok() { echo "ok - $*"; }
tap_fail() { echo "not ok - $*"; TAP_FAILED=$((${TAP_FAILED:-0} + 1)); }
tap_skip() { echo "ok - $1 # SKIP $2"; }
# End a stage script: status 1 if it printed a "not ok" through tap_fail.
tap_exit() { [ "${TAP_FAILED:-0}" -eq 0 ]; exit; }
