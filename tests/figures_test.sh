#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Every figure the README, the kselftest changelogs and the published
# READMEs quote from a result set, recomputed from that set's raw runs:
#
# - docs/figures.tsv: FILE, SET, a jq program over SET's results (run
#   with -n: every *_test.json under SET, or SET itself if it is a file,
#   sorted by path, are its inputs, and input_filename tells them apart)
#   that prints the figure, and the phrase FILE must contain, with {} for
#   it (FILE's line breaks count as spaces);
# - tables: a block in FILE between "<!-- table: PATH -->" and
#   "<!-- end table -->" must be PATH, byte for byte; and each published
#   race experiment's summary.md must be what race-summary.sh makes of
#   its raw runs.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"
cd "$SRC" || exit 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "TAP version 13"
while IFS=$'\t' read -r file set prog phrase; do
	[[ $file == \#* || -z $file ]] && continue
	if [ -f "$set" ]; then
		jsons=("$set")
	else
		mapfile -t jsons < <(find "$set" -name '*_test.json' | sort)
	fi
	if [ ${#jsons[@]} -eq 0 ]; then
		not_ok "$file: no results under $set"
		continue
	fi
	value=$(jq -n -r "$prog" "${jsons[@]}" 2>&1)
	want=${phrase//\{\}/$value}
	if tr '\n' ' ' <"$file" | tr -s ' ' | grep -qF -- "$want"; then
		ok "$file: \"$want\" ($set)"
	else
		not_ok "$file: \"$want\" is not there; $set gives $value"
	fi
done <docs/figures.tsv

# Tables quoted whole.
while IFS= read -r file; do
	while IFS= read -r table; do
		awk -v t="$table" '$0 == "<!-- table: " t " -->" { on = 1; next }
			on && $0 == "<!-- end table -->" { exit } on' "$file" >"$work/quoted"
		check "$file quotes $table as it is" cmp -s "$work/quoted" "$table"
	done < <(sed -n 's/^<!-- table: \(.*\) -->$/\1/p' "$file")
done < <(git ls-files '*.md' '*.txt')

# Published race experiments: their tables, from their raw runs.
for summary in results/published/*/summary-*.md; do
	[ -e "$summary" ] || continue
	dir=$(dirname "$summary")/$(sed -n 's/^<!-- raw: \(.*\) -->$/\1/p' "$summary")
	mapfile -t names < <(sed -n 's/^<!-- kernels: \(.*\) -->$/\1/p' "$summary" | tr ' ' '\n')
	{
		sed -n '/^<!-- raw: /p; /^<!-- kernels: /p' "$summary"
		scripts/rig/race-summary.sh "$dir" "${names[@]}"
	} >"$work/regen.md"
	check "$summary regenerates from $dir" cmp -s "$work/regen.md" "$summary"
done

echo "1..$checks"
summary
