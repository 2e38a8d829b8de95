#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Everything that tests the suite itself, after 'make all sanitize':
# the shellcheck lint, unit tests (plain and ASan/UBSan), the histogram mutant,
# run_tests.sh's own tests, harness checks on real KVM, the suite on this
# host with short parameters, and the negative controls that make real
# interrupts go lost, duplicate, spurious or delayed and must be caught.
#
# Usage: tests/check.sh --build DIR
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

if [ "${1:-}" != --build ] || [ -z "${2:-}" ]; then
	echo "usage: $0 --build DIR" >&2
	exit 2
fi
build=$2
logs=$build/check
rm -rf "$logs"
mkdir -p "$logs"

# A KTAP-emitting program: each of its top-level results becomes one of ours.
ktap_results() {
	local name=$1 log=$logs/${1//\//_}.log rc line n=0 bad=0

	shift
	"$@" >"$log" 2>&1
	rc=$?
	while IFS= read -r line; do
		if [[ $line =~ ^ok\ [0-9]+\ (.*)#\ SKIP\ ?(.*)$ ]]; then
			skip "$name: ${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
		elif [[ $line =~ ^ok\ [0-9]+\ (.*)$ ]]; then
			ok "$name: ${BASH_REMATCH[1]}"
		elif [[ $line =~ ^not\ ok\ [0-9]+\ (.*)$ ]]; then
			not_ok "$name: ${BASH_REMATCH[1]}"
			bad=1
		else
			continue
		fi
		n=$((n + 1))
	done <"$log"
	if [ $n -eq 0 ] || { [ $bad -eq 0 ] && [ $rc -ne 0 ] && [ $rc -ne 4 ]; }; then
		not_ok "$name: exit $rc, $n results"
		show_log "$log"
	elif [ $bad -ne 0 ]; then
		show_log "$log"
	fi
}

section() {
	echo "# --- $*"
}

echo "TAP version 13"

section "shellcheck"
mapfile -t scripts < <(git -C "$SRC" ls-files '*.sh' .ci/run)
if (cd "$SRC" && shellcheck -x "${scripts[@]}") >"$logs/shellcheck.log" 2>&1; then
	ok "shellcheck: ${#scripts[@]} scripts clean"
else
	not_ok "shellcheck"
	show_log "$logs/shellcheck.log" 40
fi

section "unit tests"
for t in "$build"/unit/*_test; do
	ktap_results "unit/${t##*/}" "$t"
done
for t in "$build"/san/unit/*_test; do
	ktap_results "asan+ubsan/${t##*/}" "$t"
done

section "the histogram's accuracy tests must reject 8 sub-buckets per octave"
"$build/mutant/lat_hist_test_coarse" >"$logs/mutant.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && grep -qE '^not ok [0-9]+ global.log_uniform_full_range' "$logs/mutant.log"; then
	ok "coarse histogram fails the accuracy tests ($(grep -c '^not ok' "$logs/mutant.log") tests failed)"
else
	not_ok "coarse histogram passed the accuracy tests: they cannot see a 6% error"
	show_log "$logs/mutant.log"
fi

section "run_tests.sh"
ktap_results run_tests_test "$SRC/tests/run_tests_test.sh" "$build/tests"

section "harness on this host's KVM"
ktap_results tsc_offset_test "$build/harness-tests/tsc_offset_test"

section "the suite on this host's KVM, short parameters"
results=$build/check-results
rm -rf "$results"
"$SRC/run_tests.sh" -b "$build/tests" -o "$results" --run-id suite -- --count 2000 \
	>"$logs/suite.log" 2>&1
rc=$?
sed 's/^/# /' "$logs/suite.log" | grep -E 'sent=|cycles:|^# (not )?ok'
if [ ! -s "$results/suite/run.json" ]; then
	not_ok "suite: no run.json (runner exit $rc)"
	show_log "$logs/suite.log"
else
	for json in "$results"/suite/*_test.json; do
		test=${json##*/}
		test=${test%.json}
		while IFS=$'\t' read -r name status reason; do
			case $status in
			pass) ok "$test: $name" ;;
			skip) skip "$test: $name: $reason" ;;
			*) not_ok "$test: $name: $status $reason" ;;
			esac
		done < <(jq -r '.variants[] | [.name, .status, (.fail_reason // .skip_reason // "")] | @tsv' "$json")
		check "$test: results JSON has schema, host and per-variant counts" jq_holds \
			'.schema == "kvm-ipi-selftests/test-result" and .schema_version == 1 and
			 (.host.kvm_vendor_module | type == "string") and
			 ([.variants[] | select(.status == "pass") | .counts.sent > 0 and
			   .latency.cycles.p50 > 0 and .latency.ns.p50 > 0] | all)' "$json"
	done
	check "run.json agrees with the runner's exit status" jq_holds \
		"(.totals.fail > 0) == ($rc == 1)" "$results/suite/run.json"
fi
ktap_results "asan+ubsan/self_ipi_test" "$build/san/tests/self_ipi_test" --count 500

section "negative controls: real faults the accounting must catch"
# negative_control FAULT JQ-CONDITION EXPECTED-EXIT [extra args]
negative_control() {
	local fault=$1 cond=$2 want=$3 dir=$results/fault-$1$4 rc

	shift 4
	mkdir -p "$dir"
	"$build/tests/self_ipi_test" -v x2apic_icr --count 20 --fault-every 5 \
		--fault "$fault" --stall-ms 100 --grace-ms 100 -o "$dir" "$@" \
		>"$logs/fault-$fault.log" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ] && jq_holds ".variants[0] | $cond" "$dir/self_ipi_test.json"; then
		ok "$fault $*: exit $rc, $(jq -c '.variants[0].counts | {lost, duplicate, spurious, delayed}' "$dir/self_ipi_test.json")"
	else
		not_ok "$fault $*: exit $rc (want $want)"
		show_log "$logs/fault-$fault.log"
	fi
}
# 20 sends, a fault on every 5th: exactly 4 bad interrupts each time.
negative_control lost '.status == "fail" and .counts.lost == 4 and .counts.duplicate == 0' 1 ""
negative_control duplicate '.status == "fail" and .counts.duplicate == 4 and .counts.lost == 0' 1 ""
negative_control spurious '.status == "fail" and .counts.spurious == 4 and .counts.lost == 0' 1 ""
negative_control delayed '.status == "fail" and .counts.delayed >= 4 and .counts.lost == 0' 1 "-strict" --fail-on-delayed
negative_control delayed '.status == "pass" and .counts.delayed >= 4' 0 "-report"

echo "1..$checks"
summary
