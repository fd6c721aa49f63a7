# Host side: build the guest initramfs for one kernel. Sourced by tests/vm/run.
# shellcheck shell=bash
# VM_KMOD_DIR: where the kernel's modules.builtin lists are (its
# /lib/modules directory; the build tree for the debug kernel, which has
# every module built in).
#
# The initramfs is two cpio archives concatenated (the kernel unpacks both,
# the second overwriting the first):
#   base.cpio  busybox, the system tools and their libraries, the kernel's
#              own modules. Rebuilt only when one of those inputs changes
#              (size/mtime of every source file, this script, tests/lib.sh).
#   proj.cpio  the project: /init, the guest library and runner, the cases,
#              the helpers, dm-cbt.ko, the cbt tool, modules.dep for both.
#              Small; re-hashed every run, repacked only when it changed.
# Everything is uncompressed: the kernel unpacks 85 MB in ~0.4 s under TCG,
# gunzip would cost more.

# Libraries the cbt tool loads with dlopen (sonames), packed beside it.
VM_TOOL_DLOPEN=(libcurl.so.4)
# Real tools (not busybox applets) the guest gets, as "dest-dir:source".
VM_TOOLS=(
	/usr/sbin:/usr/sbin/dmsetup
	/usr/sbin:/usr/sbin/mke2fs /usr/sbin:/usr/sbin/e2fsck
	/usr/sbin:/usr/sbin/debugfs /usr/sbin:/usr/sbin/dumpe2fs
	/usr/sbin:/usr/sbin/tune2fs /usr/sbin:/usr/sbin/resize2fs
	/usr/sbin:/usr/sbin/mkfs.xfs /usr/sbin:/usr/sbin/xfs_repair
	/usr/sbin:/usr/sbin/xfs_db /usr/sbin:/usr/sbin/xfs_io
	/usr/sbin:/usr/sbin/blockdev /usr/sbin:/usr/sbin/blkdiscard
	/usr/sbin:/usr/sbin/losetup /usr/bin:/usr/bin/fio
)
# LVM, for the attach_* cases (cbt attach under a live LV): the lvm
# multi-call binary and the names it answers to; the cases write their
# own /etc/lvm/lvm.conf (no udev in the guest). util-linux blkid for the
# boot_* cases (busybox has none), as the initramfs-tools hook installs it.
VM_TOOLS+=(/usr/sbin:/usr/sbin/blkid)
# util-linux flock (busybox has none), for udev/cbt-reattach.
VM_TOOLS+=(/usr/bin:/usr/bin/flock)
# util-linux chrt (busybox has none), for tests/bench's bench_parallel
# (BENCH_PRIOS=idle: a backup under SCHED_IDLE).
VM_TOOLS+=(/usr/bin:/usr/bin/chrt)
# zstd, for tests/bench's bench_backup (its `dd | zstd -3' baseline).
VM_TOOLS+=(/usr/bin:/usr/bin/zstd)
# QEMU's NBD stack, for cbt serve --snapshot (serve_snapshot): qemu-nbd, and
# qemu-img and qemu-io that build its dirty bitmap; nbdinfo and nbdcopy
# (libnbd-bin) as the clients.
VM_TOOLS+=(/usr/bin:/usr/bin/qemu-nbd /usr/bin:/usr/bin/qemu-img /usr/bin:/usr/bin/qemu-io)
VM_TOOLS+=(/usr/bin:/usr/bin/nbdinfo /usr/bin:/usr/bin/nbdcopy)
# openssl makes that case's TLS certificates.
VM_TOOLS+=(/usr/bin:/usr/bin/openssl)
# nbdkit (its cow filter), nbd-client and the nbd module, for cbt mount,
# serve and restore --path (the mount_* cases); the cbt plugin comes with
# the project layer, where `nbdkit cbt' looks for it.
NBDKIT_PLUGINDIR=$(pkg-config --variable=plugindir nbdkit 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/nbdkit/plugins)
NBDKIT_FILTERDIR=$(pkg-config --variable=filterdir nbdkit 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/nbdkit/filters)
VM_TOOLS+=(/usr/bin:/usr/bin/nbdkit /usr/sbin:/usr/sbin/nbd-client
	"$NBDKIT_FILTERDIR:$NBDKIT_FILTERDIR/nbdkit-cow-filter.so")
VM_TOOL_LINKS_LVM=()
if [ -x /usr/sbin/lvm ]; then
	VM_TOOLS+=(/usr/sbin:/usr/sbin/lvm)
	VM_TOOL_LINKS_LVM=(pvcreate pvremove pvs vgcreate vgremove vgchange vgs lvcreate
		lvremove lvchange lvextend lvresize lvs lvdisplay)
fi
# cbt migrate: sfdisk lays out the source disks; the tool runs util-linux
# mkswap (busybox's cannot keep a UUID) and xfs_growfs; dosfstools for an
# EFI system partition.
VM_TOOLS+=(/usr/sbin:/usr/sbin/sfdisk /usr/sbin:/usr/sbin/mkswap /usr/sbin:/usr/sbin/xfs_growfs
	/usr/sbin:/usr/sbin/mkfs.fat /usr/sbin:/usr/sbin/fsck.fat)
# Names the tools are also called by.
VM_TOOL_LINKS=(
	/usr/sbin/mkfs.ext4:mke2fs /usr/sbin/mkfs.ext2:mke2fs
	/usr/sbin/fsck.ext4:e2fsck
	/usr/sbin/mkfs.vfat:mkfs.fat /usr/sbin/fsck.vfat:fsck.fat
)
for _l in "${VM_TOOL_LINKS_LVM[@]}"; do VM_TOOL_LINKS+=("/usr/sbin/$_l:lvm"); done
# dm-crypt, for attach_crypt (cbt attach under a live dm-crypt device).
VM_MODULES_ATTACH=(dm_crypt xts ecb)
# Kernel modules (dependencies are added); built-in ones are skipped.
VM_MODULES=(
	virtio_pci virtio_blk
	dm_mod dm_bufio dm_snapshot dm_flakey dm_delay dm_zero dm_log_writes
	dm_persistent_data dm_era
	loop ext4 xfs crc32c_generic crc32c_intel libcrc32c zstd nbd
	null_blk
	"${VM_MODULES_ATTACH[@]}"
	vfat nls_cp437 nls_iso8859_1 nls_ascii
	virtio_net
)

# Print the module files (absolute paths) for names $2.. on kernel $1,
# dependencies first, built-in modules left out.
vm_resolve_modules() {
	local kver=$1; shift
	local -A seen=()
	local -a mods=()
	_vm_mod() {
		local name=${1//-/_} file deps d
		[ -n "${seen[$name]:-}" ] && return 0
		seen[$name]=1
		file=$(modinfo -k "$kver" -F filename "$name" 2>/dev/null | head -n1) || true
		case "$file" in
		"" | "(builtin)") return 0 ;;
		esac
		deps=$(modinfo -k "$kver" -F depends "$name" 2>/dev/null) || true
		for d in ${deps//,/ }; do _vm_mod "$d"; done
		mods+=("$file")
	}
	local m
	for m in "$@"; do _vm_mod "$m"; done
	printf '%s\n' "${mods[@]}"
}

# Dependencies (module names) of a built .ko file, for the base layer.
vm_ko_depends() {
	[ -f "$1" ] || return 0
	modinfo -F depends "$1" 2>/dev/null | tr ',' '\n' | grep -v '^$' || true
}

# The inputs of the base layer, one "path size mtime" line each.
vm_base_manifest() {
	local kver=$1; shift
	local f
	{
		# this script and tests/lib.sh (busybox_root, copy_elf)
		echo "builder $(sha256sum "${BASH_SOURCE[0]}" "$TOP/tests/lib.sh" | cut -d' ' -f1)"
		echo "kernel $kver $*"
		stat -L -c '%n %s %Y' "$VM_KMOD_DIR"/modules.builtin*
		for f in /bin/busybox /etc/mke2fs.conf "${VM_TOOLS[@]#*:}"; do
			stat -L -c '%n %s %Y' "$f"
			ldd "$f" 2>/dev/null | grep -oE '/[^ ]+' | xargs -r stat -L -c '%n %s %Y'
		done
		vm_resolve_modules "$kver" "${VM_MODULES[@]}" "$@" | xargs -r stat -L -c '%n %s %Y'
	} 2>&1
}

vm_stage_base() {
	local kver=$1 root=$2; shift 2
	local t f rel dest
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,mnt,state,lib64}
	mknod -m 600 "$root/dev/console" c 5 1
	mknod -m 666 "$root/dev/null" c 1 3
	busybox_root "$root"
	for t in "${VM_TOOLS[@]}"; do copy_elf "$root" "${t#*:}" "${t%%:*}" || return 1; done
	for t in "${VM_TOOL_LINKS[@]}"; do ln -sf "${t#*:}" "$root${t%%:*}"; done
	cp /etc/mke2fs.conf "$root/etc/"
	ldconfig -r "$root" 2>/dev/null || true
	# Kernel modules, decompressed (busybox modprobe reads plain .ko only).
	while read -r f; do
		rel=${f#/lib/modules/"$kver"/}
		dest=$root/lib/modules/$kver/${rel%.xz}
		mkdir -p "$(dirname "$dest")"
		case "$f" in
		*.xz) xz -dc "$f" >"$dest" ;;
		*.zst) zstd -qdc "$f" >"$dest" ;;
		*) cp "$f" "$dest" ;;
		esac
	done < <(vm_resolve_modules "$kver" "${VM_MODULES[@]}" "$@")
	mkdir -p "$root/lib/modules/$kver"
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[ -f "$VM_KMOD_DIR/$f" ] && cp "$VM_KMOD_DIR/$f" "$root/lib/modules/$kver/"
	done
	vm_check_elf_deps "$root"
}

# vm_check_elf_deps ROOT [ROOT...]: every dynamically linked ELF file
# under the first ROOT (kernel modules aside) finds each library it needs
# (DT_NEEDED) in the library directories of the ROOTs together (the
# guest's root is their union) or in its own RUNPATH/RPATH. Fails with one
# line per library missing: a tool packed whose dependencies were not,
# such as the cbt tool after it gained a library that nothing else packed
# (libjson-c5 fell behind so in the upgrade test's root, session 7).
vm_check_elf_deps() {
	local first=$1 missing
	local -a files
	mapfile -t files < <(cd "$first" && find . -type f ! -path './lib/modules/*' ! -name '*.ko' |
		LC_ALL=C sort)
	[ ${#files[@]} -gt 0 ] || return 0
	# With more than one file (/dev/null, refused) readelf names each: "File: F".
	# One line per library needed: FILE SONAME RUNPATH ("-": none).
	missing=$( (cd "$first" && readelf -d -W "${files[@]}" /dev/null 2>/dev/null) |
		awk 'function flush(  i) { for (i = 1; i <= nn; i++) print f, need[i], rp; nn = 0; rp = "-" }
		/^File: / { flush(); f = $2; next }
		/\(NEEDED\)/ { match($0, /\[.*\]/); need[++nn] = substr($0, RSTART + 1, RLENGTH - 2) }
		/\((RUNPATH|RPATH)\)/ { match($0, /\[.*\]/); rp = substr($0, RSTART + 1, RLENGTH - 2) }
		END { flush() }' |
		while read -r f so rp; do
			vm_lib_packed "${f#.}" "$so" "$rp" "$@" || echo "${f#.} needs $so"
		done)
	[ -z "$missing" ] && return 0
	echo "vm: initramfs: libraries these files need are not packed (pack each file with copy_elf" \
		"or copy_elf_libs of tests/lib.sh, which bring its libraries):" >&2
	while IFS= read -r first; do echo "vm:   $first"; done <<<"$missing" >&2
	return 1
}

# vm_lib_packed FILE SONAME RUNPATH ROOT...: SONAME is in a library
# directory of a ROOT, or in RUNPATH (":"-separated, "-" for none; $ORIGIN
# is FILE's directory).
vm_lib_packed() {
	local f=$1 so=$2 rp=$3 root d
	shift 3
	[ "$rp" = - ] && rp=
	rp=${rp//\$\{ORIGIN\}/${f%/*}}
	rp=${rp//\$ORIGIN/${f%/*}}
	for root in "$@"; do
		for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /lib /usr/lib \
			${rp//:/ }; do
			[ -e "$root$d/$so" ] && return 0
		done
	done
	return 1
}

vm_pack() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$2.tmp" && mv "$2.tmp" "$2"; }

# vm_build_initramfs KVER OUTDIR KO TOOL HELPERS_DIR KMOD_HELPERS_DIR
# KO/TOOL may be empty (not built). Prints the initrd path.
vm_build_initramfs() {
	local kver=$1 out=$2 ko=$3 tool=$4 helpers=$5 kmods=$6
	local vmdir=$TOP/tests/vm base=$out/base proj=$out/proj hash f
	local -a extra_deps
	mapfile -t extra_deps < <(vm_ko_depends "$ko"; for f in "$kmods"/*.ko; do vm_ko_depends "$f"; done)
	mkdir -p "$out"
	hash=$(vm_base_manifest "$kver" "${extra_deps[@]}" | sha256sum | cut -d' ' -f1)
	if [ ! -f "$out/base.cpio" ] || [ "$(cat "$out/base.hash" 2>/dev/null)" != "$hash" ]; then
		echo "vm[$kver]: staging base initramfs (inputs changed)" >&2
		vm_stage_base "$kver" "$base" "${extra_deps[@]}" || return 1
		vm_pack "$base" "$out/base.cpio"
		echo "$hash" >"$out/base.hash"
	fi

	rm -rf "$proj"
	mkdir -p "$proj/harness/cases" "$proj/harness/bin" "$proj/lib/modules/$kver/extra"
	install -m 0755 "$vmdir/init" "$proj/init"
	install -m 0644 "$vmdir/guest-lib.sh" "$vmdir/runner.sh" "$vmdir/dump-tasks.sh" \
		"$vmdir/lib/guest-helpers.sh" "$proj/harness/"
	install -m 0644 "$VM_CASES"/*.sh "$proj/harness/cases/"
	# shared shell code of a case directory (tests/soak/cases/soak.inc)
	for f in "$VM_CASES"/*.inc; do [ -f "$f" ] && install -m 0644 "$f" "$proj/harness/cases/"; done
	# (some are linked dynamically: libcbt's examples)
	for f in "$helpers"/*; do
		[ -x "$f" ] || continue
		install -m 0755 "$f" "$proj/harness/bin/" && copy_elf_libs "$proj" "$f" || return 1
	done
	for f in "$kmods"/*.ko; do [ -f "$f" ] && install -m 0644 "$f" "$proj/lib/modules/$kver/extra/"; done
	[ -n "$ko" ] && install -m 0644 "$ko" "$proj/lib/modules/$kver/extra/dm-cbt.ko"
	# A second dm-cbt.ko to compare with (tests/bench/run --base): outside
	# lib/modules, so modprobe never finds it; the bench insmods it.
	if [ -n "${VM_ALT_KO:-}" ]; then
		install -D -m 0644 "$VM_ALT_KO" "$proj/harness/alt/dm-cbt.ko" || return 1
	fi
	if [ -n "$tool" ]; then
		copy_elf "$proj" "$tool" /usr/sbin cbt || return 1
		# What the tool loads with dlopen (not in its DT_NEEDED, so neither
		# copy_elf nor vm_check_elf_deps sees it): libcurl, for the S3
		# commands (tools/lib/store/curl_dl.h), with its own libraries.
		for f in "${VM_TOOL_DLOPEN[@]}"; do
			f=$(ldconfig -p | awk -v so="$f" '$1 == so && /x86-64/ { print $NF; exit }')
			if [ -z "$f" ] || ! copy_elf "$proj" "$f" "$(dirname "$f")"; then
				echo "vm: initramfs: ${VM_TOOL_DLOPEN[*]}: the tool loads it, the host has none" >&2
				return 1
			fi
		done
	fi
	# The nbdkit plugin, built next to the tool (tests/vm/run).
	f=$TOP/tools/nbdkit-cbt-plugin.so
	if [ -f "$f" ]; then
		install -D -m 0755 "$f" "$proj$NBDKIT_PLUGINDIR/nbdkit-cbt-plugin.so" &&
			copy_elf_libs "$proj" "$f" || return 1
	fi
	# The boot-time scripts (boot/), for the boot_* cases.
	install -D -m 0644 "$TOP/boot/cbt-boot.sh" "$proj/usr/share/cbt/cbt-boot.sh"
	install -D -m 0755 "$TOP/boot/initramfs-tools/scripts/local-top/cbt" "$proj/harness/boot/local-top-cbt"
	# The LVM reload handler (udev/), where make install puts it.
	install -D -m 0755 "$TOP/udev/cbt-reattach" "$proj/usr/lib/cbt/cbt-reattach"
	# Real tools shadowed by busybox applets: busybox sh runs its applet
	# for a bare name even when PATH has the real tool first, so the guest
	# library defines a function for each of these.
	# The applet list is read once into a variable: `busybox --list |
	# grep -q' under pipefail fails when grep exits at the match and
	# busybox, which writes a name at a time, dies of SIGPIPE on the next
	# one; the tool then went missing from the list now and then (losetup
	# in mount_chain and snapshot_cowcheck, 2026-12-06).
	local applets
	applets=$'\n'$(/bin/busybox --list)$'\n'
	for f in "${VM_TOOLS[@]#*:}" "${VM_TOOL_LINKS[@]%%:*}"; do
		[[ $applets == *$'\n'"$(basename "$f")"$'\n'* ]] && echo "$(basename "$f") $(dirname "$f")"
	done >"$proj/harness/shadowed"
	# modules.dep covering the base modules and the project's.
	rm -rf "$out/depmod" && mkdir -p "$out/depmod/lib/modules"
	cp -al "$base/lib/modules/$kver" "$out/depmod/lib/modules/"
	mkdir -p "$out/depmod/lib/modules/$kver/extra"
	cp "$proj/lib/modules/$kver/extra/"*.ko "$out/depmod/lib/modules/$kver/extra/" 2>/dev/null || true
	depmod -b "$out/depmod" "$kver"
	cp "$out/depmod/lib/modules/$kver"/modules.{dep,alias,symbols,softdep} "$proj/lib/modules/$kver/" 2>/dev/null || true
	printf '%s\n' "${VM_BUILD_STATUS[@]}" >"$proj/harness/build-status"
	# Every ELF file of the project layer finds its libraries in the two layers.
	vm_check_elf_deps "$proj" "$base" || return 1

	hash=$( (cat "$out/base.hash"; cd "$proj" && find . -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1)
	if [ ! -f "$out/initrd.cpio" ] || [ "$(cat "$out/initrd.hash" 2>/dev/null)" != "$hash" ]; then
		vm_pack "$proj" "$out/proj.cpio"
		cat "$out/base.cpio" "$out/proj.cpio" >"$out/initrd.cpio.tmp" && mv "$out/initrd.cpio.tmp" "$out/initrd.cpio"
		echo "$hash" >"$out/initrd.hash"
	fi
	echo "$out/initrd.cpio"
}
