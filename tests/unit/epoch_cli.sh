# shellcheck shell=bash
# `cbt epoch' of several devices and --all, on the fake dm-cbt (sourced by
# tests/unit/run after cli.sh, whose run/expect/expect_in it uses). The
# fake's default scenario: vg-data with epochs 5 and 6 closed, 7 open; web
# with epoch 1 open. CBT_FAKE_LOG records each state change the fake
# accepted, so a refusal is seen to have changed nothing.

# $out and $err are set by cli.sh's run.
# shellcheck disable=SC2154
elog=$O/epoch-cli.log

# erun CMD...: run with a fresh change log.
erun() {
	rm -f "$elog"
	: >"$elog"
	CBT_FAKE_LOG=$elog run "$@"
}

# expect_log NAME WANT: the changes the last erun made, one per line, in
# the order of WANT (sorted: the devices are done by several threads).
expect_log() {
	local got
	got=$(sort "$elog")
	if [ "$got" = "$2" ]; then
		tap_ok "unit/epoch_cli/$1_changes"
	else
		tap_fail "unit/epoch_cli/$1_changes: got '${got//$'\n'/|}', want '${2//$'\n'/|}'"
	fi
}

# json_check NAME PYTHON-EXPR WANT: the expression on the parsed stdout (d).
json_check() {
	local got
	got=$(echo "$out" | python3 -c "import json, sys; d = json.load(sys.stdin); print($2)" 2>&1)
	if [ "$got" = "$3" ]; then
		tap_ok "unit/epoch_cli/$1"
	else
		tap_fail "unit/epoch_cli/$1: got '$got', want '$3'"
	fi
}

# --- Several devices in one process -----------------------------------------

erun "$FAKE" epoch close vg-data web
expect epoch_close_two 0 "" $'vg-data: epoch 7 closed\nweb: epoch 1 closed'
expect_log close_two $'close vg-data 7\nclose web 1'

erun "$FAKE" epoch close --all
expect epoch_close_all 0 "" $'vg-data: epoch 7 closed\nweb: epoch 1 closed'
expect_log close_all $'close vg-data 7\nclose web 1'

erun "$FAKE" epoch close 253:7 vg-data
expect epoch_close_by_number 0 "" $'253:7: epoch 1 closed\nvg-data: epoch 7 closed'

# A device that fails is reported; the others are still done; status 5
# (no such device) as the failures agree.
erun "$FAKE" epoch close vg-data nosuch web
expect epoch_close_bad_among_good 5 "cbt epoch close: nosuch: No such device" \
	$'vg-data: epoch 7 closed\nweb: epoch 1 closed'
expect_log close_bad_among_good $'close vg-data 7\nclose web 1'
if [[ $err == *"cbt epoch close: 1 of 3 devices failed"* ]]; then
	tap_ok "unit/epoch_cli/close_bad_among_good_summary"
else
	tap_fail "unit/epoch_cli/close_bad_among_good_summary: $err"
fi
erun "$FAKE" epoch close /nonexistent/cbt-dev vg-data
expect epoch_close_missing_path 5 "device \`/nonexistent/cbt-dev' does not exist" \
	"vg-data: epoch 7 closed"
expect_log close_missing_path "close vg-data 7"

erun "$FAKE" epoch close vg-data nosuch --json
expect_in epoch_cli/close_json_failure 5 out '"error": "cbt epoch close: 1 of 2 devices failed"'
json_check close_json_failure_devices \
	'" ".join("%s:%s:%s" % (x["device"], x["ok"], x.get("epoch", x.get("code"))) for x in d["devices"]), d["code"], d["action"]' \
	"vg-data:True:7 nosuch:False:5 5 close"
expect_log close_json_failure "close vg-data 7"
erun "$FAKE" epoch close --all --json
json_check close_json_all '[(x["device"], x["ok"], x["epoch"]) for x in d["devices"]], "error" in d' \
	"[('vg-data', True, 7), ('web', True, 1)] False"

# commit: without N, each device's one closed epoch; vg-data has two, web none
erun "$FAKE" epoch commit vg-data web
expect epoch_commit_two_unsaid 1 "vg-data: epochs 5, 6 are closed; say which to commit" ""
if [[ $err == *"web: no epoch is closed, so there is none to commit"* ]]; then
	tap_ok "unit/epoch_cli/commit_two_unsaid_web"
else
	tap_fail "unit/epoch_cli/commit_two_unsaid_web: $err"
fi
expect_log commit_two_unsaid ""
erun "$FAKE" epoch commit vg-data web --oldest
expect epoch_commit_oldest 1 "web: no epoch is closed" "vg-data: epoch 5 committed"
expect_log commit_oldest "commit vg-data 5"
erun "$FAKE" epoch commit --all --epoch 5
expect epoch_commit_all_n 1 "web: No such file or directory: No such closed epoch" \
	"vg-data: epoch 5 committed"
expect_log commit_all_n "commit vg-data 5"
erun "$FAKE" epoch abort vg-data web --epoch=6
expect epoch_abort_two_n 1 "web: No such file or directory" "vg-data: epoch 6 aborted"
expect_log abort_two_n "abort vg-data 6"

# one DEVICE keeps its output: --epoch N as `DEVICE N', --oldest
erun "$FAKE" epoch commit vg-data --epoch 5
expect epoch_commit_one_epoch_option 0 "" ""
expect_log commit_one_epoch_option "commit vg-data 5"
erun "$FAKE" epoch commit vg-data --oldest
expect epoch_commit_one_oldest 0 "" ""
expect_log commit_one_oldest "commit vg-data 5"
erun "$FAKE" epoch close web --json
json_check close_one_json 'd["command"], d["output"]' "epoch ['1']"

CBT_FAKE=nodevs erun "$FAKE" epoch close --all
expect epoch_close_all_none 0 "" ""
CBT_FAKE=nomodule erun "$FAKE" epoch close vg-data web
expect epoch_close_two_no_module 1 "cbt epoch close: dm-cbt module not loaded: modprobe dm-cbt" ""

# --- Bad input: a clear error, exit 2, and nothing changed -----------------

bad_epoch() {
	local name=$1 want=$2
	shift 2
	erun "$FAKE" epoch "$@"
	expect "epoch_$name" 2 "$want" ""
	expect_log "$name" ""
}
bad_epoch close_malformed_among_good "device \`8:x' is not MAJ:MIN" close vg-data 8:x web
bad_epoch close_twice "a DEVICE given twice: \`vg-data'" close vg-data web vg-data
bad_epoch close_all_and_device "give DEVICE... or --all, not both: DEVICE \`web'" close --all web
bad_epoch close_number "too many arguments, from \`5'" close vg-data web 5
bad_epoch commit_n_after_two "a number is not a DEVICE: \`5' (N of several devices is --epoch N" \
	commit vg-data web 5
bad_epoch close_epoch_option "close takes no N: \`--epoch'" close vg-data web --epoch 5
bad_epoch commit_n_twice "give N once: --epoch or after DEVICE, not also \`5'" commit vg-data 5 --epoch 5
bad_epoch abort_oldest "only commit takes \`--oldest'" abort vg-data web --oldest
bad_epoch commit_oldest_and_n "give --epoch N or --oldest, not both" commit --all --epoch 5 --oldest
bad_epoch commit_bad_n "N is an epoch number, not \`5x'" commit vg-data web --epoch 5x
bad_epoch commit_epoch_no_value "option needs a value: \`--epoch'" commit vg-data web --epoch
bad_epoch close_unknown_option "unknown option \`--frob'" close --all --frob
bad_epoch commit_two_epoch_options "one --epoch only, not also \`6'" commit --all --epoch 5 --epoch 6
erun "$FAKE" epoch close vg-data 8:x --json
expect_in epoch_cli/close_malformed_json 2 out '"code": 2'
expect_log close_malformed_json ""
unset -f erun expect_log json_check bad_epoch
