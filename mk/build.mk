# SPDX-License-Identifier: GPL-2.0-only
#
# Second stage of the build, run by ../Makefile once the kernel tree is
# ready: KSRC has installed UAPI headers (usr/include) and BUILD is the
# output directory.
#
# Upstream's KVM selftests library is built by the tree's own Makefile, so
# its flags and object list are always the tree's.  Our harness and tests
# are built with the same essential flags, plus -Wextra.  Everything that
# may run in the guest is built with -mgeneral-regs-only (PVM cannot
# emulate SSE); files in HOST_FP_SRCS are host-only and may use floating
# point.

SRC := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
KVM_DIR := $(KSRC)/tools/testing/selftests/kvm

ifneq ($(wildcard $(KVM_DIR)/include/x86_64/processor.h),)
ARCH_DIR := x86_64
else ifneq ($(wildcard $(KVM_DIR)/include/x86/processor.h),)
ARCH_DIR := x86
else
$(error $(KVM_DIR) has neither include/x86_64 nor include/x86: not a KVM selftests tree this suite knows)
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' '$(1)' '$(patsubst $(BUILD)/%,%,$(2))'
endif

LIBKVM_OUT := $(BUILD)/libkvm
LIBKVM_OBJS := $(shell MAKEFLAGS= $(MAKE) -s --no-print-directory -C $(KVM_DIR) -f Makefile \
	-f $(SRC)/mk/print-libkvm.mk OUTPUT=$(LIBKVM_OUT) print-libkvm)
ifeq ($(strip $(LIBKVM_OBJS)),)
$(error could not get the KVM selftests library objects from $(KVM_DIR)/Makefile)
endif

GUEST_FLAGS := -mgeneral-regs-only
ifeq ($(STATIC),1)
STATIC_LDFLAGS := -static
endif

MARCH := $(shell echo 'void f(void) {}' | $(CC) -march=x86-64-v2 -x c -c -o /dev/null - 2>/dev/null && echo -march=x86-64-v2)

# Kernel headers are third-party here: -isystem keeps -Wextra on our code only.
INCLUDES := -I$(SRC)/include \
	-isystem $(KVM_DIR)/include -isystem $(KVM_DIR)/include/$(ARCH_DIR) \
	-isystem $(KSRC)/tools/testing/selftests \
	-isystem $(KSRC)/tools/include -isystem $(KSRC)/tools/arch/x86/include \
	-isystem $(KSRC)/usr/include

CFLAGS := -D_GNU_SOURCE -O2 -g -std=gnu99 -Wall -Wextra -Wstrict-prototypes \
	-Wuninitialized -MD -MP -DCONFIG_64BIT -U_FORTIFY_SOURCE \
	-fno-builtin-memcmp -fno-builtin-memcpy -fno-builtin-memset \
	-fno-builtin-strnlen -fno-stack-protector -fno-PIE -fno-strict-aliasing \
	$(MARCH) $(INCLUDES) $(EXTRA_CFLAGS)
LDFLAGS := -pthread -no-pie $(STATIC_LDFLAGS)
# lib/memslot_compat.c: memslots on kernels older than the library (6.1).
LDLIBS := -ldl -lm -Wl,--wrap=ioctl

HARNESS_SRCS := $(wildcard $(SRC)/lib/*.c)
HOST_FP_SRCS := $(addprefix $(SRC)/lib/,host_info.c injector.c ipi_classify.c level_irq.c ipi_report.c ipi_test.c json_writer.c known_issues.c)
HARNESS_OBJS := $(patsubst $(SRC)/%.c,$(BUILD)/%.o,$(HARNESS_SRCS))

TEST_SRCS := $(wildcard $(SRC)/tools/testing/selftests/kvm/x86_64/*.c)
TESTS := $(patsubst $(SRC)/tools/testing/selftests/kvm/x86_64/%.c,$(BUILD)/tests/%,$(TEST_SRCS))

# Checks of the harness itself on real KVM; not part of the suite.
HTEST_SRCS := $(wildcard $(SRC)/tests/harness/*.c)
HTESTS := $(patsubst $(SRC)/tests/harness/%.c,$(BUILD)/harness-tests/%,$(HTEST_SRCS))

UNIT_SRCS := $(wildcard $(SRC)/tests/unit/*.c)
UNITS := $(patsubst $(SRC)/tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

# Host-only copies of the harness with ASan and UBSan, for the unit tests.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_OBJS := $(patsubst $(SRC)/%.c,$(BUILD)/san/%.o,$(HARNESS_SRCS))
SAN_UNITS := $(patsubst $(SRC)/tests/unit/%.c,$(BUILD)/san/unit/%,$(UNIT_SRCS))

# The histogram's unit tests built against 8 sub-buckets per power of two
# (up to 6% error): a negative control the accuracy tests must fail.
MUTANT := $(BUILD)/mutant/lat_hist_test_coarse

# The real tests with ASan/UBSan on the host-only harness objects; code
# that runs in the guest (the test file, guest lib objects) stays plain.
GUEST_LIB_SRCS := $(addprefix $(SRC)/lib/,ipi_guest.c lat_hist.c remote_sender.c nested_posted.c)
SAN_TEST_OBJS := $(patsubst $(SRC)/%.c,$(BUILD)/san/%.o,$(filter-out $(GUEST_LIB_SRCS),$(HARNESS_SRCS))) \
	$(patsubst $(SRC)/%.c,$(BUILD)/%.o,$(GUEST_LIB_SRCS))
SAN_TESTS := $(patsubst $(BUILD)/tests/%,$(BUILD)/san/tests/%,$(TESTS))

all: $(TESTS) $(HTESTS) $(UNITS) $(MUTANT)
sanitize: $(SAN_UNITS) $(SAN_TESTS)

.PHONY: all sanitize libkvm

# The tree's Makefile decides what is stale; running it is cheap.
libkvm:
	$(call msg,LIBKVM,$(KVM_DIR))
	$(Q)$(MAKE) -s --no-print-directory -C $(KVM_DIR) OUTPUT=$(LIBKVM_OUT) \
		EXTRA_CFLAGS='$(GUEST_FLAGS)' $(LIBKVM_OBJS) $(if $(Q),>/dev/null)

$(LIBKVM_OBJS): libkvm ;

$(BUILD)/lib/%.o: $(SRC)/lib/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(if $(filter $<,$(HOST_FP_SRCS)),,$(GUEST_FLAGS)) -c $< -o $@

$(BUILD)/tests/%.o: $(SRC)/tools/testing/selftests/kvm/x86_64/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(GUEST_FLAGS) -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(HARNESS_OBJS) $(LIBKVM_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/harness-tests/%.o: $(SRC)/tests/harness/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(GUEST_FLAGS) -c $< -o $@

$(BUILD)/harness-tests/%: $(BUILD)/harness-tests/%.o $(HARNESS_OBJS) $(LIBKVM_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/unit/%.o: $(SRC)/tests/unit/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/unit/%: $(BUILD)/unit/%.o $(HARNESS_OBJS) $(LIBKVM_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/san/%.o: $(SRC)/%.c
	$(call msg,CC-SAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -static,$(CFLAGS)) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/san/unit/%: $(BUILD)/san/tests/unit/%.o $(SAN_OBJS) $(LIBKVM_OBJS)
	$(call msg,LD-SAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -pthread -no-pie $(SAN_FLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/san/tests/%: $(BUILD)/tests/%.o $(SAN_TEST_OBJS) $(LIBKVM_OBJS)
	$(call msg,LD-SAN,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -pthread -no-pie $(SAN_FLAGS) $^ $(LDLIBS) -o $@

$(MUTANT): $(SRC)/tests/unit/lat_hist_test.c $(SRC)/lib/lat_hist.c
	$(call msg,CC-MUT,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(filter-out -MD -MP,$(CFLAGS)) -DLAT_HIST_SUB_BITS=3 $^ $(LDFLAGS) -lm -o $@

.SECONDARY:

-include $(HARNESS_OBJS:.o=.d) $(TESTS:=.d) $(HTESTS:=.d) $(UNITS:=.d) $(SAN_OBJS:.o=.d) \
	$(patsubst $(SRC)/tests/unit/%.c,$(BUILD)/san/tests/unit/%.d,$(UNIT_SRCS))
