# SPDX-License-Identifier: GPL-2.0-only
# Read on top of a kernel tree's tools/testing/selftests/kvm/Makefile, so
# that the tree itself says which objects make up its KVM selftests library.
print-libkvm:
	@echo $(LIBKVM_OBJS)
