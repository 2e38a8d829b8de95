#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# run_tests.sh's argument handling, exit codes, results layout and skip
# path.  Usage: tests/run_tests_test.sh BIN_DIR
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

bin_dir=${1:?usage: run_tests_test.sh BIN_DIR}
runner=$SRC/run_tests.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# expect_exit NAME CODE ARGS...: the runner exits CODE; output in $work/out.
expect_exit() {
	local name=$1 want=$2 rc

	shift 2
	"$runner" "$@" >"$work/out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$name"
	else
		not_ok "$name (exit $rc, expected $want)"
		show_log "$work/out" 10
	fi
}

expect_output() {
	local name=$1 pattern=$2

	if grep -qE -- "$pattern" "$work/out"; then
		ok "$name"
	else
		not_ok "$name (no '$pattern' in the output)"
		show_log "$work/out" 10
	fi
}

echo "TAP version 13"

expect_exit "--help exits 0" 0 --help
expect_output "--help shows usage" "^Usage: run_tests.sh"
expect_exit "unknown option is a usage error" 2 --bogus
expect_output "unknown option is named" "unknown argument '--bogus'"
expect_exit "option without value is a usage error" 2 -b "$bin_dir" -t
expect_output "missing value is named" "option '-t' needs a value"
expect_exit "missing bin dir is a usage error" 2 -b "$work/nowhere"
expect_output "missing bin dir says to build" "run 'make' first"
expect_exit "no matching test is a usage error" 2 -b "$bin_dir" -t 'no_such_*'
expect_exit "unreadable settings is a usage error" 2 -b "$bin_dir" -s "$work/none"
printf 'timeout=abc\n' >"$work/bad-settings"
expect_exit "a timeout that is not a number is a usage error" 2 -b "$bin_dir" -s "$work/bad-settings"
expect_output "... naming the line" "'timeout=abc' is not a number of seconds"
expect_exit "run id with a slash is refused" 2 -b "$bin_dir" -o "$work/r" --run-id a/b
expect_exit "--list exits 0" 0 -b "$bin_dir" --list
expect_output "--list names the tests" "^self_ipi_test$"

# A stand-in test, so the runner's own logic is tested without KVM.
fake=$work/bin
mkdir -p "$fake"
cat >"$fake/fake_pass_test" <<'EOT'
#!/bin/sh
echo "TAP version 13"
[ -n "$IPI_RESULTS_DIR" ] && echo '{"test":"fake_pass_test"}' >"$IPI_RESULTS_DIR/fake_pass_test.json"
exit 0
EOT
printf '#!/bin/sh\nexit 4\n' >"$fake/fake_skip_test"
printf '#!/bin/sh\nexit 1\n' >"$fake/fake_fail_test"
printf '#!/bin/sh\nsleep 30\n' >"$fake/fake_hang_test"
chmod +x "$fake"/*
printf 'timeout=20\ntimeout_fake_hang_test=1\n' >"$work/settings"

expect_exit "a passing test exits 0" 0 -b "$fake" -s "$work/settings" -o "$work/r" \
	--run-id one -t fake_pass_test
expect_output "passing test is ok" "^ok 1 selftests: kvm: fake_pass_test$"
check "run.json is valid and complete" jq_holds \
	'.schema_version == 1 and .run_id == "one" and .totals.pass == 1 and
	 .tests[0].result == "fake_pass_test.json"' "$work/r/one/run.json"
check "the test wrote its JSON into the run" test -s "$work/r/one/fake_pass_test.json"
expect_exit "an existing run id is refused" 2 -b "$fake" -s "$work/settings" -o "$work/r" \
	--run-id one -t fake_pass_test
check "the refused run left the old one intact" jq_holds '.run_id == "one"' "$work/r/one/run.json"
expect_exit "only skips exits 4" 4 -b "$fake" -s "$work/settings" -o "$work/r" -t fake_skip_test
expect_output "a skip is KTAP SKIP" "^ok 1 selftests: kvm: fake_skip_test # SKIP$"
expect_exit "a failure exits 1" 1 -b "$fake" -s "$work/settings" -o "$work/r" \
	-t 'fake_*'
expect_output "a failure is not ok" "^not ok [0-9] selftests: kvm: fake_fail_test"
expect_output "a hang is a TIMEOUT from the settings" "^not ok [0-9] selftests: kvm: fake_hang_test # TIMEOUT 1 seconds"
expect_output "totals count all four" "^# Totals: pass:1 fail:2 xfail:0 xpass:0 skip:1"
check "automatic run ids never collide" test "$(find "$work/r" -name run.json | wc -l)" -eq 3
expect_exit "arguments after -- reach the test" 0 -b "$fake" -s "$work/settings" \
	-o "$work/r" --run-id args -t fake_pass_test -- --count 5 -c
check "run.json keeps the test arguments verbatim" jq_holds \
	'.test_args == ["--count", "5", "-c"]' "$work/r/args/run.json"

expect_exit "--repeat 0 is a usage error" 2 -b "$fake" -s "$work/settings" -r 0
expect_exit "--repeat runs every test again" 0 -b "$fake" -s "$work/settings" -o "$work/r" \
	--run-id rep -t fake_pass_test -t fake_skip_test --repeat 3
expect_output "--repeat plans every run" "^1\.\.6$"
check "--repeat keeps each run in rep-N" test -s "$work/r/rep/rep-3/fake_pass_test.json"
check "run.json lists every run of every test" jq_holds \
	'.repeat == 3 and (.tests | length) == 6 and
	 ([.tests[] | select(.name == "fake_pass_test") | .result] ==
	  ["rep-1/fake_pass_test.json", "rep-2/fake_pass_test.json", "rep-3/fake_pass_test.json"])' \
	"$work/r/rep/run.json"
# As the runner would: tracefs is mounted when it can be.
[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
if command -v perf >/dev/null && [ -d /sys/kernel/tracing/events/kvm ]; then
	expect_exit "--perf runs the tests under perf stat" 0 -b "$fake" -s "$work/settings" \
		-o "$work/r" --run-id perf -t fake_pass_test --perf
	check "--perf records the KVM tracepoint counts" jq_holds \
		'.tests[0].perf.available and (.tests[0].perf.events | has("kvm_apic_ipi"))' \
		"$work/r/perf/run.json"
else
	skip "--perf (needs perf and KVM tracepoints)"
fi

# The real skip path: no /dev/kvm in a private mount namespace.
if [ "$(id -u)" -eq 0 ] && unshare -m true 2>/dev/null; then
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m bash -c 'mount -t tmpfs none /dev && exec "$0" "$@"' \
		"$runner" -b "$bin_dir" -o "$work/r" --run-id nokvm -t self_ipi_test \
		>"$work/out" 2>&1
	rc=$?
	check "without /dev/kvm the suite skips (exit 4)" test "$rc" -eq 4
	expect_output "the skip gives the reason" "# SKIP Cannot open /dev/kvm"
	check "skipped variants are recorded with their reason" jq_holds \
		'[.variants[] | .status == "skip" and (.skip_reason | test("/dev/kvm"))] | all' \
		"$work/r/nokvm/self_ipi_test.json"
else
	skip "without /dev/kvm the suite skips (needs root and unshare)"
fi

echo "1..$checks"
summary
