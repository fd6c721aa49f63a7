# shellcheck shell=bash
# Command-line tests of cbt restore, verify, info and export on images the
# backup engine writes from a file (mkimg stands in for `cbt backup', with
# the changed blocks given by hand instead of read from the kernel).
# Sourced by tests/unit/run with $O and lib.sh loaded; uses cli.sh's run
# and expect. One TAP line per check.

# $out and $err are set by cli.sh's run.
# shellcheck disable=SC2154
MKIMG=$O/mkimg
W=$O/image-cli
IU=5a5a5a5a-1111-4222-8333-444444444444

# put BLOCK COUNT: random data into blocks of 4 KiB of $W/dev
put() { dd if=/dev/urandom of="$W/dev" bs=4k seek="$1" count="$2" conv=notrunc status=none; }
# zero BLOCK COUNT
zero() { dd if=/dev/zero of="$W/dev" bs=4k seek="$1" count="$2" conv=notrunc status=none; }
# flip FILE OFFSET: change the byte at OFFSET (to another value, whatever it was)
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "\\$(printf %o $(((b + 1) % 256)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# img TYPE EPOCH [CHANGED]: an image of $W/dev into $W/chain
img() { "$MKIMG" "$W/dev" "$1" --to "$W/chain" "$IU" "$2" 4096 "${3:--}" >/dev/null; }

# ok_if NAME COMMAND...: a TAP line for a command's success.
ok_if() {
	local name=$1
	shift
	if "$@" >"$W/ok_if.out" 2>&1; then
		tap_ok "unit/image_cli/$name"
	else
		tap_fail "unit/image_cli/$name"
		sed 's/^/# /' "$W/ok_if.out" | head -10
	fi
}

if [ ! -x "$CBT" ] || [ ! -x "$MKIMG" ]; then
	tap_fail "unit/image_cli: $CBT or $MKIMG was not built (see $O/build.log)"
else
	rm -rf "$W"
	mkdir -p "$W"
	truncate -s 24M "$W/dev"
	put 0 4; put 100 300; put 6143 1
	cp "$W/dev" "$W/p1"
	img full 1
	put 2 1; put 700 40; zero 150 2
	cp "$W/dev" "$W/p2"
	img incremental 2 2,150-151,700-739
	put 3000 10
	cp "$W/dev" "$W/p3"
	img incremental 3 3000-3009
	put 5000 1; put 2 1
	cp "$W/dev" "$W/p4"
	img differential 4 2,5000
	put 5001 1
	cp "$W/dev" "$W/p5"
	img incremental 5 5001

	run "$CBT" verify "$W/chain"
	expect verify_chain 0 ""
	for i in 1 2 3 4 5; do
		rm -f "$W/r$i"
		run "$CBT" restore --quiet "$W/chain" --at "$i" "$W/r$i"
		expect "restore_point_$i" 0 ""
		ok_if "restore_point_${i}_exact" cmp "$W/r$i" "$W/p$i"
	done
	run "$CBT" restore --quiet "$W/chain" --image 000004-diff.cbti "$W/r4b"
	expect restore_by_file_name 0 ""
	ok_if restore_by_file_name_exact cmp "$W/r4b" "$W/p4"

	# A full image through a pipe, in and out: no seeking anywhere.
	"$MKIMG" "$W/p3" full -o - "$IU" 1 4096 - nonzero zstd:1 | "$CBT" restore --quiet - "$W/r-pipe"
	ok_if restore_from_pipe cmp "$W/r-pipe" "$W/p3"
	"$MKIMG" "$W/p3" full -o - "$IU" 1 4096 - all none | "$CBT" verify -q -
	ok_if verify_from_pipe test "${PIPESTATUS[1]}" = 0

	# A larger target keeps its size; the device's bytes match.
	truncate -s 40M "$W/big"
	run "$CBT" restore --quiet "$W/chain" "$W/big"
	expect restore_larger_target 0 ""
	ok_if restore_larger_target_exact cmp -n $((24 << 20)) "$W/big" "$W/p5"
	ok_if restore_larger_target_size test "$(stat -c %s "$W/big")" = $((40 << 20))

	run "$CBT" info "$W/chain"
	expect info_chain 0 ""
	if [[ $out == *"image 4 (position 1): 000004-diff.cbti"* && $out == *ratio* ]]; then
		tap_ok "unit/image_cli/info_chain_positions"
	else
		tap_fail "unit/image_cli/info_chain_positions"
	fi
	run "$CBT" info --json "$W/chain"
	expect_json info_chain_json
	run "$CBT" info --json "$W/chain/000002-incr.cbti"
	expect_json info_image_json
	if [[ $out == *'"epoch_first": 2'* && $out == *'"type": "incremental"'* ]]; then
		tap_ok "unit/image_cli/info_image_fields"
	else
		tap_fail "unit/image_cli/info_image_fields"
	fi
	run "$CBT" verify --json "$W/chain"
	expect_json verify_json

	# export: raw, and qcow2 through qemu-img
	run "$CBT" export "$W/chain" --format raw --image 3 -o "$W/e.raw" --quiet
	expect export_raw 0 ""
	ok_if export_raw_exact cmp "$W/e.raw" "$W/p3"
	if command -v qemu-img >/dev/null; then
		run "$CBT" export "$W/chain" --format qcow2 -o "$W/e.qcow2" --quiet
		expect export_qcow2 0 ""
		ok_if export_qcow2_check qemu-img check -q "$W/e.qcow2"
		ok_if export_qcow2_compare qemu-img compare -q -f qcow2 -F raw "$W/e.qcow2" "$W/p5"
		ok_if export_qcow2_no_tmp sh -c "! ls -a '$W' | grep -q '^\\.e\\.qcow2'"
	else
		tap_skip "unit/image_cli/export_qcow2" "qemu-img is not installed (qemu-utils)"
	fi

	# Damage: a flipped byte in the middle link. verify names it; restore
	# refuses before writing anything.
	cp -a "$W/chain" "$W/bad"
	flip "$W/bad/000002-incr.cbti" 400
	run "$CBT" verify "$W/bad"
	expect verify_corrupted_middle 1 "000002-incr.cbti: FAILED"
	if [[ $err == *"000003-incr.cbti: FAILED"*"parent"* ]]; then
		tap_ok "unit/image_cli/verify_names_dependent"
	else
		tap_fail "unit/image_cli/verify_names_dependent: $err"
	fi
	cp "$W/p1" "$W/target"
	run "$CBT" restore --quiet "$W/bad" --at 3 "$W/target"
	expect restore_corrupted_middle 1 "000002-incr.cbti"
	ok_if restore_corrupted_wrote_nothing cmp "$W/target" "$W/p1"
	run "$CBT" restore --quiet "$W/bad" --at 4 "$W/target"
	expect restore_diff_skips_damaged 0 ""
	ok_if restore_diff_skips_damaged_exact cmp "$W/target" "$W/p4"

	# A missing middle link.
	rm -rf "$W/bad"
	cp -a "$W/chain" "$W/bad"
	rm "$W/bad/000002-incr.cbti"
	run "$CBT" restore --quiet "$W/bad" --at 3 "$W/target"
	expect restore_missing_link 1 "image 000002-incr.cbti is missing"
	run "$CBT" verify "$W/bad"
	expect verify_missing_link 1 "No such file"

	# An image replaced by another chain's.
	rm -rf "$W/bad" "$W/other"
	cp -a "$W/chain" "$W/bad"
	"$MKIMG" "$W/dev" full --to "$W/other" "$IU" 1 4096 >/dev/null
	"$MKIMG" "$W/dev" incremental --to "$W/other" "$IU" 2 4096 1 >/dev/null
	cp "$W/other/000002-incr.cbti" "$W/bad/000002-incr.cbti"
	run "$CBT" restore --quiet "$W/bad" --at 3 "$W/target"
	expect restore_replaced_link 1 "not the image the chain index lists"

	# Truncated and trailing garbage.
	head -c 5000 "$W/chain/000003-incr.cbti" >"$W/trunc.cbti"
	run "$CBT" verify "$W/trunc.cbti"
	expect verify_truncated 1 "truncated at byte 5000"
	run "$CBT" info "$W/trunc.cbti"
	expect info_truncated 1 "no valid footer"
	run "$CBT" restore "$W/chain/000002-incr.cbti" "$W/target"
	expect restore_lone_incremental 1 "needs its parent images"

	# The chain refuses an incremental under another tracking identity.
	run "$MKIMG" "$W/dev" incremental --to "$W/chain" 6a6a6a6a-1111-4222-8333-444444444444 9 4096 1
	expect chain_other_identity 1 "a full backup is needed"
	run "$MKIMG" "$W/dev" incremental --to "$W/empty" "$IU" 1 4096 1
	expect chain_needs_full 1 "take a full backup first"

	# Usage errors.
	run "$CBT" backup vg --to "$W/x"
	expect backup_needs_type 1 "--full, --incremental or --differential?"
	run "$CBT" backup vg --full -o "$W/x" --to "$W/y" --cow c
	expect backup_one_destination 1 "give one of --to DIR and -o FILE"
	run "$CBT" backup vg --incremental -o "$W/x" --cow c
	expect backup_o_full_only 1 "-o writes full images only"
	run "$CBT" backup vg --full --to "$W/x" --cow c --compress lz4
	expect backup_bad_compress 1 "unknown compression \`lz4'"
	run "$CBT" restore "$W/chain" --at x "$W/t"
	expect restore_bad_at 1 "--at takes an image number, not \`x'"
	run "$CBT" restore "$W/chain" --at 9 "$W/t"
	expect restore_no_such_image 1 "no image \`9'"
	run "$CBT" export "$W/chain" --format vmdk -o "$W/t"
	expect export_bad_format 1 "unknown format \`vmdk'"
fi
