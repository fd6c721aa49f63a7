# shellcheck shell=bash
# Command-line tests of cbt, sourced by tests/unit/run with $O (the build
# directory holding the sanitized cbt and cbt-fake) and lib.sh loaded.
# cbt-fake is the tool on a simulated dm-cbt (fake_kernel.c); CBT_FAKE
# picks the scenario. Each check prints one TAP line.

CBT=$O/cbt
FAKE=$O/cbt-fake
errf=$O/cli.stderr

# run CMD...: sets $out, $err and $rc.
run() {
	out=$("$@" 2>"$errf")
	rc=$?
	err=$(cat "$errf")
}

# ok_cmd TAPNAME COMMAND...: a TAP line TAPNAME for a command's success;
# on failure the first lines of its output (image_cli, harden_cli, serve_cli).
ok_cmd() {
	local name=$1
	shift
	if "$@" >"$errf.ok" 2>&1; then
		tap_ok "$name"
	else
		tap_fail "$name"
		sed 's/^/# /' "$errf.ok" | head -10
	fi
}

# expect NAME RC STDERR-SUBSTRING [STDOUT]: check the last run.
# An empty STDERR-SUBSTRING means stderr must be empty; STDOUT, when
# given, must match exactly.
expect() {
	local name=$1 want_rc=$2 want_err=$3 why=""

	# A sanitizer's report first: LeakSanitizer exits 1, the status many
	# refusals expect (harden_seq_max_refused passed so on a leak).
	if [[ $err == *"Sanitizer:"* || $err == *": runtime error: "* ]]; then
		why="a sanitizer report (exit status $rc)"
	elif [ "$rc" -ne "$want_rc" ]; then
		why="exit status $rc, want $want_rc"
	elif [ -z "$want_err" ] && [ -n "$err" ]; then
		why="unexpected stderr"
	elif [ -n "$want_err" ] && [[ $err != *"$want_err"* ]]; then
		why="stderr lacks \"$want_err\""
	elif [ $# -ge 4 ] && [ "$out" != "$4" ]; then
		why="stdout differs"
	fi
	if [ -z "$why" ]; then
		tap_ok "unit/cli/$name"
		return
	fi
	tap_fail "unit/cli/$name: $why"
	if [ $# -ge 4 ]; then
		diff <(echo "$4") <(echo "$out") | sed 's/^/# /' | head -30
	else
		echo "$out" | sed 's/^/# stdout: /' | head -10
	fi
	echo "$err" | sed 's/^/# stderr: /' | head -10
}

# expect_in SUITE/NAME RC out|err SUBSTRING: the last run exited RC and its
# stdout or stderr holds SUBSTRING (the other stream is not checked).
expect_in() {
	local text=$out
	[ "$3" = err ] && text=$err
	if [ "$rc" -eq "$2" ] && [[ $text == *"$4"* ]]; then
		tap_ok "unit/$1"
	else
		tap_fail "unit/$1: exit status $rc (want $2), $3 lacks \"$4\"?"
		echo "$out" | sed 's/^/# stdout: /' | head -10
		echo "$err" | sed 's/^/# stderr: /' | head -10
	fi
}

# JSON that python parses
expect_json() {
	if echo "$out" | python3 -m json.tool >/dev/null 2>"$errf"; then
		tap_ok "unit/cli/$1"
	else
		tap_fail "unit/cli/$1: not valid JSON: $(head -1 "$errf")"
	fi
}

# --- The dispatcher, the man page and the completion agree ---------------

run "$CBT" help
expect help 0 ""
commands=$(echo "$out" | sed -n 's/^  \([a-z-]*\) .*/\1/p' | tr '\n' ' ')
# the first bold word of each .TP tag in the COMMANDS section
man_commands=$(awk '/^\.SH COMMANDS/ { s = 1; next } /^\.SH/ { s = 0 }
	s && tp { if (match($0, /^\\fB[a-z-]+/)) print substr($0, 4, RLENGTH - 3); tp = 0; next }
	s && /^\.TP/ { tp = 1 }' "$TOP/tools/cbt.8" | uniq | tr '\n' ' ')
if [ -n "$commands" ] && [ "$commands" = "$man_commands" ]; then
	tap_ok "unit/cli/man_commands_match_dispatch_table"
else
	tap_fail "unit/cli/man_commands_match_dispatch_table: cbt help has '$commands', cbt.8 COMMANDS '$man_commands'"
fi
comp_commands=$(sed -n 's/^[[:space:]]*local cmds="\(.*\)"/\1 /p' "$TOP/tools/completion/cbt.bash")
if [ "$commands" = "$comp_commands" ]; then
	tap_ok "unit/cli/completion_commands_match_dispatch_table"
else
	tap_fail "unit/cli/completion_commands_match_dispatch_table: cbt help has '$commands', completion '$comp_commands'"
fi
comp=$(bash -c '
	. "$1"
	COMP_WORDS=(cbt st); COMP_CWORD=1; _cbt; echo "${COMPREPLY[*]}"
	COMP_WORDS=(cbt epoch c); COMP_CWORD=2; _cbt; echo "${COMPREPLY[*]}"
	COMP_WORDS=(cbt bitmap dev --s); COMP_CWORD=3; _cbt; echo "${COMPREPLY[*]}"
' _ "$TOP/tools/completion/cbt.bash" 2>&1)
want_comp=$'status\nclose commit\n--summary'
if [ "$comp" = "$want_comp" ]; then
	tap_ok "unit/cli/completion_completes"
else
	tap_fail "unit/cli/completion_completes: got '${comp//$'\n'/|}'"
fi

for c in $commands; do
	run "$CBT" "$c" --help
	expect "${c}_help" 0 ""
	[[ $out == *"Usage: cbt $c"* ]] || tap_fail "unit/cli/${c}_help: no \"Usage: cbt $c\" line"
done

# --- Usage errors quote the input and say what to do ----------------------

run "$CBT" frob
expect unknown_subcommand 2 "cbt: unknown subcommand \`frob'"
run "$CBT" bitmap
expect bitmap_needs_device 2 "which DEVICE?"
run "$CBT" bitmap vg --frob
expect unknown_option 2 "unknown option \`--frob'"
run "$CBT" bitmap vg --epoch
expect option_needs_value 2 "option \`--epoch' needs a value"
run "$CBT" bitmap vg --epoch 5x
expect bad_epoch_number 2 "--epoch takes an epoch number, not \`5x'"
run "$CBT" bitmap vg --range 7..5
expect bad_range 2 "--range takes A..B with A <= B, not \`7..5'"
run "$CBT" bitmap vg --epoch 5 --range 5..6
expect epoch_and_range 2 "give one --epoch or --range"
run "$CBT" bitmap vg --json --summary
expect two_modes 2 "give one of --extents, --json and --summary"
run "$CBT" status a b
expect status_two_devices 2 "takes one DEVICE at most, not also \`b'"
run "$CBT" status 8:1x
expect bad_device_number 2 "device \`8:1x' is not MAJ:MIN"
# A malformed DEVICE is bad usage (cbt.8, EXIT STATUS 2), also under --json.
run "$CBT" status 4096:0
expect device_number_out_of_range 2 "device number \`4096:0' out of range"
run "$CBT" bitmap ""
expect empty_device_name 2 "empty device name"
run "$CBT" epoch close "$(printf 'n%.0s' {1..128})"
expect device_name_too_long 2 "device-mapper names have at most 127"
run "$CBT" snapshot take 8:x --cow /dev/x
expect snapshot_take_bad_device 2 "device \`8:x' is not MAJ:MIN"
run "$CBT" status 8:1x --json
expect bad_device_number_json 2 "is not MAJ:MIN"
got=$(echo "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["code"])' 2>&1)
if [ "$got" = 2 ]; then
	tap_ok "unit/cli/bad_device_number_json_code"
else
	tap_fail "unit/cli/bad_device_number_json_code: got '$got'"
fi
run "$CBT" epoch frob vg
expect epoch_bad_action 2 "unknown action \`frob' (it is close, commit or abort)"
run "$CBT" epoch close
expect epoch_needs_device 2 "cbt epoch close: which DEVICE?"
# under --json the error object carries the message, not a generic one
for c in "epoch close" "backup --full --to /nonexistent/chain --cow /dev/null" "snapshot take" \
	"clone" "prune" "export /nonexistent/chain"; do
	# shellcheck disable=SC2086
	run "$CBT" $c --json
	got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["code"], d["error"])' 2>&1)
	if [ "$rc" = 2 ] && [ "$got" = "2 $(echo "$err" | head -1)" ] && [[ $got != *"bad usage"* ]]; then
		tap_ok "unit/cli/usage_json_message_${c%% *}"
	else
		tap_fail "unit/cli/usage_json_message_${c%% *}: exit status $rc, got '$got'"
	fi
done
run "$CBT" epoch close vg 5
expect epoch_close_takes_no_n 2 "too many arguments, from \`5'"
run "$CBT" epoch commit vg -1
expect epoch_bad_n 2 "unknown option \`-1'"
# an unknown short option inside a cluster is named, not the argument before it
run "$CBT" restore chain -zq target
expect unknown_option_in_cluster 2 "cbt restore: unknown option \`-z'"
run "$CBT" job run -web
expect unknown_option_in_cluster_job 2 "cbt job: unknown option \`-w'"
run "$CBT" bitmap vg --json=x
expect long_option_with_value 2 "cbt bitmap: unknown option \`--json=x'"
run "$CBT" help frob
expect help_unknown 2 "unknown subcommand \`frob'"
run "$CBT" help status bitmap
expect help_two_subcommands 2 "one SUBCOMMAND only, not also \`bitmap'"
# help takes --json too (cbt.8, EXIT STATUS): its lines, as epoch's
run "$CBT" help --json
expect help_json 0 ""
got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin)
print(d["command"], [l.split()[0] for l in d["output"] if l.startswith("  ")][:2])' 2>&1)
if [ "$got" = "help ['status', 'bitmap']" ]; then
	tap_ok "unit/cli/help_json_content"
else
	tap_fail "unit/cli/help_json_content: got '$got'"
fi
run "$CBT" help status --json
expect_in cli/help_subcommand_json 0 out '"Usage: cbt status [DEVICE] [--json]",'
run "$CBT" help frob --json
expect_in cli/help_unknown_json 2 out '"error": "cbt help: unknown subcommand `frob'"'"'",'
run bash -c "'$CBT' help >/dev/full"
expect write_error 1 "writing the output"

# --- backup --json -o -: the error object stays out of the image stream ----
run "$CBT" backup /nonexistent/dev --full --cow /nonexistent/cow -o - --json
expect backup_json_stream_error_stderr 5 '"error": "' ""
run "$CBT" backup -o - --json
expect backup_json_stream_usage_stderr 2 '"code": 2' ""

# --- serve DEVICE --snapshot: refused before the device is looked up -------

run "$CBT" serve vg --cow /dev/null --socket /tmp/x.sock
expect serve_needs_snapshot 2 "give --snapshot"
run "$CBT" serve vg --snapshot --socket /tmp/x.sock
expect serve_needs_cow 2 "the snapshot needs a COW device"
run "$CBT" serve vg --snapshot --cow /dev/null --freeze --no-freeze --socket /tmp/x.sock
expect serve_freeze_twice 2 "give one of --freeze and --no-freeze, not also \`--no-freeze'"
run "$CBT" backup vg --full --to /nonexistent/chain --cow /dev/null --no-freeze --freeze
expect backup_freeze_twice 2 "give one of --freeze and --no-freeze, not also \`--freeze'"
run "$CBT" serve vg --snapshot --cow /dev/null --socket /tmp/x.sock --tcp :10809
expect serve_one_address 2 "give one of --socket PATH and --tcp ADDR:PORT"
run "$CBT" serve vg --snapshot --cow /dev/null --socket /tmp/x.sock --tls-certificates /tmp
expect serve_tls_needs_tcp 2 "--tls-certificates goes with --tcp"
run "$CBT" serve vg --snapshot --cow /dev/null --bitmap-name a,b --socket /tmp/x.sock
expect serve_bad_bitmap_name 2 "--bitmap-name takes 1 to 1023 characters and no comma"
run "$CBT" serve vg --snapshot --cow /dev/null --tcp nonsense
expect serve_bad_tcp 1 "--tcp \`nonsense': give ADDR:PORT"
serve_file=$(mktemp)
echo keep >"$serve_file"
run "$CBT" serve vg --snapshot --cow /dev/null --socket "$serve_file"
expect serve_socket_not_a_socket 1 "exists and is not a socket"
[ "$(cat "$serve_file")" = keep ] || tap_fail "unit/cli/serve_socket_not_a_socket: the file changed"
rm -f "$serve_file"
# A --tls-certificates DIR missing a file: refused before the address is
# bound and the snapshot taken (qemu-nbd reads the files only after them).
serve_tls=$(mktemp -d)
touch "$serve_tls/ca-cert.pem" "$serve_tls/server-cert.pem"
run "$CBT" serve vg --snapshot --cow /dev/null --tcp 127.0.0.1:0 --tls-certificates "$serve_tls"
expect serve_tls_dir_incomplete 2 "--tls-certificates $serve_tls: $serve_tls/server-key.pem: No such file"
rm -rf "$serve_tls"
# An address in use: refused with nothing changed (bound before the device
# is looked up: the error is the address's, not the missing device's).
# The three forms of docs/serve.md bind where they say: an IPv6 address in
# brackets, and an empty ADDR (the wildcard), each refused on the port a
# listener of that address holds. A Unix socket a server listens on is in
# use too: refused and left in place (only a socket nobody listens on is
# replaced; cbt connects to find out, so the listener keeps accepting).
# listener FAMILY ADDR: python listens on ADDR (port 0: any), in the
# background ($listener_pid), and says its port (or "unix") on $listener_out.
listener_out=$(mktemp -u)
listener() {
	rm -f "$listener_out"
	mkfifo "$listener_out"
	python3 -c 'import socket, sys
f = int(sys.argv[1]); s = socket.socket(f)
s.bind(sys.argv[2] if f == socket.AF_UNIX else (sys.argv[2], 0)); s.listen(1)
print("unix" if f == socket.AF_UNIX else s.getsockname()[1], flush=True)
while True: s.accept()[0].close()' "$1" "$2" >"$listener_out" &
	listener_pid=$!
}
listener_stop() {
	kill "$listener_pid"
	wait "$listener_pid" 2>/dev/null
	rm -f "$listener_out"
}
# serve_busy NAME FAMILY BIND-ADDR TCP-ADDR: cbt serve --tcp TCP-ADDR:PORT
# while a listener holds BIND-ADDR:PORT.
serve_busy() {
	local serve_port=""
	listener "$2" "$3"
	read -r serve_port <"$listener_out"
	run "$CBT" serve vg --snapshot --cow /dev/null --tcp "$4:$serve_port"
	expect "$1" 1 "--tcp $4:$serve_port: Address already in use"
	listener_stop
}
serve_busy serve_tcp_address_in_use 2 127.0.0.1 127.0.0.1
serve_busy serve_tcp_wildcard_in_use 2 0.0.0.0 ""
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	serve_busy serve_tcp_ipv6_brackets_in_use 10 ::1 "[::1]"
else
	tap_skip unit/cli/serve_tcp_ipv6_brackets_in_use "no IPv6 loopback here"
fi
serve_sock=$(mktemp -d)/s.sock
listener 1 "$serve_sock"
read -r _ <"$listener_out"
run "$CBT" serve vg --snapshot --cow /dev/null --socket "$serve_sock"
expect serve_socket_in_use 1 "$serve_sock: a server is listening on it"
[ -S "$serve_sock" ] || tap_fail "unit/cli/serve_socket_in_use: the live socket was removed"
listener_stop
rm -rf "${serve_sock%/*}"

# --- attach, detach, setup-boot: usage errors, the configuration file -----

run "$CBT" attach
expect attach_needs_device 2 "cbt attach: which DEVICE?"
run "$CBT" attach vg -b 3k
expect attach_bad_block_size 2 "bad block size \`3k' (a power of two from 4k to 1M, like 64k)"
run "$CBT" attach vg -b 2M
expect attach_block_size_too_big 2 "bad block size \`2M'"
run "$CBT" attach /nonexistent/disk
expect attach_no_such_path 5 "cannot find \`/nonexistent/disk'"
run "$CBT" attach vg --metadata /nonexistent/meta
expect attach_no_such_metadata 5 "cannot find \`/nonexistent/meta'"
run "$CBT" detach /nonexistent/disk
expect detach_no_such_path 5 "cannot find \`/nonexistent/disk'"
run "$CBT" setup-boot /nonexistent/disk --no-initramfs
expect setup_boot_no_such_path 5 "cannot find \`/nonexistent/disk'"
run "$CBT" attach /dev/null
expect attach_not_block 5 "\`/dev/null' is not a block device"
run "$CBT" detach a b
expect detach_two_devices 2 "one DEVICE only, not also \`b'"
run "$CBT" setup-boot /dev/null --no-initramfs
expect setup_boot_not_block 5 "\`/dev/null' is not a block device"
run "$CBT" setup-boot /dev/null --name a/b
expect setup_boot_bad_name 2 "bad name \`a/b'"
printf '# comment\nkeep /dev/vdb\nold /dev/vdc block-size=4k\n' >"$O/devices.conf"
run env CBT_CONF="$O/devices.conf" "$CBT" setup-boot --remove old --no-initramfs
expect setup_boot_remove 0 "" "old: no longer tracked from the next boot"
if [ "$(grep -v '^#' "$O/devices.conf")" = "keep /dev/vdb" ]; then
	tap_ok "unit/cli/setup_boot_remove_keeps_other_lines"
else
	tap_fail "unit/cli/setup_boot_remove_keeps_other_lines: $(tr '\n' '|' <"$O/devices.conf")"
fi
run env CBT_CONF="$O/devices.conf" "$CBT" setup-boot --remove old --no-initramfs
expect setup_boot_remove_missing 1 "no line for \`old' in"

# The boot script's block-size parser, under dash as in the initramfs.
# shellcheck disable=SC2016 # the $1 and $(...) are dash's, not ours
bs_got=$(dash -c '. "$1"; for s in 4k 64k 64KiB 1m 1M 3k 2m abck 99999999999k "" 64; do
	printf "%s=%s " "$s" "$(cbt_block_sectors "$s" || echo no)"; done' _ "$TOP/boot/cbt-boot.sh")
bs_want="4k=8 64k=128 64KiB=128 1m=2048 1M=2048 3k=no 2m=no abck=no 99999999999k=no =no 64=no "
if [ "$bs_got" = "$bs_want" ]; then
	tap_ok "unit/cli/boot_block_size_parser"
else
	tap_fail "unit/cli/boot_block_size_parser: got '$bs_got'"
fi

# --- snapshot: usage errors ------------------------------------------------

run "$CBT" snapshot
expect snapshot_needs_action 2 "cbt snapshot: take, release, drop or list?"
run "$CBT" snapshot frob
expect snapshot_bad_action 2 "unknown action \`frob' (it is take, release, drop or list)"
run "$CBT" snapshot release a 0
expect snapshot_release_args 2 "cbt snapshot release: give DEVICE OFFSET LENGTH"
run "$CBT" snapshot release a 1000 4K
expect snapshot_release_offset 2 "OFFSET is a size in whole sectors, not \`1000'"
run "$CBT" snapshot release a 0 4x
expect snapshot_release_length 2 "LENGTH is a size in whole sectors, not \`4x'"
run "$CBT" snapshot take
expect snapshot_take_needs_device 2 "cbt snapshot take: which DEVICE?"
run "$CBT" snapshot take a b --cow /dev/x
expect snapshot_take_cow_count 2 "2 devices but 1 COW device: give one --cow COW per DEVICE"
run "$CBT" snapshot take a --cow /dev/x --chunk 3K
expect snapshot_take_bad_chunk 2 "--chunk takes a power of two from 4K to 1M, not \`3K'"
run "$CBT" snapshot take a --cow /dev/x --chunk
expect snapshot_take_chunk_value 2 "option \`--chunk' needs a value"
run "$CBT" snapshot take a --cow /dev/x --freeze --no-freeze
expect snapshot_take_freeze_twice 2 "give one of --freeze and --no-freeze, not also \`--no-freeze'"
run "$CBT" snapshot take a --cow /dev/x --frob
expect snapshot_take_unknown_option 2 "unknown option \`--frob'"
run "$CBT" snapshot drop
expect snapshot_drop_needs_device 2 "cbt snapshot drop: which DEVICE?"
run "$CBT" snapshot drop a b
expect snapshot_drop_one_device 2 "takes one DEVICE, not also \`b'"
run "$CBT" snapshot list a
expect snapshot_list_no_device 2 "takes no DEVICE, not \`a'"

# --- clone: usage errors ---------------------------------------------------

run "$CBT" clone
expect clone_needs_args 2 "which DEVICE and TARGET?"
run "$CBT" clone vg
expect clone_needs_target 2 "which TARGET?"
run "$CBT" clone vg /dev/null
expect clone_needs_cow 2 "--cow COW is needed"
run "$CBT" clone vg /dev/null x --cow c
expect clone_three_args 2 "takes DEVICE and TARGET, not also \`x'"
run "$CBT" clone vg /dev/null --cow c --max-passes 0
expect clone_bad_max_passes 2 "--max-passes takes 1 to 1000, not \`0'"
run "$CBT" clone vg /dev/null --cow c --final-pass-ms 3600001
expect clone_bad_final_pass_ms 2 "--final-pass-ms takes milliseconds (0 to 3600000), not \`3600001'"
run "$CBT" clone vg /dev/null --cow c --final-pass-ms 0.5s
expect clone_bad_final_pass_ms_unit 2 "--final-pass-ms takes milliseconds (0 to 3600000), not \`0.5s'"
run "$CBT" clone vg /dev/null --cow c --interval 5
expect clone_interval_needs_follow 2 "--interval goes with --follow"
run "$CBT" clone vg /dev/null --cow c --follow --interval 0
expect clone_bad_interval 2 "--interval takes seconds (1 or more), not \`0'"
run "$CBT" clone vg /dev/null --cow c --freeze --no-freeze
expect clone_freeze_twice 2 "give one of --freeze and --no-freeze"
run "$CBT" clone vg /dev/null --cow c --rate 5X
expect clone_bad_rate 2 "--rate takes bytes per second (as 50M), not \`5X'"
run "$CBT" clone vg /dev/null --cow c --converge 5X
expect clone_bad_converge 2 "--converge takes a size (as 64M), not \`5X'"
run "$CBT" clone vg /dev/null --cow c --throttle 0
expect clone_bad_throttle 2 "--throttle takes bytes per second (as 16M), not \`0'"

# --- The real socket on this host (the module cannot be loaded here) ------

run "$CBT" version
expect version 0 ""
if [[ $out == *"module not loaded"* ]]; then
	run "$CBT" status
	expect status_without_module 1 "cbt status: dm-cbt module not loaded: modprobe dm-cbt"
else
	tap_skip "unit/cli/status_without_module" "a dm_cbt family is registered on this host"
fi

# --- The tool on the fake kernel -------------------------------------------

export CBT_FAKE=
run "$FAKE" status
expect status_all 0 "" "device: vg-data (253:3)
  uuid: 1b4e28ba-2fa1-11d2-883f-0016d3cca427
  identity reason: continued (history continued from the metadata)
  persistence: metadata
  block size: 64 KiB
  size: 6.1 GiB, 100000 blocks
  memory: 12 KiB
  metadata errors: 0
  current epoch: 7
  epoch 5: closed, 26 changed blocks (1.6 MiB)
  epoch 6: closed, 101 changed blocks (6.3 MiB)
  epoch 7: open, 1 changed block (64 KiB)

device: web (253:7)
  uuid: abababab-abab-abab-abab-abababababab
  identity reason: memory-only (no metadata device: history began at the load)
  persistence: none
  block size: 4 KiB
  size: 1 MiB, 256 blocks
  memory: 4 KiB
  metadata errors: 0
  current epoch: 1
  epoch 1: open, 0 changed blocks (0 B)"

run "$FAKE"
expect no_command_is_status 0 ""
[ "$(echo "$out" | head -1)" = "device: vg-data (253:3)" ] || tap_fail "unit/cli/no_command_is_status: output"

run "$FAKE" status --json
expect status_all_json 0 ""
expect_json status_all_json_valid
got=$(echo "$out" | python3 -c 'import json, sys; d = json.load(sys.stdin)
print(len(d), d[0]["epochs"][1]["changed_blocks"], d[0]["size_bytes"])' 2>&1)
if [ "$got" = "2 101 6553567232" ]; then
	tap_ok "unit/cli/status_all_json_content"
else
	tap_fail "unit/cli/status_all_json_content: got '$got'"
fi

run "$FAKE" status 253:7 --json
expect status_one_json 0 "" '{
  "name": "web",
  "major": 253,
  "minor": 7,
  "uuid": "abababab-abab-abab-abab-abababababab",
  "identity_reason": "memory-only",
  "persistence": "none",
  "block_size": 4096,
  "nr_blocks": 256,
  "size_bytes": 1048576,
  "bitmap_bytes": 4096,
  "metadata_errors": 0,
  "last_committed_epoch": 0,
  "current_epoch": 1,
  "epochs": [
    {
      "number": 1,
      "state": "open",
      "changed_blocks": 0,
      "changed_bytes": 0
    }
  ]
}'

# Every held epoch by default; runs across chunks, messages and encodings are one extent.
run "$FAKE" bitmap vg-data --blocks
expect bitmap_blocks 0 "" "0 10
50 1
8190 11
16384 1
16386 1
16388 1
16390 1
20000 100
99999 1"

# Bytes; the last block is half a block, so its extent stops at the device's end.
run "$FAKE" bitmap vg-data --epoch 5
expect bitmap_bytes 0 "" "0 655360
536739840 720896
1073741824 65536
1073872896 65536
1074003968 65536
1074135040 65536
6553534464 32768"

run "$FAKE" bitmap vg-data --summary
expect bitmap_summary 0 "" "device: vg-data (253:3)
epochs: 5..7
changed: 7.9 MiB of 6.1 GiB (0.1%), 127 blocks of 64 KiB
extents: 9"

# --summary: the kernel counts (COUNT_BITMAP) when the module has the
# command; a module without it (nocount) is dumped and counted here. Both
# must print the same bytes, for every range.
W=$(mktemp -d)
for args in "" "--epoch 5" "--epoch 7" "--range 6..7" "--blocks"; do
	# shellcheck disable=SC2086 # args is a list of options
	CBT_FAKE_LOG=$W/log run "$FAKE" bitmap vg-data --summary $args
	expect "bitmap_summary_kernel${args:+_${args//[ .-]/}}" 0 ""
	kernel_out=$out
	# shellcheck disable=SC2086
	CBT_FAKE=nocount CBT_FAKE_LOG=$W/log run "$FAKE" bitmap vg-data --summary $args
	expect "bitmap_summary_dumped${args:+_${args//[ .-]/}}" 0 "" "$kernel_out"
done
# The device query of a summary leaves the epochs' counts out (nobits) when
# the module knows CBT_A_DEVICE_FLAGS; an older one (nocount) is not sent it.
first=$(sed -n '1,3p' "$W/log" | cut -d' ' -f1 | tr '\n' ' ')
if [ "$first" = "nobits count dump " ] && [ "$(grep -c . "$W/log")" = 15 ] &&
	[ "$(grep -c '^nobits vg-data 7$' "$W/log")" = 5 ]; then
	tap_ok "unit/cli/bitmap_summary_counts_in_kernel_when_it_can"
else
	tap_fail "unit/cli/bitmap_summary_counts_in_kernel_when_it_can: $(tr '\n' ';' <"$W/log")"
fi
# Every other read asks for the counts: status shows them.
: >"$W/log"
CBT_FAKE_LOG=$W/log run "$FAKE" bitmap vg-data --json
CBT_FAKE_LOG=$W/log run "$FAKE" bitmap vg-data
CBT_FAKE_LOG=$W/log run "$FAKE" status vg-data
if ! grep -q nobits "$W/log" && [[ $out == *"epoch 6: closed, 101 changed blocks"* ]]; then
	tap_ok "unit/cli/bitmap_only_summary_skips_epoch_counts"
else
	tap_fail "unit/cli/bitmap_only_summary_skips_epoch_counts: $(tr '\n' ';' <"$W/log")"
fi
rm -rf "$W"
CBT_FAKE=badcount run "$FAKE" bitmap vg-data --summary
expect bitmap_summary_bad_counts 5 "vg-data: bad reply from dm-cbt: counts that cannot be"
CBT_FAKE=resize run "$FAKE" bitmap vg-data --summary
expect bitmap_summary_resized 3 "tracking identity or size changed while its bitmap was read"
CBT_FAKE=stale run "$FAKE" bitmap vg-data --summary
expect bitmap_summary_stale 3 "committed or aborted while it was counted"

run "$FAKE" bitmap 253:3 --range 6..7 --json
expect bitmap_json 0 "" '{
  "device": "vg-data",
  "major": 253,
  "minor": 3,
  "uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
  "epoch_first": 6,
  "epoch_last": 7,
  "block_size": 65536,
  "nr_blocks": 100000,
  "size_bytes": 6553567232,
  "unit": "bytes",
  "extents": [
    [3276800, 65536],
    [537067520, 65536],
    [1310720000, 6553600]
  ],
  "nr_extents": 3,
  "changed_blocks": 102,
  "changed_bytes": 6684672
}'
expect_json bitmap_json_valid

run "$FAKE" bitmap web --json
expect_json bitmap_json_empty_valid

run "$FAKE" bitmap vg-data --epoch 4
expect bitmap_epoch_not_held 1 "vg-data: epoch 4 is not held in the kernel (it holds 5..7"

run "$FAKE" status nosuch
expect no_such_device 5 "cbt status: nosuch: No such device: No cbt device by that name or number (\`cbt status' lists the cbt devices)"
# a node that does not exist is no such cbt device too (cbt.8, EXIT STATUS 5)
run "$FAKE" bitmap /dev/mapper/cbt-unit-nosuch
expect no_such_device_node 5 "device \`/dev/mapper/cbt-unit-nosuch' does not exist"
# snapshot drop and release take --json (cbt.8, EXIT STATUS): the error object
run "$FAKE" snapshot drop nosuch --json
expect_in cli/snapshot_drop_json 5 out '"code": 5'
run "$FAKE" snapshot release nosuch 0 4K --json
expect_in cli/snapshot_release_json 5 out '"code": 5'
run "$FAKE" snapshot release vg-data 0 4x --json
expect_in cli/snapshot_release_json_usage 2 out '"error": "cbt snapshot release: LENGTH is a size in whole sectors, not `4x'"'"'",'

run "$FAKE" epoch close vg-data
expect epoch_close 0 "" "7"
run "$FAKE" epoch commit vg-data
expect epoch_commit_which 1 "vg-data: epochs 5, 6 are closed; say which to commit (\`cbt epoch commit vg-data N')"
run "$FAKE" epoch commit vg-data 6
expect epoch_commit_out_of_order 1 "cbt epoch commit: vg-data: Invalid argument: An older closed epoch must be committed first"
run "$FAKE" epoch commit vg-data 5
expect epoch_commit 0 "" ""
run "$FAKE" epoch abort vg-data 7
expect epoch_abort_open 1 "cbt epoch abort: vg-data: No such file or directory: No such closed epoch"
run "$FAKE" epoch abort web
expect epoch_abort_none_closed 1 "web: no epoch is closed, so there is none to abort (\`cbt epoch close web' closes one)"

# clone: a refused TARGET is bad usage (docs/clone.md, Exit status), untouched
clone_tgt=$O/clone-small
rm -f "$clone_tgt" "$clone_tgt.none"
printf 'keep' >"$clone_tgt"
run "$FAKE" clone vg-data "$clone_tgt" --cow /dev/null
expect clone_target_too_small 2 "target \`$clone_tgt' is smaller than the source (4 B < 6.1 GiB)"
[ "$(cat "$clone_tgt")" = keep ] || tap_fail "unit/cli/clone_target_too_small: the target changed"
run "$FAKE" clone vg-data "$clone_tgt.none" --cow /dev/null
expect clone_target_missing 2 "target \`$clone_tgt.none' does not exist"
[ ! -e "$clone_tgt.none" ] || tap_fail "unit/cli/clone_target_missing: the target was created"
run "$FAKE" clone vg-data "$clone_tgt" --cow /dev/null --json
got=$(echo "$out" | python3 -c 'import json, sys; l = sys.stdin.read().splitlines()
print(len(l), json.loads(l[0])["code"])' 2>&1)
if [ "$rc" = 2 ] && [ "$got" = "1 2" ]; then
	tap_ok "unit/cli/clone_target_refused_json"
else
	tap_fail "unit/cli/clone_target_refused_json: exit status $rc, got '$got'"
fi
rm -f "$clone_tgt"

# clone: closed epochs it did not close (a backup in progress) make it refuse
# to start, commit and abort nothing (docs/clone.md, "Epochs"). vg-data has
# 5 and 6 closed. A state file left by a run that stopped cleanly (its epochs
# aborted: "epochs_held": false, resume_epoch 5, open then) does not make
# them its own; one left by a killed run ("epochs_held": true) does.
cw=$(mktemp -d)
truncate -s 7G "$cw/tgt"
# clone_state HELD: a state file for $cw/tgt, incomplete, from epoch 5 on.
clone_state() {
	mkdir -p "$cw/state"
	printf '{"version": 1, "source": "vg-data", "target": "%s", "source_uuid":
 "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "source_bytes": 6553567232,
 "block_size": 65536, "target_bytes": 7516192768, "target_sum": 1,
 "resume_epoch": 5, "full_done": false, "copied_upto": 0, "complete": false,
 "used_only": false, "last_epoch": 0, "epochs_held": %s, "updated": 1}\n' \
		"$cw/tgt" "$1" >"$cw/state/clone-${cw//\//-}-tgt.json"
}
CBT_FAKE_LOG=$cw/log run "$FAKE" clone vg-data "$cw/tgt" --cow /dev/null --state-dir "$cw/state"
expect clone_foreign_closed_epoch 1 "cbt clone: vg-data has epoch 5 closed, waiting for commit or abort (a backup in progress?); finish it first (\`cbt epoch commit|abort vg-data 5')"
if [ -e "$cw/log" ] || [ -e "$cw/state" ]; then
	tap_fail "unit/cli/clone_foreign_closed_epoch: it changed tracking or wrote a state file"
fi
clone_state false
cp "$cw/state"/* "$cw/state.before"
CBT_FAKE_LOG=$cw/log run "$FAKE" clone vg-data "$cw/tgt" --cow /dev/null --state-dir "$cw/state"
expect clone_stale_state_foreign_epoch 1 "vg-data has epoch 5 closed, waiting for commit or abort"
if [ -e "$cw/log" ]; then
	tap_fail "unit/cli/clone_stale_state_foreign_epoch: it took them over: $(tr '\n' ' ' <"$cw/log")"
fi
cmp -s "$cw/state"/* "$cw/state.before" ||
	tap_fail "unit/cli/clone_stale_state_foreign_epoch: the state file changed"
rm -f "$cw/log"
clone_state true
CBT_FAKE_LOG=$cw/log run "$FAKE" clone vg-data "$cw/tgt" --cow /dev/null --state-dir "$cw/state"
# The fake refuses the snapshot: the run fails and aborts the epochs it took over.
expect_in cli/clone_killed_run_epochs_taken_over 1 err "(epochs 5, 6 aborted)"
[ "$(cat "$cw/log" 2>/dev/null)" = $'abort vg-data 5\nabort vg-data 6' ] ||
	tap_fail "unit/cli/clone_killed_run_epochs_taken_over: log $(tr '\n' ' ' <"$cw/log")"
grep -q '"epochs_held": false' "$cw/state"/* ||
	tap_fail "unit/cli/clone_killed_run_epochs_taken_over: the state file still says epochs are held"
# A target holding a filesystem, from an earlier clone of vg-data that
# cannot be resumed (its first MiB no longer matches): a refused TARGET
# without --force, 2 (docs/clone.md, "Exit status"), nothing written.
rm -f "$cw/tgt" "$cw/log"
truncate -s 7G "$cw/tgt"
mkfs.ext4 -q -F -L olddata "$cw/tgt"
clone_state false
cp "$cw/state"/* "$cw/state.before"
head_sum=$(head -c 1M "$cw/tgt" | sha256sum)
CBT_FAKE_LOG=$cw/log run "$FAKE" clone vg-data "$cw/tgt" --cow /dev/null --state-dir "$cw/state"
expect clone_unresumable_target_refused 2 "holds an ext4 filesystem (UUID "
expect_in cli/clone_unresumable_target_says_why 2 err "from an earlier clone that cannot be resumed (the target was written since the last run: its first MiB changed); --force starts over"
{ [ ! -e "$cw/log" ] && cmp -s "$cw/state"/* "$cw/state.before" &&
	[ "$(head -c 1M "$cw/tgt" | sha256sum)" = "$head_sum" ]; } ||
	tap_fail "unit/cli/clone_unresumable_target_refused: something was written"
rm -rf "$cw"
# migrate: bad usage is 2; a SOURCE-DISK that does not exist or is not a
# block device is 5 (cbt.8, EXIT STATUS), said before anything is read.
run "$CBT" migrate
expect migrate_needs_args 2 "Usage: cbt migrate SOURCE-DISK TARGET-DISK"
run "$CBT" migrate /dev/sda /dev/sdb /dev/sdc
expect migrate_three_args 2 "Usage: cbt migrate SOURCE-DISK TARGET-DISK"
run "$CBT" migrate /dev/sda /dev/sdb --grow 0
expect migrate_bad_grow 2 "cbt migrate: --grow wants a partition number \`0'"
run "$CBT" migrate /dev/sda /dev/sdb --bogus
expect migrate_bad_option 2 "cbt migrate: unknown option \`--bogus'"
run "$CBT" migrate /nonexistent/disk /dev/sdb --dry-run
expect migrate_source_missing 5 "migrate: /nonexistent/disk does not exist"
run "$CBT" migrate /dev/null /dev/sdb --dry-run
expect migrate_source_not_blk 5 "migrate: /dev/null is not a block device (a whole disk)"
truncate -s 8M "$O/migrate-file"
run "$CBT" migrate "$O/migrate-file" /dev/sdb --dry-run
expect migrate_source_file 5 "migrate: $O/migrate-file is not a block device (a whole disk)"
rm -f "$O/migrate-file"

# monitor --json: a failure ends the stream with the error object, on one line
CBT_FAKE=nomodule run "$FAKE" monitor --json
got=$(echo "$out" | python3 -c 'import json, sys; l = sys.stdin.read().splitlines()
print(len(l), json.loads(l[0])["code"], json.loads(l[0])["error"])' 2>&1)
if [ "$rc" = 1 ] && [ "$got" = "1 1 cbt monitor: dm-cbt module not loaded: modprobe dm-cbt" ]; then
	tap_ok "unit/cli/monitor_json_error"
else
	tap_fail "unit/cli/monitor_json_error: exit status $rc, got '$got'"
fi
CBT_FAKE=full run "$FAKE" epoch close vg-data
expect epoch_close_full 1 "vg-data: Device or resource busy: Too many closed epochs: commit or abort one first"
CBT_FAKE=nomodule run "$FAKE" status
expect fake_no_module 1 "cbt status: dm-cbt module not loaded: modprobe dm-cbt"
CBT_FAKE=eperm run "$FAKE" epoch close vg-data
expect not_root 1 "vg-data: Operation not permitted (cbt needs CAP_SYS_ADMIN: run it as root)"
CBT_FAKE=nodevs run "$FAKE" status --json
expect no_devices_json 0 "" "[]"
CBT_FAKE=nodevs run "$FAKE" status
expect no_devices 0 "" ""
CBT_FAKE=corrupt run "$FAKE" bitmap vg-data
expect bad_kernel_chunk 5 "vg-data: bad reply from dm-cbt: chunk at block 8192: extent 1 (+0, 9 blocks) is out of order"
CBT_FAKE=resize run "$FAKE" bitmap vg-data
expect resized_while_reading 1 "vg-data: the device changed while its bitmap was read"
CBT_FAKE=uuidchange run "$FAKE" bitmap vg-data --summary
expect identity_changed_while_reading 3 "tracking identity or size changed while its bitmap was read"
CBT_FAKE=stale run "$FAKE" bitmap vg-data
expect epoch_gone_while_reading 3 "Stale file handle (an epoch was committed or aborted while it was read)"
CBT_FAKE=replaced run "$FAKE" status vg-data --json
expect status_reason_json 0 ""
got=$(echo "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["identity_reason"])' 2>&1)
if [ "$got" = table-replaced ]; then
	tap_ok "unit/cli/status_reason_json_content"
else
	tap_fail "unit/cli/status_reason_json_content: got '$got'"
fi
CBT_FAKE=replaced run "$FAKE" status vg-data
expect status_reason 0 ""
if [[ $out == *"identity reason: table-replaced (the cbt table was replaced"* ]]; then
	tap_ok "unit/cli/status_reason_content"
else
	tap_fail "unit/cli/status_reason_content: $out"
fi
# Review M6: the module's interface version is compared. An older module
# serves the commands that only read; a newer one, or a command that
# changes state on an older one, is refused with what to do.
CBT_FAKE=v1 run "$FAKE" status --json
expect older_module_status 0 ""
CBT_FAKE=v1 run "$FAKE" bitmap vg-data --summary
expect older_module_bitmap 0 ""
CBT_FAKE=v1 run "$FAKE" epoch close vg-data
expect older_module_epoch_close 5 "the loaded dm-cbt speaks netlink version 1, this tool 2: reload the module (modprobe -r dm_cbt; modprobe dm_cbt) or reboot"
CBT_FAKE=v99 run "$FAKE" status
expect newer_module_status 5 "the loaded dm-cbt speaks netlink version 99, this tool 2: the module is newer than this tool"
CBT_FAKE=v99 run "$FAKE" version
expect newer_module_version 0 ""
if [[ $out == *"kernel: dm_cbt version 99 (not this tool's"* ]]; then
	tap_ok "unit/cli/newer_module_version_shown"
else
	tap_fail "unit/cli/newer_module_version_shown: $out"
fi
unset CBT_FAKE

# libcurl is loaded at the first S3 command (tools/lib/store/curl_dl.h): a
# missing one is a clear error before any request (CBT_TEST_LIBCURL, test
# builds: load another name), and the real one answers (nothing listens on
# port 1: libcurl's own error, so it was loaded and ran).
s3env=(AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s CBT_S3_ENDPOINT=http://127.0.0.1:1 CBT_S3_RETRIES=0)
run env "${s3env[@]}" CBT_TEST_LIBCURL=libcbt-no-such-curl.so.4 "$CBT" info s3://bucket/x
expect s3_libcurl_missing 1 "cbt info: S3 needs libcurl, which could not be loaded (libcbt-no-such-curl.so.4: cannot open shared object file"
run env "${s3env[@]}" "$CBT" info s3://bucket/x
expect s3_libcurl_loaded 1 "cbt info: GET s3://bucket/x/chain.idx: Couldn't connect to server (after 1 attempts)"
