#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# parse-serial.sh LOG DIR: check a rig run's serial log and unpack its
# frames into DIR, each checked against its size and sha256.  Fails, with
# one line saying why, on a kernel panic, an error reported by /init, a
# truncated log (no DONE), or a frame that is corrupt or not valid JSON.
set -uo pipefail

die() {
	echo "$*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: parse-serial.sh LOG DIR"
log=$1
dir=$2
[ -r "$log" ] || die "$log: cannot read the serial log"

panic=$(grep -m 1 'Kernel panic' "$log")
[ -z "$panic" ] || die "kernel panic: ${panic#*] }"
err=$(sed -n 's/^@@KVMIPI ERROR \(.*\)@@$/\1/p' "$log" | head -n 1)
[ -z "$err" ] || die "inside the guest: $err"
grep -q '^@@KVMIPI DONE@@$' "$log" || die "the output is truncated (no DONE marker)"

mkdir -p "$dir"
awk -v dir="$dir" '
	/^@@KVMIPI BEGIN / { name = $3; sum = substr($5, 1, length($5) - 2)
		file = dir "/" name ".b64"; printf "" > file
		print name, $4, sum > (dir "/index"); inside = 1; next }
	/^@@KVMIPI END / { inside = 0; close(file); next }
	inside && /^[A-Za-z0-9+\/=]+$/ { print >> file }
' "$log"
[ -s "$dir/index" ] || die "no result frames in the output"
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
