# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
# dm-cbt at boot: create the cbt devices /etc/cbt/devices.conf lists,
# before the root filesystem is mounted. Sourced (POSIX sh, busybox or
# dash) by the initramfs-tools local-top script and the dracut hook; also
# runnable on its own for tests: `sh cbt-boot.sh CONF [ROOT]'.
#
# Never stops the boot: whatever goes wrong (no dm-cbt module, a bad line,
# a missing disk, a table the kernel refuses), that disk stays as it is,
# the machine boots without tracking it, and the reason goes to the kernel
# log (/dev/kmsg, so it is in the journal) as "cbt-boot: ...". When such a
# line names a metadata device that holds dm-cbt metadata, the magic of its
# two superblocks becomes DM_CBT_MD_STALE_MAGIC ("cbtStale"): the disk is
# about to be written untracked, so the next load of that metadata starts
# a new history (reason untracked-boot) instead of trusting old bitmaps.
# Nothing else is written, and nothing at all to a device without the magic.
#
# devices.conf, one disk per line, '#' starts a comment:
#   NAME SOURCE [block-size=SIZE] [metadata=SOURCE]
# NAME    the device-mapper name: the disk is /dev/mapper/NAME from then on
# SOURCE  UUID=<fs uuid>, PARTUUID=<partition uuid>, or a path (/dev/vdb,
#         /dev/disk/by-id/...)
# SIZE    tracking block size: 4k 8k ... 1m (default 64k)
# Example:
#   root PARTUUID=5e1c0b3a-02 block-size=64k metadata=PARTUUID=5e1c0b3a-03

# How long a line's disk may take to appear: as long as initramfs-tools
# waits for root (scripts/local: 30 s, or rootdelay= when longer). A
# shorter wait would boot a root that udev is still probing untracked, and
# force the next backup to be a full one.
CBT_BOOT_WAIT=${CBT_BOOT_WAIT:-30}
case ${ROOTDELAY:-} in
'' | *[!0-9]*) ;;
*) [ "$ROOTDELAY" -le "$CBT_BOOT_WAIT" ] || CBT_BOOT_WAIT=$ROOTDELAY ;;
esac

# cbt_kmsg LEVEL MSG: the kernel log (LEVEL 3 error, 4 warning, 6 info) and stderr.
cbt_kmsg() {
	echo "cbt-boot: $2" >&2
	[ -w /dev/kmsg ] && echo "<$1>cbt-boot: $2" >/dev/kmsg 2>/dev/null
	return 0
}

# cbt_resolve SOURCE: print the device node SOURCE names, or fail.
cbt_resolve() {
	local spec=$1 dev="" v
	case "$spec" in
	UUID=* | PARTUUID=* | LABEL=* | PARTLABEL=*)
		v=${spec#*=}
		case "$spec" in
		UUID=*) dev=/dev/disk/by-uuid/$v ;;
		PARTUUID=*) dev=/dev/disk/by-partuuid/$v ;;
		LABEL=*) dev=/dev/disk/by-label/$v ;;
		PARTLABEL=*) dev=/dev/disk/by-partlabel/$v ;;
		esac
		[ -b "$dev" ] || dev=$(blkid -l -t "$spec" -o device 2>/dev/null) || dev=""
		# busybox blkid: no -t; its listing has UUID and LABEL.
		if [ -z "$dev" ] || [ ! -b "$dev" ]; then
			dev=$(blkid 2>/dev/null | grep -F " ${spec%%=*}=\"$v\"" | head -n1 | cut -d: -f1)
		fi
		;;
	/*) dev=$spec ;;
	*) return 1 ;;
	esac
	[ -n "$dev" ] && [ -b "$dev" ] || return 1
	readlink -f "$dev"
}

# cbt_uptime: whole seconds since the kernel started ("" without /proc).
cbt_uptime() {
	local up=""
	read -r up _ 2>/dev/null </proc/uptime
	echo "${up%%.*}"
}
# The waits share one deadline, CBT_BOOT_WAIT seconds after this script
# was sourced: several missing disks delay the boot once, not once each.
CBT_BOOT_DEADLINE=$(cbt_uptime)
[ -z "$CBT_BOOT_DEADLINE" ] || CBT_BOOT_DEADLINE=$((CBT_BOOT_DEADLINE + CBT_BOOT_WAIT))

# cbt_wait_resolve SOURCE: cbt_resolve, waiting until the deadline
# (without /proc/uptime: up to CBT_BOOT_WAIT seconds) for the disk and for
# its size: a node can exist before its disk has one (a device-mapper
# device between its creation and its table's resume). At the deadline, a
# disk without a size is still printed, for the caller to say so.
cbt_wait_resolve() {
	local i=0 now dev
	while :; do
		if dev=$(cbt_resolve "$1") && [ "$(cbt_dev_sectors "$dev")" -gt 0 ] 2>/dev/null; then
			echo "$dev"
			return 0
		fi
		if [ -n "$CBT_BOOT_DEADLINE" ] && now=$(cbt_uptime) && [ -n "$now" ]; then
			[ "$now" -ge "$CBT_BOOT_DEADLINE" ] && break
		elif [ "$i" -ge "$((CBT_BOOT_WAIT * 4))" ]; then
			break
		fi
		i=$((i + 1))
		sleep 0.25 2>/dev/null || sleep 1
	done
	[ -n "$dev" ] && echo "$dev"
}

# cbt_md_magic DEV PAGE: the 8 magic bytes of the superblock in page PAGE
# (0 or 1) of a metadata device (DM_CBT_MD_MAGIC_OFFSET, 4 KiB pages).
cbt_md_magic() {
	dd if="$1" bs=1 skip=$(($2 * 4096 + 8)) count=8 2>/dev/null
}

# cbt_mark_stale LINENO NAME METADEV: NAME's disk is about to be used
# untracked; overwrite the dm-cbt magic (DM_CBT_MD_MAGIC, "TSCDtbcd" on
# disk) of each superblock of METADEV that has it with "cbtStale".
cbt_mark_stale() {
	local ln=$1 name=$2 md=$3 p marked=""
	# Held by a loaded device (a cbt device made before this boot script):
	# that device owns the metadata and would write its superblock over ours.
	if [ -n "$(ls "/sys/class/block/${md##*/}/holders" 2>/dev/null)" ]; then
		cbt_kmsg 4 "line $ln: metadata device $md is in use; left as it is"
		return 0
	fi
	for p in 0 1; do
		[ "$(cbt_md_magic "$md" "$p")" = TSCDtbcd ] || continue
		# No conv=notrunc (busybox without FEATURE_DD_IBS_OBS refuses it):
		# $md is a block device (cbt_resolve), which dd does not truncate.
		if printf cbtStale | dd of="$md" bs=1 seek=$((p * 4096 + 8)) count=8 2>/dev/null; then
			marked="$marked $p"
		else
			cbt_kmsg 3 "line $ln: cannot mark the metadata on $md stale (superblock $p); its next load may trust a history $name's untracked writes are missing from"
		fi
	done
	[ -n "$marked" ] || return 0
	sync
	cbt_kmsg 4 "line $ln: $name is used untracked: marked the dm-cbt metadata on $md stale (superblock$marked); its next load starts a new history (untracked-boot)"
}

# cbt_line_skipped LINENO NAME [SOURCE OPTIONS...]: a line was not set up;
# if it names a metadata device, mark that stale.
cbt_line_skipped() {
	local ln=$1 name=$2 arg meta="" md
	shift 2
	[ -e "/dev/mapper/$name" ] && return 0
	for arg in "$@"; do
		case "$arg" in metadata=*) meta=${arg#metadata=} ;; esac
	done
	[ -n "$meta" ] || return 0
	md=$(cbt_wait_resolve "$meta") || return 0
	cbt_mark_stale "$ln" "$name" "$md"
}

# cbt_block_sectors SIZE: 512-byte sectors of a block size such as 64k.
cbt_block_sectors() {
	local num mult n
	case "$1" in
	*[kK]) num=${1%?} mult=2 ;;
	*[kK]i[bB]) num=${1%???} mult=2 ;;
	*[mM]) num=${1%?} mult=2048 ;;
	*[mM]i[bB]) num=${1%???} mult=2048 ;;
	*) return 1 ;;
	esac
	# Digits only, and short: shell arithmetic on junk would end the script.
	case "$num" in "" | *[!0-9]* | ?????*) return 1 ;; esac
	n=$((num * mult))
	case "$n" in 8 | 16 | 32 | 64 | 128 | 256 | 512 | 1024 | 2048) echo "$n" ;; *) return 1 ;; esac
}

# cbt_dev_sectors DEV: size of a block device node in sectors, from sysfs.
cbt_dev_sectors() {
	local f="/sys/class/block/${1##*/}/size" l
	if [ ! -r "$f" ]; then
		# A node not named as the kernel names its disk (/dev/mapper/NAME
		# made by libdevmapper where no udev links it to ../dm-N): by its
		# numbers, "brw------- 1 root root 253, 3 ..." in ls -lL.
		l=$(ls -lL "$1" 2>/dev/null) || return 0
		# shellcheck disable=SC2086 # its fields, split on purpose
		set -- $l
		f=/sys/dev/block/${5%,}:$6/size
	fi
	cat "$f" 2>/dev/null
}

# cbt_boot_line LINENO LINE...: set up one disk; 0 if done, 1 if skipped.
cbt_boot_line() {
	local ln=$1 name source bs=128 meta="" metadev="" dev sectors arg table out
	shift
	[ $# -ge 2 ] || { cbt_kmsg 3 "line $ln: \`$*': needs NAME and a disk; skipped"; return 1; }
	name=$1 source=$2
	shift 2
	case "$name" in
	*/* | -* | "") cbt_kmsg 3 "line $ln: bad name \`$name'; skipped"; return 1 ;;
	esac
	for arg in "$@"; do
		case "$arg" in
		block-size=*)
			bs=$(cbt_block_sectors "${arg#block-size=}") || {
				cbt_kmsg 3 "line $ln: bad block size \`${arg#block-size=}' (4k to 1m, a power of two); $name not tracked"
				return 1
			} ;;
		metadata=*) meta=${arg#metadata=} ;;
		*) cbt_kmsg 3 "line $ln: unknown option \`$arg' (block-size=, metadata=); $name not tracked"; return 1 ;;
		esac
	done
	if [ -e "/dev/mapper/$name" ]; then
		cbt_kmsg 4 "line $ln: /dev/mapper/$name exists already; left as it is"
		return 1
	fi
	dev=$(cbt_wait_resolve "$source") || {
		cbt_kmsg 3 "line $ln: no disk \`$source' found; $name not tracked"
		return 1
	}
	if [ -n "$meta" ]; then
		metadev=$(cbt_wait_resolve "$meta") || {
			cbt_kmsg 3 "line $ln: no metadata disk \`$meta' found; $name not tracked"
			return 1
		}
	fi
	sectors=$(cbt_dev_sectors "$dev")
	[ "${sectors:-0}" -gt 0 ] 2>/dev/null || {
		cbt_kmsg 3 "line $ln: cannot read the size of $dev; $name not tracked"
		return 1
	}
	table="0 $sectors cbt $dev $bs"
	[ -n "$metadev" ] && table="$table 2 metadata $metadev"
	if ! out=$(dmsetup create "$name" --uuid "CBT-BOOT-$name" --table "$table" 2>&1); then
		dmsetup remove "$name" >/dev/null 2>&1
		cbt_kmsg 3 "line $ln: the kernel refused \`$table': $(echo "$out" | tr '\n' ' ')($(dmesg 2>/dev/null | sed -n 's/^\[[^]]*\] //p' | grep 'device-mapper' | tail -n1)); $name not tracked"
		return 1
	fi
	echo "$name $dev" >>/run/cbt-boot.map
	cbt_kmsg 6 "$dev is /dev/mapper/$name, tracked at $((bs / 2)) KiB blocks${metadev:+ with metadata on $metadev}"
	return 0
}

# cbt_modprobe: load dm-cbt; if it cannot be, say why in the kernel log:
# no module for this kernel (DKMS could not build it, BUILD_EXCLUSIVE), or
# one the kernel refuses (an unsigned module under module.sig_enforce=1 or
# lockdown: "Key was rejected by service"), with modprobe's own words.
cbt_modprobe() {
	local kver out ko
	[ -d /sys/module/dm_cbt ] && return 0
	out=$(modprobe dm-cbt 2>&1) && return 0
	[ -d /sys/module/dm_cbt ] && return 0
	kver=$(uname -r)
	ko=$(sed -n 's/^\([^:]*\/dm-cbt\.ko[^:]*\):.*/\1/p' "/lib/modules/$kver/modules.dep" 2>/dev/null | head -n1)
	case "$ko" in "" | /*) ;; *) ko=/lib/modules/$kver/$ko ;; esac
	if [ -n "$ko" ] && [ -f "$ko" ]; then
		cbt_kmsg 3 "dm-cbt: module for $kver refused by the kernel, root not tracked: $(echo "$out" | tr '\n' ' ')(unsigned, or signed with a key the kernel does not trust? see docs/install.md, Secure Boot)"
	else
		cbt_kmsg 3 "dm-cbt: module not available for $kver, root not tracked (is dm-cbt built for this kernel? \`dkms status')"
	fi
	return 1
}

# cbt_boot_setup CONF: every line of CONF. Returns 0 always.
cbt_boot_setup() {
	local conf=$1 ln=0 line usable=1 cr crmsg=
	cr=$(printf '\r')
	[ -f "$conf" ] || return 0
	: >/run/cbt-boot.map 2>/dev/null || true
	if ! cbt_modprobe; then
		usable=""
	elif ! command -v dmsetup >/dev/null 2>&1; then
		cbt_kmsg 3 "dmsetup is not in the initramfs: booting without tracking"
		usable=""
	fi
	while IFS= read -r line || [ -n "$line" ]; do
		ln=$((ln + 1))
		case $line in
		*"$cr") line=${line%"$cr"}
			[ -n "$crmsg" ] || cbt_kmsg 4 "$conf has DOS line endings (CR LF): read without the CRs"
			crmsg=1 ;;
		esac
		line=${line%%#*}
		set -f
		# shellcheck disable=SC2086
		set -- $line
		set +f
		[ $# -gt 0 ] || continue
		if [ -n "$usable" ] && cbt_boot_line "$ln" "$@"; then
			continue
		fi
		if [ $# -ge 2 ]; then
			cbt_line_skipped "$ln" "$@" || true
		fi
	done <"$conf"
	return 0
}

# cbt_boot_root ROOTDEV: if ROOTDEV (a node, already resolved) is a tracked
# disk, print /dev/mapper/NAME.
cbt_boot_root() {
	local want name dev
	[ -n "$1" ] && [ -f /run/cbt-boot.map ] || return 1
	want=$(readlink -f "$1")
	while read -r name dev; do
		[ "$dev" = "$want" ] && { echo "/dev/mapper/$name"; return 0; }
	done </run/cbt-boot.map
	return 1
}

# cbt_boot_fallback NAME SOURCE: when /dev/mapper/NAME could not be made,
# make it a linear device-mapper device over the plain disk (UUID
# CBT-UNTRACKED-NAME), else a link to it, so a boot that waits for it goes
# on. A link is enough for dracut's shell init; systemd waits for a device
# udev announced, which only a real device is.
cbt_boot_fallback() {
	local dev sectors
	[ -b "/dev/mapper/$1" ] && return 0
	dev=$(cbt_resolve "$2") || return 0
	sectors=$(cbt_dev_sectors "$dev")
	if [ "${sectors:-0}" -gt 0 ] 2>/dev/null &&
		dmsetup create "$1" --uuid "CBT-UNTRACKED-$1" --table "0 $sectors linear $dev 0" >/dev/null 2>&1; then
		cbt_kmsg 4 "/dev/mapper/$1 is a linear (untracked) device over $dev: booting without tracking"
		return 0
	fi
	mkdir -p /dev/mapper
	ln -sf "$dev" "/dev/mapper/$1"
	cbt_kmsg 4 "/dev/mapper/$1 links to the untracked $dev: booting without tracking"
}

# cbt_root_name ROOT CONF: the NAME of the line of CONF whose SOURCE is
# ROOT (the root= argument) literally, if ROOT and NAME hold only
# characters that are safe in a shell command line and a unit file.
cbt_root_name() {
	local n src _
	n=$(sed -e 's/\r$//' -e 's/#.*//' "$2" 2>/dev/null | while read -r n src _; do
		[ -n "$src" ] && [ "$src" = "$1" ] && { echo "$n"; break; }
	done)
	[ -n "$n" ] || return 1
	case "$n$1" in
	*[!A-Za-z0-9=/_.:+@-]*)
		cbt_kmsg 3 "root=$1 or its name in $2 has characters other than letters, digits and =/_.:+@-: not tracked"
		return 1 ;;
	esac
	echo "$n"
}

# Run directly: `sh cbt-boot.sh CONF [ROOT]' prints the new root, if any.
case "${0##*/}" in
cbt-boot.sh)
	mkdir -p /run
	_root=""
	[ -n "${2:-}" ] && _root=$(cbt_resolve "$2")
	cbt_boot_setup "$1"
	[ -n "$_root" ] && cbt_boot_root "$_root"
	exit 0
	;;
esac
