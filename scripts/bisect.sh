#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A verdict for git bisect run: run the chosen tests on the running kernel
# and exit 0 (good), 1 (bad) or 125 (skip this commit).
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GOOD=0
BAD=1
SKIP=125

usage() {
	cat <<EOT
Usage: bisect.sh [options] [-- test arguments...]

Runs the selected tests (through run_tests.sh) and decides:
  bad   (exit 1)   a failing variant (lost, rescued, held, late, stranded,
                   masked, misordered, stuck, duplicate or spurious
                   interrupts, with no test argument);
                   or, with --baseline, a variant whose median regressed
                   beyond --max-regress-pct or --max-regress-cycles and
                   is a discovery of compare.sh's rank test (q <= 0.05,
                   the false discovery rate over all variants compared);
  skip  (exit 125) --prepare failed (build, install, boot: it is not this
                   commit's verdict), every test skipped, or the run broke
                   (no results, a comparison that could not run);
  abort (exit 128) a usage error: git bisect run stops, rather than skip
                   every commit;
  good  (exit 0)   otherwise.

  -t, --test GLOB            tests to run (repeatable; default: all)
  -r, --repeat N             runs of each test (default 3; with --baseline,
                             4, the fewest with which compare.sh's test can
                             call a regression, and the baseline needs as
                             many); with --rig, boots
      --baseline DIR         a saved result set of a good kernel
      --max-regress-pct X    with --baseline: bad above X% slower (default 10)
      --max-regress-cycles Y with --baseline: bad above Y cycles slower
      --prepare CMD          run CMD first (e.g. build and boot the kernel
                             under test); its failure means skip
      --rig TREE             test the kernel in TREE's work tree (the
                             commit git bisect checked out), not the running
                             one: build it with scripts/rig/build-kernel.sh
                             and run the tests inside it under an emulator
                             (scripts/kernels.sh); a build that fails is a
                             skip
      --emulator E           with --rig: bochs (default: VMX, APICv),
                             bochs-noapicv or qemu
      --bochs-model NAME     with --rig: Bochs' CPU model (kernels.sh's
                             default if not given)
      --build-dir DIR        with --rig: the kernel build, kept between
                             steps so that each rebuilds only what changed
                             (default: build/rig/kbuild/bisect)
  -b, --bin-dir DIR          built tests (default: build/tests; with --rig,
                             the static ones, build/static/tests)
  -o, --results DIR          where each step's run goes (default: results/bisect)
  -h, --help                 this text

Each step's run stays in the results directory, named after the kernel
(with --rig, after the commit).

With --rig, git bisect run drives everything from a kernel tree:
  git bisect start BAD GOOD
  git bisect run ~/kvm-ipi-selftests/scripts/bisect.sh --rig "\$PWD" -t 'host_injection*' -- ...
EOT
}

say() {
	echo "bisect: $*" >&2
}

indent() {
	local line

	while IFS= read -r line; do
		echo "bisect:   $line" >&2
	done <<<"$1"
}

skip_commit() {
	say "SKIP: $*"
	exit $SKIP
}

# A mistake in the command line is no property of the commit: git bisect
# run aborts the whole bisection on an exit status of 128 or more.
usage_error() {
	say "usage error: $*"
	exit 128
}

tests=()
label=
repeat=
baseline=
max_pct=10
max_cycles=
prepare=
rig=
emulator=bochs
bochs_model=()
build_dir=$SRC/build/rig/kbuild/bisect
bin_dir=
results=$SRC/results/bisect
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-t|--test) [ -n "${2:-}" ] || usage_error "$1 needs a value"; tests+=(-t "$2"); shift 2 ;;
	-r|--repeat) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage_error "--repeat needs a number"; repeat=$2; shift 2 ;;
	--baseline) [ -d "${2:-}" ] || usage_error "--baseline '${2:-}' is not a directory"; baseline=$2; shift 2 ;;
	--max-regress-pct) [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "--max-regress-pct needs a number"; max_pct=$2; shift 2 ;;
	--max-regress-cycles) [[ ${2:-} =~ ^[0-9]+$ ]] || usage_error "--max-regress-cycles needs a number"; max_cycles=$2; shift 2 ;;
	--prepare) [ -n "${2:-}" ] || usage_error "--prepare needs a command"; prepare=$2; shift 2 ;;
	--rig) [ -d "${2:-}" ] || usage_error "--rig '${2:-}' is not a directory"; rig=$(realpath "$2"); shift 2 ;;
	--emulator) [[ ${2:-} =~ ^(qemu|bochs|bochs-noapicv)$ ]] || usage_error "--emulator is qemu, bochs or bochs-noapicv"
		emulator=$2; shift 2 ;;
	--bochs-model) [ -n "${2:-}" ] || usage_error "$1 needs a model"; bochs_model=(--bochs-model "$2"); shift 2 ;;
	--build-dir) [ -n "${2:-}" ] || usage_error "$1 needs a directory"; build_dir=$2; shift 2 ;;
	-b|--bin-dir) [ -n "${2:-}" ] || usage_error "$1 needs a value"; bin_dir=$2; shift 2 ;;
	-o|--results) [ -n "${2:-}" ] || usage_error "$1 needs a value"; results=$2; shift 2 ;;
	-h|--help) usage; exit $GOOD ;;
	--) shift; args=("$@"); break ;;
	*) usage_error "unknown argument '$1' (see --help)" ;;
	esac
done

# A regression is judged by compare.sh's rank test, which cannot reach its
# 5% with fewer than 4 runs a side: fewer would make every commit good.
min_runs=4
if [ -n "$baseline" ]; then
	: "${repeat:=$min_runs}"
	[ "$repeat" -ge $min_runs ] ||
		usage_error "--repeat $repeat: a regression against --baseline needs $min_runs runs a side"
	fewest=$(find "$baseline" -name '*_test.json' -printf '%f\n' | sort | uniq -c | sort -n |
		awk 'NR == 1 { print $1 }')
	[ "${fewest:-0}" -ge $min_runs ] ||
		usage_error "--baseline $baseline has ${fewest:-0} runs of a test: a regression verdict needs $min_runs"
fi
: "${repeat:=3}"

if [ -n "$prepare" ]; then
	bash -c "$prepare" || skip_commit "--prepare failed: $prepare"
fi

mkdir -p "$results" || skip_commit "cannot create $results"

# The commit under test, built for the rig and booted with the tests inside.
run_in_rig() {
	local image commit globs=() t g names=()

	commit=$(git -C "$rig" rev-parse --short HEAD 2>/dev/null) || skip_commit "$rig is not a git tree"
	id=$commit-$(date -u +%Y%m%d-%H%M%S)-$$
	say "building $commit ($(git -C "$rig" log -1 --format=%s))"
	image=$("$SRC/scripts/rig/build-kernel.sh" "$rig" "$build_dir" 2>"$results/$id.build.log") ||
		skip_commit "the kernel does not build; see $results/$id.build.log"
	# kernels.sh takes test names: the globs, against the built tests.
	for ((g = 1; g < ${#tests[@]}; g += 2)); do globs+=("${tests[g]}"); done
	[ ${#globs[@]} -gt 0 ] || globs=('*')
	for t in "$bin_dir"/*_test; do
		for g in "${globs[@]}"; do
			# shellcheck disable=SC2053 # a glob, on purpose
			[[ ${t##*/} == $g ]] && { names+=(-t "${t##*/}"); break; }
		done
	done
	[ ${#names[@]} -gt 0 ] || skip_commit "no test in $bin_dir matches ${globs[*]}"
	label=$commit
	"$SRC/scripts/kernels.sh" -k "$image" --label "$commit" -e "$emulator" "${bochs_model[@]}" -r "$repeat" \
		-b "$bin_dir" -o "$results" --run-id "$id" "${names[@]}" -- "${args[@]}" \
		>"$results/$id.log" 2>&1
	rc=$?
	# As run_tests.sh says it: 4 when nothing ran but skips.
	if [ $rc -eq 0 ] && jq -e '.totals.pass == 0 and .totals.skip > 0' "$results/$id/run.json" \
		>/dev/null 2>&1; then
		rc=4
	fi
	return $rc
}

if [ -n "$rig" ]; then
	: "${bin_dir:=$SRC/build/static/tests}"
	run_in_rig
	rc=$?
	[ "$rc" -le 1 ] || [ "$rc" -eq 4 ] || skip_commit "the rig failed (exit $rc); see $results/$id.log"
else
	: "${bin_dir:=$SRC/build/tests}"
	label=$(uname -r)
	id=$label-$(date -u +%Y%m%d-%H%M%S)-$$
	"$SRC/run_tests.sh" -b "$bin_dir" -o "$results" --run-id "$id" --repeat "$repeat" \
		"${tests[@]}" -- "${args[@]}" >"$results/$id.log" 2>&1
	rc=$?
fi
run=$results/$id
say "run: $run (runner exit $rc)"
case $rc in
0|1) ;;
4) skip_commit "every test skipped" ;;
*) skip_commit "the run broke (runner exit $rc); see $results/$id.log" ;;
esac
[ -s "$run/run.json" ] || skip_commit "no run.json in $run"

# Criterion 1: interrupts lost, duplicated, invented, or a failing variant.
mapfile -t files < <(jq -r --arg run "$run" '.tests[] | select(.result) | "\($run)/\(.result)"' "$run/run.json")
bad=$(for f in "${files[@]}"; do jq -r '.test as $t | .variants[] |
		select(.status == "fail" or .status == "timeout" or .status == "crash" or
		       (.counts.lost // 0) > 0 or (.counts.rescued // 0) > 0 or
		       (.counts.held // 0) > 0 or (.counts.stranded // 0) > 0 or
		       (.counts.masked // 0) > 0 or (.counts.misordered // 0) > 0 or
		       (.counts.stuck // 0) > 0 or
		       (.counts.duplicate // 0) > 0 or (.counts.spurious // 0) > 0) |
		"\($t)/\(.name): \(.status), \(.fail_reason // "-")"' "$f"; done)
if [ -n "$bad" ] || [ "$rc" -eq 1 ]; then
	say "BAD: failing variants (lost, rescued, held, late, stranded, masked, misordered, stuck, duplicate or spurious interrupts)"
	[ -z "$bad" ] || indent "$bad"
	exit $BAD
fi

# Criterion 2: a regression against the baseline.
if [ -n "$baseline" ]; then
	cmp=$results/$id-vs-baseline
	"$SRC/scripts/compare.sh" --no-plots -b "$baseline" -c "$run" --base-label baseline \
		--cand-label "$label" -o "$cmp" >/dev/null 2>"$cmp.err"
	[ $? -le 1 ] || skip_commit "the comparison failed: $(head -n 1 "$cmp.err")"
	regressed=$(jq -r --argjson pct "$max_pct" --argjson cyc "${max_cycles:-null}" '
		.fdr as $fdr | .variants[] | select(.test.q != null and .test.q <= $fdr and
			.diff.cycles > 0 and (.diff.percent > $pct or ($cyc != null and .diff.cycles > $cyc))) |
		"\(.variant): \(.base.median) -> \(.cand.median) cycles (\(.diff.percent | floor)%, p \(.test.p * 10000 | round / 10000), q \(.test.q * 10000 | round / 10000))"' \
		"$cmp/comparison.json")
	if [ -n "$regressed" ]; then
		say "BAD: regressed against $baseline"
		indent "$regressed"
		exit $BAD
	fi
fi
say "GOOD"
exit $GOOD
