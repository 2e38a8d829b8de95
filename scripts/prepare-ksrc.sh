#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Ready a kernel tree for building against its KVM selftests library:
#
#   prepare-ksrc.sh --cache DIR   Debian's linux-source-6.12, installed with
#                                 apt-get if missing and extracted once into DIR
#   prepare-ksrc.sh --tree DIR    a kernel tree of the user's
#
# Either way the tree gets its UAPI headers (make headers), as the kernel's
# own selftests expect.  The tree itself is never modified otherwise.
set -euo pipefail

PKG=linux-source-6.12
TARBALL=/usr/src/$PKG.tar.xz

die() {
	echo "prepare-ksrc: $*" >&2
	exit 1
}

ensure_headers() {
	local tree=$1

	[ -e "$tree/usr/include/linux/kvm.h" ] && return 0
	echo "prepare-ksrc: make headers in $tree"
	make -s -C "$tree" headers >/dev/null ||
		die "'make headers' failed in $tree"
}

check_tree() {
	local tree=$1

	[ -f "$tree/Makefile" ] || die "$tree is not a kernel tree (no Makefile)"
	[ -f "$tree/tools/testing/selftests/kvm/Makefile" ] ||
		die "$tree has no tools/testing/selftests/kvm"
	[ -f "$tree/tools/testing/selftests/kselftest_harness.h" ] ||
		die "$tree has no kselftest_harness.h"
}

install_source_package() {
	[ -e "$TARBALL" ] && return 0
	echo "prepare-ksrc: installing $PKG"
	[ "$(id -u)" -eq 0 ] || die "$TARBALL is missing and installing $PKG needs root"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$PKG" >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "$PKG" >/dev/null; } ||
		die "could not install $PKG"
}

# Extract once; re-extract only when the package's tarball changed.
prepare_cache() {
	local cache=$1 tree=$1/$PKG stamp id tmp

	install_source_package
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9
	id=$(stat -c '%s-%Y' "$TARBALL")
	stamp=$tree/.kvm-ipi-selftests-ready
	if [ ! -e "$stamp" ] || [ "$(cat "$stamp")" != "$id" ]; then
		echo "prepare-ksrc: extracting $TARBALL into $cache (once, about a minute)"
		tmp=$(mktemp -d "$cache/.extract.XXXXXX")
		tar -xJf "$TARBALL" -C "$tmp"
		rm -rf "$tree"
		mv "$tmp/$PKG" "$tree"
		rmdir "$tmp"
		check_tree "$tree"
		ensure_headers "$tree"
		echo "$id" >"$stamp"
	fi
}

case "${1:-}" in
--cache)
	[ $# -eq 2 ] || die "usage: $0 --cache DIR | --tree DIR"
	prepare_cache "$2"
	;;
--tree)
	[ $# -eq 2 ] || die "usage: $0 --cache DIR | --tree DIR"
	[ -d "$2" ] || die "KSRC=$2 is not a directory"
	check_tree "$2"
	ensure_headers "$2"
	;;
*)
	die "usage: $0 --cache DIR | --tree DIR"
	;;
esac
