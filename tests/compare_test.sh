#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# compare.sh on synthetic result sets whose answers are known: verdicts,
# flags, bad input, never overwriting, and reproducible output.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

compare=$SRC/scripts/compare.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# make_run DIR ID "variant:p50:lost:dup[:p99] ..." writes one run of t_test
# (p99 twice p50 unless given).
make_run() {
	local dir=$1/$2 spec

	shift 2
	mkdir -p "$dir"
	jq -n '{schema: "kvm-ipi-selftests/run", schema_version: 1, tests: [{name: "t_test", result: "t_test.json"}]}' \
		>"$dir/run.json"
	for spec in "$@"; do echo "$spec"; done | jq -Rn '{
		schema: "kvm-ipi-selftests/test-result", schema_version: 1, test: "t_test",
		started: "2026-11-25T00:00:00Z", argv: ["t_test", "-c", "10"],
		host: {kernel_release: "6.12.0", hostname: "h", cpu_model: "c",
		       kvm_vendor_module: "kvm_intel", configured_delivery: "apicv"},
		variants: [inputs | split(":") | {name: .[0], status: "pass",
			latency: {count: 100, cycles: {p50: (.[1] | tonumber), mean: (.[1] | tonumber + 7),
						       p99: (.[4] // (.[1] | tonumber * 2 | tostring) | tonumber)},
				  buckets: [[(.[1] | tonumber), (.[1] | tonumber), 100]]},
			counts: {lost: (.[2] | tonumber), duplicate: (.[3] | tonumber), spurious: 0,
				 delayed: 0, late: 0}}]}' >"$dir/t_test.json"
}

# Five runs a side around the given medians (+-1%).
make_set() {
	local dir=$1 a=$2 b=$3 lost=${4:-0} i

	for i in 1 2 3 4 5; do
		make_run "$dir" "r$i" "steady:$((1000 + i * 2)):0:0" "moving:$((a + i * a / 100)):0:0" \
			"other:$((b + i)):$lost:0"
	done
}

# run_compare NAME EXPECTED-EXIT ARGS...: output in $work/NAME.out
run_compare() {
	local name=$1 want=$2 rc

	shift 2
	"$compare" --no-plots "$@" >"$work/$name.out" 2>&1
	rc=$?
	check "$name: exit $want" test "$rc" -eq "$want"
}

verdict() {
	jq -r --arg v "t_test/$2" '.variants[] | select(.variant == $v) | .verdict' "$work/$1/comparison.json"
}

echo "TAP version 13"

make_set "$work/base" 2000 5000
make_set "$work/same" 2000 5000
make_set "$work/slower" 3000 5000
make_set "$work/faster" 1000 5000
make_set "$work/lossy" 2000 5000 1

run_compare same 0 -b "$work/base" -c "$work/same" -o "$work/same.cmp"
check "identical sets: no change" test "$(verdict same.cmp moving)" = "no change"
run_compare slower 1 -b "$work/base" -c "$work/slower" -o "$work/slower.cmp"
check "50% slower: regressed" test "$(verdict slower.cmp moving)" = "regressed"
check "the unchanged variant stays unchanged" test "$(verdict slower.cmp steady)" = "no change"
# Every candidate run above every baseline run: 2 of the C(10,5) = 252
# splits are as extreme, and 3 variants make q three times p.
check "the difference in cycles, the exact p and its q over the 3 variants" jq_holds \
	'.variants[] | select(.variant == "t_test/moving") | .diff.cycles == 1030 and
	 (.test.p - 2 / 252 | fabs) < 1e-5 and (.test.q - 6 / 252 | fabs) < 1e-5' \
	"$work/slower.cmp/comparison.json"
check "identical runs, every pair a tie: p = 1" jq_holds \
	'.variants[] | select(.variant == "t_test/steady") | .test.p == 1' "$work/slower.cmp/comparison.json"
run_compare faster 0 -b "$work/base" -c "$work/faster" -o "$work/faster.cmp"
check "50% faster: improved" test "$(verdict faster.cmp moving)" = "improved"
run_compare threshold 0 -b "$work/base" -c "$work/slower" -t 60 -o "$work/threshold.cmp"
check "below the threshold: no change" test "$(verdict threshold.cmp moving)" = "no change"
run_compare lossy 1 -b "$work/base" -c "$work/lossy" -o "$work/lossy.cmp"
check "a lost interrupt in the candidate is flagged, whatever the cycles" jq_holds \
	'.variants[] | select(.variant == "t_test/other") | .flags == ["LOST"] and .lost.cand == 5' \
	"$work/lossy.cmp/comparison.json"
check "the flag is loud in the mail table" grep -q '!! LOST' "$work/lossy.cmp/comparison.txt"

# A tail that moved under an unchanged median: only a tail statistic sees it.
for i in 1 2 3 4 5; do
	make_run "$work/tail-base" "r$i" "tail:$((1000 + i)):0:0:$((2000 + i * 10))"
	make_run "$work/tail-cand" "r$i" "tail:$((1000 + i)):0:0:$((9000 + i * 10))"
done
run_compare tail-p50 0 -b "$work/tail-base" -c "$work/tail-cand" -o "$work/tail-p50.cmp"
check "a moved tail, by the median: no change" test "$(verdict tail-p50.cmp tail)" = "no change"
run_compare tail-p99 1 -b "$work/tail-base" -c "$work/tail-cand" --stat p99 -o "$work/tail-p99.cmp"
check "by the p99: regressed" test "$(verdict tail-p99.cmp tail)" = "regressed"
check "and the tables say which statistic" grep -q "median of per-run p99s" "$work/tail-p99.cmp/comparison.txt"

# Three runs a side cannot make a verdict, however far apart: no split of
# six runs is rarer than 2 in 20.
for i in 1 2 3; do
	make_run "$work/three-base" "r$i" "moving:$((1000 + i)):0:0"
	make_run "$work/three-cand" "r$i" "moving:$((3000 + i)):0:0"
done
run_compare three 0 -b "$work/three-base" -c "$work/three-cand" -o "$work/three.cmp"
check "three runs a side, 200% apart: insufficient runs" test "$(verdict three.cmp moving)" = "insufficient runs"
check "and no confidence interval" jq_holds \
	'.variants[] | select(.variant == "t_test/moving") | .shift.ci_low == null' "$work/three.cmp/comparison.json"

# The shift and its interval, against the 25 differences worked out by
# hand: 5 runs a side, 2020..2100 against 3030..3150, by 20 and 30.  The
# Hodges-Lehmann shift is their median, 1030; k = 3, since P(U <= 2) =
# 4/252 is within 2.5% and P(U <= 3) = 7/252 is not: the 3rd smallest
# (960) to the 3rd largest (1100), at 1 - 8/252 = 96.8%.
check "the shift of 50% slower, with its exact 95% interval" jq_holds \
	'.variants[] | select(.variant == "t_test/moving") | .shift.cycles == 1030 and
	 .shift.ci_low == 960 and .shift.ci_high == 1100 and (.shift.confidence * 252 | round) == 244' "$work/slower.cmp/comparison.json"
# Against a count of every split: 5 runs against 4, the null distribution
# of U over all C(9, 4) = 126 ways to choose the 4, by enumeration here,
# gives k and the level; the interval is then the k-th smallest and
# largest of the 20 differences (all distinct: 100j - i).
for i in 1 2 3 4 5; do
	make_run "$work/enum-base" "r$i" "moving:$i:0:0"
done
for j in 1 2 3 4; do
	make_run "$work/enum-cand" "r$j" "moving:$((100 * j)):0:0"
done
run_compare enum 1 -b "$work/enum-base" -c "$work/enum-cand" -o "$work/enum.cmp"
want=$(awk 'BEGIN {
	for (mask = 0; mask < 512; mask++) {
		n = 0; s = 0
		for (r = 1; r <= 9; r++) if (int(mask / 2 ^ (r - 1)) % 2) { n++; s += r }
		if (n == 4) { u[s - 10]++; tot++ }
	}
	for (k = 0; cum + u[k] / tot <= 0.025; k++) cum += u[k] / tot
	# The differences 100j - i, sorted: the k-th and the (21 - k)-th.
	for (j = 1; j <= 4; j++) for (i = 5; i >= 1; i--) d[++m] = 100 * j - i
	printf "%d %d %.6f\n", d[k], d[21 - k], 1 - 2 * cum
}')
got=$(jq -r '.variants[] | select(.variant == "t_test/moving") | .shift |
	"\(.ci_low) \(.ci_high) \(.confidence * 1000000 | round / 1000000 | tostring)"' \
	"$work/enum.cmp/comparison.json")
check "5 runs against 4: the interval and level that enumerating all 126 splits gives ($want; got $got)" \
	test "$(echo "$want" | awk '{ printf "%s %s %.6f", $1, $2, $3 }')" = \
	"$(echo "$got" | awk '{ printf "%s %s %.6f", $1, $2, $3 }')"
# Past a few million steps of counting (IPI_COMPARE_EXACT_STEPS, made 0
# here so that 10 runs a side take that branch), the normal approximation
# with the continuity correction: base 1..10, candidate 100..1000; k = 24
# (as the exact count gives), so the 24th smallest difference, 293, to
# the 24th largest, 796, at about 95.48%.
for i in $(seq 1 10); do
	make_run "$work/big-base" "r$i" "moving:$i:0:0"
	make_run "$work/big-cand" "r$i" "moving:$((100 * i)):0:0"
done
IPI_COMPARE_EXACT_STEPS=0 run_compare big 1 -b "$work/big-base" -c "$work/big-cand" -o "$work/big.cmp"
check "the normal approximation's interval and level" jq_holds \
	'.variants[] | select(.variant == "t_test/moving") | .shift |
	 .ci_low == 293 and .ci_high == 796 and .confidence > 0.954 and .confidence < 0.956' \
	"$work/big.cmp/comparison.json"
run_compare big-exact 1 -b "$work/big-base" -c "$work/big-cand" -o "$work/big-exact.cmp"
check "and the exact count, the same k, at its exact level, 95.67%" jq_holds \
	'.variants[] | select(.variant == "t_test/moving") | .shift |
	 .ci_low == 293 and .ci_high == 796 and (.confidence * 10000 | round) == 9567' \
	"$work/big-exact.cmp/comparison.json"
check "and the mail table shows it" grep -q '\[960, 1100\]' "$work/slower.cmp/comparison.txt"
run_compare mean 1 -b "$work/base" -c "$work/slower" --stat mean -o "$work/mean.cmp"
check "--stat mean compares the runs' means" jq_holds \
	'.stat == "mean" and (.variants[] | select(.variant == "t_test/moving") |
	 .base.median == 2067 and .cand.median == 3097)' "$work/mean.cmp/comparison.json"

# The false discovery rate holds over the variants.  40 variants, 4 runs
# a side: one that moved alone (p = 2/70) is not a discovery among 40; the
# same move in all 40 is 40 discoveries.
for i in 1 2 3 4; do
	one=() all=() base=()
	for v in $(seq 1 40); do
		base+=("v$v:$((1000 + i)):0:0")
		all+=("v$v:$((2000 + i)):0:0")
		if [ "$v" -eq 1 ]; then one+=("v$v:$((2000 + i)):0:0"); else one+=("v$v:$((1000 + i)):0:0"); fi
	done
	make_run "$work/fdr-base" "r$i" "${base[@]}"
	make_run "$work/fdr-one" "r$i" "${one[@]}"
	make_run "$work/fdr-all" "r$i" "${all[@]}"
done
run_compare fdr-one 0 -b "$work/fdr-base" -c "$work/fdr-one" -o "$work/fdr-one.cmp"
check "one variant moved among 40, 4 runs a side: no discovery, and the README says 7 runs would do" jq_holds \
	'.family == 40 and .runs_for_one_variant == 7 and ([.variants[] | select(.verdict != "no change")] | length == 0)' \
	"$work/fdr-one.cmp/comparison.json"
run_compare fdr-all 1 -b "$work/fdr-base" -c "$work/fdr-all" -o "$work/fdr-all.cmp"
check "all 40 moved: 40 regressions" jq_holds \
	'[.variants[] | select(.verdict == "regressed")] | length == 40' "$work/fdr-all.cmp/comparison.json"

# A/A: both sides drawn from one distribution (80 variants, 6 runs a
# side, each run's median spread over -40%..+60% with a heavy tail, from a
# fixed seed): noise, and compare must call none of it a change.
for side in a b; do
	for i in 1 2 3 4 5 6; do
		mapfile -t specs < <(awk -v seed="$side$i" 'BEGIN {
			srand(length(seed) * 7919 + index("ab", substr(seed, 1, 1)) * 104729 + substr(seed, 2) * 15485863)
			for (v = 1; v <= 80; v++) {
				u = rand(); x = 1000 * (0.6 + u) * (rand() < 0.1 ? 1.5 : 1)
				printf "v%d:%d:0:0\n", v, x
			}
		}')
		make_run "$work/aa-$side" "r$i" "${specs[@]}"
	done
done
run_compare aa 0 -b "$work/aa-a" -c "$work/aa-b" -o "$work/aa.cmp"
check "A/A on 80 noisy variants, 6 runs a side: no change anywhere" jq_holds \
	'[.variants[] | select(.verdict != "no change")] | length == 0' "$work/aa.cmp/comparison.json"
check "... although some variants' medians differ by more than the threshold" jq_holds \
	'[.variants[] | select(.diff.percent | fabs > 15)] | length > 5' "$work/aa.cmp/comparison.json"

# compare-aa.sh: a set of 8 runs of one kernel, split and compared again
# and again.  Noise alone: no split reports a change.  A set whose last 4
# runs drifted: the first-against-next split does, and the script fails.
# aa_set DIR SHIFT: rep-1..rep-8, 30 variants, rep-5..8 shifted by SHIFT.
aa_set() {
	local dir=$1 shift_by=$2 i list=()

	for i in 1 2 3 4 5 6 7 8; do
		mapfile -t specs < <(awk -v i="$i" -v s="$shift_by" 'BEGIN {
			srand(i * 7919)
			for (v = 1; v <= 30; v++)
				printf "v%d:%d:0:0\n", v, 1000 * (0.8 + 0.4 * rand()) + (i > 4 ? s : 0)
		}')
		make_run "$dir" "rep-$i" "${specs[@]}"
		rm "$dir/rep-$i/run.json"
		list+=("{\"name\": \"t_test\", \"result\": \"rep-$i/t_test.json\"}")
	done
	(IFS=,; echo "{\"schema\": \"kvm-ipi-selftests/run\", \"schema_version\": 1, \"tests\": [${list[*]}]}") \
		>"$dir/run.json"
}
aa_set "$work/aa-noise" 0
aa_set "$work/aa-drift" 2000
"$SRC/scripts/compare-aa.sh" -k 4 -n 3 -o "$work/aa-noise.out" "$work/aa-noise" >/dev/null 2>&1
check "compare-aa.sh on noise: exit $?, 5 splits of 4 runs a side, none with a change" jq_holds \
	'.groups | length == 1 and .[0].splits == 5 and .[0].splits_with_changes == 0 and .[0].k == 4' \
	"$work/aa-noise.out/aa-summary.json"
"$SRC/scripts/compare-aa.sh" -k 4 -n 3 -o "$work/aa-drift.out" "$work/aa-drift" >/dev/null 2>&1
rc=$?
check "compare-aa.sh on a set that drifted: exit 1 (got $rc)" test "$rc" -eq 1
check "... the first-against-next split reports all 30 variants" jq_holds \
	'.groups[0].fixed[] | select(.split == "first-4-vs-next-4") | .changes == 30' \
	"$work/aa-drift.out/aa-summary.json"
# One repeat of a run, <run>/rep-N/, is that one run.
run_compare reps 0 -b "$work/aa-noise/rep-1" -b "$work/aa-noise/rep-3" -b "$work/aa-noise/rep-5" \
	-b "$work/aa-noise/rep-7" -c "$work/aa-noise/rep-2" -c "$work/aa-noise/rep-4" \
	-c "$work/aa-noise/rep-6" -c "$work/aa-noise/rep-8" -o "$work/reps.cmp"
check "rep-N directories: 4 runs a side, 30 variants, no change" jq_holds \
	'.family == 30 and ([.variants[] | select(.runs.base == 4 and .runs.cand == 4 and
	 .verdict == "no change")] | length == 30)' "$work/reps.cmp/comparison.json"
"$SRC/scripts/compare-aa.sh" -k 4 -o "$work/aa-drift.out" "$work/aa-drift" >"$work/aa-again.out" 2>&1
check "compare-aa.sh never overwrites a summary" grep -q "never overwritten" "$work/aa-again.out"
"$SRC/scripts/compare-aa.sh" -k 5 -o "$work/aa-five.out" "$work/aa-noise" >"$work/aa-five.out.log" 2>&1
check "compare-aa.sh: two sides of 5 from 8 runs are refused" grep -q "cannot make two sides of 5" "$work/aa-five.out.log"

make_run "$work/one" r1 "moving:4000:0:0" "extra:10:0:0"
run_compare one 0 -b "$work/base" -c "$work/one" -o "$work/one.cmp"
check "one candidate run: insufficient runs" test "$(verdict one.cmp moving)" = "insufficient runs"
check "a variant on one side only is listed, not dropped" test "$(verdict one.cmp extra)" = "only in candidate"
check "and so is the other side's" test "$(verdict one.cmp steady)" = "only in baseline"

mkdir -p "$work/corrupt/r1"
cp "$work/base/r1/run.json" "$work/corrupt/r1/"
echo '{"schema": "kvm-ipi-selftests/test-result", "variants": [' >"$work/corrupt/r1/t_test.json"
run_compare corrupt 2 -b "$work/base" -c "$work/corrupt" -o "$work/corrupt.cmp"
check "a corrupt file is named" grep -q "corrupt/r1/t_test.json: not a version 1 test result" "$work/corrupt.out"
make_set "$work/v2" 2000 5000
jq '.schema_version = 2' "$work/v2/r3/t_test.json" >"$work/x" && mv "$work/x" "$work/v2/r3/t_test.json"
run_compare schema 2 -b "$work/base" -c "$work/v2" -o "$work/schema.cmp"
check "a schema mismatch is named" grep -q "v2/r3/t_test.json: not a version 1" "$work/schema.out"
make_set "$work/hole" 2000 5000
rm "$work/hole/r2/t_test.json"
run_compare missing 2 -b "$work/base" -c "$work/hole" -o "$work/missing.cmp"
check "a file run.json lists but is missing is named" grep -q "hole/r2/t_test.json: listed in run.json but missing" "$work/missing.out"
check "and nothing is written from the rest" test ! -e "$work/missing.cmp"
run_compare empty 2 -b "$work/base" -c "$work/nowhere"
run_compare overwrite 2 -b "$work/base" -c "$work/same" -o "$work/same.cmp"
check "an existing comparison is never overwritten" grep -q "never overwritten" "$work/overwrite.out"
run_compare usage 2 -b "$work/base"

# A candidate that failed, or held interrupts, is flagged whatever its cycles.
make_set "$work/failing" 2000 5000
jq '.variants[0].status = "fail" | .variants[1].counts.held = 3' "$work/failing/r2/t_test.json" >"$work/x" &&
	mv "$work/x" "$work/failing/r2/t_test.json"
run_compare failing 1 -b "$work/base" -c "$work/failing" -o "$work/failing.cmp"
check "a failed candidate variant is flagged FAILED" jq_holds \
	'[.variants[] | select(.variant == "t_test/steady") | .flags | index("FAILED")] | .[0] != null' \
	"$work/failing.cmp/comparison.json"
check "held interrupts in the candidate are flagged HELD" jq_holds \
	'[.variants[] | select(.variant == "t_test/moving") | .flags | index("HELD")] | .[0] != null' \
	"$work/failing.cmp/comparison.json"
# Sets with nothing in common, a CDF of nothing, a label that is code.
mkdir -p "$work/disjoint"
make_run "$work/disjoint" r1 "elsewhere:1000:0:0"
run_compare disjoint 2 -b "$work/base" -c "$work/disjoint" -o "$work/disjoint.cmp"
check "sets with no variant in common are refused" grep -q "no variant in common" "$work/disjoint.out"
"$compare" -b "$work/base" -c "$work/slower" --cdf t_test/nothing -o "$work/cdf.cmp" \
	>"$work/cdf.out" 2>&1
check "--cdf of a variant that is not there is refused" grep -q "no such variant" "$work/cdf.out"
run_compare label 2 -b "$work/base" -c "$work/slower" --cand-label 'x" . system("touch '"$work"'/pwned") . "'
check "a label that is not a plain name is refused, and nothing ran" test ! -e "$work/pwned"
# A directory whose last run has no run.json: said, not a bare exit 2.
make_set "$work/partial" 2000 5000
mkdir -p "$work/partial/zz"
run_compare partial 0 -b "$work/base" -c "$work/partial" -o "$work/partial.cmp"
mkdir -p "$work/noruns/a"
run_compare noruns 2 -b "$work/base" -c "$work/noruns" -o "$work/noruns.cmp"
check "a directory with no runs says so" grep -q "no runs with results in it" "$work/noruns.out"

# Reproducible: the README's command, run again, gives the same files.
"$compare" -b "$work/base" -c "$work/slower" -o "$work/plots.cmp" >/dev/null 2>&1
check "plots: SVG and PNG, medians and CDF" test -s "$work/plots.cmp/medians.svg" -a \
	-s "$work/plots.cmp/medians.png" -a -s "$work/plots.cmp/cdf.svg" -a -s "$work/plots.cmp/cdf.png"
"$compare" -b "$work/base" -c "$work/slower" -o "$work/again.cmp" >/dev/null 2>&1
check "same inputs: same comparison" cmp -s "$work/plots.cmp/comparison.json" "$work/again.cmp/comparison.json"
check "the README says how to regenerate it" grep -q '^    scripts/compare.sh -b ' "$work/plots.cmp/README.md"

# bench.sh's resolution, from compare.sh's A/A interval: 8 runs, the odd
# at 2010 and 2030, the even at 2020 and 2000.  The 16 differences even -
# odd are 10, -10, -10 and -30, four times each; with 4 runs a side k = 1,
# so the interval is [-30, 10], and the resolution its end farther from
# 0: 30 cycles, above the histogram's bucket at 2020 (1024 / 64 = 16), and
# 1.5% of the odd runs' median, 2020.
for i in 1 2 3 4 5 6 7 8; do
	make_run "$work/bench" "rep-$i" "moving:$((2000 + (i % 4) * 10)):0:0"
done
"$SRC/scripts/bench.sh" --summarize "$work/bench" >"$work/bench.out" 2>&1
check "bench.sh --summarize: exit 0" test $? -eq 0
check "bench.sh: the resolution is the A/A interval's far end, 30 cycles, 1.5%" jq_holds \
	'.variants[0].resolution.latency_p50 | .cycles == 30 and (.percent * 10 | round) == 15 and
	 .runs_a_side == 4' "$work/bench/summary.json"
check "and summary.txt has it" grep -q '^t_test/moving  *30 (1.5%)' "$work/bench/summary.txt"
# A median never resolves finer than its bucket: 4 runs a side all at
# 8000 give the interval [0, 0], and the resolution is the bucket of
# [4096, 8192): 4096 / 64 = 64.
for i in 1 2 3 4 5 6 7 8; do
	make_run "$work/bench-flat" "rep-$i" "moving:8000:0:0"
done
"$SRC/scripts/bench.sh" --summarize "$work/bench-flat" >"$work/bench-flat.out" 2>&1
check "bench.sh: a median resolves no finer than its histogram bucket" jq_holds \
	'.variants[0].resolution.latency_p50.cycles == 64' "$work/bench-flat/summary.json"
"$SRC/scripts/bench.sh" --summarize "$work/bench-flat" >"$work/bench-flat2.out" 2>&1
check "bench.sh --summarize again: a new summary beside the first" \
	test "$(find "$work/bench-flat" -maxdepth 1 -name 'summary*.json' | wc -l)" -eq 2
"$SRC/scripts/bench.sh" --summarize "$work/bench" -o "$work/bench-elsewhere" >"$work/bench-else.out" 2>&1
check "bench.sh --summarize -o: the summary and its A/A where asked, the same figure" jq_holds \
	'.variants[0].resolution.latency_p50.cycles == 30' "$work/bench-elsewhere/summary.json"
"$SRC/scripts/bench.sh" --summarize "$work/bench" -o "$work/bench-elsewhere" >"$work/bench-else2.out" 2>&1
check "and never over an existing directory" grep -q "never overwritten" "$work/bench-else2.out"
mkdir -p "$work/bench-six"
for i in 1 2 3 4 5 6; do
	make_run "$work/bench-six" "rep-$i" "moving:$((2000 + i)):0:0"
done
"$SRC/scripts/bench.sh" --summarize "$work/bench-six" >"$work/bench-six.out" 2>&1
check "bench.sh: six runs give no resolution (an A/A needs 4 a side)" jq_holds \
	'.variants[0].resolution == null' "$work/bench-six/summary.json"

echo "1..$checks"
summary
