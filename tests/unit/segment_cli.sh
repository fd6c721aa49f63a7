# shellcheck shell=bash
# Split images (--split, tools/lib/store/segment.c) through the backup
# engine (mkimg with MKIMG_SPLIT) and the cbt commands that read chains.
# Sourced by tests/unit/run after image_cli.sh (put, flip, ok_if, IU).
# $out and $err are set by cli.sh's run.
# shellcheck disable=SC2154

S=$O/segment-cli
# simg TYPE EPOCH [CHANGED]: an image of $S/dev into $S/chain, in 1 MiB segments
simg() {
	MKIMG_SPLIT=1M "$MKIMG" "$S/dev" "$1" --to "$S/chain" "$IU" "$2" 4096 "${3:--}" \
		nonzero none >/dev/null
}
sput() { dd if=/dev/urandom of="$S/dev" bs=4k seek="$1" count="$2" conv=notrunc status=none; }

if [ -x "$CBT" ] && [ -x "$MKIMG" ]; then
	rm -rf "$S"
	mkdir -p "$S"
	truncate -s 16M "$S/dev"
	# 10 MiB of random data, uncompressed: the full image needs 11 segments.
	sput 0 2560
	cp "$S/dev" "$S/p1"
	simg full 1
	sput 3000 3
	cp "$S/dev" "$S/p2"
	simg incremental 2 3000-3002
	# A run that died left two segments of the next image behind.
	echo stale >"$S/chain/000003-incr.cbti.0000"
	echo stale >"$S/chain/000003-incr.cbti.0001"
	sput 10 30
	cp "$S/dev" "$S/p3"
	simg incremental 3 10-39

	c=$S/chain
	ok_if seg_full_cut_11 test "$(find "$c" -name '000001-full.cbti.*' | wc -l)" = 11
	sizes=$(for i in $(seq -w 0000 0009); do stat -c %s "$c/000001-full.cbti.$i"; done | sort -u)
	ok_if seg_full_cut_exact_1m test "$sizes" = 1048576
	ok_if seg_manifest_end_line grep -qx "end 11 $(cat "$c"/000001-full.cbti.00* | wc -c)" \
		"$c/000001-full.cbti"
	# The segments concatenated are a plain image.
	cat "$c"/000001-full.cbti.00* | "$CBT" verify -q - >/dev/null 2>&1
	ok_if seg_concat_is_image test "${PIPESTATUS[1]}" = 0
	ok_if seg_stale_removed test ! -e "$c/000003-incr.cbti.0001"
	ok_if seg_incr_one_segment test "$(find "$c" -name '000003-incr.cbti.*' | wc -l)" = 1
	run "$CBT" verify "$c"
	expect seg_verify_chain 0 ""
	for i in 1 2 3; do
		rm -f "$S/r$i"
		run "$CBT" restore --quiet "$c" --at "$i" "$S/r$i"
		expect "seg_restore_point_$i" 0 ""
		ok_if "seg_restore_point_${i}_exact" cmp "$S/r$i" "$S/p$i"
	done
	run "$CBT" info "$c"
	expect seg_info_chain 0 ""
	run "$CBT" info "$c/000001-full.cbti"
	expect seg_info_manifest 0 ""
	run "$CBT" verify "$c/000002-incr.cbti"
	expect seg_verify_manifest 0 ""
	run "$CBT" restore --quiet "$c/000001-full.cbti" "$S/r1b"
	expect seg_restore_manifest 0 ""
	ok_if seg_restore_manifest_exact cmp "$S/r1b" "$S/p1"

	# A flipped byte in one segment: named, and restore writes nothing.
	cp -a "$c" "$S/bad"
	flip "$S/bad/000001-full.cbti.0005" 1000
	run "$CBT" verify "$S/bad"
	expect seg_damaged_named 4 "000001-full.cbti.0005: damaged segment (6 of 11)"
	rm -f "$S/target"
	run "$CBT" restore --quiet "$S/bad" --at 3 "$S/target"
	ok_if seg_damaged_restore_fails test "$rc" != 0
	ok_if seg_damaged_restore_wrote_nothing test ! -s "$S/target"
	# A missing segment is refused before anything is read.
	rm -rf "$S/bad" && cp -a "$c" "$S/bad"
	rm "$S/bad/000001-full.cbti.0003"
	run "$CBT" verify "$S/bad"
	expect seg_missing_named 4 "segment 4 of 11 missing"
	# A segment of the wrong size.
	rm -rf "$S/bad" && cp -a "$c" "$S/bad"
	truncate -s 1000 "$S/bad/000002-incr.cbti.0000"
	run "$CBT" verify "$S/bad"
	expect seg_short_named 4 "000002-incr.cbti.0000: damaged segment: 1000 bytes"
	# A manifest cut short.
	rm -rf "$S/bad" && cp -a "$c" "$S/bad"
	head -n 4 "$c/000001-full.cbti" >"$S/bad/000001-full.cbti"
	run "$CBT" verify "$S/bad"
	expect seg_manifest_truncated 4 "the manifest is incomplete"

	# cbt merge of split images: the absorbed images go with their segments
	# (they were left behind before: 11 MiB of segments that no manifest names).
	rm -rf "$S/m" && cp -a "$c" "$S/m"
	segbytes=$(cat "$S/m"/00000[12]-*.cbti.[0-9]* | wc -c)
	run "$CBT" merge "$S/m" --upto 2 --json
	expect_in cli/seg_merge 0 out '"freed_bytes": '
	# freed: the absorbed images' bytes (their segments') less the merged image's
	ok_if seg_merge_freed_counted test "$(echo "$out" | sed -n 's/.*"freed_bytes": \([0-9]*\).*/\1/p')" \
		= $((segbytes - $(stat -c %s "$S/m/000002-full.cbti")))
	ok_if seg_merge_no_orphan_segments test -z "$(find "$S/m" -name '000001-full.cbti*' -o \
		-name '000002-incr.cbti*')"
	run "$CBT" restore --quiet "$S/m" --at 3 "$S/m3"
	ok_if seg_merge_restore_exact cmp "$S/m3" "$S/p3"
	# Segments a dead merge left without their manifest go with the next prune.
	echo stale >"$S/m/000001-full.cbti.0007"
	run "$CBT" prune "$S/m" --keep-last 5
	ok_if seg_prune_orphan_segment_removed test ! -e "$S/m/000001-full.cbti.0007"

	MKIMG_SPLIT=1000 "$MKIMG" "$S/dev" incremental --to "$S/chain" "$IU" 4 4096 1 \
		>/dev/null 2>"$S/small.err"
	ok_if seg_too_small_refused grep -q "at least 1 MiB" "$S/small.err"
	run "$CBT" backup --full --cow /dev/null -o "$S/x" --split 1M /dev/null
	expect seg_split_needs_to 2 "--split goes with --to DIR"
	run "$CBT" backup --full --cow /dev/null --to "$S/y" --split 100K /dev/null
	expect seg_split_min 2 "--split takes a size of at least 1M"
fi
