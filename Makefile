# SPDX-License-Identifier: GPL-2.0
# dm-cbt: `make` builds the module and the cbt tool; `make check` runs every test.

KDIR ?= /lib/modules/$(shell uname -r)/build
PREFIX ?= /usr
DESTDIR ?=
BUILD ?= $(CURDIR)/build

.PHONY: all module tool check demo clean install uninstall lint

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

# The main job end to end, in a throwaway VM.
demo:
	tests/deps.sh
	tests/demo

lint:
	tests/lint

install: tool
	$(MAKE) -C tools install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

uninstall:
	$(MAKE) -C tools uninstall DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C tools clean
