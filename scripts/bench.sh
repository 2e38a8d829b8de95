#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Benchmark mode: run the suite several times into one result set and
# summarize each variant by the spread of its per-run medians, so that
# run-to-run noise is visible next to every figure; and, from 8 runs, the
# suite's resolution: the smallest change it tells from noise at 95%
# confidence, from an A/A comparison of the odd runs against the even.
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

With 8 runs or more, also the resolution.  The odd runs are compared with
the even (compare.sh: nothing changed between them), and per variant the
resolution is the end of the A/A 95% interval farther from 0, in cycles
and in percent: a scale for what such runs tell from noise, not a
guarantee (a change about that size sits at the edge).  For a median, never less
than the histogram's bucket there (1/64 of the value): the medians are
read from it.  For a mean, never less than a cycle: results keep means
in whole cycles.

  -r, --repeat N       runs (default 8)
  -c, --count N        sends per sending vCPU in each run (default 3000;
                       200 with --kernel, for emulation speed)
  -t, --test GLOB      tests to run (repeatable; default: all)
  -b, --bin-dir DIR    built tests (default: build/tests; with --kernel,
                       the static ones, build/static/tests)
  -k, --kernel K       run inside kernel K under the rig instead of on this
                       host's KVM (scripts/kernels.sh's -k: debian-6.12, a
                       bzImage, ...): each run is a boot
  -e, --emulator E     with --kernel: qemu (default), bochs or bochs-noapicv
      --bochs-model M  with --kernel and Bochs: its CPU model
  -o, --results DIR    results root (default: $SRC/results); with
                       --summarize, a new directory for the summary
      --summarize DIR  summarize the runs already in DIR again (rep-<n>/),
                       into DIR unless -o says where
  -h, --help           this text

Arguments after -- go to every test as well (e.g. -- --vcpus 4 --pin).
EOT
}

die_usage() {
	echo "bench.sh: $*" >&2
	echo "Try 'bench.sh --help'." >&2
	exit 2
}

# compare.sh's least runs a side for a verdict: the A/A needs twice that.
AA_MIN_RUNS=8

repeat=8
count=
tests=()
bin_dir=
results_root=$SRC/results
results_given=
extra=()
kernel=
rig=()
summarize=
while [ $# -gt 0 ]; do
	case "$1" in
	-r|--repeat) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die_usage "--repeat needs a number >= 1"; repeat=$2; shift 2 ;;
	-c|--count) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die_usage "--count needs a number >= 1"; count=$2; shift 2 ;;
	-t|--test) [ -n "${2:-}" ] || die_usage "--test needs a value"; tests+=(-t "$2"); shift 2 ;;
	-b|--bin-dir) [ -n "${2:-}" ] || die_usage "--bin-dir needs a value"; bin_dir=$2; shift 2 ;;
	-k|--kernel) [ -n "${2:-}" ] || die_usage "--kernel needs a value"; kernel=$2; shift 2 ;;
	-e|--emulator) [[ ${2:-} =~ ^(qemu|bochs|bochs-noapicv)$ ]] ||
			die_usage "--emulator is qemu, bochs or bochs-noapicv"
		rig+=(-e "$2"); shift 2 ;;
	--bochs-model) [[ ${2:-} =~ ^[a-z0-9_]+$ ]] || die_usage "--bochs-model needs a model name"
		rig+=(--bochs-model "$2"); shift 2 ;;
	-o|--results) [ -n "${2:-}" ] || die_usage "--results needs a value"; results_root=$2
		results_given=1; shift 2 ;;
	--summarize) [ -d "${2:-}" ] || die_usage "--summarize needs a directory of runs"; summarize=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) die_usage "unknown argument '$1'" ;;
	esac
done
[ -n "$kernel" ] || [ ${#rig[@]} -eq 0 ] || die_usage "--emulator and --bochs-model go with --kernel"
[ -n "$count" ] || count=$([ -n "$kernel" ] && echo 200 || echo 3000)
[ -n "$bin_dir" ] || bin_dir=$SRC/build/$([ -n "$kernel" ] && echo static/)tests

status=0
start=$SECONDS
if [ -n "$summarize" ]; then
	dir=${summarize%/}
	id=$(basename "$dir")
	repeat=$(find "$dir" -mindepth 1 -maxdepth 1 -type d -name 'rep-*' | wc -l)
	[ "$repeat" -gt 0 ] || die_usage "$dir: no rep-<n>/ runs in it"
	count=$(jq -r '[.argv as $a | range(0; $a | length) | select($a[.] == "--count" or $a[.] == "-c") |
		$a[. + 1]][0] // "null"' "$(find "$dir" -name '*_test.json' | head -n 1)" 2>/dev/null)
	sum=$dir
	if [ -n "$results_given" ]; then
		sum=$results_root
		mkdir -p "$(dirname "$sum")" || die_usage "cannot create $(dirname "$sum")"
		mkdir "$sum" || die_usage "'$sum' exists; summaries are never overwritten"
	fi
elif [ -n "$kernel" ]; then
	mkdir -p "$results_root" || die_usage "cannot create '$results_root'"
	id=bench-$(date -u +%Y%m%d-%H%M%S)-rig
	dir=$results_root/$id
	[ ! -e "$dir" ] || die_usage "'$dir' exists; results are never overwritten"
	echo "# bench: $repeat boots of $kernel under the rig"
	# One boot per run, each a rep-<n>/ of one result set.
	"$SRC/scripts/kernels.sh" -k "$kernel" "${rig[@]}" -r "$repeat" -b "$bin_dir" \
		-o "$results_root" --run-id "$id" "${tests[@]}" -- --count "$count" "${extra[@]}" |
		grep -E '^(not )?ok|^# '
	rc=${PIPESTATUS[0]}
	[ "$rc" -le 1 ] || { echo "bench.sh: the rig failed (exit $rc)" >&2; exit 1; }
	[ "$rc" -eq 0 ] || status=1
else
	mkdir -p "$results_root" || die_usage "cannot create '$results_root'"
	id=bench-$(date -u +%Y%m%d-%H%M%S)-$(uname -r)
	dir=$results_root/$id
	mkdir "$dir" || die_usage "'$dir' exists; results are never overwritten"
	for r in $(seq 1 "$repeat"); do
		echo "# bench: run $r of $repeat"
		"$SRC/run_tests.sh" -b "$bin_dir" -o "$dir" --run-id "rep-$r" "${tests[@]}" \
			-- --count "$count" "${extra[@]}" | grep -E '^(not )?ok|^# Totals'
		rc=${PIPESTATUS[0]}
		# A failing run is kept and summarized; its status shows in the table.
		[ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || status=1
	done
fi
seconds=$((SECONDS - start))
[ -n "$summarize" ] || sum=$dir
# Runs made before: what their boots took, or else their tests.
if [ -n "$summarize" ]; then
	mapfile -t runs < <(find "$dir" -maxdepth 2 -name run.json | sort)
	mapfile -t tests_done < <(find "$dir" -name '*_test.json' | sort)
	seconds=0
	# (jq with no file would read its stdin.)
	[ ${#runs[@]} -eq 0 ] ||
		seconds=$(jq -n '[inputs | .rig.boot_seconds // [] | add // 0] | add // 0 | round' "${runs[@]}")
	if [ "${seconds:-0}" = 0 ] && [ ${#tests_done[@]} -gt 0 ]; then
		seconds=$(jq -n '[inputs | select(.started and .finished) |
			(.finished | fromdateiso8601) - (.started | fromdateiso8601)] | add // 0' \
			"${tests_done[@]}")
	fi
fi

# The resolution, from the odd runs against the even: an A/A comparison
# per metric and statistic, into aa-<metric>-<stat>/.
resolution='null'
if [ "$repeat" -ge $AA_MIN_RUNS ]; then
	odd=() even=()
	# By the runs' numbers, whichever are there.
	while read -r rep; do
		r=${rep##*/rep-}
		[[ $r =~ ^[0-9]+$ ]] || continue
		if [ $((r % 2)) -eq 1 ]; then odd+=(-b "$rep"); else even+=(-c "$rep"); fi
	done < <(find "$dir" -mindepth 1 -maxdepth 1 -type d -name 'rep-*' | sort -V)
	for ms in latency-p50 iteration-p50 iteration-mean; do
		aa=$sum/aa-$ms
		[ -e "$aa" ] && continue
		"$SRC/scripts/compare.sh" "${odd[@]}" "${even[@]}" --base-label odd-runs --cand-label even-runs \
			--metric "${ms%-*}" --stat "${ms#*-}" --no-plots -o "$aa" >"$aa.log" 2>&1
		[ $? -le 1 ] || { echo "bench.sh: the A/A comparison failed: $(tail -n 1 "$aa.log")" >&2; exit 1; }
		rm -f "$aa.log"
	done
	resolution=$(jq -s '
		# The end of the interval farther from 0; for a median, at least its bucket.
		def bucket: if . < 128 then 1 else pow(2; log2 | floor) / 64 end;
		map(.stat as $s | .metric as $m | .variants[] | select(.shift.ci_low != null) |
		    {key: .variant, value: {("\($m)_\($s)"): (
			([(.shift.ci_low | fabs), (.shift.ci_high | fabs)] +
			 (if $s == "p50" then [(.base.median | bucket)] else [1] end) | max) as $r |
			{cycles: $r, percent: (if .base.median > 0 then 100 * $r / .base.median else null end),
			 runs_a_side: .runs.base})}}) |
		group_by(.key) | map({key: .[0].key, value: (map(.value) | add)}) | from_entries' \
		"$sum"/aa-latency-p50/comparison.json "$sum"/aa-iteration-p50/comparison.json \
		"$sum"/aa-iteration-mean/comparison.json) || { echo "bench.sh: no resolution" >&2; exit 1; }
fi

# Per variant: the spread of per-run medians.
mapfile -t files < <(find "$dir" -path "$dir/aa-*" -prune -o -name '*_test.json' -print | sort)
[ ${#files[@]} -gt 0 ] || { echo "bench.sh: no results in $dir" >&2; exit 1; }
[[ $count =~ ^[0-9]+$ ]] || count=null
jq -s --arg id "$id" --argjson repeat "$repeat" --argjson count "$count" --argjson seconds "$seconds" \
	--arg kernel "$kernel" --argjson resolution "$resolution" '
	def median: sort | if length == 0 then null
		elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def spread(f): [.[] | f | select(. != null)] |
		{min: min, median: median, max: max, runs: length};
	def p50(h): if (h.count // 0) > 0 then h.cycles.p50 else null end;
	def p99(h): if (h.count // 0) > 0 then h.cycles.p99 else null end;
	def mean(h): if (h.count // 0) > 0 then h.cycles.mean else null end;
	{schema: "kvm-ipi-selftests/bench", schema_version: 1, bench_id: $id,
	 repeat: $repeat, count: $count, seconds: $seconds,
	 rig_kernel: (if $kernel == "" then null else $kernel end),
	 host: (.[0].host | {kernel_release, kvm_vendor_module, configured_delivery, cpu_model}),
	 variants: ([.[] | .test as $t | .variants[] | . + {test: $t}] |
		group_by(.test + "/" + .name) | map({
			test: .[0].test, variant: .[0].name,
			statuses: (map(.status) | group_by(.) | map({(.[0]): length}) | add),
			latency_p50_cycles: spread(p50(.latency)),
			latency_p99_cycles: spread(p99(.latency)),
			iteration_p50_cycles: spread(p50(.iteration)),
			iteration_mean_cycles: spread(mean(.iteration)),
			eoi_p50_cycles: spread(p50(.eoi)),
			resolution: (if $resolution == null then null
				     else $resolution[.[0].test + "/" + .[0].name] end),
			lost: (map(.counts.lost // 0) | add),
			delayed: (map(.counts.delayed // 0) | add)}))}
	| .instrument_overhead_cycles = ([.variants[] | select(.test == "self_ipi_test" and
		.variant == "overhead")][0].iteration_p50_cycles // null)
'  "${files[@]}" >"$sum/summary.json.tmp"
rc=$?
# Never over an earlier summary: --summarize writes next to it.
name=summary
[ ! -e "$sum/$name.json" ] || name=summary-$(date -u +%Y%m%d-%H%M%S)
[ $rc -eq 0 ] && ln "$sum/summary.json.tmp" "$sum/$name.json"
rc=$((rc | $?))
rm -f "$sum/summary.json.tmp"
if [ $rc -ne 0 ]; then
	echo "bench.sh: could not summarize $dir" >&2
	exit 1
fi

{
	jq -r '"Bench \(.bench_id): \(.repeat) runs\(if .count then " of \(.count) sends" else "" end), \(.host.kvm_vendor_module) (\(.host.configured_delivery)), \(.host.kernel_release)\(if .rig_kernel then " under the rig" else "" end), \(.seconds) s",
		"Figures are min / median / max over the runs of each run'"'"'s median, in cycles.",
		(if .instrument_overhead_cycles then "Instrument overhead per iteration (sends nothing): \(.instrument_overhead_cycles.median) cycles" else empty end),
		""' "$sum/$name.json"
	jq -r '
		def fmt(s): if s.min == null then "-" else "\(s.min) / \(s.median) / \(s.max)" end;
		def fmt(s; f): if s.min == null then "-" else "\(s.min | f) / \(s.median | f) / \(s.max | f)" end;
		["test/variant", "status", "send->handler p50", "iteration p50", "iteration mean", "lost"],
		(.variants[] | ["\(.test)/\(.variant)",
			(.statuses | to_entries | map("\(.key):\(.value)") | join(",")),
			fmt(.latency_p50_cycles), fmt(.iteration_p50_cycles),
			fmt(.iteration_mean_cycles // {}; round), .lost])
		| @tsv' "$sum/$name.json" | column -t -s $'\t'
	jq -r 'select([.variants[].resolution | values] | length > 0) |
		"", "Resolution: the smallest change told from noise at 95% confidence, in cycles (and % of the",
		"median), from the odd runs against the even (\([.variants[].resolution | values | .[].runs_a_side] | max) a side), \(.seconds) s for all \(.repeat) runs:", ""' \
		"$sum/$name.json"
	jq -r '
		def r: if . == null then "-" else "\(.cycles | round) (\((.percent // 0) * 10 | round / 10)%)" end;
		select([.variants[].resolution | values] | length > 0) |
		(["test/variant", "send->handler p50", "iteration p50", "iteration mean"] | @tsv),
		(.variants[] | select(.resolution != null) | ["\(.test)/\(.variant)",
			(.resolution.latency_p50 | r), (.resolution.iteration_p50 | r),
			(.resolution.iteration_mean | r)] | @tsv)' "$sum/$name.json" | column -t -s $'\t'
} >"$sum/$name.txt"
cat "$sum/$name.txt"
echo "# bench results: $sum"
exit $status
