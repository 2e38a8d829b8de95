#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# fetch-kernel.sh KERNEL CACHE: a Debian kernel, downloaded and unpacked
# once into CACHE.  KERNEL is a package name (linux-image-6.12.117+deb12-
# amd64-unsigned), a version (6.1.0-54, 6.12.117+deb12: its -amd64 image),
# or debian-6.1 / debian-6.12 for the newest of that line.
# Prints three lines: the kernel release, its vmlinuz, its modules dir.
set -euo pipefail

die() {
	echo "fetch-kernel: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: fetch-kernel.sh PACKAGE|VERSION|debian-6.1|debian-6.12 CACHE"
kernel=$1
cache=$2

# The newest image a meta-package points at.
resolve() {
	local meta=$1 dep

	dep=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
	[ -n "$dep" ] || die "cannot resolve $meta (run apt-get update?)"
	echo "$dep"
}

case "$kernel" in
debian-6.1) pkg=$(resolve linux-image-amd64) ;;
debian-6.12) pkg=$(resolve linux-image-6.12-amd64) ;;
linux-image-*) pkg=$kernel ;;
[0-9]*.[0-9]*) pkg=linux-image-$kernel-amd64 ;;
*) die "'$kernel' is not a linux-image-* package, a version or debian-6.1 / debian-6.12" ;;
esac

dir=$cache/$pkg
mkdir -p "$cache"
# The cache may be shared by every clone on the machine: one fetch at a
# time per package, and the others use its result.
exec {lock}>"$dir.lock"
flock -w 1800 "$lock" || die "$dir.lock still held after 30 minutes (a killed fetch's orphan?)"
if [ ! -e "$dir/.ready" ]; then
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) ||
		{ apt-get update -qq >/dev/null 2>&1 && (cd "$tmp" && apt-get download "$pkg" >/dev/null); } ||
		die "apt-get download $pkg failed"
	dpkg -x "$tmp"/*.deb "$tmp/root"
	krel=$(ls "$tmp/root/lib/modules" 2>/dev/null || ls "$tmp/root/usr/lib/modules")
	depmod -b "$tmp/root" "$krel"
	rm -f "$tmp"/*.deb
	rm -rf "$dir"
	mv "$tmp" "$dir"
	echo "$krel" >"$dir/.ready"
fi
krel=$(cat "$dir/.ready")
echo "$krel"
echo "$dir/root/boot/vmlinuz-$krel"
if [ -d "$dir/root/lib/modules/$krel" ]; then
	echo "$dir/root"
else
	echo "$dir/root/usr"
fi
