#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Benchmark mode: run the suite several times into one result set and
# summarize each variant by the spread of its per-run medians, so that
# run-to-run noise is visible next to every figure.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	cat <<EOT
Usage: bench.sh [options] [-- test arguments...]

Runs the selected tests --repeat times into results/bench-<id>/rep-<n>/,
then writes summary.json and summary.txt there: for every variant, the
minimum, median and maximum over the runs of its median send-to-handler
and per-iteration cycles.  self_ipi_test's "overhead" variant, which sends
nothing, gives the instrument's own cost per iteration.

  -r, --repeat N     runs (default 5)
  -c, --count N      sends per sending vCPU in each run (default 3000)
  -t, --test GLOB    tests to run (repeatable; default: all)
  -b, --bin-dir DIR  built tests (default: build/tests)
  -o, --results DIR  results root (default: $SRC/results)
  -h, --help         this text

Arguments after -- go to every test as well (e.g. -- --vcpus 4 --pin).
EOT
}

die_usage() {
	echo "bench.sh: $*" >&2
	echo "Try 'bench.sh --help'." >&2
	exit 2
}

repeat=5
count=3000
tests=()
bin_dir=$SRC/build/tests
results_root=$SRC/results
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	-r|--repeat) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die_usage "--repeat needs a number >= 1"; repeat=$2; shift 2 ;;
	-c|--count) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die_usage "--count needs a number >= 1"; count=$2; shift 2 ;;
	-t|--test) [ -n "${2:-}" ] || die_usage "--test needs a value"; tests+=(-t "$2"); shift 2 ;;
	-b|--bin-dir) [ -n "${2:-}" ] || die_usage "--bin-dir needs a value"; bin_dir=$2; shift 2 ;;
	-o|--results) [ -n "${2:-}" ] || die_usage "--results needs a value"; results_root=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) die_usage "unknown argument '$1'" ;;
	esac
done

mkdir -p "$results_root" || die_usage "cannot create '$results_root'"
id=bench-$(date -u +%Y%m%d-%H%M%S)-$(uname -r)
dir=$results_root/$id
mkdir "$dir" || die_usage "'$dir' exists; results are never overwritten"

status=0
for r in $(seq 1 "$repeat"); do
	echo "# bench: run $r of $repeat"
	"$SRC/run_tests.sh" -b "$bin_dir" -o "$dir" --run-id "rep-$r" "${tests[@]}" \
		-- --count "$count" "${extra[@]}" | grep -E '^(not )?ok|^# Totals'
	rc=${PIPESTATUS[0]}
	# A failing run is kept and summarized; its status shows in the table.
	[ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || status=1
done

# Per variant: the spread of per-run medians.
jq -s --arg id "$id" --argjson repeat "$repeat" --argjson count "$count" '
	def median: sort | if length == 0 then null
		elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def spread(f): [.[] | f | select(. != null)] |
		{min: min, median: median, max: max, runs: length};
	def p50(h): if (h.count // 0) > 0 then h.cycles.p50 else null end;
	def p99(h): if (h.count // 0) > 0 then h.cycles.p99 else null end;
	{schema: "kvm-ipi-selftests/bench", schema_version: 1, bench_id: $id,
	 repeat: $repeat, count: $count,
	 host: (.[0].host | {kernel_release, kvm_vendor_module, configured_delivery, cpu_model}),
	 variants: ([.[] | .test as $t | .variants[] | . + {test: $t}] |
		group_by(.test + "/" + .name) | map({
			test: .[0].test, variant: .[0].name,
			statuses: (map(.status) | group_by(.) | map({(.[0]): length}) | add),
			latency_p50_cycles: spread(p50(.latency)),
			latency_p99_cycles: spread(p99(.latency)),
			iteration_p50_cycles: spread(p50(.iteration)),
			eoi_p50_cycles: spread(p50(.eoi)),
			lost: (map(.counts.lost // 0) | add),
			delayed: (map(.counts.delayed // 0) | add)}))}
	| .instrument_overhead_cycles = ([.variants[] | select(.test == "self_ipi_test" and
		.variant == "overhead")][0].iteration_p50_cycles // null)
' "$dir"/rep-*/*_test.json >"$dir/summary.json.tmp"
rc=$?
[ $rc -eq 0 ] && ln "$dir/summary.json.tmp" "$dir/summary.json"
rc=$((rc | $?))
rm -f "$dir/summary.json.tmp"
if [ $rc -ne 0 ]; then
	echo "bench.sh: could not summarize $dir" >&2
	exit 1
fi

{
	jq -r '"Bench \(.bench_id): \(.repeat) runs of \(.count) sends, \(.host.kvm_vendor_module) (\(.host.configured_delivery)), \(.host.kernel_release)",
		"Figures are min / median / max over the runs of each run'"'"'s median, in cycles.",
		(if .instrument_overhead_cycles then "Instrument overhead per iteration (sends nothing): \(.instrument_overhead_cycles.median) cycles" else empty end),
		""' "$dir/summary.json"
	jq -r '
		def fmt(s): if s.min == null then "-" else "\(s.min) / \(s.median) / \(s.max)" end;
		["test/variant", "status", "send->handler p50", "iteration p50", "lost"],
		(.variants[] | ["\(.test)/\(.variant)",
			(.statuses | to_entries | map("\(.key):\(.value)") | join(",")),
			fmt(.latency_p50_cycles), fmt(.iteration_p50_cycles), .lost])
		| @tsv' "$dir/summary.json" | column -t -s $'\t'
} >"$dir/summary.txt"
cat "$dir/summary.txt"
echo "# bench results: $dir"
exit $status
