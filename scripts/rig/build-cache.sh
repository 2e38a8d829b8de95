# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Sourced by build-qemu.sh and build-bochs.sh: an emulator is built once
# per build script and set of patches, into CACHE/<name>-<hash of both>/,
# so that changing a patch, the source's version or a configure flag
# rebuilds, and nothing half-built is ever found there.  The cache may be
# shared by every clone on the machine (kernels.sh's KVM_IPI_CACHE): a
# lock makes a second build of the same stamp wait for the first and use
# its result.

# build_cache_lookup NAME PATCH_DIR CACHE BINARY: sets $out and $patches;
# if $out/bin/BINARY is there already, prints its path and exits.  Holds
# the stamp's lock from then on, until the build script exits.
build_cache_lookup() {
	local stamp lock

	patches=$2
	stamp=$(cat "$0" "$patches"/*.patch | sha256sum | cut -c1-16)
	out=$(realpath -m "$3")/$1-$stamp
	mkdir -p "$(dirname "$out")"
	exec {lock}>"$out.lock"
	if [ ! -x "$out/bin/$4" ] && ! flock -n "$lock"; then
		echo "$(basename "$0"): $out is being built by another run; waiting for it (at most an hour)" >&2
		flock -w 3600 "$lock" || {
			echo "$(basename "$0"): $out.lock still held after an hour (a killed build's orphan?)" >&2
			exit 1
		}
	fi
	if [ -x "$out/bin/$4" ]; then
		echo "$out/bin/$4"
		exit 0
	fi
	# What a killed build left behind.
	rm -rf "$out.tmp"
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
