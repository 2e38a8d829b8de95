# SPDX-License-Identifier: GPL-2.0-only
#
# kvm-ipi-selftests
#
#   make                 build the tests and unit tests
#   make run             build, then run the default suite on this host's KVM
#                        (or, with no /dev/kvm, inside Debian 6.12 under QEMU)
#   make bench           runs of the suite, their spread and, from 8 runs, the
#                        smallest change they resolve (BENCH_ARGS for
#                        scripts/bench.sh; --kernel K: boots of K in the rig)
#   make crosscheck      vmexit.flat (kvm-unit-tests) beside self_ipi_test on
#                        this host's KVM, when both are at hand
#   make check           build, then run everything that tests the suite itself
#   make STATIC=1        statically linked test binaries
#   make static          ... into $(O)/static/tests, for scripts/kernels.sh
#   make kselftest-install KSRC=/path   the tests and harness into that tree's
#                        tools/testing/selftests/kvm (kselftest-uninstall:
#                        out again; kselftest-patch: as a format-patch series
#                        into PATCH_DIR, default $(O)/kselftest-patches)
#   make kselftest-check the kselftest flow on a fresh linux-source-6.12
#                        (KSELFTEST_FULL=1: also every upstream KVM selftest)
#   make rig-matrix      the suite inside Debian 6.1 and 6.12 under QEMU and
#                        Bochs (APICv on and off), with comparisons; RIG_ARGS
#                        for scripts/rig/matrix.sh (about 40 minutes)
#   make zoo             historic kinds of KVM interrupt-delivery bug put back
#                        into 6.12 (scripts/rig/bugs/), each booted in the rig
#                        with the default suite: caught, missed or false
#                        positive; ZOO_ARGS for scripts/rig/zoo.sh
#   make KSRC=/path      build against that kernel tree (default: Debian's
#                        linux-source-6.12, installed and extracted on demand)
#   make O=/path V=1     out-of-tree build, full command lines
#   make clean           remove build products, keep the extracted kernel tree
#   make distclean       remove the whole build directory

O ?= build
BUILD := $(abspath $(O))
SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
export V STATIC EXTRA_CFLAGS

ifeq ($(KSRC),)
KSRC_DIR := $(BUILD)/ksrc/linux-source-6.12
else
KSRC_DIR := $(abspath $(KSRC))
endif

STAGE2 = $(MAKE) --no-print-directory -f $(SRC)/mk/build.mk KSRC=$(KSRC_DIR) BUILD=$(BUILD)

all: ksrc
	+@$(STAGE2) all

sanitize: ksrc
	+@$(STAGE2) sanitize

# Statically linked tests in $(BUILD)/static/tests, for the kernel rig.
static: ksrc
	+@$(MAKE) --no-print-directory -f $(SRC)/mk/build.mk KSRC=$(KSRC_DIR) \
		BUILD=$(BUILD)/static STATIC=1 $(BUILD)/static/tests/self_ipi_test \
		$(BUILD)/static/tests/cross_vcpu_ipi_test $(BUILD)/static/tests/host_injection_test \
		$(BUILD)/static/tests/level_irq_test $(BUILD)/static/tests/vector_priority_test \
		$(BUILD)/static/tests/nmi_test $(BUILD)/static/tests/nested_posted_test

# Installs what is missing (apt-get, as root), then readies the kernel tree.
ksrc:
	@$(SRC)/scripts/install-deps.sh
	@$(SRC)/scripts/prepare-ksrc.sh $(if $(KSRC),--tree $(KSRC_DIR),--cache $(BUILD)/ksrc)

# Without a usable /dev/kvm (a machine that is itself a guest without
# nested virtualization), the suite runs for real inside Debian's 6.12
# under the rig's QEMU instead, saying so.
run: all static
	@if [ -c /dev/kvm ] && { : </dev/kvm; } 2>/dev/null; then \
		$(SRC)/run_tests.sh --bin-dir $(BUILD)/tests $(RUN_ARGS); \
	else \
		echo "run: no usable /dev/kvm here: the suite runs inside Debian 6.12 under the rig's QEMU"; \
		$(SRC)/scripts/kernels.sh -k debian-6.12 -b $(BUILD)/static/tests $(if $(RUN_ARGS),-- $(RUN_ARGS)); \
	fi

# Under the rig (BENCH_ARGS with --kernel, or no usable /dev/kvm here):
# each run a boot, the static tests inside.
bench: all static
	@case " $(BENCH_ARGS) " in *" -k "*|*" --kernel "*) rig=1 ;; *) rig= ;; esac; \
	if [ -z "$$rig" ] && [ -c /dev/kvm ] && { : </dev/kvm; } 2>/dev/null; then \
		$(SRC)/scripts/bench.sh --bin-dir $(BUILD)/tests $(BENCH_ARGS); \
	elif [ -n "$$rig" ]; then \
		$(SRC)/scripts/bench.sh --bin-dir $(BUILD)/static/tests $(BENCH_ARGS); \
	else \
		echo "bench: no usable /dev/kvm here: each run boots Debian 6.12 under the rig's QEMU"; \
		$(SRC)/scripts/bench.sh --kernel debian-6.12 --bin-dir $(BUILD)/static/tests $(BENCH_ARGS); \
	fi

# kvm-unit-tests' vmexit.flat beside self_ipi_test on this host's KVM
# (skips, saying why, without /dev/kvm or vmexit.flat).
crosscheck: all
	@$(SRC)/scripts/vmexit-crosscheck.sh --bin-dir $(BUILD)/tests $(CROSSCHECK_ARGS)

check: all sanitize static
	@$(SRC)/tests/check.sh --build $(BUILD)

kselftest-install kselftest-uninstall kselftest-patch:
	@[ -n "$(KSRC)" ] || { echo "$@: KSRC=/path/to/linux is needed" >&2; exit 2; }
	@$(SRC)/scripts/install-deps.sh
	@$(SRC)/scripts/kselftest.sh $(patsubst kselftest-%,%,$@) $(KSRC_DIR) \
		$(if $(filter kselftest-patch,$@),$(or $(PATCH_DIR),$(BUILD)/kselftest-patches))

kselftest-check: ksrc
	@$(SRC)/tests/kselftest_test.sh $(BUILD)/kselftest $(if $(KSELFTEST_FULL),--full)

rig-matrix: static
	@$(SRC)/scripts/rig/matrix.sh -b $(BUILD)/static/tests $(RIG_ARGS)

zoo: static
	@$(SRC)/scripts/rig/zoo.sh -b $(BUILD)/static/tests $(ZOO_ARGS)

clean:
	rm -rf $(BUILD)/lib $(BUILD)/tests $(BUILD)/unit $(BUILD)/san $(BUILD)/libkvm $(BUILD)/static

distclean:
	rm -rf $(BUILD)

.PHONY: all sanitize static ksrc run bench crosscheck check rig-matrix zoo kselftest-install \
	kselftest-uninstall kselftest-patch kselftest-check clean distclean
