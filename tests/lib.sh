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

# TAP-style result lines, read by tests/check.
tap_ok() { echo "ok - $*"; }
tap_fail() { echo "not ok - $*"; TAP_FAILED=$((${TAP_FAILED:-0} + 1)); }
tap_skip() { echo "ok - $1 # SKIP $2"; }
# End a stage script: status 1 if it printed a "not ok" through tap_fail.
tap_exit() { [ "${TAP_FAILED:-0}" -eq 0 ]; exit; }
