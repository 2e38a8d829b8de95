#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# fetch-source.sh SUITE PACKAGE[=VERSION] TARBALL SHA256 DIR
#
# Download a Debian source package's upstream tarball into DIR and check
# it, through a private APT configuration: the system's stays as it is,
# and a suite other than the system's own (trixie's Bochs on bookworm)
# needs no entry in it.  The checksum comes from the suite's Sources index
# and is checked here because no signed Release file is consulted.
# RIG_SOURCE_MIRROR overrides the mirror (default deb.debian.org).
set -euo pipefail

die() {
	echo "fetch-source: $*" >&2
	exit 1
}

[ $# -eq 5 ] || die "usage: fetch-source.sh SUITE PACKAGE[=VERSION] TARBALL SHA256 DIR"
suite=$1 pkg=$2 tarball=$3 sha256=$4 dir=$5
mirror=${RIG_SOURCE_MIRROR:-http://deb.debian.org/debian}

apt=$(mktemp -d "$dir/apt.XXXXXX")
trap 'rm -rf "$apt"' EXIT
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
echo "deb-src $mirror $suite main" >"$apt/sources.list"
cat >"$apt/apt.conf" <<EOT
Dir::Etc::SourceList "$apt/sources.list";
Dir::Etc::SourceParts "/dev/null";
Dir::State::Lists "$apt/lists";
Dir::Cache "$apt/cache";
EOT
export APT_CONFIG=$apt/apt.conf
echo "fetch-source: $pkg from $suite" >&2
apt-get -qq update >&2 || die "apt-get update for $suite's sources failed"
# Some mirrors miss the .dsc; the tarball is all that is needed.
(cd "$dir" && apt-get -qq source --download-only "$pkg" >&2) || true
[ -f "$dir/$tarball" ] || die "could not download $tarball"
echo "$sha256  $dir/$tarball" | sha256sum --quiet -c - || die "$tarball: checksum mismatch"
