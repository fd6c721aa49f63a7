# SPDX-License-Identifier: GPL-2.0
# dm-cbt: `make` builds the module and the cbt tool; `make check` runs every test.

KDIR ?= /lib/modules/$(shell uname -r)/build
PREFIX ?= /usr
DESTDIR ?=
BUILD ?= $(CURDIR)/build

.PHONY: all module tool check check-full check-upgrade check-dracut soak demo clean install uninstall lint install-boot uninstall-boot \
	install-udev uninstall-udev install-systemd uninstall-systemd

all: module tool

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

tool:
	$(MAKE) -C tools

# The one test command: dependencies, lint, unit, KUnit, DKMS and VM cases
# on every Debian kernel installed, closing with "N passed, N failed".
check:
	tests/deps.sh
	tests/check

# The long soak (issue 15): 20 power cuts per kernel under backups and
# clones, fsx/fsstress with more operations (tests/soak/run --long).
soak:
	tests/deps.sh
	tests/soak/run --long

# A kernel upgrade with root tracked, in a Debian guest (tests/upgrade/run):
# the upgrade stage (make check-full runs it; make check does not: CI's 90
# minutes), see README "Testing".
check-upgrade:
	tests/deps.sh
	tests/check upgrade

# Root on cbt from a dracut-built initramfs (tests/boot/run --dracut on both
# kernels): the boot-dracut stage, in make check-full but not make check.
check-dracut:
	tests/deps.sh
	tests/check boot-dracut

# Everything, on every kernel: the stages of `check', with every VM case and
# the boot stage on the PREEMPT_RT and the debug kernels too (debug-full in
# place of debug). Hours, not minutes: not what CI runs.
check-full:
	tests/deps.sh
	CHECK_FULL=1 tests/check build lint unit s3 kunit dkms pkg upgrade vm soak boot boot-dracut debug-full

# The main job end to end, in a throwaway VM.
demo:
	tests/deps.sh
	tests/demo

lint:
	tests/lint

install: tool install-boot install-udev install-systemd
	$(MAKE) -C tools install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) $(if $(LIBDIR),LIBDIR=$(LIBDIR))

# Tracking from boot (docs/attach.md): the shared script, the
# initramfs-tools hook and local-top script, the dracut module. They do
# nothing until `cbt setup-boot` writes /etc/cbt/devices.conf.
BOOT_SHARE := $(DESTDIR)$(PREFIX)/share/cbt
ITOOLS := $(DESTDIR)/usr/share/initramfs-tools
DRACUT := $(DESTDIR)/usr/lib/dracut/modules.d/90cbt
install-boot:
	install -v -D -m 0644 boot/cbt-boot.sh "$(BOOT_SHARE)/cbt-boot.sh"
	install -v -D -m 0755 boot/initramfs-tools/hooks/cbt "$(ITOOLS)/hooks/cbt"
	install -v -D -m 0755 boot/initramfs-tools/scripts/local-top/cbt "$(ITOOLS)/scripts/local-top/cbt"
	install -v -d "$(DRACUT)"
	install -v -m 0755 boot/dracut/90cbt/module-setup.sh boot/dracut/90cbt/cbt-cmdline.sh \
		boot/dracut/90cbt/cbt-pre-mount.sh boot/dracut/90cbt/cbt-generator.sh \
		boot/dracut/90cbt/cbt-boot-root.sh "$(DRACUT)/"

# After an LVM reload of an attached LV, put the cbt layer back (docs/attach.md).
UDEV_RULES := $(DESTDIR)/usr/lib/udev/rules.d
CBT_LIBEXEC := $(DESTDIR)/usr/lib/cbt
install-udev:
	install -v -D -m 0644 udev/69-dm-cbt.rules "$(UDEV_RULES)/69-dm-cbt.rules"
	install -v -D -m 0755 udev/cbt-reattach "$(CBT_LIBEXEC)/cbt-reattach"

# Scheduled backup jobs (docs/jobs.md): the service and timer templates.
SYSTEMD_UNITS := $(DESTDIR)/usr/lib/systemd/system
install-systemd:
	install -v -D -m 0644 systemd/cbt-job@.service "$(SYSTEMD_UNITS)/cbt-job@.service"
	install -v -D -m 0644 systemd/cbt-job@.timer "$(SYSTEMD_UNITS)/cbt-job@.timer"

uninstall-systemd:
	rm -f "$(SYSTEMD_UNITS)/cbt-job@.service" "$(SYSTEMD_UNITS)/cbt-job@.timer"

uninstall-udev:
	rm -f "$(UDEV_RULES)/69-dm-cbt.rules" "$(CBT_LIBEXEC)/cbt-reattach"

uninstall-boot:
	rm -f "$(BOOT_SHARE)/cbt-boot.sh" "$(ITOOLS)/hooks/cbt" "$(ITOOLS)/scripts/local-top/cbt"
	rm -rf "$(DRACUT)"

uninstall: uninstall-boot uninstall-udev uninstall-systemd
	$(MAKE) -C tools uninstall DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) $(if $(LIBDIR),LIBDIR=$(LIBDIR))

# A source tarball of the tree's source files (tracked and new, not ignored
# ones) as dm-cbt-<version>/: what the packages are built from, so the tree
# itself stays clean.
.PHONY: dist deb rpm-spec-check
VERSION := $(shell cat VERSION)
DIST := $(BUILD)/dist/dm-cbt-$(VERSION).tar.gz
dist:
	mkdir -p "$(BUILD)/dist"
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
		tar --null -T - --transform 's|^|dm-cbt-$(VERSION)/|' -czf "$(DIST)"

# Debian packages (debian/, README "Packages"): dm-cbt-dkms and cbt, built
# from the dist tarball under build/deb/; the .debs land in build/deb/.
deb: dist
	rm -rf "$(BUILD)/deb"
	mkdir -p "$(BUILD)/deb"
	tar -xzf "$(DIST)" -C "$(BUILD)/deb"
	cd "$(BUILD)/deb/dm-cbt-$(VERSION)" && dpkg-buildpackage -us -uc -b
	ls -l "$(BUILD)"/deb/*.deb

# The RPM spec as rpmbuild sees it: macros expanded, then a source rpm from
# the dist tarball (building the binary rpms is for Fedora/RHEL, untested).
rpm-spec-check: dist
	tests/pkg/rpm

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C tools clean
