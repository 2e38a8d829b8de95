#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# parse-serial.sh [--partial] LOG DIR: check a rig run's serial log and
# unpack its frames into DIR, each checked against its size and sha256.
# Fails, with one line saying why, on a kernel panic, an error reported by
# /init, a truncated log (no DONE), or a frame that is corrupt or not
# valid JSON.  --partial: the boot was cut short (timeout, silence); the
# frames that are complete are unpacked, a missing DONE is no error.
set -uo pipefail

die() {
	echo "$*" >&2
	exit 1
}

partial=
if [ "${1:-}" = --partial ]; then
	partial=1
	shift
fi
[ $# -eq 2 ] || die "usage: parse-serial.sh [--partial] LOG DIR"
log=$1
dir=$2
[ -r "$log" ] || die "$log: cannot read the serial log"

panic=$(grep -m 1 'Kernel panic' "$log")
[ -z "$panic" ] || die "kernel panic: ${panic#*] }"
err=$(sed -n 's/^@@KVMIPI ERROR \(.*\)@@$/\1/p' "$log" | head -n 1)
[ -z "$err" ] || die "inside the guest: $err"
[ -n "$partial" ] || grep -q '^@@KVMIPI DONE@@$' "$log" ||
	die "the output is truncated (no DONE marker)"

mkdir -p "$dir"
: >"$dir/index"
# A frame counts once its END marker came: a boot cut short in the middle
# of one keeps the others.
awk -v dir="$dir" '
	/^@@KVMIPI BEGIN / { name = $3; size = $4; sum = substr($5, 1, length($5) - 2)
		file = dir "/" name ".b64"; printf "" > file; inside = 1; next }
	/^@@KVMIPI END / { if (inside) print name, size, sum > (dir "/index")
		inside = 0; close(file); next }
	inside && /^[A-Za-z0-9+\/=]+$/ { print >> file }
' "$log"
[ -n "$partial" ] || [ -s "$dir/index" ] || die "no result frames in the output"
while read -r name size sum; do
	base64 -d "$dir/$name.b64" >"$dir/$name" 2>/dev/null || die "$name: corrupt frame"
	if [ "$(wc -c <"$dir/$name")" -ne "$size" ] ||
		[ "$(sha256sum "$dir/$name" | cut -d' ' -f1)" != "$sum" ]; then
		die "$name: frame does not match its size and checksum"
	fi
	case "$name" in
	*.json) jq -e . "$dir/$name" >/dev/null 2>&1 || die "$name: not valid JSON" ;;
	esac
	rm -f "$dir/$name.b64"
done <"$dir/index"
rm -f "$dir"/*.b64
