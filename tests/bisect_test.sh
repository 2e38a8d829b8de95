#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# bisect.sh's verdicts, with a stand-in test whose results are set through
# the environment: good, bad for lost interrupts and for regressions, skip
# for broken runs, all-skipped runs and failed preparation.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
cat >"$work/bin/fake_test" <<'EOT'
#!/bin/bash
# FAKE_P50 cycles, FAKE_LOST lost interrupts, FAKE_EXIT status.
[ "${FAKE_EXIT:-0}" -eq 4 ] && exit 4
jq -n --argjson p50 "${FAKE_P50:-1000}" --argjson lost "${FAKE_LOST:-0}" \
	--argjson held "${FAKE_HELD:-0}" '{
	schema: "kvm-ipi-selftests/test-result", schema_version: 1, test: "fake_test",
	started: "2026-11-25T00:00:00Z", argv: ["fake_test"],
	host: {kernel_release: "k", hostname: "h", cpu_model: "c", kvm_vendor_module: "kvm_intel",
	       configured_delivery: "apicv"},
	variants: [{name: "v", status: (if $lost + $held > 0 then "fail" else "pass" end),
		    fail_reason: ([if $lost > 0 then "\($lost) lost" else empty end,
				   if $held > 0 then "\($held) held" else empty end] | join(", ")),
		    latency: {count: 10, cycles: {p50: $p50, p99: $p50}, buckets: [[$p50, $p50, 10]]},
		    counts: {lost: $lost, held: $held, rescued: 0, stranded: 0, duplicate: 0,
			     spurious: 0, delayed: 0, late: 0}}]}' \
	>"$IPI_RESULTS_DIR/fake_test.json"
[ $(("${FAKE_LOST:-0}" + "${FAKE_HELD:-0}")) -gt 0 ] && exit 1
exit 0
EOT
chmod +x "$work/bin/fake_test"

# verdict NAME EXPECTED-EXIT [VAR=VALUE...] -- bisect arguments
verdict() {
	local name=$1 want=$2 rc
	local -a envs=()

	shift 2
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" "$SRC/scripts/bisect.sh" -b "$work/bin" -o "$work/runs" "$@" \
		>"$work/out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$name: exit $rc"
	else
		not_ok "$name: exit $rc, expected $want"
		show_log "$work/out"
	fi
}

echo "TAP version 13"
verdict "clean run is good" 0 FAKE_P50=1000 --
verdict "a lost interrupt is bad" 1 FAKE_LOST=2 --
check "the bad variant is named" grep -q "fake_test/v: fail, 2 lost" "$work/out"
verdict "a held interrupt is bad, with no argument" 1 FAKE_HELD=3 --
check "... and named as held" grep -q "fake_test/v: fail, 3 held" "$work/out"
verdict "every test skipped: skip" 125 FAKE_EXIT=4 --
verdict "no built tests: skip" 125 FAKE_P50=1 -- -b "$work/nowhere"
verdict "failed preparation: skip" 125 FAKE_P50=1 -- --prepare false
verdict "bad arguments: 128, which aborts git bisect run, never a verdict" 128 FAKE_P50=1 -- --repeat x

"$SRC/run_tests.sh" -b "$work/bin" -o "$work/saved" --run-id good -r 4 >/dev/null 2>&1
"$SRC/run_tests.sh" -b "$work/bin" -o "$work/saved" --run-id three -r 3 >/dev/null 2>&1
verdict "twice as slow as the baseline: bad" 1 FAKE_P50=2000 -- --baseline "$work/saved/good"
# 4 runs a side, every candidate run above every baseline run: 2 of the
# C(8,4) = 70 splits are as extreme, and there is one variant.
check "the regression is named with its p and q" grep -q "fake_test/v: 1000 -> 2000 cycles (100%, p 0.0286, q 0.0286)" "$work/out"
verdict "with --baseline, 3 runs cannot judge a regression: 128, a usage error" 128 FAKE_P50=2000 -- \
	--baseline "$work/saved/good" -r 3
verdict "nor can a baseline of 3 runs: 128" 128 FAKE_P50=2000 -- --baseline "$work/saved/three"
check "... which says so" grep -q "has 3 runs of a test: a regression verdict needs 4" "$work/out"
verdict "1% slower, threshold 10%: good" 0 FAKE_P50=1010 -- --baseline "$work/saved/good"
verdict "6% slower, but over --max-regress-cycles 50: bad" 1 FAKE_P50=1060 -- \
	--baseline "$work/saved/good" --max-regress-cycles 50
verdict "a missing baseline: 128, a usage error" 128 FAKE_P50=1000 -- --baseline "$work/none"

echo "1..$checks"
summary
