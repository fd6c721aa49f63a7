# shellcheck shell=bash
# Command-line tests of encrypted chains (docs/format.md, "Encryption"):
# images the backup engine writes under a key (mkimg with MKIMG_KEY, as
# `cbt backup --encrypt'), read by restore, verify, info, export and merge
# with --key: every point restores byte for byte; a missing key, another
# key, an image moved in from another chain, a plain chain under a key and
# a key file inside the chain or open to others are refused with exit
# status 2 (4 for a forged image) and nothing written to the target.
# Sourced by tests/unit/run; uses cli.sh's run and expect_in.

# shellcheck disable=SC2154
EW=$O/crypt-cli
EU=7c7c7c7c-1111-4222-8333-444444444444

eput() { dd if=/dev/urandom of="$EW/dev" bs=4k seek="$1" count="$2" conv=notrunc status=none; }
# eimg DIR TYPE EPOCH [CHANGED]: an encrypted image of $EW/dev into DIR; $EW/p<EPOCH> keeps the device
eimg() {
	cp "$EW/dev" "$EW/p$3"
	MKIMG_KEY=$EW/keys/k "$O/mkimg" "$EW/dev" "$2" --to "$1" "$EU" "$3" 4096 "${4:--}" >/dev/null
}
eok() { ok_cmd "unit/crypt_cli/$1" "${@:2}"; }
# epoints DIR: every point of DIR restores (with the key) equal to the device when taken
epoints() {
	local seq
	"$CBT" verify -q --key "$EW/keys/k" "$1" || return 1
	# shellcheck disable=SC2013 # numbers, one per line
	for seq in $(awk 'NR > 1 { print $1 }' "$1/chain.idx"); do
		rm -f "$EW/r"
		"$CBT" restore --quiet --key "$EW/keys/k" "$1" --at "$seq" "$EW/r" || return 1
		cmp "$EW/r" "$EW/p$seq" || return 1
	done
}

if [ ! -x "$CBT" ] || [ ! -x "$O/mkimg" ]; then
	tap_fail "unit/crypt_cli: $CBT or $O/mkimg was not built (see $O/build.log)"
else
	rm -rf "$EW"
	mkdir -p "$EW/keys"
	chmod 700 "$EW/keys"
	run "$CBT" keygen "$EW/keys/k"
	expect_in crypt_cli/keygen 0 err ""
	run "$CBT" keygen "$EW/keys/k"
	expect_in crypt_cli/keygen_never_overwrites 1 err "never overwritten"
	"$CBT" keygen "$EW/keys/other" >/dev/null
	truncate -s 16M "$EW/dev"
	eput 0 4; eput 100 300; eput 4095 1
	eimg "$EW/c" full 1
	eput 2 1; eput 700 40
	eimg "$EW/c" incremental 2 2,700-739
	eput 1000 10
	eimg "$EW/c" incremental 3 1000-1009
	eput 5 1
	eimg "$EW/c" incremental 4 5
	eok chain_points_exact epoints "$EW/c"
	run "$CBT" info --json --key "$EW/keys/k" "$EW/c"
	expect_in crypt_cli/info_says_encrypted 0 out '"encrypted": true'
	# no plain byte of the device in the images (a 64-byte run of device data)
	eok no_plaintext_in_images python3 -c 'import sys
d = open(sys.argv[1], "rb").read()[409600:409600 + 64]
sys.exit(any(d in open(f, "rb").read() for f in sys.argv[2:]))' "$EW/dev" "$EW"/c/*.cbti

	# no key, another key: exit 2, the target never made
	run "$CBT" restore "$EW/c" "$EW/t1"
	expect_in crypt_cli/restore_without_key 2 err "give its key file with --key"
	eok no_key_no_target test ! -e "$EW/t1"
	run "$CBT" restore --key "$EW/keys/other" "$EW/c" "$EW/t1"
	expect_in crypt_cli/restore_other_key 2 err "encrypted with another key"
	eok other_key_no_target test ! -e "$EW/t1"
	run "$CBT" verify "$EW/c"
	expect_in crypt_cli/verify_without_key 2 err "give its key file with --key"
	run "$CBT" info "$EW/c"
	expect_in crypt_cli/info_without_key 2 err "give its key file with --key"
	run "$CBT" export "$EW/c" --format raw -o "$EW/t1"
	expect_in crypt_cli/export_without_key 2 err "give its key file with --key"
	run "$CBT" export --key "$EW/keys/k" "$EW/c" --format raw -o "$EW/t1"
	expect_in crypt_cli/export_with_key 0 err ""
	eok export_exact cmp "$EW/t1" "$EW/p4"

	# keygen's file: mode 0600, 64 hex digits and a newline; the same key as
	# its 32 bytes themselves reads the chain too; 31 bytes are no key
	eok keygen_mode_0600 test "$(stat -c %a "$EW/keys/k")" = 600
	eok keygen_64_hex_and_newline python3 -c 'import re, sys
sys.exit(not re.fullmatch(rb"[0-9a-f]{64}\n", open(sys.argv[1], "rb").read()))' "$EW/keys/k"
	python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read()))' \
		"$EW/keys/k" >"$EW/keys/raw"
	chmod 600 "$EW/keys/raw"
	run "$CBT" verify --quiet --key "$EW/keys/raw" "$EW/c"
	expect_in crypt_cli/key_as_32_bytes 0 err ""
	head -c 31 "$EW/keys/raw" >"$EW/keys/short"
	chmod 600 "$EW/keys/short"
	rm -f "$EW/t1"
	run "$CBT" restore --key "$EW/keys/short" "$EW/c" "$EW/t1"
	expect_in crypt_cli/key_of_31_bytes 2 err "not a key (32 bytes, or 64 hex digits"
	eok short_key_no_target test ! -e "$EW/t1"

	# key files: open to others, inside the chain directory, a second --key
	cp "$EW/keys/k" "$EW/k644"
	chmod 644 "$EW/k644"
	run "$CBT" verify --key "$EW/k644" "$EW/c"
	expect_in crypt_cli/key_open_to_others 2 err "lets group or others at the key"
	cp "$EW/keys/k" "$EW/c/key"
	run "$CBT" verify --key "$EW/c/key" "$EW/c"
	expect_in crypt_cli/key_in_chain_dir 2 err "is inside the chain directory"
	rm -f "$EW/c/key"
	run "$CBT" verify --key "$EW/keys/k" --key "$EW/keys/k" "$EW/c"
	expect_in crypt_cli/one_key_only 2 err "one key only"

	# an image of another chain (same key, same device) in place of one of this chain's
	cp "$EW/dev" "$EW/dev.keep"
	eimg "$EW/c2" full 11
	eput 700 1
	eimg "$EW/c2" incremental 12 700
	cp -a "$EW/c" "$EW/moved"
	cp "$EW/c2/000002-incr.cbti" "$EW/moved/000002-incr.cbti"
	run "$CBT" restore --key "$EW/keys/k" "$EW/moved" --at 2 "$EW/t2"
	expect_in crypt_cli/image_from_another_chain 4 err "000002-incr.cbti"
	eok moved_no_target test ! -e "$EW/t2"
	# a byte of a frame changed: verify and restore refuse, nothing written
	cp -a "$EW/c" "$EW/forged"
	printf 'X' | dd of="$EW/forged/000002-incr.cbti" bs=1 seek=400 conv=notrunc status=none
	run "$CBT" verify --key "$EW/keys/k" "$EW/forged"
	expect_in crypt_cli/forged_byte_verify 4 err "000002-incr.cbti"
	run "$CBT" restore --key "$EW/keys/k" "$EW/forged" --at 2 "$EW/t2"
	expect_in crypt_cli/forged_byte_restore 4 err "000002-incr.cbti"
	eok forged_no_target test ! -e "$EW/t2"

	# a chain is all encrypted or all plain: mixing is refused both ways
	cp "$EW/dev.keep" "$EW/dev"
	"$O/mkimg" "$EW/dev" full --to "$EW/plain" "$EU" 21 4096 - >/dev/null
	run env MKIMG_KEY="$EW/keys/k" "$O/mkimg" "$EW/dev" incremental --to "$EW/plain" "$EU" 22 4096 1
	expect_in crypt_cli/encrypted_onto_plain 1 err "not encrypted, but a key was given"
	run "$O/mkimg" "$EW/dev" incremental --to "$EW/c" "$EU" 5 4096 1
	expect_in crypt_cli/plain_onto_encrypted 1 err "give its key file with --key"
	run "$O/mkimg" "$EW/dev" full --to "$EW/c" "$EU" 5 4096
	expect_in crypt_cli/plain_full_onto_encrypted 1 err "give its key file with --key"
	run env MKIMG_KEY="$EW/keys/k" "$O/mkimg" "$EW/dev" full --to "$EW/plain" "$EU" 22 4096
	expect_in crypt_cli/encrypted_full_onto_plain 1 err "not encrypted, but a key was given"
	run "$CBT" restore --key "$EW/keys/k" "$EW/plain" "$EW/t3"
	expect_in crypt_cli/plain_chain_under_key 2 err "not encrypted, but a key was given"
	eok plain_no_target test ! -e "$EW/t3"

	# merge keeps the chain encrypted, under the same key
	run "$CBT" merge --key "$EW/keys/k" "$EW/c" --upto 2
	expect_in crypt_cli/merge 0 out "merged 2 images"
	run "$CBT" info --json --key "$EW/keys/k" "$EW/c"
	expect_in crypt_cli/merged_still_encrypted 0 out '"format_version": 3'
	run "$CBT" merge "$EW/c" --upto 4
	expect_in crypt_cli/merge_without_key 2 err "give its key file with --key"
	eok merged_points_exact epoints "$EW/c"

	# split into segments: the same bytes, read back the same way
	cp "$EW/dev.keep" "$EW/dev"
	MKIMG_SPLIT=1M MKIMG_KEY=$EW/keys/k "$O/mkimg" "$EW/dev" full --to "$EW/split" "$EU" 31 4096 - >/dev/null
	cp "$EW/dev" "$EW/p1"	# the split chain's image 1
	eok split_points_exact epoints "$EW/split"
fi
