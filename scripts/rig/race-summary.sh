#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# race-summary.sh DIR NAME...: the tables of a race experiment, from the
# result sets DIR/NAME/ it left (one boot at the top, or rep-N/ each):
# per kernel and boot, the verdict with no arguments and what it found;
# per kernel and variant, the held interrupts and how long they waited.
# race-experiment.sh writes them into DIR/summary.md; make check
# regenerates published ones from their raw runs and compares.
set -uo pipefail

[ $# -ge 2 ] || { echo "usage: race-summary.sh DIR NAME..." >&2; exit 2; }
dir=$1
shift

# boots NAME: the boots' directories, in order.
boots() {
	if [ -d "$dir/$1/rep-1" ]; then
		find "$dir/$1" -maxdepth 1 -name 'rep-*' | sort -t- -k2 -n
	else
		echo "$dir/$1"
	fi
}

echo "| kernel | boot | verdict with no arguments | failing variants | held | rescued | lost | stranded | sent |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for name in "$@"; do
	r=0
	while IFS= read -r b; do
		r=$((r + 1))
		jq -s -r --arg k "$name" --arg r "$r" '[.[].variants[]] as $v |
			($v | map(select(.status == "fail" or .status == "timeout" or .status == "crash")) | length) as $f |
			"| \($k) | \($r) | \(if $f > 0 then "fail" else "pass" end) | \($f) | \($v | map(.counts.held // 0) | add) | \($v | map(.counts.rescued // 0) | add) | \($v | map(.counts.lost // 0) | add) | \($v | map(.counts.stranded // 0) | add) | \($v | map(.counts.sent // 0) | add) |"' \
			"$b"/*_test.json
	done < <(boots "$name")
done
echo
echo "| kernel | variant | boots it failed | held | longest wait before an exit (cycles) | margin (cycles) |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for name in "$@"; do
	mapfile -t files < <(find "$dir/$name" -name '*_test.json' | sort)
	jq -s -r --arg k "$name" '[.[] | .test as $t | .variants[] | select(.counts.held > 0) |
		{v: "\($t)/\(.name)", held: .counts.held,
		 w: ([.classification.held[].window_cycles] | max),
		 m: .classification.margin_run_cycles}] | group_by(.v)[] |
		"| \($k) | \(.[0].v) | \(length) | \(map(.held) | add) | \(map(.w) | max) | \(map(.m) | max) |"' \
		"${files[@]}"
done
