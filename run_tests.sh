#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Run the suite (or part of it), print KTAP, and keep every test's results
# JSON plus the run's own run.json in results/<run-id>/.

set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4
USAGE_ERROR=2

usage() {
	cat <<EOT
Usage: run_tests.sh [options] [-- test arguments...]

Runs the suite's tests (default: all) and prints KTAP.  Each test writes
its JSON into results/<run-id>/; run.json describes the run.

  -t, --test GLOB      run the tests whose name matches GLOB (repeatable)
  -l, --list           list the tests and exit
  -b, --bin-dir DIR    where the built tests are (default: \$O/tests, or build/tests)
  -o, --results DIR    results root (default: $SRC/results)
      --run-id ID      name of the run's directory (default: UTC time and kernel)
  -s, --settings FILE  kselftest-style settings: timeout=N, timeout_<test>=N
                       (default: tools/testing/selftests/kvm/settings)
  -r, --repeat N       run every test N times into one result set: rep-1/ ...
      --perf           count KVM tracepoints around each test with perf stat
  -h, --help           this text

Arguments after -- go to every test, for example -- --count 1000.
Exit status: 0 when nothing failed, 4 when everything was skipped,
1 when a test failed, 2 for bad usage.
EOT
}

die_usage() {
	echo "run_tests.sh: $*" >&2
	echo "Try 'run_tests.sh --help'." >&2
	exit $USAGE_ERROR
}

globs=()
list=0
bin_dir=${O:+$O/tests}
bin_dir=${bin_dir:-$SRC/build/tests}
results_root=$SRC/results
run_id=
settings=$SRC/tools/testing/selftests/kvm/settings
test_args=()
repeat=1
perf=0

need_value() {
	if [ $# -lt 2 ] || [ -z "$2" ]; then
		die_usage "option '$1' needs a value"
	fi
}

while [ $# -gt 0 ]; do
	case "$1" in
	-t|--test) need_value "$@"; globs+=("$2"); shift 2 ;;
	-l|--list) list=1; shift ;;
	-b|--bin-dir) need_value "$@"; bin_dir=$2; shift 2 ;;
	-o|--results) need_value "$@"; results_root=$2; shift 2 ;;
	--run-id) need_value "$@"; run_id=$2; shift 2 ;;
	-s|--settings) need_value "$@"; settings=$2; shift 2 ;;
	-r|--repeat) need_value "$@"; repeat=$2; shift 2 ;;
	--perf) perf=1; shift ;;
	-h|--help) usage; exit $KSFT_PASS ;;
	--) shift; test_args=("$@"); break ;;
	*) die_usage "unknown argument '$1'" ;;
	esac
done

[ -d "$bin_dir" ] || die_usage "no built tests in '$bin_dir' (run 'make' first, or pass --bin-dir)"
[ -r "$settings" ] || die_usage "cannot read settings file '$settings'"
case "$run_id" in
*/*|.*) die_usage "--run-id '$run_id' must be a plain name" ;;
esac
if ! [[ $repeat =~ ^[1-9][0-9]{0,2}$ ]]; then
	die_usage "--repeat '$repeat' is not a number from 1 to 999"
fi

# The tests: every executable *_test in the bin dir, filtered by the globs.
tests=()
for bin in "$bin_dir"/*_test; do
	[ -x "$bin" ] || continue
	name=${bin##*/}
	if [ ${#globs[@]} -gt 0 ]; then
		match=0
		for g in "${globs[@]}"; do
			# shellcheck disable=SC2053 # GLOB is a pattern on purpose
			[[ $name == $g ]] && match=1
		done
		[ $match -eq 1 ] || continue
	fi
	tests+=("$name")
done
if [ ${#tests[@]} -eq 0 ]; then
	[ ${#globs[@]} -gt 0 ] && die_usage "no test matches '${globs[*]}' in $bin_dir"
	die_usage "no tests in $bin_dir"
fi
if [ $list -eq 1 ]; then
	printf '%s\n' "${tests[@]}"
	exit $KSFT_PASS
fi

# kselftest's format: key=value lines; timeout_<test> overrides timeout.
# A timeout that is not a number is a mistake to report, not a default.
while IFS= read -r line || [ -n "$line" ]; do
	case "$line" in
	timeout=*|timeout_*=*)
		[[ ${line#*=} =~ ^[1-9][0-9]*$ ]] ||
			die_usage "$settings: '$line' is not a number of seconds" ;;
	esac
done <"$settings"

setting() {
	local key=$1 default=$2 line value=

	while IFS= read -r line || [ -n "$line" ]; do
		case "$line" in
		"$key="*) value=${line#*=} ;;
		esac
	done <"$settings"
	if ! [[ $value =~ ^[1-9][0-9]*$ ]]; then
		value=$default
	fi
	echo "$value"
}

# A JSON array of strings, whatever they look like (jq would take "-c" as
# its own option in --args).
json_array() {
	local a

	for a in "$@"; do
		jq -n --arg a "$a" '$a'
	done | jq -cs .
}

command -v jq >/dev/null || die_usage "jq is needed for run.json (make installs it)"
mkdir -p "$results_root" || die_usage "cannot create results root '$results_root'"
if [ -n "$run_id" ]; then
	run_dir=$results_root/$run_id
	mkdir "$run_dir" 2>/dev/null || die_usage "run '$run_dir' exists or cannot be created; runs are never overwritten"
else
	base=$(date -u +%Y%m%d-%H%M%S)-$(uname -r)
	run_id=$base
	n=1
	until mkdir "$results_root/$run_id" 2>/dev/null; do
		n=$((n + 1))
		[ $n -le 100 ] || die_usage "cannot create a run directory under '$results_root'"
		run_id=$base-$n
	done
	run_dir=$results_root/$run_id
fi

# --perf: KVM tracepoints counted over each test's process tree.
PERF_EVENTS=(kvm_exit kvm_entry kvm_inj_virq kvm_apic_ipi kvm_apic_accept_irq kvm_apicv_accept_irq)
TRACEFS=/sys/kernel/tracing
perf_events=()
perf_reason=
perf_setup() {
	local e

	if ! command -v perf >/dev/null; then
		perf_reason="perf is not installed (Debian: linux-perf)"
		return
	fi
	if [ ! -d "$TRACEFS/events" ] && [ "$(id -u)" -eq 0 ]; then
		mount -t tracefs nodev "$TRACEFS" 2>/dev/null
	fi
	for e in "${PERF_EVENTS[@]}"; do
		[ -d "$TRACEFS/events/kvm/$e" ] && perf_events+=("kvm:$e")
	done
	if [ ${#perf_events[@]} -eq 0 ]; then
		perf_reason="no KVM tracepoints under $TRACEFS/events/kvm (tracefs not mounted, or not permitted)"
	fi
}

# The perf entry of run.json for one test: counts, and per IPI sent.
perf_json() {
	local csv=$1 result=$2

	if [ ${#perf_events[@]} -eq 0 ]; then
		jq -cn --arg why "$perf_reason" '{available: false, reason: $why}'
		return
	fi
	awk -F, '!/^#/ && NF >= 3 && $3 != "" { printf "%s\t%s\n", $3, $1 }' "$csv" 2>/dev/null |
		jq -Rsc --slurpfile r <(cat "$result" 2>/dev/null || echo '{}') '
		([$r[0].variants[]? | .counts.sent // 0] | add // 0) as $sent |
		[split("\n")[] | select(length > 0) | split("\t") |
		 {key: (.[0] | sub("^kvm:"; "")), value: (.[1] | tonumber? // null)}] | from_entries |
		{available: true, ipis_sent: $sent, events: .,
		 per_ipi: (if $sent > 0 then with_entries(select(.value != null) | .value /= $sent)
			   else null end),
		 note: "counted by perf stat over the test process and its children"}'
}

[ $perf -eq 1 ] && perf_setup

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
entries=$(mktemp)
trap 'rm -f "$entries"' EXIT
pass=0 fail=0 skip=0 xfail=0 timeouts=0

# One test, once: KTAP line, and its entry for run.json.
run_one() {
	local name=$1 rep=$2 n=$3 dir=$4 limit t0 rc seconds status result perf_out cmd=()

	limit=$(setting "timeout_$name" "$(setting timeout 45)")
	echo "# selftests: kvm: $name${rep:+ (run $rep of $repeat)}"
	t0=$EPOCHREALTIME
	cmd=(timeout --kill-after=10 "$limit" "$bin_dir/$name" "${test_args[@]}")
	perf_out=$dir/.$name.perf.csv
	if [ $perf -eq 1 ] && [ ${#perf_events[@]} -gt 0 ]; then
		cmd=(perf stat "-x," -o "$perf_out" -e "$(IFS=,; echo "${perf_events[*]}")" -- "${cmd[@]}")
	fi
	IPI_RESULTS_DIR=$dir "${cmd[@]}" 2>&1 | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	seconds=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
	case $rc in
	"$KSFT_PASS") status=pass; pass=$((pass + 1)); echo "ok $n selftests: kvm: $name" ;;
	"$KSFT_SKIP") status=skip; skip=$((skip + 1)); echo "ok $n selftests: kvm: $name # SKIP" ;;
	124|137) status=timeout; timeouts=$((timeouts + 1)); fail=$((fail + 1))
		echo "not ok $n selftests: kvm: $name # TIMEOUT $limit seconds" ;;
	*) status=fail; fail=$((fail + 1)); echo "not ok $n selftests: kvm: $name # exit=$rc" ;;
	esac
	result=${rep:+rep-$rep/}$name.json
	[ -e "$run_dir/$result" ] || result=
	# Variants that failed only through a known issue: no pass, counted apart.
	[ -z "$result" ] ||
		xfail=$((xfail + $(jq '[.variants[] | select(.status == "xfail")] | length' "$run_dir/$result" 2>/dev/null || echo 0)))
	jq -cn --arg name "$name" --arg status "$status" --argjson rc "$rc" \
		--argjson timeout "$limit" --arg seconds "$seconds" --arg result "$result" \
		--argjson rep "${rep:-null}" \
		--argjson perf "$(if [ $perf -eq 1 ]; then perf_json "$perf_out" "$run_dir/$result"; else echo null; fi)" \
		'{name: $name, status: $status, exit_code: $rc, timeout_s: $timeout,
		  seconds: ($seconds | tonumber? // null), repeat: $rep,
		  result: (if $result == "" then null else $result end)}
		 + (if $perf == null then {} else {perf: $perf} end)' >>"$entries"
	rm -f "$perf_out"
}

echo "TAP version 13"
echo "1..$((${#tests[@]} * repeat))"
i=0
for r in $(seq 1 "$repeat"); do
	rep=
	dir=$run_dir
	if [ "$repeat" -gt 1 ]; then
		rep=$r
		dir=$run_dir/rep-$r
		mkdir "$dir" || { echo "run_tests.sh: cannot create $dir" >&2; exit $KSFT_FAIL; }
	fi
	for name in "${tests[@]}"; do
		i=$((i + 1))
		run_one "$name" "$rep" "$i" "$dir"
	done
done
echo "# Totals: pass:$pass fail:$fail xfail:$xfail xpass:0 skip:$skip error:0"
[ "$xfail" -eq 0 ] || echo "# (xfail counts variants that failed only through a known issue; their tests passed)"

finished=$(date -u +%Y-%m-%dT%H:%M:%SZ)
revision=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=false
[ -n "$(git -C "$SRC" status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=true
tmp=$run_dir/.run.json.tmp.$$
jq -s --arg id "$run_id" --arg started "$started" --arg finished "$finished" \
	--arg kernel "$(uname -r)" --arg host "$(uname -n)" --arg revision "$revision" \
	--argjson dirty "$dirty" --argjson args "$(json_array "${test_args[@]}")" \
	--argjson repeat "$repeat" \
	'{schema: "kvm-ipi-selftests/run", schema_version: 1, run_id: $id, repeat: $repeat,
	  started: $started, finished: $finished, kernel_release: $kernel,
	  hostname: $host, suite_revision: $revision, suite_dirty: $dirty,
	  test_args: $args, tests: .,
	  totals: {pass: (map(select(.status == "pass")) | length),
		   fail: (map(select(.status == "fail" or .status == "timeout")) | length),
		   skip: (map(select(.status == "skip")) | length)}}' \
	<"$entries" >"$tmp" && ln "$tmp" "$run_dir/run.json"
rc=$?
rm -f "$tmp"
[ $rc -eq 0 ] || { echo "run_tests.sh: could not write $run_dir/run.json" >&2; exit $KSFT_FAIL; }
echo "# results: $run_dir"

[ $fail -gt 0 ] && exit $KSFT_FAIL
[ $pass -eq 0 ] && [ $skip -gt 0 ] && exit $KSFT_SKIP
exit $KSFT_PASS
