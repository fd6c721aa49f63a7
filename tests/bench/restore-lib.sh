# shellcheck shell=bash
# Shared by tests/bench/restore and tests/bench/restore-ab (sourced after
# tests/lib.sh): the tools they build and the data they restore.

# restore_build O: mkimg (the backup engine, without sanitizers: the numbers
# are the tool's, not the sanitizer's) into O, and tools/cbt.
restore_build() {
	local o=$1
	mkdir -p "$o"
	if ! make -s -C "$TOP/tests/unit" O="$o" SAN= "$o/mkimg" >"$o/build.log" 2>&1 ||
		! make -s -C "$TOP/tools" WERROR=1 cbt >>"$o/build.log" 2>&1; then
		echo "$(basename "$0"): build failed (see $o/build.log)" >&2
		return 1
	fi
}

# restore_data O W MIB: W/dev, MIB MiB of half-compressible blocks (2 KiB
# random, 2 KiB zeros in each 4 KiB block), a full image of it (zstd level
# 3, 4 MiB frames) in the chain W/chain, and the same file as W/dev.zst.
restore_data() {
	local o=$1 w=$2 mib=$3
	python3 -c 'import os, sys
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2]) * 256):
        f.write(os.urandom(2048) + bytes(2048))' "$w/dev" "$mib" &&
		"$o/mkimg" "$w/dev" full --to "$w/chain" 5a5a5a5a-1111-4222-8333-444444444444 \
			1 4096 - all zstd:3 >/dev/null &&
		zstd -3 -q -c "$w/dev" >"$w/dev.zst"
}

# The baseline of issue 16, onto $W/out (exported, with W, for bash -c).
pipe() { zstd -d -q -c "$W/dev.zst" | dd of="$W/out" bs=1M iflag=fullblock conv=fsync status=none; }
