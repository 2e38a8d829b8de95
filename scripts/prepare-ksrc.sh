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
#
#   prepare-ksrc.sh --git DIR     linux-source-6.12 extracted into DIR as a
#                                 git repository of one commit, untouched,
#                                 for building kernels (O= builds need a
#                                 tree where nothing ran in place) and for
#                                 patching and bisecting them
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

prepare_git() {
	local dir=$1 tmp version

	[ -e "$dir/.git" ] && return 0
	[ ! -e "$dir" ] || die "$dir exists and is not a git tree"
	install_source_package
	version=$(dpkg-query -W -f '${Version}' "$PKG")
	echo "prepare-ksrc: extracting $TARBALL into $dir as a git tree (once, a few minutes)"
	tmp=$(mktemp -d "$(dirname "$dir")/.git-tree.XXXXXX")
	tar -xJf "$TARBALL" -C "$tmp"
	check_tree "$tmp/$PKG"
	git -C "$tmp/$PKG" init -q -b master
	# Debian's tarball ignores everything (.gitignore: /*).
	git -C "$tmp/$PKG" add -A -f
	git -C "$tmp/$PKG" -c user.name=kvm-ipi-selftests -c user.email=rig@localhost \
		commit -q -m "$PKG $version (Debian)"
	mv "$tmp/$PKG" "$dir"
	rmdir "$tmp"
}

usage="usage: $0 --cache DIR | --tree DIR | --git DIR"
case "${1:-}" in
--git)
	[ $# -eq 2 ] || die "$usage"
	mkdir -p "$(dirname "$2")"
	prepare_git "$2"
	;;
--cache)
	[ $# -eq 2 ] || die "$usage"
	prepare_cache "$2"
	;;
--tree)
	[ $# -eq 2 ] || die "$usage"
	[ -d "$2" ] || die "KSRC=$2 is not a directory"
	check_tree "$2"
	ensure_headers "$2"
	;;
*)
	die "$usage"
	;;
esac
