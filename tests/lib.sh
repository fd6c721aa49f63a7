# Shared by the host-side test scripts. Source it; it defines no side effects.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}

# The Debian kernels the suite targets: every version with both an image in
# /boot and headers in /usr/src (6.1, 6.12 and 6.12's PREEMPT_RT flavour).
# Sorted oldest first.
test_kernels() {
	local v
	for v in /usr/src/linux-headers-*-amd64; do
		[ -d "$v" ] || continue
		v=${v#/usr/src/linux-headers-}
		[ -f "/boot/vmlinuz-$v" ] && echo "$v"
	done | sort -V
}

# The kernels the vm and boot stages run on by default: the Debian ones but
# PREEMPT_RT, which the debug stage runs (tests/check, debug_stage).
vm_default_kernels() { test_kernels | grep -v -- '-rt-' || true; }

# Map a short name to a kernel: 6.1, 6.12 (the non-RT one), rt (Debian's
# PREEMPT_RT 6.12), debug (tests/debugkernel/build: built on first use, 30
# minutes), or a full version.
resolve_kernel() {
	local want=$1 v
	case "$want" in
	debug) debug_kernel_dir >/dev/null && echo debug; return ;;
	rt) want=-rt- ;;
	esac
	for v in $(test_kernels); do
		case "$want:$v" in
		-rt-:*-rt-*) echo "$v"; return 0 ;;
		-rt-:*) ;;
		"$v:$v") echo "$v"; return 0 ;;
		*:*-rt-*) ;;
		"$want:$want".* | "$want:$want"-*) echo "$v"; return 0 ;;
		esac
	done
	return 1
}

# The debug kernel's cache directory (bzImage, obj/ for M= builds); builds
# it if this machine has not yet (tests/debugkernel/build). Resolved once.
# An M= build resolves the kernel's symbols through obj/Module.symvers,
# which `make modules' writes (modpost over vmlinux; no module is
# configured): made here once, under the cache's lock, so that the build
# script, and with it the cache key, stays as it is.
debug_kernel_dir() {
	local d
	if [ -z "${DEBUGKERNEL_DIR:-}" ]; then
		d=$("$TOP/tests/debugkernel/build") || return 1
		if [ ! -f "$d/obj/Module.symvers" ]; then
			(
				flock 9
				[ -f "$d/obj/Module.symvers" ] ||
					make -s -C "$(readlink -f "$d/obj/source")" O="$d/obj" modules >&2
			) 9>"$d.symvers.lock" || return 1
		fi
		DEBUGKERNEL_DIR=$d
		export DEBUGKERNEL_DIR
	fi
	echo "$DEBUGKERNEL_DIR"
}

# Kernel KVER (a Debian version, or "debug"): the image qemu boots, the tree
# `make M=' builds modules against, and its release (uname -r in the guest).
kernel_image() {
	case "$1" in
	debug) echo "$(debug_kernel_dir)/bzImage" ;;
	*) echo "/boot/vmlinuz-$1" ;;
	esac
}
kernel_build_tree() {
	case "$1" in
	debug) echo "$(debug_kernel_dir)/obj" ;;
	*) echo "/usr/src/linux-headers-$1" ;;
	esac
}
kernel_release() {
	case "$1" in
	debug) cat "$(debug_kernel_dir)/obj/include/config/kernel.release" ;;
	*) echo "$1" ;;
	esac
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
	make -s -C "$(kernel_build_tree "$kver")" M="$dir/src" modules >&2 || return 1
	echo "$dir/src/dm-cbt.ko"
}

# Checksum of the module's sources under directory $1 (the tree, or the
# copy build_module compiled).
module_sources_sum() {
	(cd "$1" && find Kbuild kmod include -type f \( -name Kbuild -o -name Makefile -o -name '*.[ch]' \) |
		LC_ALL=C sort | xargs sha256sum) 2>/dev/null | sha256sum | cut -d' ' -f1
}

# module_for KVER OUT: dm-cbt.ko for KVER, copied to directory OUT; prints
# its path. Reuses the one in module_dir (tests/build made it just before,
# in tests/check) when it was built from exactly the sources of the tree,
# else builds it there. Serialised per kernel (flock): the VM and boot
# harnesses may ask at once.
module_for() {
	local kver=$1 out=$2 dir
	dir=$(module_dir "$kver")
	mkdir -p "$dir"
	(
		flock 9
		if [ -f "$dir/src/dm-cbt.ko" ] &&
			[ "$(module_sources_sum "$dir/src")" = "$(module_sources_sum "$TOP")" ]; then
			echo "reusing $dir/src/dm-cbt.ko: built from the same sources" >&2
		else
			build_module "$kver" >/dev/null || exit 1
		fi
		cp "$dir/src/dm-cbt.ko" "$out/dm-cbt.ko"
	) 9>"$dir.lock" || return 1
	echo "$out/dm-cbt.ko"
}

# copy_elf ROOT SRC DESTDIR [NAME]: install the ELF binary SRC as
# ROOT/DESTDIR/NAME (default: its own name), with every library it needs
# (copy_elf_libs). Run `ldconfig -r ROOT` after.
copy_elf() {
	local root=$1 src=$2 destdir=$3 name=${4:-$(basename "$2")}
	install -D -m 0755 "$(readlink -f "$src")" "$root$destdir/$name" &&
		copy_elf_libs "$root" "$src"
}

# copy_elf_libs ROOT SRC: every library the ELF file SRC needs (per ldd)
# at its own path under ROOT. Fails, naming them, when ldd finds no file
# for some (a library missing on the host, which the guest would miss too).
copy_elf_libs() {
	local root=$1 src=$2 lib missing
	missing=$(ldd "$src" 2>/dev/null | awk '$2 == "=>" && $3 == "not" { print $1 }')
	if [ -n "$missing" ]; then
		echo "copy_elf: $src needs ${missing//$'\n'/ }, which ldd finds nowhere on this host" >&2
		return 1
	fi
	while read -r lib; do
		[ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
	done < <(ldd "$src" 2>/dev/null | grep -oE '/[^ ]+' || true)
}

# busybox_root ROOT: the host's static busybox as ROOT/bin/busybox, with a
# link in ROOT/bin for each of its applets (the guest root's shell tools).
busybox_root() {
	local a
	install -D -m 0755 /bin/busybox "$1/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$1/bin/$a" ] || ln -s busybox "$1/bin/$a"
	done
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
# shellcheck disable=SC2034 # used by tests/vm/run and tests/boot/run
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
