#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build QEMU 7.2 (TCG, x86_64 system emulation only) once into a cache,
# from Debian bookworm's upstream tarball with this repository's fixes
# applied.  Bookworm's own binary delivers an SVM-injected interrupt twice
# now and then with more than one CPU (see qemu/*.patch), which the suite
# reports as duplicates.  Firmware comes from the system's packages
# (qemu-system-data, seabios, ipxe-qemu), as for Debian's own binary.
#
# Usage: build-qemu.sh CACHE_DIR
# Prints the path of the qemu-system-x86_64 binary.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ORIG=qemu_7.2+dfsg.orig.tar.xz
# From bookworm's Sources index, the same for every 7.2+dfsg revision.
ORIG_SHA256=91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f

die() {
	echo "build-qemu: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: build-qemu.sh CACHE_DIR"
# shellcheck source=scripts/rig/build-cache.sh
. "$SRC/build-cache.sh"
build_cache_lookup qemu "$SRC/qemu" "$1" qemu-system-x86_64
for tool in meson ninja pkg-config; do
	command -v "$tool" >/dev/null || die "$tool is needed (scripts/install-deps.sh installs it)"
done
work=$(mktemp -d "$(dirname "$out")/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$SRC/fetch-source.sh" bookworm qemu "$ORIG" "$ORIG_SHA256" "$work" ||
	die "could not fetch QEMU's source"
tar -C "$work" -xf "$work/$ORIG"
cd "$work/qemu-7.2.0"
for p in "$SRC"/qemu/*.patch; do
	patch -s -p1 <"$p" || die "$p does not apply"
done
# Debian's tarball has no firmware images (they come from the system's
# packages), so nothing may try to unpack the EDK2 ones.
sed -i 's/^\( *unpack_edk2_blobs = \)bzip2.found()$/\1false/' meson.build
! grep -q 'unpack_edk2_blobs = bzip2.found()' meson.build || die "meson.build: EDK2 unpacking still on"
echo "build-qemu: configuring and building (several minutes, once per machine)" >&2
mkdir build
cd build
../configure --target-list=x86_64-softmmu --without-default-features --enable-tcg \
	--enable-fdt=system --disable-docs --disable-tools --disable-werror --disable-install-blobs \
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu \
	>"$work/configure.log" 2>&1 || {
	tail -30 "$work/configure.log" >&2
	die "configure failed"
}
ninja -j"$(nproc)" qemu-system-x86_64 >"$work/build.log" 2>&1 || {
	tail -30 "$work/build.log" >&2
	die "build failed"
}
build_cache_store qemu-system-x86_64
