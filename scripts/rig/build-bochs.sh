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
# From trixie's Sources index; checked because the download goes around
# the system's APT configuration (no signed Release file is consulted).
ORIG_SHA256=78f6c73d4a6472d5130a87ab9dc306d02c7c71ed8e25b3a8ef642e2a7acd282b
MIRROR=${BOCHS_MIRROR:-http://deb.debian.org/debian}

die() {
	echo "build-bochs: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: build-bochs.sh CACHE_DIR"
cache=$(realpath -m "$1")
# The stamp covers the patches: changing one rebuilds.
stamp=$(cat "$SRC"/bochs/*.patch | sha256sum | cut -c1-16)
out=$cache/bochs-$stamp
if [ -x "$out/bin/bochs" ]; then
	echo "$out/bin/bochs"
	exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A private APT configuration for trixie's sources: the system's stays as
# it is.
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
echo "deb-src $MIRROR trixie main" >"$work/apt/sources.list"
cat >"$work/apt/apt.conf" <<EOT
Dir::Etc::SourceList "$work/apt/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::State::Lists "$work/apt/lists";
Dir::Cache "$work/apt/cache";
EOT
export APT_CONFIG=$work/apt/apt.conf
echo "build-bochs: fetching bochs $VERSION source from trixie" >&2
apt-get -qq update >&2 || die "apt-get update for trixie's sources failed"
# Some mirrors miss the .dsc; the tarball is all that is needed, and it is
# checked below.
(cd "$work" && apt-get -qq source --download-only "bochs=$VERSION" >&2) || true
[ -f "$work/$ORIG" ] || die "could not download $ORIG"
echo "$ORIG_SHA256  $work/$ORIG" | sha256sum --quiet -c - || die "$ORIG: checksum mismatch"

tar -C "$work" -xf "$work/$ORIG"
cd "$work/bochs-3.0"
for p in "$SRC"/bochs/*.patch; do
	patch -s -p1 <"$p" || die "$p does not apply"
done
echo "build-bochs: configuring and building (about 80 s on 2 cores)" >&2
./configure -q --prefix="$out" --with-nogui --disable-plugins --disable-debugger \
	--enable-x86-64 --enable-cpu-level=6 --enable-vmx=2 --enable-svm \
	--enable-avx --enable-evex --enable-pci --enable-cdrom --enable-smp \
	--enable-repeat-speedups --enable-fast-function-calls >&2 ||
	die "configure failed"
make -s -j"$(nproc)" >"$work/build.log" 2>&1 || {
	tail -30 "$work/build.log" >&2
	die "build failed"
}
mkdir -p "$out.tmp/bin" "$out.tmp/bios"
cp bochs "$out.tmp/bin/"
# The source package's SeaBIOS and VGA BIOS images.
cp bios/bios.bin-1.13.0 "$out.tmp/bios/bios.bin"
cp bios/vgabios-cirrus.bin-1.13.0 "$out.tmp/bios/vgabios.bin"
cp "$SRC"/bochs/*.patch "$out.tmp/"
mv "$out.tmp" "$out"
echo "$out/bin/bochs"
