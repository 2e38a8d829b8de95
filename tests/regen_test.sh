#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Every published table regenerates from its raw results with the command
# its README records.  Usage: tests/regen_test.sh SCRATCH_DIR
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"
[ -n "${1:-}" ] || { echo "usage: $0 SCRATCH_DIR" >&2; exit 2; }
out=$1
mkdir -p "$out" || exit 2

echo "TAP version 13"
# regen_published MARKER SCHEMA SCRIPT EXTRA FILE...: each directory with a
# MARKER of that schema (a published set, or a directory in one) must have
# a README.md recording "    SCRIPT ... -o DIR", and the command, with
# EXTRA arguments, must regenerate FILEs: compare.sh's comparisons
# (without plots: only the tables are compared), the cycle-count tables
# (scripts/cycles-table.sh), the resolutions (scripts/bench.sh
# --summarize), vmexit.flat's tables, the bug zoo's and nested_posted_test's.
regen_published() {
	local marker=$1 schema=$2 script=$3 extra=$4 dir name regen cmd log rc f same

	shift 4
	for dir in "$SRC"/results/published/*/"$marker" "$SRC"/results/published/*/*/"$marker"; do
		[ -e "$dir" ] || continue
		jq -e --arg s "$schema" '.schema == $s' "$dir" >/dev/null 2>&1 || continue
		dir=$(dirname "$dir")
		name=${dir#"$SRC"/results/published/}
		regen=$out/regen-${name//\//-}
		rm -rf "$regen"
		cmd=$(grep -m 1 "^    $script " "$dir/README.md")
		log=$out/regen-${name//\//-}.log
		(cd "$SRC" && eval "${cmd% -o *} $extra -o $regen") >"$log" 2>&1
		rc=$?
		same=${cmd:+1}
		for f in "$@"; do
			cmp -s "$dir/$f" "$regen/$f" || same=
		done
		if [ -n "$same" ]; then
			ok "$name: the recorded command regenerates the same $*"
		else
			not_ok "$name: the recorded command regenerates the same $* (exit $rc)"
			show_log "$log" 5
		fi
	done
}
regen_published comparison.json kvm-ipi-selftests/compare scripts/compare.sh --no-plots \
	comparison.json comparison.txt comparison.md
regen_published table.json kvm-ipi-selftests/cycles-table scripts/cycles-table.sh '' \
	table.md table.txt table.json
regen_published summary.json kvm-ipi-selftests/bench "scripts/bench.sh --summarize" '' \
	summary.txt summary.json
regen_published table.json kvm-ipi-selftests/vmexit-table "scripts/rig/vmexit-experiment.sh --table" '' \
	table.md table.txt table.json
regen_published zoo.json kvm-ipi-selftests/zoo "scripts/rig/zoo.sh --table" '' \
	zoo.md zoo.txt zoo.json
regen_published summary.json kvm-ipi-selftests/nested-summary scripts/rig/nested-summary.sh '' \
	summary.md summary.json

summary
