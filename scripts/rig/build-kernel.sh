#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build a minimal KVM test kernel for the rig from any kernel tree:
# tinyconfig + scripts/rig/kvm-test.config, KVM built in, out of tree.
#
# Usage: build-kernel.sh [-j N] KERNEL_TREE OUT_DIR
# Prints the bzImage's path.  A second call only rebuilds what changed
# (seconds after touching arch/x86/kvm/).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$HERE/kvm-test.config

die() {
	echo "build-kernel: $*" >&2
	exit 1
}

jobs=$(($(nproc) + 1))
if [ "${1:-}" = -j ]; then
	[[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "-j needs a number"
	jobs=$2
	shift 2
fi
[ $# -eq 2 ] || die "usage: build-kernel.sh [-j N] KERNEL_TREE OUT_DIR"
tree=$(realpath "$1" 2>/dev/null) || die "$1: no such directory"
out=$(realpath -m "$2")
if [ ! -f "$tree/Makefile" ] || [ ! -d "$tree/arch/x86/kvm" ]; then
	die "$tree is not a kernel tree"
fi
# The kernel refuses O= builds from a tree configured or built in place.
if [ -e "$tree/.config" ] || [ -d "$tree/include/config" ]; then
	die "$tree has been configured in place; O= builds need a clean tree (make mrproper there)"
fi
mkdir -p "$out"

kmake() {
	make -s -C "$tree" O="$out" "$@"
}

# Configure only once, or when the fragment changed: reconfiguring would
# make every rebuild a full one.
if ! cmp -s "$fragment" "$out/.kvm-test.config"; then
	kmake tinyconfig >/dev/null
	"$tree/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$fragment" >/dev/null
	kmake olddefconfig >/dev/null
	# olddefconfig silently drops what it cannot satisfy.
	missing=$(grep '^CONFIG_.*=y$' "$fragment" | grep -vxFf "$out/.config" || true)
	[ -z "$missing" ] || die "not set after olddefconfig:"$'\n'"$missing"
	cp "$fragment" "$out/.kvm-test.config"
fi
kmake -j"$jobs" bzImage >&2 || die "build failed"
echo "$out/arch/x86/boot/bzImage"
