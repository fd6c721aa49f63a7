# Host side, sourced by tests/soak/run: builds fstests' fsx and fsstress
# (static) for the soak_fsx_* cases from an xfstests source tree, into the
# guest helpers' directory (build/vm/helpers, packed into the initramfs).
# No fstests code is kept in this project: the tree is found at
# $FSTESTS_SRC, default build/fstests-src, e.g.
#   git clone https://github.com/kdave/xfstests /some/where
#   FSTESTS_SRC=/some/where tests/soak/run
# or from any copy of it (only ltp/, src/ and include/ are used):
#   mkdir -p build/fstests-src && git --git-dir=XFSTESTS/.git archive HEAD \
#       ltp src/global.h src/statx.h include | tar -x -C build/fstests-src
# Needs xfslibs-dev (xfs/xfs.h, for fsstress; tests/deps.sh installs it).
# Without the tree the binaries are removed and the cases report
# "# SKIP fstests source not found (set FSTESTS_SRC)"; a tree that does
# not build is a failure (returns 1, the log in build/fstests/build.log).
# shellcheck shell=bash

# The configure results fsx.c and fsstress.c need, for glibc on Linux.
FSTESTS_CONFIG_H='#define HAVE_SYS_TYPES_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_STATVFS_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_IOCTL_H 1
#define HAVE_SYS_WAIT_H 1
#define HAVE_MALLOC_H 1
#define HAVE_DIRENT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_UNISTD_H 1
#define HAVE_ERR_H 1
#define HAVE_ERRNO_H 1
#define HAVE_STRING_H 1
#define HAVE_STRINGS_H 1
#define HAVE_SYS_FCNTL_H 1
#define HAVE_TIME_H 1
#define HAVE_WAIT_H 1
#define HAVE_SYS_PARAM_H 1
#define HAVE_LIBGEN_H 1
#define HAVE_ASSERT_H 1
#define HAVE_SYS_MMAN_H 1
#define HAVE_LINUX_FALLOC_H 1
#define HAVE_COPY_FILE_RANGE 1
#define HAVE_RENAMEAT2 1
#define HAVE_XFS_XFS_H 1'

# fstests_build HELPERS_DIR: 0 built (or skipped: no tree), 1 failed.
fstests_build() {
	local dst=$1 src=${FSTESTS_SRC:-$BUILD/fstests-src} out=$BUILD/fstests p
	if [ ! -f "$src/ltp/fsx.c" ] || [ ! -f "$src/ltp/fsstress.c" ]; then
		rm -f "$dst/fsx" "$dst/fsstress"
		echo "# soak: no fstests source at $src (set FSTESTS_SRC): the soak_fsx_* cases skip"
		return 0
	fi
	mkdir -p "$out" "$dst"
	echo "$FSTESTS_CONFIG_H" >"$out/config.h"
	: >"$out/build.log"
	for p in fsx fsstress; do
		# getopt.h and time.h come through config.h's HAVE_* in fstests'
		# own build; here they are included outright.
		if ! cc -O2 -static -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -include getopt.h -include time.h \
			-I"$out" -I"$src/src" -I"$src/include" -o "$out/$p" "$src/ltp/$p.c" -lm \
			>>"$out/build.log" 2>&1; then
			rm -f "$dst/fsx" "$dst/fsstress"
			echo "not ok - soak/fstests: $p from $src did not build (see $out/build.log)"
			return 1
		fi
		# renamed into place: a run packing the initramfs never sees half a file
		cp "$out/$p" "$dst/.$p.tmp" && mv -f "$dst/.$p.tmp" "$dst/$p"
	done
	echo "# soak: fsx and fsstress built from $src"
}
