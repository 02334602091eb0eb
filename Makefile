# SPDX-License-Identifier: GPL-2.0
#
# xpcopy: build, install and test.
#
# On a machine of your own (make, make module and make userspace need no
# root and install nothing):
#   make                xpcopy.ko against the running kernel's headers
#                       (/lib/modules/$(uname -r)/build, or KDIR=...), here,
#                       and the userspace programs in build/userspace/
#   make module         only xpcopy.ko (KDIR=<headers> for another kernel)
#   make userspace      only the userspace programs and libraries
#   make install        the module (and depmod), udev rule, libxpcopy, its
#                       headers, pkg-config file and man pages, xpcopy(1),
#                       libxpcopy-cma.so in $(PREFIX)/lib/xpcopy/; honours
#                       DESTDIR and PREFIX (/usr/local); make uninstall
#   make load           root: insmod the xpcopy.ko just built; make unload
#   make bench-host     root: xpcopy-bench on this machine with the xpcopy.ko
#                       just built, results in bench-results/host/ (where
#                       the running kernel can load modules)
#
# The test matrix (QEMU guests, never the host; these install packages):
#   make check          everything: deps, modules, selftests, boot each kernel
#   make modules-matrix build/<kver>/xpcopy.ko for every kernel of the matrix
#   make modules-check  W=1 C=1 (sparse) builds; any warning fails
#   make checkpatch     checkpatch.pl --strict on the module and uapi header
#   make readme-check   every make target, xpcopy command and option, and
#                       link README.md shows exists (no root, no guest)
#   make deb-check      dpkg-buildpackage -us -uc -b and lintian (skipped,
#                       saying why, without dpkg-dev, debhelper, dh-dkms,
#                       lintian: make deps installs them)
#   make install-check  as a user without root, in a copy of the tree: make
#                       builds and installs nothing, make install and
#                       uninstall DESTDIR= leave nothing behind
#   make runner-check   boot fake cases of known verdicts: does the guest
#                       runner still fail what it must?
#   make selftests      static test binaries in build/selftests/bin/
#   make deps           install packages, extract kselftest/checkpatch files
#   make kernels        print the kernel matrix as far as it is installed or
#                       cached (installs and builds nothing)
#   make bench          run xpcopy-bench in a guest (KVM when /dev/kvm works,
#                       else TCG; it says which), results in bench-results/
#   make mpi-check      Debian Open MPI over libxpcopy-cma in a 6.12 guest
#                       with a Debian root (also a phase of make check)
#   make mpi-bench      MPI ping-pong: CMA, xpcopy, two copies; results in
#                       bench-results/mpi/
#   make fuzz           only the fuzzer in a guest, FUZZ_SECONDS (600) long
#   make soak           the fuzzer until SOAK_COPIES (1000000) copies succeed,
#                       on the debug kernel unless KERNELS says otherwise
#   make clean          remove build/ and the module's objects
#   make help           this text
#
# Knobs (make VAR=value or environment):
#   KDIR=/lib/modules/$(uname -r)/build  kernel headers of make, make module
#   KERNELS="6.12"      test only kernels whose version contains a word
#   XPCOPY_TIMEOUT=300  seconds per test case in the guest
#   XPCOPY_FILTER=...   shell patterns of cases to run (bin:FIXTURE.TEST)
#   XPCOPY_VERBOSE=1    show every case's output
#   QEMU_CPU=max        guest cpu model, e.g. max,-fsrm,-erms
#   GUEST_TIMEOUT=1200  wall-clock limit of one guest, seconds
#   GUEST_APPEND=...    more guest kernel command line
#   JOBS=<nproc>        parallel jobs of each build
#   XPCOPY_MPI=0        make check without its MPI phase
#   XPCOPY_DEBUG=0      no debug kernel (KASAN, lockdep, kmemleak, ...)
#   XPCOPY_SID=0        no Debian sid kernel
#   XPCOPY_BULLSEYE=0   no Debian 11 (5.10 LTS) kernel
#   FUZZ_SECONDS, FUZZ_SEED, FUZZ_THREADS, SOAK_COPIES, SOAK_TIMEOUT
#                       make fuzz / make soak (scripts/fuzz.sh)

SRC_CACHE	?= /var/tmp/xpcopy-src/linux-source-6.12
KSFT_DIR	?= $(SRC_CACHE)/tools/testing/selftests
CHECKPATCH	?= $(SRC_CACHE)/scripts/checkpatch.pl
BUILD		:= $(CURDIR)/build
JOBS		?= $(shell nproc)

export KERNELS XPCOPY_TIMEOUT XPCOPY_FILTER XPCOPY_VERBOSE XPCOPY_INSMOD
export XPCOPY_HUNG_TASK XPCOPY_MPI XPCOPY_DEBUG XPCOPY_SID XPCOPY_BULLSEYE
export QEMU_CPU QEMU_SMP QEMU_MEM GUEST_TIMEOUT GUEST_APPEND JOBS
export FUZZ_SECONDS FUZZ_SEED FUZZ_THREADS SOAK_COPIES SOAK_TIMEOUT
export XPCOPY_BUILD := $(BUILD)

# -j for sub-makes, unless this make already shares a jobserver with them.
SUBJOBS = $$(case "$$MAKEFLAGS" in *jobserver*) ;; *) echo -j$(JOBS) ;; esac)

# The kernel make and make module build for: the running one by default.
KVER		?= $(shell uname -r)
KDIR		?= /lib/modules/$(KVER)/build

.PHONY: all deps kernels module modules-matrix modules-check checkpatch \
	runner-check readme-check deb-check install-check selftests userspace \
	install uninstall \
	load unload \
	check bench bench-host mpi-check mpi-bench fuzz soak clean help

all: module userspace

deps:
	@scripts/deps.sh

kernels:
	@scripts/kernels.sh --cached

# make module [KDIR=<headers>]: one build against those headers, in place
# (as DKMS and packagers do), compat probes first; no root needed. The
# probes' scratch directory is in build/, not in /tmp.
module:
	@if [ ! -f $(KDIR)/Makefile ]; then \
		if [ "$(origin KDIR)" = file ]; then \
			echo "xpcopy: no kernel headers in $(KDIR): install linux-headers-$(KVER) (Debian), or give KDIR=<headers>" >&2; \
		else \
			echo "xpcopy: no kernel build tree in KDIR=$(KDIR)" >&2; \
		fi; \
		exit 1; \
	fi
	@mkdir -p $(BUILD)
	@TMPDIR=$(BUILD) scripts/compat-probe.sh $(KDIR) module/compat_probed.h
	+$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# make install [DESTDIR=] [PREFIX=/usr/local] [KDIR=]: the module into
# /lib/modules/<its kernel>/updates/ (kbuild's modules_install, which
# compresses it as that kernel's configuration says) and depmod;
# with DESTDIR, no depmod, and a note. Then the userspace side (see
# userspace/Makefile): libxpcopy, its headers in $(PREFIX)/include/xpcopy/,
# xpcopy.pc, man pages, xpcopy(1) linked with libxpcopy.so.1,
# libxpcopy-cma.so in $(PREFIX)/lib/xpcopy/ and the udev rule. make
# uninstall removes exactly those files; with DESTDIR (a staging root),
# also the directories left empty in it, so that nothing is left there.
PREFIX		?= /usr/local
DESTDIR		?=
# The release the headers in KDIR are for (not necessarily the running
# one): UTS_RELEASE, as in the module's vermagic. Not kernel.release, which
# in Debian's 6.1 headers says 6.1.192 for 6.1.0-57-amd64.
KREL		= $(or $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"$$/\1/p' \
			$(KDIR)/include/generated/utsrelease.h 2>/dev/null),$(KVER))
MODDIR		= $(DESTDIR)/lib/modules/$(KREL)/updates
# Kbuild signs at modules_install when the kernel says CONFIG_MODULE_SIG_ALL,
# with the key of the kernel's own build; distribution headers do not have
# it (their kernels are signed elsewhere) and sign-file would fail noisily:
# sign only with a key there (a kernel built here). Secure Boot wants a
# key enrolled in MOK: see the README.
NOSIGN		= $(if $(wildcard $(KDIR)/certs/signing_key.pem),,CONFIG_MODULE_SIG_ALL=)

install: module
	+$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install \
		INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=updates DEPMOD=true \
		$(NOSIGN)
	@if [ -n "$(DESTDIR)" ]; then \
		echo "xpcopy: DESTDIR is set: not running depmod (run depmod -a $(KREL) where it is installed)"; \
	 else \
		echo "depmod -a $(KREL)"; depmod -a $(KREL); \
	 fi
	+$(MAKE) -C userspace $(SUBJOBS) O=$(BUILD)/userspace install
	@[ -n "$(DESTDIR)" ] || ! command -v ldconfig >/dev/null || ldconfig

uninstall:
	rm -f $(MODDIR)/xpcopy.ko $(MODDIR)/xpcopy.ko.gz $(MODDIR)/xpcopy.ko.xz \
		$(MODDIR)/xpcopy.ko.zst
	@if [ -n "$(DESTDIR)" ]; then \
		echo "xpcopy: DESTDIR is set: not running depmod"; \
	 else \
		echo "depmod -a $(KREL)"; depmod -a $(KREL); \
	 fi
	+$(MAKE) -C userspace O=$(BUILD)/userspace uninstall
	@[ -n "$(DESTDIR)" ] || ! command -v ldconfig >/dev/null || ldconfig
	@if [ -n "$(DESTDIR)" ] && [ -d "$(DESTDIR)" ]; then \
		echo "xpcopy: removing the directories left empty in DESTDIR"; \
		find "$(DESTDIR)" -mindepth 1 -depth -type d -empty -delete; \
	 fi

# make load / make unload: insmod the xpcopy.ko just built (for the
# running kernel), rmmod it. Root only; one line says why when it cannot.
load: module
	@[ "$$(id -u)" = 0 ] || { echo "xpcopy: make load needs root (insmod)" >&2; exit 1; }
	@[ -e /proc/modules ] || { echo "xpcopy: the running kernel ($$(uname -r)) cannot load modules (built without CONFIG_MODULES)" >&2; exit 1; }
	@[ "$$(cat /proc/sys/kernel/modules_disabled 2>/dev/null)" != 1 ] || { echo "xpcopy: loading modules is disabled (kernel.modules_disabled=1)" >&2; exit 1; }
	@[ "$(KREL)" = "$$(uname -r)" ] || { echo "xpcopy: xpcopy.ko is built for $(KREL), the running kernel is $$(uname -r) (build with the default KDIR)" >&2; exit 1; }
	@! grep -q '^xpcopy ' /proc/modules || { echo "xpcopy: already loaded (make unload first)" >&2; exit 1; }
	@out=$$(insmod $(CURDIR)/xpcopy.ko 2>&1) || { echo "xpcopy: insmod xpcopy.ko failed: $$out$$(case $$out in *[Kk]ey*) echo ' (Secure Boot: sign the module with a key enrolled in MOK)';; esac)" >&2; exit 1; }
	@echo "xpcopy: loaded; $$(ls -l /dev/xpcopy 2>/dev/null || echo 'no /dev/xpcopy yet')"

unload:
	@[ "$$(id -u)" = 0 ] || { echo "xpcopy: make unload needs root (rmmod)" >&2; exit 1; }
	@grep -q '^xpcopy ' /proc/modules 2>/dev/null || { echo "xpcopy: not loaded" >&2; exit 1; }
	@rmmod xpcopy && echo "xpcopy: unloaded"

# The test matrix: build/<kver>/xpcopy.ko for every kernel of
# scripts/kernels.sh (make check runs this).
modules-matrix: deps
	@scripts/build-modules.sh

modules-check: deps
	@scripts/build-modules.sh check

checkpatch: deps
	@CHECKPATCH=$(CHECKPATCH) scripts/checkpatch.sh

runner-check: deps
	@scripts/runner-check.sh

readme-check:
	@scripts/readme-check.sh

deb-check:
	@scripts/deb-check.sh

install-check:
	@scripts/install-check.sh

selftests: deps
	@[ -f selftests/Makefile ] || { echo "selftests: no selftests/Makefile" >&2; exit 1; }
	+$(MAKE) -C selftests $(SUBJOBS) O=$(BUILD)/selftests KSFT_DIR=$(KSFT_DIR)

userspace:
	@scripts/version.sh --check
	+$(MAKE) -C userspace $(SUBJOBS) O=$(BUILD)/userspace

check:
	+@scripts/check.sh

bench: deps
	@scripts/bench.sh

# Not a target that installs packages: on the host, as it is.
bench-host:
	@scripts/bench-host.sh

mpi-check: deps
	@scripts/mpi.sh check

mpi-bench: deps
	@scripts/mpi.sh bench

fuzz soak: deps
	@scripts/fuzz.sh $@

clean:
	rm -rf $(BUILD)
	rm -f xpcopy.ko xpcopy.o xpcopy.mod xpcopy.mod.c xpcopy.mod.o \
		.module-common.o Module.symvers modules.order .*.cmd \
		module/*.o module/.*.cmd \
		module/compat_probed.h

help:
	@sed -n '3,/^$$/s/^# \{0,1\}//p' Makefile
