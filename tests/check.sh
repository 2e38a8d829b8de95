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

# A KTAP-emitting program, started in the background (its output and exit
# status into $logs), and judged later: each of its top-level results
# becomes one of ours.  The emulated boots leave the second CPU idle, so a
# long stand-in test runs beside them.
declare -A ktap_pid
ktap_start() {
	local name=$1 log=$logs/${1//\//_}.log

	shift
	{
		"$@" >"$log" 2>&1
		echo $? >"$log.rc"
	} &
	ktap_pid[$name]=$!
}

ktap_judge() {
	local name=$1 log=$logs/${1//\//_}.log rc line n=0 bad=0

	wait "${ktap_pid[$name]}"
	rc=$(cat "$log.rc" 2>/dev/null || echo 255)
	while IFS= read -r line; do
		if [[ $line =~ ^ok\ [0-9]+\ (.*)#\ SKIP\ ?(.*)$ ]]; then
			skip "$name: ${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
		elif [[ $line =~ ^ok\ [0-9]+\ (.*#\ XFAIL.*)$ ]]; then
			xfail "$name: ${BASH_REMATCH[1]}"
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
	if [ $n -eq 0 ] || { [ $bad -eq 0 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ]; }; then
		not_ok "$name: exit $rc, $n results"
		show_log "$log"
	elif [ $bad -ne 0 ]; then
		show_log "$log"
	fi
}

# ... or run and judged at once.
ktap_results() {
	ktap_start "$@"
	ktap_judge "$1"
}

# Each section says when it began, so that the slow ones are plain to see.
section() {
	echo "# --- $* (at ${SECONDS}s)"
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

section "the harness uses the selftests library's interfaces where it has them"
check "no reach into the library's internals (idt_handlers)" \
	bash -c "! grep -n 'idt_handlers' '$SRC'/lib/*.c '$SRC'/include/*.h"
check "APICv and AVIC read through get_kvm_intel/amd_param_bool()" \
	bash -c "grep -q 'get_kvm_intel_param_bool(\"enable_apicv\")' '$SRC/lib/host_info.c' &&
		 grep -q 'get_kvm_amd_param_bool(\"avic\")' '$SRC/lib/host_info.c'"

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

section "figures in prose and quoted tables, from the committed result sets"
ktap_results figures_test "$SRC/tests/figures_test.sh"

section "bisect.sh and zoo.sh's scoring, on stand-in results"
ktap_results bisect_test "$SRC/tests/bisect_test.sh"
ktap_results zoo_test "$SRC/tests/zoo_test.sh"

section "kernel rig: serial-log parser, arguments, Debian 6.12 and 6.1 under QEMU, 6.12 under Bochs"
# Minutes of jq and awk, beside the boots: the published tables, then
# compare.sh's own tests, one after the other.
regen_then_compare() {
	local rc

	"$SRC/tests/regen_test.sh" "$build/check-results/regen"
	rc=$?
	"$SRC/tests/compare_test.sh" || rc=$?
	return "$rc"
}
ktap_start regen_and_compare regen_then_compare
ktap_results rig_test "$SRC/tests/rig_test.sh" --boot "$build/static/tests"

section "published tables regenerate from their raw results, and compare.sh on stand-in results (beside the rig's boots)"
ktap_judge regen_and_compare

# Real guests: this host's KVM where it has one; where it has none (a
# machine that is itself a guest without nested virtualization), the rig's
# QEMU with Debian's 6.12 and its kvm_amd runs the same tests, for real.
if [ -c /dev/kvm ] && { : </dev/kvm; } 2>/dev/null; then
	on_rig=
else
	on_rig="no /dev/kvm on this host: the suite runs under the rig (QEMU, Debian 6.12, kvm_amd)"
	echo "# $on_rig"
fi

zoo_stock=$("$SRC/scripts/rig/cache-dir.sh")/zoo/kbuild/stock/arch/x86/boot/bzImage
# run_guest_test DIR TEST ARGS...: TEST with ARGS, results into DIR/TEST.json;
# returns the test's exit status (2: the rig itself failed).
run_guest_test() {
	local dir=$1 test=$2 rc

	shift 2
	mkdir -p "$dir"
	if [ -z "$on_rig" ]; then
		"$build/tests/$test" -o "$dir" "$@"
		return
	fi
	# The rig's VMX is Bochs': an L1 hypervisor's test boots there, in
	# the zoo's stock 6.12 where an earlier make check left it built (its
	# minimal config boots in half the time of Debian's under Bochs).
	local emulator=qemu kernel=debian-6.12
	if [ "$test" = nested_posted_test ]; then
		emulator=bochs
		[ -f "$zoo_stock" ] && kernel=$zoo_stock
	fi
	"$SRC/scripts/kernels.sh" -k "$kernel" -e "$emulator" -t "$test" -b "$build/static/tests" \
		-o "$dir/rig" --run-id run --timeout 300 -- "$@"
	rc=$?
	[ -f "$dir/rig/run/$test.json" ] && cp "$dir/rig/run/$test.json" "$dir/$test.json"
	return $rc
}


# Negative controls (section below): each names itself, its test, the exit
# status it must end with, a jq condition on its variant (no '|' in it),
# its test arguments, and optionally a condition under which the fault
# cannot happen on this host, and why.  The guest counts the faults it
# really made (counts.faults_injected).
made='.counts.faults_injected'
ctl_base=$build/check-early
# One control, run: its exit status into $dir/rc.
run_control() {
	local name test want cond args dir

	IFS='|' read -r name test want cond args _ <<<"$1"
	dir=$ctl_base/fault-$name
	# shellcheck disable=SC2086 # $args is a list of words
	run_guest_test "$dir" "$test" --count 20 --stall-ms 100 --grace-ms 100 $args \
		>"$logs/fault-$name.log" 2>&1
	echo $? >"$dir/rc"
}

# One control, judged: its variant must exit as expected with the counts in its JSON.
judge_control() {
	local name test want cond args na_cond na_why dir json rc

	IFS='|' read -r name test want cond args na_cond na_why <<<"$1"
	dir=$ctl_base/fault-$name
	json=$dir/$test.json
	rc=$(cat "$dir/rc" 2>/dev/null || echo none)
	if [ -n "$na_cond" ] && jq_holds "$na_cond" "$json"; then
		skip "fault $name: cannot happen on $(jq -r .host.kvm_vendor_module "$json"): $na_why"
	elif [ "$rc" = "$want" ] && jq_holds "$jq_defs .variants[0] | $cond" "$json"; then
		ok "fault $name: exit $rc, $(jq -c '.variants[0].counts | {faults_injected, lost, rescued, held, stranded, duplicate, spurious, delayed}' "$json")"
	else
		not_ok "fault $name: exit $rc (want $want)"
		show_log "$logs/fault-$name.log"
	fi
}

# Decided from the host's KVM, never from the outcome: an L1 hypervisor
# needs kvm_intel with nested=Y and, for posted interrupts, APICv.
no_vmx='(.host.kvm_vendor_module != "kvm_intel" or .host.module_params.kvm_intel.nested != "Y" or .host.module_params.kvm_intel.enable_apicv != "Y")|no VMX with posted interrupts for an L1 hypervisor on this KVM (kvm_intel, nested=Y, enable_apicv=Y)'
# The nested test's control boots Bochs on this host, a minute or more: it
# runs beside the kselftest flow and the suite, which leave a CPU idle, and
# is judged with the other controls.  With nothing left in the PIR but its
# one interrupt, lost.
nested_controls=(
	"pi_no_notify|nested_posted_test|1|.status == \"fail\" and $made == 1 and .counts.lost == $made and .nested.left_in_pir == $made and .nested.left_on == false and .counts.duplicate == 0|-v posted_spin --fault-every 5 --fault pi_no_notify|$no_vmx"
)
rm -rf "$ctl_base"
for c in "${nested_controls[@]}"; do
	run_control "$c"
done &
nested_controls_pid=$!

section "the suite inside a kernel tree's own kselftest flow (fresh linux-source-6.12)"
ktap_results kselftest_test "$SRC/tests/kselftest_test.sh" "$build/kselftest"

section "harness on this host's KVM"
if [ -z "$on_rig" ]; then
	ktap_results tsc_offset_test "$build/harness-tests/tsc_offset_test"
else
	skip "tsc_offset_test: $on_rig"
fi

section "the suite on real KVM, short parameters"
results=$build/check-results
rm -rf "$results"
if [ -z "$on_rig" ]; then
	"$SRC/run_tests.sh" -b "$build/tests" -o "$results" --run-id suite -- --count 500 \
		>"$logs/suite.log" 2>&1
else
	"$SRC/scripts/kernels.sh" -k debian-6.12 -b "$build/static/tests" -o "$results" \
		--run-id suite -- --count 100 >"$logs/suite.log" 2>&1
fi
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
			xfail) xfail "$test: $name # XFAIL $reason" ;;
			skip) skip "$test: $name: $reason" ;;
			*) not_ok "$test: $name: $status $reason" ;;
			esac
		done < <(jq -r '.variants[] | [.name, .status,
			(if .status == "xfail" then "\(.fail_reason); known issue: \(.known_issue)"
			 else (.fail_reason // .skip_reason // "") end)] | @tsv' "$json")
		check "$test: results JSON has schema, host and per-variant counts" jq_holds \
			'.schema == "kvm-ipi-selftests/test-result" and .schema_version == 1 and
			 (.host.kvm_vendor_module | type == "string") and
			 ([.variants[] | select(.status == "pass" and .params.count > 0 and
			   .counts.sent > 0) | .latency.cycles.p50 > 0 and .latency.ns.p50 > 0 and
			   .counts.received == .counts.sent and .counts.held == 0 and
			   .counts.rescued == 0 and .counts.stranded == 0] | all)' "$json"
	done
	check "run.json agrees with the runner's exit status" jq_holds \
		"(.totals.fail > 0) == ($rc == 1)" "$results/suite/run.json"
fi
if [ -z "$on_rig" ]; then
	ktap_results "4 vCPUs pinned, overcommitted" "$build/tests/cross_vcpu_ipi_test" --vcpus 4 --pin --count 100
	ktap_results "4 injectors on 2 vCPUs" "$build/tests/host_injection_test" --vcpus 2 --injectors 4 \
		--count 100 -v 'msi_back_to_back_hlt,irqfd_back_to_back_signal,msi_sweep_pio,irqfd_sweep_pio'
	ktap_results "4 vCPUs migrating, ICR read back" "$build/tests/cross_vcpu_ipi_test" --vcpus 4 \
		--migrate-us 500 --check-icr --count 100 -v '*_stream_*,*_pingpong_*,*_allinc_*'
	for t in "$build"/san/tests/*_test; do
		ktap_results "asan+ubsan/${t##*/}" "$t" --count 100
	done
else
	skip "4 vCPUs pinned, 4 injectors, migration, and the tests under ASan/UBSan: $on_rig"
fi

section "benchmark mode, on a tiny run"
if [ -z "$on_rig" ]; then
	bench_log=$logs/bench.log
	"$SRC/scripts/bench.sh" -b "$build/tests" -o "$results" -r 3 -c 20 -t self_ipi_test \
		-- -v 'x2apic_icr_sti_hlt,overhead' >"$bench_log" 2>&1
	rc=$?
	bench=$(find "$results" -maxdepth 1 -name 'bench-*' | head -n 1)
	check "bench: exit 0 and three runs" test "$rc" -eq 0 -a "$(find "$bench" -name run.json | wc -l)" -eq 3
	check "bench: summary has both variants, 3 runs each, min <= median <= max" jq_holds \
		'[.variants[] | .iteration_p50_cycles | .runs == 3 and .min <= .median and .median <= .max]
		 | length == 2 and all' "$bench/summary.json"
	check "bench: the overhead variant gives the instrument's cost and no latency" jq_holds \
		'.instrument_overhead_cycles.median > 0 and
		 ([.variants[] | select(.variant == "overhead")][0].latency_p50_cycles.runs == 0)' \
		"$bench/summary.json"
	check "bench: summary.txt is a table" grep -q '^self_ipi_test/x2apic_icr_sti_hlt ' "$bench/summary.txt"
else
	skip "bench.sh: $on_rig"
fi

section "vmexit.flat cross-check: skips, saying why, where it cannot run"
# With a KVM here, the reference is what is missing; without one, the KVM.
"$SRC/scripts/vmexit-crosscheck.sh" -b "$build/tests" --vmexit "$build/no-such-vmexit.flat" \
	-o "$build/check-results/crosscheck" >"$logs/crosscheck.log" 2>&1
rc=$?
if [ -z "$on_rig" ]; then
	why="no vmexit.flat at"
else
	why="no usable /dev/kvm on this host"
fi
check "crosscheck: exit 4 (skip), and why: \"$why\"" \
	eval "[ $rc -eq 4 ] && grep -q 'SKIP: $why' '$logs/crosscheck.log'"

section "negative controls: real faults the accounting must catch"
clean='.counts.lost == 0 and .counts.duplicate == 0 and .counts.spurious == 0'
# name | test | expected exit | jq condition on the variant (no '|' in it) | test arguments
# | optional: a jq condition under which the fault cannot happen on this
# host, and why (for no_eoi: a host that keeps no in-service bit, as
# kvm_pvm, where the ISR reads 0 inside the handler, delivers the vector
# again without its EOI).  The guest counts the faults it really made
# (counts.faults_injected); each must be caught as exactly that fault.  20
# sends with a fault on every 5th make 4; with no_eoi the 10th delivery is
# never EOI'd and the 10 sends after it can never be delivered.  tpr_mask
# runs with a 20 ms threshold, far above this host's usual delays, and
# each delayed delivery must be one that a 40 ms mask's unmasking write let
# in (counted by the handler as it happened), never noise.
self='self_ipi_test|1'
cross='cross_vcpu_ipi_test|1'
host='host_injection_test|1'
level='level_irq_test|1'
prio='vector_priority_test|1'
nmi='nmi_test|1'
inject='-v msi_back_to_back_hlt --fault-every 5'
sti_hlt='-v x2apic_icr_sti_hlt --fault-every 5'
stream='-v x2apic_stream_physical_halt --fault-every 5'
# A halted vCPU with a lost interrupt: the watchdog wakes it once, then
# ends the variant (fail fast) rather than go on to the next fault.
fast='.aborted and .wakes == 1'
# Decided from the host's backend, never from the outcome: on any other
# KVM a vector delivered again without its EOI is a bug to report.
no_isr='.host.kvm_vendor_module == "kvm_pvm"|kvm_pvm keeps no in-service bit (README, "On hosts without VT-x")'
# On kvm_pvm an unmasking TPR write is not where a pending interrupt is
# taken (the known issue PVM_WINDOW): the control's matching cannot apply.
pvm_window='.host.kvm_vendor_module == "kvm_pvm"|kvm_pvm takes an interrupt unmasked by a TPR write only at its next host event (lib/known_issues.c, PVM_WINDOW)'
# The held control's own record of each interrupt it held and for how
# long; the classifier must call held exactly those held past its margin,
# and nothing else.
held_ok='.counts.held > 0 and .classification.held_control.judged_held == .counts.held and control_windows == .classification.held_control.released and control_windows_over_margin == .counts.held and .counts.lost == 0 and .counts.rescued == 0 and .counts.duplicate == 0'
# Bounded waits: a run that cannot finish in -T is wound down by its own
# watchdog short of it (what was in flight is taken, not called lost), and
# reported with its counts, failed (not killed with nothing kept); a churn thread in a 10 s sleep is joined at once, so the
# variant ends well within -T 8.
# Helpers for the conditions, which cannot hold a '|' of their own.
# shellcheck disable=SC2016 # jq's variables
jq_defs='def control_windows: .classification.held_control.windows_cycles | length;
	def control_windows_over_margin: .classification.margin_run_cycles as $m |
		[.classification.held_control.windows_cycles[] | select(. > $m)] | length;'
controls=(
	"lost|$self|.status == \"fail\" and $made >= 1 and .counts.lost == $made and .counts.duplicate == 0 and $fast|$sti_hlt --fault lost"
	"phantom|$self|.status == \"fail\" and $made >= 1 and .counts.lost == $made and .counts.duplicate == 0 and $fast|$sti_hlt --fault phantom"
	"duplicate|$self|.status == \"fail\" and $made == 4 and .counts.duplicate == 4 and .counts.lost == 0|$sti_hlt --fault duplicate"
	"double_count|$self|.status == \"fail\" and $made == 4 and .counts.duplicate == 4 and .counts.lost == 0|$sti_hlt --fault double_count"
	"spurious|$self|.status == \"fail\" and $made == 4 and .counts.spurious == 4 and .counts.lost == 0|$sti_hlt --fault spurious"
	"delayed-strict|$self|.status == \"fail\" and $made == 4 and .counts.delayed >= 4 and $clean|$sti_hlt --fault delayed --fail-on-delayed"
	"delayed-report|self_ipi_test|0|.status == \"pass\" and $made == 4 and .counts.delayed >= 4 and .counts.delayed_by_fault == 0 and $clean|$sti_hlt --fault delayed"
	"no_eoi|$self|.status == \"fail\" and $made == 1 and .counts.lost >= 1 and .counts.duplicate == 0 and $fast|-v x2apic_icr_sti_hlt --fault-every 10 --fault no_eoi|$no_isr"
	"lost-not-excused-by-known-issue|$self|.status == \"fail\" and .known_issue == null and $made >= 1 and .counts.lost == $made|-v x2apic_icr_sti_nop --fault-every 5 --fault lost"
	"cross-phantom|$cross|.status == \"fail\" and $made > 0 and .counts.lost == $made and .counts.duplicate == 0|$stream --fault phantom"
	"cross-double_count|$cross|.status == \"fail\" and $made > 0 and .counts.duplicate == $made and .counts.lost == 0|$stream --fault double_count"
	"cross-no_eoi|$cross|.status == \"fail\" and $made == 1 and .counts.lost > 0 and .counts.duplicate == 0|$stream --fault no_eoi|$no_isr"
	"host-phantom|$host|.status == \"fail\" and $made == 4 and .counts.lost == 4 and .diagnostics[0].outstanding[0].sent > 0|$inject --fault phantom"
	"host-double_count|$host|.status == \"fail\" and $made == 4 and .counts.duplicate == 4 and .counts.lost == 0|$inject --fault double_count"
	"held|$host|.status == \"fail\" and $made > 0 and $held_ok|-v msi_back_to_back_dwell --count 200 --fault-every 3 --fault held"
	"cross-held|$cross|.status == \"fail\" and $made > 0 and $held_ok|-v x2apic_stream_physical_dwell --count 200 --fault-every 3 --fault held"
	"rescued|$self|.status == \"fail\" and $made == 1 and .counts.rescued == 1 and .counts.lost == 0 and .counts.held == 0 and .counts.stranded == 0 and .classification.rescued[0].crossed == \"watchdog_wake\"|-v x2apic_icr_sti_hlt --fault-every 20 --fault rescued"
	"stranded|$self|.status == \"fail\" and $made == 4 and .counts.stranded == 4 and .counts.rescued == 0 and .counts.lost == 0 and .wakes >= 4|$sti_hlt --fault stranded"
	"masked|$self|.status == \"fail\" and $made == 4 and .counts.masked == 4 and .classification.masked[0].in_sti_shadow == false and .counts.lost == 0 and .counts.duplicate == 0 and .counts.stranded == 0|$sti_hlt --fault masked"
	"clock|$host|.status == \"fail\" and $made == 1 and .counts.clock_skew_beyond_error == 1 and .counts.lost == 0|-v msi_back_to_back_spin --fault-every 1 --fault clock"
	"tsc_write|self_ipi_test|0|$made == 1 and .tsc.unstable and .classification.clock_unstable and .counts.lost == 0|-v x2apic_icr_sti_hlt --fault-every 1 --fault tsc_write"
	"deadline|$self|.status == \"fail\" and .deadline_passed and .counts.sent > 0 and .counts.received == .counts.sent and $clean|-v x2apic_icr_sti_nop --count 2000000000 -T 8"
	"churn-join|cross_vcpu_ipi_test|0|.status == \"pass\" and .migrations == 0|-v x2apic_stream_physical_spin --migrate-us 10000000 -T 8"
	"level-no_eoi|$level|.status == \"fail\" and $made == 1 and .counts.lost >= 1 and .counts.stuck >= 1 and .level.stopped != null|-v irq_line_hlt --fault-every 10 --fault no_eoi|$no_isr"
	"resample-no_eoi|$level|.status == \"fail\" and $made == 1 and .counts.lost >= 1 and .counts.stuck >= 1 and any(.level.pins[]; .remote_irr and .resampled < .raised)|-v irqfd_resample_spin --fault-every 10 --fault no_eoi|$no_isr"
	"level-phantom|$level|.status == \"fail\" and $made == 1 and .counts.lost == 1 and .counts.stuck == 1 and .level.stopped == \"assertion not taken by the guest\" and .counts.duplicate == 0|-v irq_line_eoi_asserted_dwell --fault-every 5 --fault phantom"
	"misorder|$prio|.status == \"fail\" and $made == 4 and .counts.misordered == $made and .counts.masked == $made and .classification.misordered[0].expected == 249 and $clean|-v cross_tpr_order --fault-every 5 --fault misorder"
	"illegal|$prio|.status == \"fail\" and $made == 4 and .counts.spurious == $made and .counts.lost == 0|-v msi_illegal --fault-every 5 --fault illegal"
	"nmi_unblock|$nmi|.status == \"fail\" and $made == 4 and .counts.misordered >= $made and .counts.lost == 0|-v cross_blocking --fault-every 5 --fault nmi_unblock"
	"host-tpr_mask|$host|.status == \"fail\" and $made > 0 and .counts.delayed_by_fault >= $made and .counts.delayed == .counts.delayed_by_fault and $clean|-v msi_back_to_back_pio --count 200 --fault-every 20 --fault tpr_mask --fail-on-delayed -d 20000|$pvm_window"
)

# Two at a time: each is one emulated boot, or one short run, on one CPU.
ctl_base=$results
for c in "${controls[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge 2 ]; do
		wait -n
	done
	run_control "$c" &
done
wait
for c in "${controls[@]}"; do
	judge_control "$c"
done
wait "$nested_controls_pid"
ctl_base=$build/check-early
for c in "${nested_controls[@]}"; do
	judge_control "$c"
done

section "the bug zoo's scoring, on two of its bugs under QEMU"
# Stock 6.12 and two bugs of scripts/rig/bugs/, built in the machine's rig
# cache (a full kernel build the first time, then nothing to do), one boot
# each, two tests at -c 10 and no verdict argument.  The zoo must call
# both bugs caught by the verdict, each with the class it stands for
# (a broadcast delivered to its sender: spurious; an interrupt injected
# past the TPR: masked), and stock clean.
zoo=$results/zoo
rm -rf "$zoo"
"$SRC/scripts/rig/zoo.sh" --build "$("$SRC/scripts/rig/cache-dir.sh")/zoo" -e qemu --qemu-boots 1 \
	--bug allbut-includes-self --bug ppr-ignores-tpr -t self_ipi_test -t cross_vcpu_ipi_test \
	-b "$build/static/tests" -o "$zoo" -- -c 10 >"$logs/zoo.log" 2>&1
rc=$?
sed 's/^/# /' "$logs/zoo.log" | grep -E 'caught|missed|false positive'
zoo_row() {
	jq_holds "$2" "$zoo/zoo.json" 2>/dev/null && jq_holds ".kernels[] | select(.kernel == \"$1\") | .score == \"$3\"" "$zoo/zoo.json"
}
if [ ! -s "$zoo/zoo.json" ]; then
	not_ok "zoo: no score (exit $rc)"
	show_log "$logs/zoo.log"
else
	check "zoo: exit $rc, every bug caught and nothing a false positive" test "$rc" -eq 0
	check "zoo: allbut-includes-self caught by the verdict, spurious" \
		zoo_row allbut-includes-self '.rows[] | select(.kernel == "allbut-includes-self") | .flagged_by_verdict and .counts.spurious > 0' caught
	check "zoo: ppr-ignores-tpr caught by the verdict, masked" \
		zoo_row ppr-ignores-tpr '.rows[] | select(.kernel == "ppr-ignores-tpr") | .flagged_by_verdict and .counts.masked > 0' caught
	check "zoo: stock passed its boot" \
		zoo_row stock '.rows[] | select(.kernel == "stock") | .failed_boots == 0 and .boots == 1' clean
fi

section "usage errors, refused before anything runs"
"$build/tests/host_injection_test" --injectors 2 -v 'ioapic_*' >"$logs/ioapic.log" 2>&1
rc=$?
check "--injectors 2 -v 'ioapic_*' is a usage error (exit $rc), not a skip" \
	grep -q 'pins for one injector only' "$logs/ioapic.log"
"$build/tests/self_ipi_test" -o /proc -c 5 >"$logs/proc.log" 2>&1
rc=$?
check "-o /proc fails before any variant runs (exit $rc)" \
	test "$rc" -ne 0 -a "$(grep -c '^ok\|^not ok' "$logs/proc.log")" -eq 0
# A control that would inject nothing is refused before anything runs.
"$build/tests/self_ipi_test" --fault stranded --count 5 --fault-every 10 >"$logs/nofault.log" 2>&1
rc=$?
check "a fault the count cannot reach is refused (exit $rc)" \
	grep -q 'injects nothing' "$logs/nofault.log"

echo "1..$checks"
summary
