#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# nested-summary.sh DIR NAME... -o OUT: nested_posted_test's tables, from
# the result sets DIR/NAME/ that kernels.sh left (one boot at the top, or
# rep-N/ each): per set and variant, the verdict in each boot, what was
# sent, received and lost, the latency percentiles (emulated cycles under
# an emulator) over every boot's histogram, and L1's own account.  Into
# OUT/summary.md and OUT/summary.json; make check regenerates published
# ones from their raw runs and compares.
set -euo pipefail

die() {
	echo "nested-summary: $*" >&2
	exit 2
}

args=()
out=
while [ $# -gt 0 ]; do
	case "$1" in
	-o) [ -n "${2:-}" ] || die "-o needs a directory"; out=$2; shift 2 ;;
	*) args+=("$1"); shift ;;
	esac
done
{ [ ${#args[@]} -ge 2 ] && [ -n "$out" ]; } || die "usage: nested-summary.sh DIR NAME... -o OUT"
dir=${args[0]}
mkdir -p "$out"

# One JSON object per set: its boots' results, in boot order.
for name in "${args[@]:1}"; do
	[ -d "$dir/$name" ] || die "$dir/$name: no such result set"
	if [ -d "$dir/$name/rep-1" ]; then
		files=$(find "$dir/$name" -path '*/rep-*/nested_posted_test.json' | sort -t- -k2 -n)
	else
		files=$dir/$name/nested_posted_test.json
	fi
	# shellcheck disable=SC2086 # one path per line, no spaces
	jq -s --arg set "$name" --slurpfile run "$dir/$name/run.json" '{
		set: $set, kernel: $run[0].kernel_release, emulator: $run[0].rig.emulator,
		boot_seconds: $run[0].rig.boot_seconds, boots: length,
		variants: [.[0].variants[].name as $n | [.[].variants[] | select(.name == $n)] | {
			name: $n,
			status: map(.status),
			skip_reason: (map(.skip_reason) | unique | .[0]),
			sent: (map(.counts.sent // 0) | add), received: (map(.counts.received // 0) | add),
			lost: (map(.counts.lost // 0) | add), held: (map(.counts.held // 0) | add),
			rescued: (map(.counts.rescued // 0) | add), stranded: (map(.counts.stranded // 0) | add),
			faults_injected: (map(.counts.faults_injected // 0) | add),
			latency_cycles: (map(.latency.cycles // empty) |
				if length == 0 then null else {
					p50: (map(.p50) | max), p90: (map(.p90) | max),
					p99: (map(.p99) | max), max: (map(.max) | max)} end),
			nested: (map(.nested // empty) | if length == 0 then null else {
				ext_intr_exits: (map(.ext_intr_exits) | add), cpuid_exits: (map(.cpuid_exits) | add),
				nv_exits: (map(.nv_exits) | add), notifications: (map(.notifications) | add),
				merged: (map(.merged) | add), left_on: map(.left_on), left_in_pir: map(.left_in_pir)} end)
		}]
	}' $files
done | jq -s '{schema: "kvm-ipi-selftests/nested-summary", schema_version: 1, sets: .}' \
	>"$out/summary.json.tmp"
mv "$out/summary.json.tmp" "$out/summary.json"

jq -r '
	"| set | kernel | boots | boot seconds | variant | verdicts | sent | received | lost | faults made | latency p50 / p90 / p99, the worse boot (cycles) | L1: exits for its interrupts, notifications | left in the PIR |",
	"| --- | --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
	(.sets[] | . as $s | .variants[] |
	 "| \($s.set) | \($s.kernel) | \($s.boots) | \($s.boot_seconds | map(round) | join(", ")) | `\(.name)` | \(.status | join(", "))\(if .skip_reason then " (\(.skip_reason))" else "" end) | \(.sent) | \(.received) | \(.lost) | \(.faults_injected) | \(if .latency_cycles then "\(.latency_cycles.p50) / \(.latency_cycles.p90) / \(.latency_cycles.p99)" else "-" end) | \(if .nested then "\(.nested.ext_intr_exits), \(.nested.notifications)" else "-" end) | \(if .nested then (.nested.left_in_pir | map(tostring) | join(", ")) else "-" end) |")' \
	"$out/summary.json" >"$out/summary.md.tmp"
mv "$out/summary.md.tmp" "$out/summary.md"
