# shellcheck shell=bash
# Command-line tests of cbt merge and cbt prune on chains the backup engine
# writes from a file (mkimg, as in image_cli.sh): every kept point restores
# byte for byte what it held, after a merge, after a prune, and after a
# merge that died at each step of its commit (CBT_MERGE_FAIL_AT, the test
# build's crash points). Sourced by tests/unit/run; uses cli.sh's run and
# expect. One TAP line per check.

# shellcheck disable=SC2154
MW=$O/merge-cli
MU=6b6b6b6b-1111-4222-8333-444444444444

# mput BLOCK COUNT: random data into blocks of 4 KiB of $MW/dev
mput() { dd if=/dev/urandom of="$MW/dev" bs=4k seek="$1" count="$2" conv=notrunc status=none; }
# mimg DIR TYPE EPOCH [CHANGED]: an image of $MW/dev into DIR; $MW/p<EPOCH> keeps the device
mimg() {
	cp "$MW/dev" "$MW/p$3"
	"$O/mkimg" "$MW/dev" "$2" --to "$1" "$MU" "$3" 4096 "${4:--}" >/dev/null
}
mok() {
	local name=$1
	shift
	if "$@" >"$MW/ok.out" 2>&1; then
		tap_ok "unit/merge_cli/$name"
	else
		tap_fail "unit/merge_cli/$name"
		sed 's/^/# /' "$MW/ok.out" | head -10
	fi
}
# points_exact DIR: every point the index lists restores equal to the device when it was taken
points_exact() {
	local seq rc=0
	"$CBT" verify -q "$1" || return 1
	# shellcheck disable=SC2013 # numbers, one per line
	for seq in $(awk 'NR > 1 { print $1 }' "$1/chain.idx"); do
		rm -f "$MW/r"
		"$CBT" restore --quiet "$1" --at "$seq" "$MW/r" || return 1
		# a merged point keeps the number of the newest image it absorbed
		cmp "$MW/r" "$MW/p$seq" || rc=1
	done
	return $rc
}
# no_orphans DIR: exactly the images the index names, no temporary files
no_orphans() {
	local a b
	a=$(cd "$1" && find . -mindepth 1 -maxdepth 1 ! -name chain.idx ! -name .lock | sed 's|^\./||' | sort)
	b=$(awk 'NR > 1 { print $9 }' "$1/chain.idx" | sort)
	[ "$a" = "$b" ] || { echo "files: $a"; echo "index: $b"; return 1; }
}

if [ ! -x "$CBT" ] || [ ! -x "$O/mkimg" ]; then
	tap_fail "unit/merge_cli: $CBT or $O/mkimg was not built (see $O/build.log)"
else
	rm -rf "$MW"
	mkdir -p "$MW"
	truncate -s 16M "$MW/dev"
	mput 0 4; mput 100 300; mput 4095 1
	mimg "$MW/c" full 1
	mput 2 1; mput 700 40
	mimg "$MW/c" incremental 2 2,700-739
	mput 1000 10; mput 150 1
	mimg "$MW/c" incremental 3 150,1000-1009
	mput 5 1; mput 701 2
	mimg "$MW/c" incremental 4 5,701-702
	mput 100 2; mput 1500 3
	mimg "$MW/c" incremental 5 100-101,1500-1502
	mok chain_of_5_exact points_exact "$MW/c"

	# A merge that dies at each step of its commit leaves a chain whose every point restores.
	for step in 1 2 3; do
		rm -rf "$MW/c$step"
		cp -a "$MW/c" "$MW/c$step"
		run env CBT_MERGE_FAIL_AT=$step "$CBT" merge "$MW/c$step" --upto 3
		expect_in "merge_cli/crash_at_${step}_died" 99 err ""
		mok "crash_at_${step}_points_exact" points_exact "$MW/c$step"
		# the next prune finishes the job: points 1 and 2 go, leftovers with them
		run "$CBT" prune "$MW/c$step" --keep-last 3
		expect_in "merge_cli/crash_at_${step}_prune_after" 0 out "keep   000005-incr.cbti"
		mok "crash_at_${step}_after_exact" points_exact "$MW/c$step"
		mok "crash_at_${step}_no_orphans" no_orphans "$MW/c$step"
	done

	# A synthetic full image of points 1..3: later points keep restoring, later backups build on it.
	run "$CBT" merge "$MW/c" --upto 3 --json
	expect_in merge_cli/merge_json 0 out '"type": "full"'
	mok merge_removed_absorbed test ! -e "$MW/c/000001-full.cbti" -a ! -e "$MW/c/000002-incr.cbti"
	mok merge_points_exact points_exact "$MW/c"
	run "$CBT" info --json "$MW/c"
	expect_in merge_cli/merge_info_flag 0 out '"merged": true'
	mput 3000 2
	mimg "$MW/c" incremental 6 3000-3001
	mput 3100 1
	mimg "$MW/c" differential 7 3100
	mok backups_after_merge_exact points_exact "$MW/c"
	# a merged incremental (4..6) under the differential: refused, 7 builds on the full image 3
	cp "$MW/c/chain.idx" "$MW/idx.before"
	run "$CBT" merge "$MW/c" --upto 6 --from 4
	expect_in merge_cli/merge_incrementals 0 out "merged 3 images into incremental image 000006-mincr.cbti"
	mok merged_incremental_exact points_exact "$MW/c"
	cp "$MW/c/chain.idx" "$MW/idx.before"
	run "$CBT" merge "$MW/c" --upto 6
	expect_in merge_cli/merge_refuses_dependent 1 err "000007-diff.cbti builds on 000003-full.cbti"
	mok refused_merge_changes_nothing cmp "$MW/c/chain.idx" "$MW/idx.before"
	run "$CBT" merge "$MW/c" --upto 6 --from 6
	expect_in merge_cli/merge_refuses_empty_run 1 err "nothing to merge"

	# prune: --dry-run changes nothing; the real run merges what the kept points need.
	run "$CBT" prune "$MW/c" --keep-last 1 --dry-run
	expect_in merge_cli/prune_dry_run 0 out "merge  000003-full.cbti .. 000007-diff.cbti"
	mok prune_dry_run_changes_nothing cmp "$MW/c/chain.idx" "$MW/idx.before"
	run "$CBT" prune "$MW/c"
	expect_in merge_cli/prune_needs_a_rule 2 err "no --keep-* rule"
	run "$CBT" prune "$MW/c" --keep-last 1 --json
	expect_in merge_cli/prune_keep_last_1 0 out '"image": "000007-full.cbti"'
	mok prune_points_exact points_exact "$MW/c"
	mok prune_one_image test "$(awk 'NR > 1' "$MW/c/chain.idx" | wc -l)" = 1
	mok prune_no_orphans no_orphans "$MW/c"
fi
