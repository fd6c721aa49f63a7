#!/bin/sh
# Table fuzzing: seeded random `cbt` and `cbt-snap` table lines (random
# argument counts, numbers, devices: the origin, the metadata device, a
# live cbt device, the device itself, nonexistent paths and numbers, huge
# block and chunk sizes, feature arguments) through `dmsetup create` and
# `dmsetup reload` of a live cbt device, and random `dmsetup message` lines
# at the targets. Each table is accepted or refused; a refused one must
# leave no device behind, say why (the kernel's "table: ..." line, never
# "Unknown error"), and write NOTHING: the sha256 of every disk it names is
# the same before and after. Set FUZZ_SEED to replay (the seed is printed),
# FUZZ_COUNT for the number of lines.
# disks: 4M 1M 4M 4M
# cost: 117
# timeout: 480

W=/tmp/fuzztab

cleanup() {
	dm_remove fz fzs fb
}

need_module dm_cbt
need_cmd cbt
rm -rf "$W" && mkdir -p "$W"

# Random content on the disks (the metadata disk too, but for its first
# 64 KiB: a blank metadata device can be accepted), so that a write of
# zeros shows in the hashes.
for d in "$DISK1" "$DISK2" "$DISK3" "$DISK4"; do
	dd if=/dev/urandom of="$d" bs=64k count=$(($(sectors "$d") / 128)) 2>/dev/null
done
dd if=/dev/zero of="$DISK2" bs=64k count=1 conv=notrunc,fsync 2>/dev/null

# fb: a live memory-only cbt device over DISK4; it writes nothing by itself.
cbt_create fb "$DISK4" 8
FBNUM=$(dmsetup info -c --noheadings -o major,minor fb | tr -d ' ')

seed=${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
count=${FUZZ_COUNT:-120}
log "fuzzing $count table lines, seed $seed"

# One job per line: "create|reload|message<TAB>arguments". The generator
# mutates valid lines: a token dropped, repeated, replaced or appended.
awk -v seed="$seed" -v n="$count" -v d1="$DISK1" -v d2="$DISK2" -v d3="$DISK3" \
	-v d4="$DISK4" -v s1="$(sectors "$DISK1")" -v s4="$(sectors "$DISK4")" -v fbnum="$FBNUM" '
function r(k) { return int(rand() * k) }
function pick(s,   a, k) { k = split(s, a, " "); return a[1 + r(k)] }
function dev() { return pick(d1 " " d1 " " d2 " " d3 " " d4 " /dev/mapper/fb /dev/mapper/fz " fbnum " /dev/nonexistent 999:999 253:250 0:0 /dev/null") }
function num() {
	if (r(3)) return pick("8 16 128 2048 8 64")
	return pick("0 1 7 4096 4097 -8 4294967304 18446744073709551624 0x10 128x 1e3 +8 4194304 32768 9999999999999999999999")
}
function len() { return r(6) ? s1 : pick("0 1 " s4 " " (s1 * 2) " 18446744073709551615 -1") }
function mutate(line,   a, k, i, out, m) {
	k = split(line, a, " ")
	m = r(6)
	out = ""
	for (i = 1; i <= k; i++) {
		if (m == 1 && i == 3 + r(k - 2)) continue		# drop one
		if (m == 2 && i == 3 + r(k - 2)) a[i] = (r(2) ? dev() : num())
		if (m == 3 && i == 3 + r(k - 2)) out = out " " a[i]	# repeat one
		out = out " " a[i]
	}
	if (m == 4) for (i = r(4); i >= 0; i--) out = out " " pick("metadata nosuch 1 2 3 " dev() " " num())
	return substr(out, 2)
}
function cbt_line(   f) {
	f = pick("0 0 1 2 2 2 3 4 -1 99999999999")
	if (f == 2 || r(3) == 0) return "0 " len() " cbt " dev() " " num() " " f " " pick("metadata metadata Metadata nosuch") " " dev()
	return "0 " len() " cbt " dev() " " num() (r(2) ? " " f : "")
}
function snap_line() {
	# aimed at review H1: a COW device the checks refuse (the disk of the origin,
	# the cbt device, the metadata disk), the rest valid
	if (r(5) == 0) return "0 " s4 " cbt-snap /dev/mapper/fb " pick(d4 " /dev/mapper/fb " d2 " " fbnum) " " pick("8 128 2048")
	return "0 " len() " cbt-snap " pick("/dev/mapper/fb /dev/mapper/fb " fbnum " " d1 " " d4 " /dev/mapper/fz") " " dev() " " num()
}
function message(   w) {
	w = pick("close_epoch close_epoch commit_epoch abort_epoch commit_epoch abort_epoch CLOSE_EPOCH nosuch status")
	if (w ~ /commit|abort/ || r(4) == 0) w = w " " pick("1 2 3 4 0 -1 18446744073709551615 18446744073709551616 x 1x")
	if (r(6) == 0) w = w " " num()
	return w
}
BEGIN {
	srand(seed)
	for (j = 0; j < n; j++) {
		x = r(10)
		if (x < 4) print "create\t" mutate(cbt_line())
		else if (x < 7) {
			l = snap_line()
			# an aimed line goes unmutated half of the time
			if (!(l ~ /^0 [0-9]+ cbt-snap \/dev\/mapper\/fb [^ ]+ [0-9]+$/) || r(2)) l = mutate(l)
			print "create\t" l
		}
		else if (x < 8) print "reload\t" mutate(cbt_line())
		else print "message\t" pick("fb fb fz fzs") "\t" message()
	}
}' >"$W/jobs"

# Hashes of the disks a line names (all four when it names a dm device:
# they sit on them).
hashes() {
	local t d
	for t in $1; do
		case "$t" in
		/dev/vd*) echo "$t" ;;
		/dev/mapper/* | *:*) echo "$DISK1 $DISK2 $DISK3 $DISK4" | tr ' ' '\n' ;;
		esac
	done | sort -u | while read -r d; do
		[ -b "$d" ] || continue
		# the first MiB apart: a write there (a COW chunk zeroed) is told from one elsewhere
		# (dd: busybox head -c and tail -c copy a byte at a time)
		echo "$d head $(dd if="$d" bs=64k count=16 2>/dev/null | sha256sum)"
		echo "$d rest $(dd if="$d" bs=64k skip=16 2>/dev/null | sha256sum)"
	done
}


# A refusal must say why in the kernel log when the target's constructor
# ran (or the table layer refused it first).
says_why() {
	local m
	m=$(dmesg | tail -n 20 | grep "device-mapper: table: " | tail -n 1) || :
	case "$m" in
	*"Unknown error"*) fail "refused without a reason: $1: $m" ;;
	"") grep -q . "$W/err" || fail "refused in silence (no kernel line, no dmsetup message): $1" ;;
	esac
	return 0
}

acc=0 ref=0 macc=0 mref=0 i=0
tab=$(printf '\t')
while IFS="$tab" read -r op a b; do
	i=$((i + 1))
	case "$op" in
	message)
		# shellcheck disable=SC2086 # the message's words, split on purpose
		if dmsetup message "$a" 0 $b >"$W/err" 2>&1; then macc=$((macc + 1)); else mref=$((mref + 1)); fi
		continue
		;;
	create) name=fz ;;
	reload) name=fb ;;
	esac
	# a cbt-snap over fz needs fz: sometimes there is one
	case "$a" in *"cbt-snap"*) name=fzs ;; esac
	# a live fz takes the line as a reload
	if [ "$op" = create ] && dmsetup info "$name" >/dev/null 2>&1; then op=reload; fi
	dmesg -c >/dev/null
	hashes "$a" >"$W/before"
	if dmsetup "$op" "$name" --table "$a" >"$W/err" 2>&1; then
		acc=$((acc + 1))
		log "#$i accepted ($op $name): $a"
		# A cbt device stays for the next lines (a cbt-snap over it, messages);
		# anything else, and a reloaded table, goes.
		if [ "$op" = reload ]; then
			assert_cmd dmsetup clear "$name"
		elif [ "$name" = fzs ] || [ "$((i % 3))" = 0 ]; then
			dmsetup remove "$name" || fail "cannot remove $name after #$i"
		fi
		continue
	fi
	ref=$((ref + 1))
	says_why "#$i $op $name: $a"
	if [ "$op" = create ] && dmsetup info "$name" >/dev/null 2>&1; then
		fail "#$i: refused but $name exists: $a"
	fi
	hashes "$a" >"$W/after"
	if ! cmp -s "$W/before" "$W/after"; then
		grep -v -x -F -f "$W/before" "$W/after" >"$W/changed" || :
		diff "$W/before" "$W/after" || :
		fail "#$i: a refused table wrote to a device: $op $name: $a (seed $seed)"
	fi
done <"$W/jobs"

log "tables: $acc accepted, $ref refused; messages: $macc accepted, $mref refused"
assert_eq "$((acc + ref + macc + mref))" "$count" "lines run"
[ "$ref" -gt 0 ] || fail "no table was refused: the generator is broken"
dmsetup remove fzs 2>/dev/null || :
dmsetup remove fz 2>/dev/null || :
log "the live device still works"
assert_cmd dd if=/dev/urandom of=/dev/mapper/fb bs=4096 count=1 seek=5 oflag=direct
assert_cmd cbt status fb
pass
