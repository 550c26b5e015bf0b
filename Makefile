# SPDX-License-Identifier: GPL-2.0
#
# dm-ccm-mirror: build, lint and test rig.  `make help` lists the targets.
# The kernel module itself is described by Kbuild; each kernel gets its own
# out-of-tree build directory build/<kver>/ (symlinks to the sources), so
# kernels never clobber each other's objects.

SHELL := /bin/bash
SRC := $(CURDIR)
BUILD := $(SRC)/build

# Kernels whose headers are installed.  The running kernel may be foreign
# (no headers), so the default is the newest installed one.
KVERS := $(shell for m in /lib/modules/*/build/Makefile; do \
	[ -f "$$m" ] && basename "$$(dirname "$$(dirname "$$m")")"; done | sort -V)
KVER ?= $(lastword $(KVERS))
# `make check KVER=x` tests only that kernel; plain `make check` tests all.
ifneq ($(filter command line environment,$(origin KVER)),)
CHECK_KVERS := $(KVER)
CHECK_BUILD := module
else
CHECK_KVERS := $(KVERS)
CHECK_BUILD := modules-all
endif
TESTS ?=

# Kernel sources (top level) and the checkpatch of Debian's 6.1 source.
KFILES = $(sort $(wildcard *.c *.h))
LINUX_TARBALL := /usr/src/linux-source-6.1.tar.xz
LINUX_SRC := $(SRC)/.cache/linux-source-6.1
CHECKPATCH := $(LINUX_SRC)/scripts/checkpatch.pl

# $(call kbuild,KVER,OUTDIR,EXTRA-KBUILD-ARGS)
define kbuild
	+@set -e; k='$(1)'; d='$(2)'; \
	if [ ! -f Kbuild ]; then \
		echo "  no Kbuild yet: dm-ccm-mirror.ko not built for $$k"; exit 0; \
	fi; \
	if [ ! -f "/lib/modules/$$k/build/Makefile" ]; then \
		echo "no headers for kernel '$$k' (tools/install-deps.sh)" >&2; exit 1; \
	fi; \
	mkdir -p "$$d"; \
	find "$$d" -maxdepth 1 -type l -delete; \
	rel=$$(realpath --relative-to="$$d" "$(SRC)"); \
	for f in Kbuild *.c *.h; do ln -s "$$rel/$$f" "$$d/$$f"; done; \
	echo "  KBUILD  $$k -> $${d#$(SRC)/}"; \
	$(MAKE) -C "/lib/modules/$$k/build" M="$$d" $(3) modules
endef

.PHONY: all module modules-all tools tools-test lint lint-checkpatch \
	lint-sparse check check-long vm-shell clean distclean help deps demo bench

all: module tools

module:
	$(call kbuild,$(KVER),$(BUILD)/$(KVER))

modules-all: $(addprefix module-,$(KVERS))

module-%:
	$(call kbuild,$*,$(BUILD)/$*)

tools:
	@if [ -f tools/Makefile ]; then \
		$(MAKE) -C tools; \
	else \
		echo "  tools/Makefile not there yet: ccm-mirror CLI not built"; \
	fi

tools-test:
	@if [ -f tools/Makefile ]; then \
		$(MAKE) -C tools test; \
	else \
		echo "  tools/Makefile not there yet: no tools tests"; \
	fi

# ---- lint: checkpatch --strict, sparse (C=1) and W=1 on every kernel ----
lint: lint-checkpatch lint-sparse

$(CHECKPATCH):
	@echo "  EXTRACT $(LINUX_TARBALL) (scripts, drivers/md, include) -> .cache/"
	@mkdir -p $(SRC)/.cache
	tar -xJf $(LINUX_TARBALL) -C $(SRC)/.cache linux-source-6.1/scripts \
		linux-source-6.1/drivers/md linux-source-6.1/include
	@touch $@

lint-checkpatch: $(CHECKPATCH)
	@if [ -z "$(KFILES)" ]; then echo "  no kernel sources yet"; exit 0; fi; \
	echo "  CHECKPATCH --strict $(KFILES)"; \
	perl $(CHECKPATCH) --strict --no-tree --color=never --summary-file \
		-f $(KFILES)

# A fresh directory per kernel so that every file is compiled (W=1) and
# checked (C=1) again; any warning or error fails.
lint-sparse: $(addprefix lint-sparse-,$(KVERS))

lint-sparse-%:
	@rm -rf $(BUILD)/lint/$*
	@mkdir -p $(BUILD)/lint
	@set -o pipefail; \
	$(MAKE) --no-print-directory -s _lint-sparse-one K='$*' 2>&1 | \
		sed -u 's|$(BUILD)/lint/$*/||' | tee $(BUILD)/lint/$*.log; \
	if grep -Eq '(warning|error|WARNING|ERROR):' $(BUILD)/lint/$*.log; then \
		echo "lint: $*: warnings above (build/lint/$*.log)" >&2; exit 1; \
	fi; \
	echo "  SPARSE+W=1 $*: clean"

_lint-sparse-one:
	$(call kbuild,$(K),$(BUILD)/lint/$(K),C=1 W=1)

# ---- tests in QEMU ----
# make check [KVER=<release>] [TESTS="name ..."]
# Everything from Debian's archive; does nothing when all is installed.
deps:
	@$(SRC)/tools/install-deps.sh

# A live move of a mounted, busy filesystem in the VM, as a user sees it.
demo: deps
	@$(MAKE) --no-print-directory module tools
	@$(SRC)/tools/demo.sh -k '$(KVER)'

# Side-by-side benchmarks in the VM (KVER=x: that kernel; default: all).
bench: deps
	@$(MAKE) --no-print-directory $(CHECK_BUILD) tools
	@$(MAKE) --no-print-directory -C $(SRC)/bench
	@$(SRC)/bench/run.sh $(foreach k,$(CHECK_KVERS),-k '$(k)')

check: deps
	@$(MAKE) --no-print-directory $(CHECK_BUILD) tools
	@$(SRC)/tools/vm/check.sh $(foreach k,$(CHECK_KVERS),-k '$(k)') \
		$(if $(TESTS),-T '$(TESTS)')

# The long matrices, run before a stop rather than in CI: the power cuts
# with 20 cut points per kernel and mode, the overlapping writers for 10
# rounds per mode (make check: 6 and 3).  CCM_LONG=1 reaches the guest
# through tools/vm/run.sh.
LONG_TESTS ?= mirror-powercut mirror-powercut-encrypted mirror-overlap
check-long: deps
	@$(MAKE) --no-print-directory $(CHECK_BUILD) tools
	@CCM_LONG=1 $(SRC)/tools/vm/check.sh \
		$(foreach k,$(CHECK_KVERS),-k '$(k)') -T '$(LONG_TESTS)'

vm-shell: module tools
	@$(SRC)/tools/vm/run.sh -k '$(KVER)' -m shell -o $(BUILD)/$(KVER)/shell

# ---- install: module, CLI and man page; or the module through dkms ----
# make install [KVER=<release>] [DESTDIR=<dir>] [PREFIX=/usr/local]: the
# module of KVER into $(DESTDIR)/lib/modules/KVER/updates/ (then depmod,
# unless DESTDIR is set: staging), ccm-mirror and ccm-mirror.8 through
# tools/Makefile ($(PREFIX)/sbin, $(PREFIX)/share/man/man8).
# make dkms-install: the dkms source (dkms.conf) into $(DKMS_SRC), then
# dkms builds and installs the module for every kernel with headers (and
# again for each new kernel); make dkms-uninstall removes both.
# DKMS_FLAGS: extra dkms options (tools/dkms-check.sh: private trees).
INSTALL_MOD_DIR ?= updates
DKMS_NAME := dm-ccm-mirror
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="*\([^"]*\)"*$$/\1/p' \
	$(SRC)/dkms.conf 2> /dev/null)
DKMS_SRC ?= /usr/src/$(DKMS_NAME)-$(DKMS_VERSION)
DKMS_FLAGS ?=
DKMS_FILES = Makefile Kbuild dkms.conf $(KFILES)
DKMS_ARGS = $(DKMS_FLAGS) -m $(DKMS_NAME) -v $(DKMS_VERSION)

.PHONY: install dkms-source dkms-install dkms-uninstall

install: module tools
	install -D -m 0644 $(BUILD)/$(KVER)/dm-ccm-mirror.ko \
		$(DESTDIR)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)/dm-ccm-mirror.ko
	$(if $(DESTDIR),,depmod -a $(KVER))
	$(MAKE) -C tools install

dkms-source:
	@[ -n "$(DKMS_VERSION)" ] || { echo "no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)
	install -m 0644 $(DKMS_FILES) $(DKMS_SRC)/

dkms-install:
	@$(MAKE) --no-print-directory dkms-uninstall
	@$(MAKE) --no-print-directory dkms-source
	set -e; for k in $(KVERS); do dkms install $(DKMS_ARGS) -k "$$k"; done

dkms-uninstall:
	@[ -n "$(DKMS_VERSION)" ] || { echo "no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
	if [ -n "$$(dkms status $(DKMS_ARGS) 2> /dev/null)" ]; then \
		dkms remove $(DKMS_ARGS) --all; fi
	rm -rf $(DKMS_SRC)

clean:
	rm -rf $(BUILD)
	@if [ -f tools/Makefile ]; then $(MAKE) -C tools clean; fi

distclean: clean
	rm -rf $(SRC)/.cache

help:
	@echo "make                  build dm-ccm-mirror.ko for KVER (default: newest"
	@echo "                      installed: $(KVER)) and the CLI (tools/)"
	@echo "make modules-all      build the module for every kernel with headers:"
	@echo "                      $(KVERS)"
	@echo "make lint             checkpatch --strict, sparse (C=1) and W=1 on every kernel"
	@echo "make check            build everything, run the selftests in a VM per kernel"
	@echo "make check KVER=<release> TESTS=<name>   one test on one kernel"
	@echo "make check-long       the power cuts and overlap matrices, long"
	@echo "make vm-shell [KVER=<release>]           interactive shell in the VM"
	@echo "make tools-test       the CLI's own tests (host)"
	@echo "make install [DESTDIR=<dir>]   module (KVER), CLI and man page"
	@echo "make dkms-install | dkms-uninstall   the module through dkms"
	@echo "make demo             a live encrypted move in the VM"
	@echo "make bench [KVER=<release>]      fio side by side with the peers"
	@echo "make clean | distclean"
