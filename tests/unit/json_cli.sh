# shellcheck shell=bash
# --json on every subcommand: a failing run prints one JSON object,
# {"error": MESSAGE, "code": STATUS[, "reason": ...]}, whose code is the exit
# status (on standard output; standard error for backup -o -), and the
# exit statuses of docs (cbt.8 EXIT STATUS): 5 for a device that is not
# there. Sourced by tests/unit/run, on the fake dm-cbt ($FAKE, cli.sh).

JW=$O/json-cli
# json_error NAME WANT-CODE SUBCOMMAND ARGS...: run it with --json, check the object
json_error() {
	local name=$1 want=$2 got
	shift 2
	out=$(timeout 60 "$FAKE" "$@" --json 2>/dev/null)
	rc=$?
	got=$(echo "$out" | python3 -c 'import json, sys
d = json.load(sys.stdin)
assert isinstance(d["error"], str) and d["error"], "no error message"
assert set(d) <= {"error", "code", "reason", "images"}, "unexpected members %s" % sorted(d)
print(d["code"])' 2>&1)
	if [ "$got" = "$rc" ] && [ "$rc" = "$want" ]; then
		tap_ok "unit/json_cli/$name"
	else
		tap_fail "unit/json_cli/$name: exit status $rc, code '$got', want $want"
		echo "$out" | sed 's/^/# /' | head -8
	fi
}

rm -rf "$JW"
mkdir -p "$JW"
# every subcommand of `cbt help' must appear below
listed=$("$FAKE" help | awk '/^  [a-z]/ { print $1 }' | sort | tr '\n' ' ')
tested="attach backup bitmap clone detach epoch export help info job keygen merge migrate monitor mount prune restore serve setup-boot snapshot status unmount verify version "
if [ "$listed" = "$tested" ]; then
	tap_ok "unit/json_cli/every_subcommand_covered"
else
	tap_fail "unit/json_cli/every_subcommand_covered: cbt help lists '$listed', tested '$tested'"
fi
json_error status 5 status nodev
json_error bitmap 5 bitmap nodev --range 1..2
json_error epoch 5 epoch close nodev
json_error snapshot 5 snapshot take nodev --cow /nonexistent
json_error snapshot_drop 5 snapshot drop nodev
json_error snapshot_release 5 snapshot release nodev 0 4K
json_error attach 5 attach /nonexistent
json_error detach 5 detach /nonexistent
json_error setup_boot 5 setup-boot /nonexistent
json_error backup 5 backup nodev --full --to "$JW/chain" --cow /nonexistent
json_error restore 2 restore "$JW/none" "$JW/target"
json_error verify 2 verify "$JW/none"
json_error info 2 info "$JW/none"
json_error export 2 export "$JW/none" --format raw -o "$JW/out"
json_error job 2 job run nosuch --config-dir "$JW"
json_error keygen 1 keygen "$JW/none/key"
json_error merge 2 merge "$JW/none" --upto 1
json_error prune 2 prune "$JW/none" --keep-last 1
json_error clone 2 clone nodev "$JW/target"
json_error migrate 5 migrate "$JW/none" "$JW/target"
json_error mount 2 mount "$JW/none" "$JW/mnt"
json_error unmount 1 unmount "$JW/mnt"
json_error serve 2 serve "$JW/none" --socket "$JW/sock"
json_error monitor 2 monitor nodev
json_error version 2 version --bogus
json_error help 2 help bogus
