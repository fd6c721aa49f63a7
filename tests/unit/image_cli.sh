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
ok_if() { ok_cmd "unit/image_cli/$1" "${@:2}"; }

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
	run "$CBT" verify --threads 3 "$W/chain"
	expect verify_chain_threads 0 ""
	rm -f "$W/rt"
	run "$CBT" restore --quiet --threads 4 "$W/chain" "$W/rt"
	expect restore_threads 0 ""
	ok_if restore_threads_exact cmp "$W/rt" "$W/p5"
	rm -f "$W/rt"
	run "$CBT" restore --quiet --threads 2 --no-preverify - "$W/rt" <"$W/chain/000001-full.cbti"
	expect restore_threads_stream 0 ""
	ok_if restore_threads_stream_exact cmp "$W/rt" "$W/p1"
	run "$CBT" verify --threads 0 "$W/chain"
	expect verify_threads_zero 2 "--threads takes 1 to 64, not \`0'"
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

	# Format version 1 images (an older cbt's) still verify, restore and
	# show in info, in a chain that goes on with version 2 images.
	V=$W/v1
	mkdir -p "$V"
	MKIMG_FORMAT=1 "$MKIMG" "$W/p1" full --to "$V/chain" "$IU" 1 4096 - >/dev/null
	"$MKIMG" "$W/p2" incremental --to "$V/chain" "$IU" 2 4096 2,150-151,700-739 >/dev/null
	run "$CBT" verify "$V/chain"
	expect v1_chain_verify 0 ""
	run "$CBT" restore --quiet "$V/chain" "$V/r2"
	expect v1_chain_restore 0 ""
	ok_if v1_chain_restore_exact cmp "$V/r2" "$W/p2"
	run "$CBT" info --json "$V/chain"
	expect v1_chain_info 0 ""
	if [[ $(grep -o '"format_version": *[0-9]*' <<<"$out" | tr -d ' ' | tr '\n' ,) == '"format_version":1,"format_version":2,' ]]; then
		tap_ok "unit/image_cli/v1_chain_info_versions"
	else
		tap_fail "unit/image_cli/v1_chain_info_versions: $out"
	fi

	# A larger file target becomes the device: cut to the point's size.
	truncate -s 40M "$W/big"
	run "$CBT" restore --quiet "$W/chain" "$W/big"
	expect restore_larger_target 0 ""
	ok_if restore_larger_target_exact cmp "$W/big" "$W/p5"

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
		# an output name without a directory part (review: dirname of a copy)
		run sh -c "cd '$W' && '$CBT' export chain --format qcow2 -o here.qcow2 --quiet"
		expect export_qcow2_bare_name 0 ""
		ok_if export_qcow2_bare_name_compare qemu-img compare -q -f qcow2 -F raw "$W/here.qcow2" "$W/p5"
		ok_if export_qcow2_bare_name_no_tmp sh -c "! ls -a '$W' | grep -q '^\\.here\\.qcow2'"
	else
		tap_skip "unit/image_cli/export_qcow2" "qemu-img is not installed (qemu-utils)"
	fi

	# Damage: a flipped byte in the middle link. verify names it; restore
	# refuses before writing anything.
	cp -a "$W/chain" "$W/bad"
	flip "$W/bad/000002-incr.cbti" 400
	run "$CBT" verify "$W/bad"
	expect verify_corrupted_middle 4 "000002-incr.cbti: FAILED"
	if [[ $err == *"000003-incr.cbti: FAILED"*"parent"* ]]; then
		tap_ok "unit/image_cli/verify_names_dependent"
	else
		tap_fail "unit/image_cli/verify_names_dependent: $err"
	fi
	cp "$W/p1" "$W/target"
	run "$CBT" restore --quiet "$W/bad" --at 3 "$W/target"
	expect restore_corrupted_middle 4 "000002-incr.cbti"
	ok_if restore_corrupted_wrote_nothing cmp "$W/target" "$W/p1"
	# --threads: the same refusal, word for word
	run "$CBT" verify "$W/bad"
	want_err=$err
	run "$CBT" verify --threads 4 "$W/bad"
	expect verify_threads_corrupted_middle 4 "000002-incr.cbti: FAILED"
	ok_if verify_threads_same_report test "$err" = "$want_err"
	run "$CBT" restore --quiet --threads 3 "$W/bad" --at 3 "$W/target"
	expect restore_threads_corrupted_middle 4 "000002-incr.cbti"
	ok_if restore_threads_corrupted_wrote_nothing cmp "$W/target" "$W/p1"
	run "$CBT" restore --quiet "$W/bad" --at 4 "$W/target"
	expect restore_diff_skips_damaged 0 ""
	ok_if restore_diff_skips_damaged_exact cmp "$W/target" "$W/p4"

	# A missing middle link.
	rm -rf "$W/bad"
	cp -a "$W/chain" "$W/bad"
	rm "$W/bad/000002-incr.cbti"
	run "$CBT" restore --quiet "$W/bad" --at 3 "$W/target"
	expect restore_missing_link 4 "image 000002-incr.cbti is missing"
	run "$CBT" verify "$W/bad"
	expect verify_missing_link 4 "No such file"

	# An image replaced by another chain's.
	rm -rf "$W/bad" "$W/other"
	cp -a "$W/chain" "$W/bad"
	"$MKIMG" "$W/dev" full --to "$W/other" "$IU" 1 4096 >/dev/null
	"$MKIMG" "$W/dev" incremental --to "$W/other" "$IU" 2 4096 1 >/dev/null
	cp "$W/other/000002-incr.cbti" "$W/bad/000002-incr.cbti"
	run "$CBT" restore --quiet "$W/bad" --at 3 "$W/target"
	expect restore_replaced_link 4 "not the image the chain index lists"

	# Truncated and trailing garbage.
	head -c 5000 "$W/chain/000003-incr.cbti" >"$W/trunc.cbti"
	run "$CBT" verify "$W/trunc.cbti"
	expect verify_truncated 4 "truncated at byte 5000"
	run "$CBT" info "$W/trunc.cbti"
	expect info_truncated 4 "no valid footer"
	run "$CBT" restore "$W/chain/000002-incr.cbti" "$W/target"
	expect restore_lone_incremental 1 "needs its parent images"

	# The chain refuses an incremental under another tracking identity.
	run "$MKIMG" "$W/dev" incremental --to "$W/chain" 6a6a6a6a-1111-4222-8333-444444444444 9 4096 1
	expect chain_other_identity 1 "a full image is needed"
	run "$MKIMG" "$W/dev" incremental --to "$W/empty" "$IU" 1 4096 1
	expect chain_needs_full 1 "take a full backup first"

	# A device grown mid-chain (24 -> 32 MiB, block size kept): the chain
	# goes on, and each point restores at its own size. A shrink is refused
	# before anything is written (exit 3: a full image is needed).
	G=$W/grow
	rm -rf "$G" "$W/gchain"
	mkdir -p "$G"
	gput() { dd if=/dev/urandom of="$W/dev" bs=4k seek="$1" count="$2" conv=notrunc status=none; }
	truncate -s 24M "$W/dev"
	gput 0 8
	gput 6143 1
	cp "$W/dev" "$G/p1"
	"$MKIMG" "$W/dev" full --to "$W/gchain" "$IU" 1 4096 >/dev/null
	truncate -s 32M "$W/dev"
	gput 8000 3
	gput 5 1
	cp "$W/dev" "$G/p2"
	run "$MKIMG" "$W/dev" incremental --to "$W/gchain" "$IU" 2 4096 5,6143-8191
	expect grow_incremental 0 ""
	gput 7000 2
	gput 100 1
	cp "$W/dev" "$G/p3"
	run "$MKIMG" "$W/dev" differential --to "$W/gchain" "$IU" 3 4096 5,100,6143-8191
	expect grow_differential 0 ""
	run "$CBT" verify "$W/gchain"
	expect grow_verify 0 ""
	for i in 1 2 3; do
		# A file target larger than the point is cut to the point's size.
		truncate -s 40M "$G/r$i"
		run "$CBT" restore --quiet "$W/gchain" --at "$i" "$G/r$i"
		expect "grow_restore_point_$i" 0 ""
		ok_if "grow_restore_point_${i}_exact" cmp "$G/r$i" "$G/p$i"
	done
	truncate -s 16M "$W/dev"
	cp "$W/gchain/chain.idx" "$G/idx"
	run "$MKIMG" "$W/dev" incremental --to "$W/gchain" "$IU" 4 4096 1
	expect grow_shrink_refused 1 "a full image is needed"
	ok_if grow_shrink_index_unchanged cmp "$W/gchain/chain.idx" "$G/idx"
	ok_if grow_shrink_wrote_nothing test "$(find "$W/gchain" -mindepth 1 | wc -l)" = 5
	truncate -s 32M "$W/dev"
	run "$MKIMG" "$W/dev" incremental --to "$W/gchain" "$IU" 4 8192 1
	expect grow_block_size_refused 1 "a full image is needed"

	# A lost history, per disk: exit status 3 and, under --json, one error
	# object naming the reason; --auto-full writes a full image into the
	# chain instead, and restore takes each point from its own full image.
	# The backups stop at the chain checks, before any snapshot, so the
	# fake kernel (cbt-fake) is enough.
	VU=1b4e28ba-2fa1-11d2-883f-0016d3cca427	# vg-data's identity in cbt-fake
	rm -rf "$W/lost"
	"$MKIMG" "$W/p1" full --to "$W/lost" "$IU" 1 65536 >/dev/null
	cp "$W/lost/chain.idx" "$W/lost-idx"
	CBT_FAKE=replaced run "$FAKE" backup vg-data --incremental --to "$W/lost" --cow /nonexistent
	expect lost_identity_exit 3 "a full image is needed"
	CBT_FAKE=replaced run "$FAKE" backup vg-data --incremental --to "$W/lost" --cow /nonexistent --json
	expect lost_identity_json_exit 3 "a full image is needed"
	expect_json lost_identity_json_valid
	got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin)
print(sorted(d), d["code"], d["reason"], "full image is needed" in d["error"])' 2>&1)
	if [ "$got" = "['code', 'error', 'reason'] 3 table-replaced True" ]; then
		tap_ok "unit/image_cli/lost_identity_json_object"
	else
		tap_fail "unit/image_cli/lost_identity_json_object: got '$got'"
	fi
	ok_if lost_identity_chain_unchanged cmp "$W/lost/chain.idx" "$W/lost-idx"
	# The device does not know the chain's last image (epoch 9 > its open epoch 7).
	rm -rf "$W/lost"
	"$MKIMG" "$W/p1" full --to "$W/lost" "$VU" 9 65536 >/dev/null
	run "$FAKE" backup vg-data --differential --to "$W/lost" --cow /nonexistent --json
	expect lost_unknown_image 3 "does not know that image"
	got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["code"], d["reason"])' 2>&1)
	if [ "$got" = "3 unknown-image" ]; then
		tap_ok "unit/image_cli/lost_unknown_image_reason"
	else
		tap_fail "unit/image_cli/lost_unknown_image_reason: got '$got'"
	fi
	# The device tracks another block size than the chain's last image, or
	# is smaller than it: exit status 3 with the reason, before the snapshot
	# (the fake records no state change), the chain unchanged.
	# lost_refused NAME CHAIN REASON MESSAGE
	lost_refused() {
		cp "$2/chain.idx" "$W/lost-idx"
		: >"$W/fake.log"
		CBT_FAKE_LOG=$W/fake.log run "$FAKE" backup vg-data --incremental --to "$2" --cow /nonexistent --json
		expect "lost_$1" 3 "$4"
		got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["code"], d["reason"])' 2>&1)
		if [ "$got" = "3 $3" ] && [ ! -s "$W/fake.log" ]; then
			tap_ok "unit/image_cli/lost_${1}_reason"
		else
			tap_fail "unit/image_cli/lost_${1}_reason: got '$got', kernel changes: $(cat "$W/fake.log")"
		fi
		ok_if "lost_${1}_chain_unchanged" cmp "$2/chain.idx" "$W/lost-idx"
	}
	rm -rf "$W/lost"
	"$MKIMG" "$W/p1" full --to "$W/lost" "$VU" 6 4096 >/dev/null
	lost_refused block_size "$W/lost" block-size-changed \
		"the device tracks 65536-byte blocks, the chain's last image 000001-full.cbti has 4096-byte blocks"
	# vg-data is 6553567232 bytes: an image of a device 64 KiB larger (sparse)
	rm -rf "$W/lost" "$W/larger"
	truncate -s $((6553567232 + 65536)) "$W/larger"
	"$MKIMG" "$W/larger" full --to "$W/lost" "$VU" 6 65536 >/dev/null
	rm -f "$W/larger"
	lost_refused shrunk "$W/lost" shrunk "the device shrank to 6.1 GiB since the chain's last image"
	run "$FAKE" backup vg-data --full --auto-full --to "$W/lost" --cow /nonexistent
	expect auto_full_needs_incremental 2 "--auto-full goes with --incremental"

	# --auto-full: a full image in the middle of a chain starts a new base.
	rm -rf "$W/mid"
	cp "$W/p1" "$W/dev"
	"$MKIMG" "$W/dev" full --to "$W/mid" "$IU" 1 4096 >/dev/null
	put 10 5
	cp "$W/dev" "$W/m2"
	"$MKIMG" "$W/dev" incremental --to "$W/mid" "$IU" 2 4096 10-14 >/dev/null
	put 20 5
	cp "$W/dev" "$W/m3"
	run "$MKIMG" "$W/dev" auto-incremental --to "$W/mid" 6a6a6a6a-1111-4222-8333-444444444444 1 4096 20-24
	expect auto_full_writes_full 0 ""
	ok_if auto_full_is_full test -e "$W/mid/000003-full.cbti"
	put 30 2
	cp "$W/dev" "$W/m4"
	"$MKIMG" "$W/dev" incremental --to "$W/mid" 6a6a6a6a-1111-4222-8333-444444444444 2 4096 30-31 >/dev/null
	put 40 1
	cp "$W/dev" "$W/m5"
	"$MKIMG" "$W/dev" differential --to "$W/mid" 6a6a6a6a-1111-4222-8333-444444444444 3 4096 30-31,40 >/dev/null
	run "$CBT" verify "$W/mid"
	expect auto_full_chain_verifies 0 ""
	cp "$W/p1" "$W/m1"
	for i in 1 2 3 4 5; do
		run "$CBT" restore --quiet "$W/mid" --at "$i" "$W/mr$i"
		expect "auto_full_restore_$i" 0 ""
		ok_if "auto_full_restore_${i}_exact" cmp "$W/mr$i" "$W/m$i"
	done

	# Failures under --json: one object, never half of one.
	run "$CBT" info --json "$W/nosuch/000001-full.cbti"
	expect info_missing_json 2 "no chain directory or image file"
	expect_json info_missing_json_valid
	got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["code"])' 2>&1)
	ok_if info_missing_json_code test "$got" = 2
	rm -rf "$W/bad"
	cp -a "$W/chain" "$W/bad"
	flip "$W/bad/000003-incr.cbti" 400
	run "$CBT" verify --json "$W/bad"
	expect verify_damaged_json 4 ""
	got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin)
print(d["code"], [i["ok"] for i in d["images"]])' 2>&1)
	if [ "$got" = "4 [True, True, False, True, True]" ]; then
		tap_ok "unit/image_cli/verify_damaged_json_object"
	else
		tap_fail "unit/image_cli/verify_damaged_json_object: got '$got'"
	fi
	run "$CBT" restore --json "$W/chain" --at x "$W/t"
	expect usage_json 2 "--at takes an image number"
	got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["code"], d["error"])' 2>&1)
	if [[ $got == "2 cbt restore: --at takes an image number, not \`x'"* ]]; then
		tap_ok "unit/image_cli/usage_json_object"
	else
		tap_fail "unit/image_cli/usage_json_object: got '$got'"
	fi

	# Usage errors.
	run "$CBT" backup vg --to "$W/x"
	expect backup_needs_type 2 "--full, --incremental or --differential?"
	run "$CBT" backup vg --full -o "$W/x" --to "$W/y" --cow c
	expect backup_one_destination 2 "give one of --to DIR and -o FILE"
	run "$CBT" backup vg --incremental -o "$W/x" --cow c
	expect backup_o_full_only 2 "-o writes full images only"
	run "$CBT" backup vg --full --to "$W/x" --cow c --compress lz4
	expect backup_bad_compress 2 "unknown compression \`lz4'"
	# the bounds cbt.8 and docs/jobs.md give: zstd levels 1-19, 1 to 64
	# threads, --split of at least 1M and only with --to, one type, a COW
	backup_bad() {
		# shellcheck disable=SC2086 # the options, split on purpose
		run "$CBT" backup vg --full --to "$W/x" --cow c $2
		expect "backup_bad_$1" 2 "$3"
	}
	backup_bad zstd_level_0 "--compress zstd:0" "unknown compression \`zstd:0'"
	backup_bad zstd_level_20 "--compress zstd:20" "unknown compression \`zstd:20'"
	backup_bad threads_0 "--threads 0" "--threads takes 1 to 64, not \`0'"
	backup_bad threads_65 "--threads 65" "--threads takes 1 to 64, not \`65'"
	backup_bad split_under_1M "--split 1048575" "--split takes a size of at least 1M, not \`1048575'"
	backup_bad split_1000K "--split 1000K" "--split takes a size of at least 1M, not \`1000K'"
	backup_bad two_types "--incremental" "give one image type, not also \`--incremental'"
	run "$CBT" backup vg --full -o "$W/x" --cow c --split 4M
	expect backup_split_needs_to 2 "--split goes with --to DIR, not with -o"
	run "$CBT" backup vg --full --to "$W/x"
	expect backup_needs_cow 2 "the snapshot needs a COW device (--cow COW)"
	[ ! -e "$W/x" ] || tap_fail "unit/image_cli/backup_usage: $W/x was created"
	run "$CBT" restore "$W/chain" --at x "$W/t"
	expect restore_bad_at 2 "--at takes an image number, not \`x'"
	run "$CBT" restore "$W/chain" --at 9 "$W/t"
	expect restore_no_such_image 1 "no image \`9'"
	run "$CBT" export "$W/chain" --format vmdk -o "$W/t"
	expect export_bad_format 2 "unknown format \`vmdk'"
	# without --format: raw (cbt.8)
	rm -f "$W/e-default.raw"
	run "$CBT" export "$W/chain" -o "$W/e-default.raw" --quiet
	expect export_raw_by_default 0 ""
	ok_if export_raw_by_default_exact cmp "$W/e-default.raw" "$W/p5"

	# A chain or image that does not exist is bad usage (exit 2), said once,
	# before anything is created.
	rm -f "$W/nochain-out"
	for c in "restore $W/nochain $W/nochain-out" "restore $W/nochain --path /a -o $W/nochain-out" \
		"verify $W/nochain" "info $W/nochain" "export $W/nochain --format raw -o $W/nochain-out" \
		"merge $W/nochain --upto 1" "prune $W/nochain --keep-last 1" \
		"mount $W/nochain $W/nochain-out" "serve $W/nochain --socket $W/nochain-out"; do
		name=${c%% *}
		[[ $c == *--path* ]] && name=restore_path
		# shellcheck disable=SC2086
		run "$CBT" $c
		expect "${name}_no_such_chain" 2 "cbt ${c%% *}: no chain directory or image file \`$W/nochain'"
		[ "$(grep -c . <<<"$err")" = 2 ] ||
			tap_fail "unit/cli/${name}_no_such_chain: more than the message and its hint: $err"
		[ ! -e "$W/nochain-out" ] ||
			tap_fail "unit/cli/${name}_no_such_chain: $W/nochain-out was created"
	done
fi
