# shellcheck shell=bash
# libcbt as its users see it: the public header compiles alone as C11
# -pedantic and as C++ (with C linkage); libcbt.so exports exactly the
# functions the header declares, in version node LIBCBT_1 (tests/build
# checks the soname and the map against nm); `make install DESTDIR=...' installs a library, header and
# libcbt.pc that an outside program (examples/incremental-copy.c) builds
# and links against with pkg-config alone. Sourced by tests/unit/run with
# $O and lib.sh loaded. One TAP line per check.

A=$O/libcbt-abi
HDR=$TOP/include/cbt/cbt.h
rm -rf "$A"
mkdir -p "$A"

# abi_ok NAME COMMAND...: a TAP line for a command's success, its output on failure.
abi_ok() {
	local name=$1
	shift
	if "$@" >"$A/out" 2>&1; then
		tap_ok "unit/libcbt_abi/$name"
	else
		tap_fail "unit/libcbt_abi/$name"
		sed 's/^/# /' "$A/out" | head -20
	fi
}

abi_ok header_c11_pedantic gcc -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c "$HDR"
abi_ok header_cxx g++ -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c++ "$HDR"

# From C++, the functions keep their C names (extern "C").
printf '#include <cbt/cbt.h>\nint main() { return cbt_api_version() == CBT_API_VERSION ? 0 : 1; }\n' \
	>"$A/use.cc"
abi_ok header_cxx_c_linkage sh -c "g++ -std=c++11 -Wall -Werror -I'$TOP/include' -c '$A/use.cc' \
	-o '$A/use.o' && nm '$A/use.o' | grep -qx ' *U cbt_api_version'"

# The functions the header declares, from the preprocessed text (no comments).
gcc -E -P -x c "$HDR" | grep -oE '\bcbt_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u >"$A/header.syms"

if ! make -s -C "$TOP/tools" WERROR=1 libcbt.so.0.1.0 libcbt.pc >"$A/build.log" 2>&1; then
	tap_fail "unit/libcbt_abi: make -C tools libcbt.so.0.1.0 libcbt.pc failed (see $A/build.log)"
	tail -10 "$A/build.log" | sed 's/^/# /'
else
	SO=$TOP/tools/libcbt.so.0.1.0
	nm -D --defined-only "$SO" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sed 's/@.*//' |
		grep -v '^LIBCBT_' | sort -u >"$A/so.syms"
	abi_ok exports_exactly_the_header diff -u "$A/header.syms" "$A/so.syms"
	abi_ok map_lists_the_header sh -c "grep -oE '^[[:space:]]+cbt_[a-z0-9_]+;' \
		'$TOP/tools/lib/libcbt.map' | tr -d ' \t;' | sort -u | diff -u '$A/header.syms' -"
	abi_ok version_node_LIBCBT_1 sh -c "objdump -T '$SO' | grep -w cbt_device_open | grep -q LIBCBT_1"

	# Installed, then used from outside the tree with pkg-config only.
	R=$A/root
	if ! make -s -C "$TOP/tools" WERROR=1 install DESTDIR="$R" PREFIX=/usr >"$A/install.log" 2>&1; then
		tap_fail "unit/libcbt_abi: make install DESTDIR=... failed (see $A/install.log)"
		tail -10 "$A/install.log" | sed 's/^/# /'
	else
		PC=$(find "$R" -name libcbt.pc | head -1)
		abi_ok installs_header_and_pc test -f "$R/usr/include/cbt/cbt.h" -a -n "$PC"
		LIBDIR=$(dirname "$(find "$R" -name 'libcbt.so.0' | head -1)")
		# PKG_CONFIG_SYSROOT_DIR puts the DESTDIR in front of the -I and -L paths.
		abi_ok example_builds_against_installed sh -c "PKG_CONFIG_PATH='${PC%/*}' \
			PKG_CONFIG_SYSROOT_DIR='$R' make -s -C '$TOP/examples' O='$A/ex'"
		abi_ok example_needs_libcbt.so.0 sh -c "readelf -d '$A/ex/incremental-copy' |
			grep -q 'NEEDED.*\\[libcbt.so.0\\]'"
		# It loads and runs: without arguments it prints its usage, exit status 2.
		LD_LIBRARY_PATH=$LIBDIR "$A/ex/incremental-copy" >"$A/run.out" 2>&1
		rc=$?
		abi_ok example_runs sh -c "[ $rc = 2 ] && grep -q 'usage: .* DEVICE COW FILE' '$A/run.out'"
	fi
fi
