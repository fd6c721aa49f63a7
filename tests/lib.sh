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

# Build dm-cbt.ko for kernel $1 into module_dir; prints the .ko path.
build_module() {
	local kver=$1 dir
	dir=$(module_dir "$kver")
	mkdir -p "$dir"
	rm -rf "$dir/src"
	mkdir -p "$dir/src"
	(cd "$TOP" && tar cf - Kbuild kmod include) | tar xf - -C "$dir/src"
	make -s -C "/usr/src/linux-headers-$kver" M="$dir/src" modules >&2 || return 1
	echo "$dir/src/dm-cbt.ko"
}

# TAP-style result lines, read by tests/check.
tap_ok() { echo "ok - $*"; }
tap_fail() { echo "not ok - $*"; }
tap_skip() { echo "ok - $1 # SKIP $2"; }
