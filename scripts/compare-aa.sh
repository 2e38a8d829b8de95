#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# compare.sh's false-positive rate, measured: one kernel's runs (an A/A
# set, where every difference is noise) split into two sides again and
# again, each split compared, and every change compare.sh reports counted.
# Its rank test with the Benjamini-Hochberg step-up promises that a
# comparison of two sides that do not differ reports any change at all at
# most 5% of the time; this is the check of that promise on real runs.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	cat <<EOT
Usage: compare-aa.sh -o DIR [options] SET

SET is one result set of one kernel with R runs (run_tests.sh -r R or
kernels.sh -r R: rep-1/ ... rep-R/).  Writes DIR/aa-summary.json and
DIR/aa-summary.md (DIR must not exist).

  -k, --side K       runs a side (repeatable; default: R/2, and 4 if R >= 8)
  -n, --splits N     random splits per K besides the two fixed ones (default 20)
      --seed N       the random splits' seed (default 1)
  -s, --stat NAME    compare.sh --stat (default p50; repeatable)
      --compare PATH another compare.sh to measure (an older revision:
                     git show REV:scripts/compare.sh >FILE); default this
                     tree's
  -o, --out DIR      where to write
  -h, --help         this text

Fixed splits, for each K: the first K runs against the next K (drift
over time shows here), and odd against even runs (interleaved, as a real
comparison should be made).  The splits share runs, so they are not
independent samples of the rate: the figure is a check, not a precise
estimate.  Exit status: 0; 1 if more than 5% of the splits of any K and
statistic reported a change; 2 for bad input.
EOT
}

die() {
	echo "compare-aa: $*" >&2
	exit 2
}

sides=()
splits=20
seed=1
stats=()
out=
compare=$SRC/scripts/compare.sh
while [ $# -gt 0 ]; do
	case "$1" in
	-k|--side) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "$1 needs a number"; sides+=("$2"); shift 2 ;;
	-n|--splits) [[ ${2:-} =~ ^[0-9]+$ ]] || die "$1 needs a number"; splits=$2; shift 2 ;;
	--seed) [[ ${2:-} =~ ^[0-9]+$ ]] || die "$1 needs a number"; seed=$2; shift 2 ;;
	-s|--stat) [[ ${2:-} =~ ^(p50|p90|p99|max)$ ]] || die "--stat is p50, p90, p99 or max"; stats+=("$2"); shift 2 ;;
	-o|--out) [ -n "${2:-}" ] || die "$1 needs a directory"; out=$2; shift 2 ;;
	--compare) [ -f "${2:-}" ] || die "--compare '${2:-}' is not a file"; compare=$(realpath "$2"); shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) die "unknown argument '$1' (see --help)" ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || die "one result set, please (see --help)"
set_dir=${1%/}
[ -n "$out" ] || die "no output directory (-o DIR)"
[ ! -e "$out" ] || die "$out exists; summaries are never overwritten"
[ -f "$set_dir/run.json" ] || die "$set_dir: no run.json"
mapfile -t reps < <(find "$set_dir" -mindepth 1 -maxdepth 1 -type d -name 'rep-*' -printf '%f\n' | sort -t- -k2 -n)
runs=${#reps[@]}
[ "$runs" -ge 8 ] || die "$set_dir has $runs runs: an A/A measurement needs at least 8 (two sides of 4)"
[ ${#stats[@]} -gt 0 ] || stats=(p50)
if [ ${#sides[@]} -eq 0 ]; then
	sides=($((runs / 2)))
	[ $((runs / 2)) -eq 4 ] || sides+=(4)
fi
for k in "${sides[@]}"; do
	[ $((2 * k)) -le "$runs" ] || die "-k $k: $runs runs cannot make two sides of $k"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# side DIR REP...: a result set of just those runs (links to them).
side() {
	local dir=$1 r

	shift
	mkdir -p "$dir"
	for r in "$@"; do
		mkdir "$dir/$r"
		ln -s "$(realpath "$set_dir/$r")"/*_test.json "$dir/$r/"
		jq --arg r "$r" '.repeat = 1 | .tests |= map(select(.result // "" | startswith($r + "/")) |
			.result |= sub("^[^/]*/"; ""))' "$set_dir/run.json" >"$dir/$r/run.json"
	done
}

# The splits: each a line "NAME<TAB>base reps<TAB>cand reps".
splits_for() {
	local k=$1 i

	printf 'first-%d-vs-next-%d\t%s\t%s\n' "$k" "$k" "${reps[*]:0:k}" "${reps[*]:k:k}"
	local odd=() even=()
	for ((i = 0; i < 2 * k; i++)); do
		if ((i % 2)); then even+=("${reps[i]}"); else odd+=("${reps[i]}"); fi
	done
	printf 'odd-vs-even\t%s\t%s\n' "${odd[*]}" "${even[*]}"
	# Random balanced splits of 2K of the runs, from the seed.
	awk -v k="$k" -v n="$splits" -v seed="$seed" -v all="${reps[*]}" 'BEGIN {
		srand(seed * 1000 + k); total = split(all, r, " ")
		for (s = 1; s <= n; s++) {
			for (i = 1; i <= total; i++) p[i] = r[i]
			for (i = total; i > 1; i--) { j = int(rand() * i) + 1; t = p[i]; p[i] = p[j]; p[j] = t }
			b = c = ""
			for (i = 1; i <= k; i++) { b = b (i > 1 ? " " : "") p[i]; c = c (i > 1 ? " " : "") p[k + i] }
			printf "random-%d\t%s\t%s\n", s, b, c
		}
	}'
}

: >"$work/rows"
for stat in "${stats[@]}"; do
	for k in "${sides[@]}"; do
		while IFS=$'\t' read -r name base cand; do
			rm -rf "$work/b" "$work/c" "$work/cmp"
			# shellcheck disable=SC2086 # lists of run names
			side "$work/b" $base
			# shellcheck disable=SC2086
			side "$work/c" $cand
			bash "$compare" --no-plots --stat "$stat" -b "$work/b" -c "$work/c" \
				-o "$work/cmp" >/dev/null 2>"$work/err"
			rc=$?
			[ $rc -le 1 ] || die "compare.sh failed on split $name (k=$k): $(head -n 1 "$work/err")"
			jq -c --arg stat "$stat" --argjson k "$k" --arg name "$name" --arg base "$base" \
				--arg cand "$cand" '{stat: $stat, k: $k, split: $name,
				base: ($base | split(" ")), cand: ($cand | split(" ")),
				variants: ([.variants[] | select(.base.median != null and .cand.median != null)] | length),
				changes: [.variants[] | select(.verdict == "regressed" or .verdict == "improved") |
					{variant, verdict, percent: .diff.percent, p: .test.p, q: .test.q}],
				smallest_p: ([.variants[].test.p? | values] | min),
				uncorrected: ([.variants[].test.p? | values] as $p |
					if ($p | length) == 0 then null else $p | map(select(. <= 0.05)) | length end),
				beyond_threshold: (.threshold_percent as $t | [.variants[] |
					select(.diff.percent != null and (.diff.percent | fabs) >= $t)] | length)}' \
				"$work/cmp/comparison.json" >>"$work/rows"
		done < <(splits_for "$k")
	done
done

mkdir -p "$out" || die "cannot create $out"
jq -s --arg set "$(realpath --relative-to="$SRC" "$set_dir")" --argjson runs "$runs" \
	--arg compare "$(git -C "$(dirname "$compare")" hash-object "$compare" 2>/dev/null || sha256sum <"$compare" | cut -c1-40)" \
	--argjson splits "$splits" --argjson seed "$seed" '
	{schema: "kvm-ipi-selftests/compare-aa", schema_version: 1, set: $set, runs: $runs,
	 compare_blob: $compare,
	 random_splits: $splits, seed: $seed,
	 groups: (group_by([.stat, .k]) | map({stat: .[0].stat, k: .[0].k,
		variants: ([.[].variants] | max),
		splits: length, splits_with_changes: ([.[] | select(.changes | length > 0)] | length),
		changes: ([.[].changes | length] | add),
		uncorrected_rate: (if any(.[]; .uncorrected == null) then null else
			([.[].uncorrected] | add) / ([.[].variants] | add) * 1000 | round / 1000 end),
		beyond_threshold_median: ([.[].beyond_threshold] | sort | .[length / 2 | floor]),
		fixed: [.[] | select(.split | startswith("random") | not) |
			{split, changes: (.changes | length), beyond_threshold}]})),
	 comparisons: .}' "$work/rows" >"$out/aa-summary.json.tmp" || die "could not write the summary"
mv "$out/aa-summary.json.tmp" "$out/aa-summary.json"

jq -r '
	"A/A: \(.set), \(.runs) runs of one kernel, split into two sides \(.random_splits) times at random (seed \(.seed)) and twice on purpose (first against next, odd against even), each compared with compare.sh.", "",
	"| statistic | runs a side | variants | splits | splits with any change reported | changes reported, all splits | p <= 0.05 before correction, per variant and split | variants past the 5% threshold (median per split) |",
	"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
	(.groups[] | "| \(.stat) | \(.k) | \(.variants) | \(.splits) | \(.splits_with_changes) | \(.changes) | \(.uncorrected_rate // "-") | \(.beyond_threshold_median) |")' \
	"$out/aa-summary.json" >"$out/aa-summary.md"
cat "$out/aa-summary.md"
jq -e '[.groups[] | select(.splits_with_changes > 0.05 * .splits)] | length == 0' \
	"$out/aa-summary.json" >/dev/null
