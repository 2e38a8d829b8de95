#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build Bochs 3.0 (VMX with posted interrupts, SMP) once into a cache, from
# Debian trixie's source package with this repository's fixes applied.
# Bookworm's own Bochs (2.7) has no posted-interrupt processing, and
# trixie's binary package needs a newer glibc, hence the source build.
#
# Usage: build-bochs.sh CACHE_DIR
# Prints the path of the bochs binary; its BIOS images are beside it.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION=3.0+dfsg-1
ORIG=bochs_3.0+dfsg.orig.tar.xz
# From trixie's Sources index.
ORIG_SHA256=78f6c73d4a6472d5130a87ab9dc306d02c7c71ed8e25b3a8ef642e2a7acd282b

die() {
	echo "build-bochs: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: build-bochs.sh CACHE_DIR"
# shellcheck source=scripts/rig/build-cache.sh
. "$SRC/build-cache.sh"
build_cache_lookup bochs "$SRC/bochs" "$1" bochs
work=$(mktemp -d "$(dirname "$out")/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$SRC/fetch-source.sh" trixie "bochs=$VERSION" "$ORIG" "$ORIG_SHA256" "$work" ||
	die "could not fetch Bochs' source"
tar -C "$work" -xf "$work/$ORIG"
cd "$work/bochs-3.0"
for p in "$SRC"/bochs/*.patch; do
	patch -s -p1 <"$p" || die "$p does not apply"
done
echo "build-bochs: configuring and building (a few minutes, once per machine)" >&2
./configure -q --prefix="$out" --with-nogui --disable-plugins --disable-debugger \
	--enable-x86-64 --enable-cpu-level=6 --enable-vmx=2 --enable-svm \
	--enable-avx --enable-evex --enable-pci --enable-cdrom --enable-smp \
	--enable-repeat-speedups --enable-fast-function-calls >&2 ||
	die "configure failed"
make -s -j"$(nproc)" >"$work/build.log" 2>&1 || {
	tail -30 "$work/build.log" >&2
	die "build failed"
}
# The source package's SeaBIOS and VGA BIOS images.
mkdir -p "$out.tmp/bios"
cp bios/bios.bin-1.13.0 "$out.tmp/bios/bios.bin"
cp bios/vgabios-cirrus.bin-1.13.0 "$out.tmp/bios/vgabios.bin"
build_cache_store bochs
