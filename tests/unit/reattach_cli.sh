# shellcheck shell=bash
# udev/cbt-reattach with stub dmsetup, flock and cbt (sourced by
# tests/unit/run after cli.sh: run, expect). The LVM case runs in the VMs
# (attach_lvm_reattach); here: which lock the attach runs under.

R=$O/reattach
rm -rf "$R"
mkdir -p "$R/bin" "$R/run/attached" "$R/lock"
for t in sh sed awk grep tr cat readlink; do
	ln -s "$(command -v "$t")" "$R/bin/$t"
done
cat >"$R/bin/dmsetup" <<'STUB'
#!/bin/sh
case "$1" in
table) echo "0 8 linear 7:0 0" ;;
splitname) n=$6; echo "  ${n%%-*}" ;;
esac
exit 0
STUB
# flock FD: the per-device lock; flock [opts] FILE CMD...: log, then run CMD
cat >"$R/bin/flock" <<'STUB'
#!/bin/sh
case "$1" in [0-9]*) exit 0 ;; esac
echo "flock $*" >>"$LOG"
while [ $# -gt 0 ]; do
	case "$1" in -E | -w) shift 2 ;; -*) shift ;; *) break ;; esac
done
shift
exec "$@"
STUB
cat >"$R/bin/cbt" <<'STUB'
#!/bin/sh
echo "cbt $*" >>"$LOG"
STUB
chmod +x "$R/bin/dmsetup" "$R/bin/flock" "$R/bin/cbt"

# reattach NAME UUID: one change event, the handler as udev's child
reattach() {
	printf 'BLOCK_SIZE=65536\nMETADATA=\n' >"$R/run/attached/$1"
	: >"$R/log"
	run env -i PATH="$R/bin" LOG="$R/log" CBT_RUN_DIR="$R/run" CBT="$R/bin/cbt" \
		LVM_LOCK_DIR="$R/lock" CBT_REATTACH_CHILD=1 ACTION=change DM_NAME="$1" \
		DM_UUID="$2" sh "$TOP/udev/cbt-reattach"
}

# an LV: the attach itself under the VG lock, even before LVM made the file
reattach vg0-lv LVM-abcdefabcdefabcdefabcdefabcdefab
expect reattach_lv 0 "vg0-lv: its table was replaced (an LVM reload); tracking again"
if [ "$(cat "$R/log")" = "flock -E 75 -s -w 120 $R/lock/V_vg0 $R/bin/cbt attach vg0-lv --block-size 65536
cbt attach vg0-lv --block-size 65536" ]; then
	tap_ok "unit/reattach/lv_attach_under_vg_lock"
else
	tap_fail "unit/reattach/lv_attach_under_vg_lock: $(tr '\n' '|' <"$R/log")"
fi
# a name like VG-LV that is no LV: no LVM lock
reattach crypt-disk CRYPT-LUKS2-0123
expect reattach_not_lv 0 "crypt-disk: its table was replaced (an LVM reload); tracking again"
if [ "$(cat "$R/log")" = "cbt attach crypt-disk --block-size 65536" ]; then
	tap_ok "unit/reattach/not_lv_no_lvm_lock"
else
	tap_fail "unit/reattach/not_lv_no_lvm_lock: $(tr '\n' '|' <"$R/log")"
fi
# no flock(1): says so (kernel log, and stderr) and attaches nothing
mv "$R/bin/flock" "$R/flock"
reattach vg0-lv LVM-abcdefabcdefabcdefabcdefabcdefab
expect reattach_no_flock 0 "vg0-lv: no flock(1) here"
if [ -s "$R/log" ]; then
	tap_fail "unit/reattach/no_flock_no_attach: $(tr '\n' '|' <"$R/log")"
else
	tap_ok "unit/reattach/no_flock_no_attach"
fi
