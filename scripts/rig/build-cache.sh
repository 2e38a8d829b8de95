# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Sourced by build-qemu.sh and build-bochs.sh: an emulator is built once
# per set of patches, into CACHE/<name>-<hash of the patches>/, so that
# changing a patch rebuilds and nothing half-built is ever found there.

# build_cache_lookup NAME PATCH_DIR CACHE BINARY: sets $out and $patches;
# if $out/bin/BINARY is there already, prints its path and exits.
build_cache_lookup() {
	local stamp

	patches=$2
	stamp=$(cat "$patches"/*.patch | sha256sum | cut -c1-16)
	out=$(realpath -m "$3")/$1-$stamp
	if [ -x "$out/bin/$4" ]; then
		echo "$out/bin/$4"
		exit 0
	fi
	mkdir -p "$(dirname "$out")"
}

# build_cache_store FILE: installs FILE as $out/bin/<name>, beside the
# patches it was built with and whatever the caller put in $out.tmp/, and
# prints its path.
build_cache_store() {
	mkdir -p "$out.tmp/bin"
	cp "$1" "$out.tmp/bin/"
	cp "$patches"/*.patch "$out.tmp/"
	mv "$out.tmp" "$out"
	echo "$out/bin/$(basename "$1")"
}
