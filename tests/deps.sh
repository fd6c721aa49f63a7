#!/bin/sh
# Install every Debian package that building dm-cbt and running its tests needs.
# Idempotent: packages already present are left alone; safe to run on every CI run.
set -eu

PKGS="
build-essential make gcc pkg-config git
linux-headers-amd64 linux-headers-6.12-amd64 linux-headers-6.12-rt-amd64
linux-image-amd64 linux-image-6.12-amd64 linux-image-6.12-rt-amd64
linux-source-6.1 linux-source-6.12
dkms kmod
libmnl-dev libdevmapper-dev libzstd-dev libxxhash-dev libsodium-dev liburing-dev e2fslibs-dev libblkid-dev libfdisk-dev libjson-c-dev qemu-utils
clang libclang-rt-dev
sparse shellcheck python3 bc bison flex libelf-dev libssl-dev
qemu-system-x86 busybox-static cpio xz-utils zstd grub-pc-bin grub-efi-amd64-bin ovmf mtools jq
dracut-core mmdebstrap
dmsetup e2fsprogs xfsprogs xfslibs-dev fio util-linux fdisk dosfstools
lvm2
nbdkit nbdkit-plugin-dev nbd-client libnbd-bin
debhelper dh-dkms lintian rpm
libcurl4-openssl-dev curl
radosgw ceph-mon ceph-osd ceph-common
"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing:$missing"
$SUDO apt-get update -q
# Kernel images are only booted under qemu; keep their postinst from
# building host initramfs images we never use.
# shellcheck disable=SC2086 # $missing is a list of package names, split on purpose
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
