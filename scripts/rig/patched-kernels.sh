#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build patched kernels from linux-source-6.12, with the rig's minimal KVM
# config: the stock kernel and one per patch, each PATCH a patch file or a
# directory of them, in order (scripts/rig/races/: the races of b95234c8
# put back, one per patch; scripts/rig/req-event/: its injection put back;
# scripts/rig/bugs/: the bug zoo).
#
# Usage: patched-kernels.sh [-o DIR] PATCH...
# DIR (default build/rig) gets linux-6.12/ (a git tree: master is stock,
# one branch per patch) and kbuild/<name>/, where a patch N-<name>.patch
# builds kernel <name>.  Prints "<name> <bzImage>" per kernel: stock, then
# the patches.  Only the first build is a full one (about 3 minutes here);
# the others start from a copy of it and recompile what their patch
# touched (seconds).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
die() {
	echo "patched-kernels: $*" >&2
	exit 1
}

dir=$SRC/build/rig
if [ "${1:-}" = -o ]; then
	[ -n "${2:-}" ] || die "-o needs a directory"
	dir=$2
	shift 2
fi
[ $# -gt 0 ] || die "usage: patched-kernels.sh [-o DIR] PATCH..."
patches=()
for d in "$@"; do
	# git am runs in the tree: absolute paths.
	if [ -d "$d" ]; then
		compgen -G "$d/*.patch" >/dev/null || die "$d: no patches there"
		for p in "$(cd "$d" && pwd)"/*.patch; do
			patches+=("$p")
		done
	elif [[ -f $d && $d == *.patch ]]; then
		patches+=("$(cd "$(dirname "$d")" && pwd)/$(basename "$d")")
	else
		die "$d: neither a patch nor a directory of them"
	fi
done
tree=$dir/linux-6.12
mkdir -p "$dir" || die "cannot create $dir"
# One build at a time in a tree: they check out its branches.
exec 9>"$dir/.patched-kernels.lock"
flock 9 || die "cannot lock $dir"
"$SRC/scripts/prepare-ksrc.sh" --git "$tree" >&2

git_tree() {
	git -C "$tree" -c user.name=kvm-ipi-selftests -c user.email=rig@localhost "$@"
}

# A branch per patch, made again whenever the patch changed.
branch_for() {
	local patch=$1 name

	name=$(basename "$patch" .patch)
	name=patch-${name#*-}
	if [ "$(git_tree config "branch.$name.patch-sha" 2>/dev/null)" != "$(sha256sum <"$patch" | cut -c1-16)" ]; then
		git_tree checkout -q -B "$name" master
		git_tree am -q "$patch" || { git_tree am --abort; die "$patch does not apply"; }
		git_tree config "branch.$name.patch-sha" "$(sha256sum <"$patch" | cut -c1-16)"
		git_tree checkout -q master
	fi
	echo "$name"
}

# build NAME REF: the kernel at REF into kbuild/NAME, unless it was built
# from that commit and config already: then not even checked out, since a
# checkout would touch the files that differ and make the next kernel's
# build recompile them.
build() {
	local name=$1 ref=$2 out=$dir/kbuild/$1 image from

	from="$(git_tree rev-parse "$ref") $(sha256sum <"$SRC/scripts/rig/kvm-test.config" | cut -c1-16)"
	image=$out/arch/x86/boot/bzImage
	if [ -f "$image" ] && [ "$(cat "$out/.built-from" 2>/dev/null)" = "$from" ]; then
		echo "$name $image"
		return
	fi
	rm -f "$out/.built-from"
	git_tree checkout -q "$ref"
	if [ ! -d "$out" ] && [ -d "$dir/kbuild/stock" ]; then
		cp -a "$dir/kbuild/stock" "$out"
	fi
	image=$("$SRC/scripts/rig/build-kernel.sh" "$tree" "$out") || {
		git_tree checkout -q master
		die "building $name failed"
	}
	git_tree checkout -q master
	echo "$from" >"$out/.built-from"
	echo "$name $image"
}

[ -z "$(git_tree status --porcelain)" ] || die "$tree has local changes"
build stock master
for p in "${patches[@]}"; do
	b=$(branch_for "$p")
	build "${b#patch-}" "$b"
done
