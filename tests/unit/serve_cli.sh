# shellcheck shell=bash
# Host tests of the nbdkit plugin and `cbt serve DIR' (docs/mount.md), on a
# chain mkimg writes: every point read whole over NBD (nbdcopy) equals a
# `cbt restore' of it; base:allocation's data extents are what the images
# hold; a corrupt frame is an error, never data, and is logged with the
# image's name; a chain with a missing image stops nbdkit before it
# listens; `cbt serve' over a Unix socket and over TCP with TLS (PSK).
# The plugin is tools/nbdkit-cbt-plugin.so (built without sanitizers: nbdkit
# is not). Sourced by tests/unit/run after image_cli.sh; uses cli.sh's run
# and expect. Skipped when nbdkit or libnbd-bin is missing.

# $out, $err and $rc are set by cli.sh's run; $uri and $OUT expand in the
# shell nbdkit --run starts; the chain's files are named by the tool.
# shellcheck disable=SC2154,SC2016,SC2012
SW=$O/serve-cli
PLUGIN=$TOP/tools/nbdkit-cbt-plugin.so

# serve_ok NAME COMMAND...: a TAP line for a command's success.
serve_ok() { ok_cmd "unit/serve_cli/$1" "${@:2}"; }

# nbd_copy POINT OUT [PARAM...]: the point read whole through the plugin.
nbd_copy() {
	local at=$1 o=$2
	shift 2
	OUT=$o nbdkit -U - -r "$PLUGIN" chain="$SW/chain" at="$at" "$@" --run 'nbdcopy "$uri" "$OUT"'
}

# data extents of the point as "offset length" lines (nbdinfo --map, merged)
data_map() {
	nbdkit -U - -r "$PLUGIN" chain="$SW/chain" at="$1" --run 'nbdinfo --map "$uri"' |
		awk '$3 == 0 { if (n && e == $1) { e += $2 } else { if (n) print s, e - s; s = $1; e = $1 + $2; n = 1 } }
			END { if (n) print s, e - s }'
}

if ! command -v nbdkit >/dev/null || ! command -v nbdcopy >/dev/null; then
	tap_skip unit/serve_cli "nbdkit or nbdcopy (libnbd-bin) is not installed"
elif ! make -s -C "$TOP/tools" WERROR=1 nbdkit-cbt-plugin.so >"$O/plugin-build.log" 2>&1; then
	tap_fail "unit/serve_cli: the nbdkit plugin did not build (see $O/plugin-build.log)"
else
	rm -rf "$SW"
	mkdir -p "$SW"
	truncate -s 16M "$SW/dev"
	dd if=/dev/urandom of="$SW/dev" bs=4k seek=0 count=4 conv=notrunc status=none
	dd if=/dev/urandom of="$SW/dev" bs=4k seek=1000 count=600 conv=notrunc status=none
	"$MKIMG" "$SW/dev" full --to "$SW/chain" "$IU" 1 4096 - nonzero zstd:1 >/dev/null
	dd if=/dev/urandom of="$SW/dev" bs=4k seek=2 count=1 conv=notrunc status=none
	dd if=/dev/urandom of="$SW/dev" bs=4k seek=3000 count=8 conv=notrunc status=none
	"$MKIMG" "$SW/dev" incremental --to "$SW/chain" "$IU" 2 4096 2,3000-3007 nonzero zstd:1 >/dev/null
	dd if=/dev/urandom of="$SW/dev" bs=4k seek=1200 count=300 conv=notrunc status=none
	"$MKIMG" "$SW/dev" incremental --to "$SW/chain" "$IU" 3 4096 1200-1499 nonzero none >/dev/null

	for i in 1 2 3; do
		"$CBT" restore --quiet "$SW/chain" --at "$i" "$SW/want$i" >/dev/null 2>&1
		rm -f "$SW/got$i"
		nbd_copy "$i" "$SW/got$i" >/dev/null 2>&1
		serve_ok "plugin_point_${i}_exact" cmp "$SW/got$i" "$SW/want$i"
	done
	rm -f "$SW/gotf"
	OUT=$SW/gotf nbdkit -U - -r "$PLUGIN" "$SW/chain/000001-full.cbti" \
		--run 'nbdcopy "$uri" "$OUT"' >/dev/null 2>&1
	serve_ok plugin_full_image_file cmp "$SW/gotf" "$SW/want1"
	nbd_copy 2 "$SW/got2c" cache=1M check=true >/dev/null 2>&1
	serve_ok plugin_cache_and_check_parameters cmp "$SW/got2c" "$SW/want2"
	# point 2 holds blocks 0-3 (full), 1000-1599 (full), 3000-3007 (incremental)
	data_map 2 >"$SW/map2"
	printf '0 16384\n4096000 2457600\n12288000 32768\n' >"$SW/want-map2"
	serve_ok plugin_base_allocation_is_the_images_blocks cmp "$SW/map2" "$SW/want-map2"

	# damage one byte in the middle of image 3 (uncompressed: its data)
	cp -a "$SW/chain" "$SW/bad"
	img3=$(ls "$SW"/bad/*.cbti | sed -n 3p)
	printf '\377' | dd of="$img3" bs=1 seek=$(($(stat -c %s "$img3") / 2)) conv=notrunc status=none
	run env OUT="$SW/bad.raw" nbdkit -U - -r "$PLUGIN" chain="$SW/bad" --run 'nbdcopy "$uri" "$OUT"'
	if [ "$rc" -ne 0 ] && [[ $err == *"$(basename "$img3")"* ]] && [[ $err == *"damaged frame"* ]]; then
		tap_ok "unit/serve_cli/corrupt_frame_fails_the_read_and_logs_the_image"
	else
		tap_fail "unit/serve_cli/corrupt_frame_fails_the_read_and_logs_the_image: rc $rc: $err"
	fi
	# a read away from the damage still works: the first 16 KiB (image 1)
	rm -f "$SW/head3got"
	OUT=$SW/head3got nbdkit -U - -r --filter=truncate "$PLUGIN" chain="$SW/bad" truncate=16384 \
		--run 'nbdcopy "$uri" "$OUT"' >/dev/null 2>&1
	head -c 16384 "$SW/want3" >"$SW/head3"
	serve_ok corrupt_frame_other_ranges_read cmp "$SW/head3got" "$SW/head3"

	cp -a "$SW/chain" "$SW/gap"
	rm "$SW/gap/000002-incr.cbti"
	run nbdkit -U - -r "$PLUGIN" chain="$SW/gap" --run 'echo served'
	if [ "$rc" -ne 0 ] && [ -z "$out" ] && [[ $err == *"000002-incr.cbti"* ]]; then
		tap_ok "unit/serve_cli/missing_image_stops_nbdkit_before_it_listens"
	else
		tap_fail "unit/serve_cli/missing_image_stops_nbdkit_before_it_listens: rc $rc out '$out': $err"
	fi

	# cbt serve: the plugin from the build tree
	export CBT_NBDKIT_PLUGIN=$PLUGIN
	run "$CBT" serve "$SW/gap" --socket "$SW/s.sock"
	expect serve_refuses_missing_image 4 "000002-incr.cbti"
	run "$CBT" serve "$SW/chain" --socket "$SW/s.sock" --tcp 127.0.0.1:1
	expect serve_one_listener 2 "give one of --socket and --tcp"
	run "$CBT" serve "$SW/chain" --socket "$SW/s.sock" --tls-psk "$SW/psk"
	expect serve_tls_needs_tcp 2 "TLS is for --tcp"
	run "$CBT" serve "$SW/chain" --tcp 127.0.0.1
	expect serve_tcp_needs_port 2 "--tcp takes ADDR:PORT"

	"$CBT" serve "$SW/chain" --at 2 --socket "$SW/s.sock" 2>"$SW/serve.err" &
	spid=$!
	for _ in $(seq 100); do [ -S "$SW/s.sock" ] && break; sleep 0.1; done
	rm -f "$SW/gots"
	nbdcopy "nbd+unix:///?socket=$SW/s.sock" "$SW/gots" 2>/dev/null
	serve_ok serve_socket_point_2_exact cmp "$SW/gots" "$SW/want2"
	# qemu's own NBD client, with the URI syntax docs/mount.md gives for -drive
	rm -f "$SW/gotq"
	qemu-img convert -f raw -O raw "nbd:unix:$SW/s.sock" "$SW/gotq" 2>/dev/null
	serve_ok serve_socket_qemu_client_exact cmp "$SW/gotq" "$SW/want2"
	kill "$spid"; wait "$spid" 2>/dev/null
	# nbdkit leaves its socket file: the next serve on that path replaces it
	# (it failed with "Address already in use" before)
	"$CBT" serve "$SW/chain" --at 1 --socket "$SW/s.sock" 2>"$SW/serve.err" &
	spid=$!
	for _ in $(seq 100); do
		nbdinfo --size "nbd+unix:///?socket=$SW/s.sock" >/dev/null 2>&1 && break
		sleep 0.1
	done
	rm -f "$SW/gots1"
	nbdcopy "nbd+unix:///?socket=$SW/s.sock" "$SW/gots1" 2>/dev/null
	serve_ok serve_socket_stale_replaced cmp "$SW/gots1" "$SW/want1"
	kill "$spid"; wait "$spid" 2>/dev/null
	echo x >"$SW/not-a-socket"
	run "$CBT" serve "$SW/chain" --socket "$SW/not-a-socket"
	expect serve_socket_not_a_socket_refused 1 "not-a-socket exists and is not a socket"

	# TCP with TLS (pre-shared key); a client without TLS is turned away
	printf 'alice:%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$SW/psk"
	chmod 600 "$SW/psk"
	port=$((20000 + RANDOM % 20000))
	"$CBT" serve "$SW/chain" --tcp "127.0.0.1:$port" --tls-psk "$SW/psk" 2>"$SW/serve.err" &
	spid=$!
	for _ in $(seq 100); do nbdinfo --can connect "nbds://alice@127.0.0.1:$port/?tls-psk-file=$SW/psk" 2>/dev/null && break; sleep 0.1; done
	rm -f "$SW/gott"
	nbdcopy "nbds://alice@127.0.0.1:$port/?tls-psk-file=$SW/psk" "$SW/gott" 2>/dev/null
	serve_ok serve_tcp_tls_psk_last_point_exact cmp "$SW/gott" "$SW/want3"
	if nbdinfo "nbd://127.0.0.1:$port/" >/dev/null 2>&1; then
		tap_fail "unit/serve_cli/serve_tls_refuses_plain_client"
	else
		tap_ok "unit/serve_cli/serve_tls_refuses_plain_client"
	fi
	kill "$spid"; wait "$spid" 2>/dev/null
	unset CBT_NBDKIT_PLUGIN
fi
