#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernel rig.  Its serial-log parser on made-up logs: every way a boot
# can go wrong must be an error, and a good log must unpack exactly.  Then,
# if asked with --boot STATIC_BIN_DIR, real boots: Debian's 6.12 and 6.1
# kernels under QEMU and 6.12 under Bochs with APICv, each running a short
# test, checked end to end, and boots that go wrong (timeout, a module that
# will not load, a panic, a broken kernel), each of which must be an error
# that stores no result.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

parse=$SRC/scripts/rig/parse-serial.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '{"test": "t", "ok": true}\n' >"$work/t.json"
printf 'kernel_release=6.12\n' >"$work/info"

frame() {
	echo "@@KVMIPI BEGIN $1 $(wc -c <"$2") $(sha256sum "$2" | cut -d' ' -f1)@@"
	base64 "$2"
	echo "@@KVMIPI END $1@@"
}

good_log() {
	echo "[    0.100000] Linux version 6.12"
	frame rig-info "$work/info"
	echo "@@KVMIPI START t@@"
	echo "ok 1 t"
	echo "@@KVMIPI EXIT t 0@@"
	frame t.json "$work/t.json"
	echo "@@KVMIPI DONE@@"
}

# expect_error NAME PATTERN: $work/NAME.log must be refused for PATTERN.
expect_error() {
	local name=$1 pattern=$2 dir=$work/out-$1

	if "$parse" "$work/$1.log" "$dir" 2>"$work/$1.err"; then
		not_ok "$name: accepted"
	elif grep -q -- "$pattern" "$work/$1.err"; then
		ok "$name: $(cat "$work/$1.err")"
	else
		not_ok "$name: wrong reason: $(cat "$work/$1.err")"
	fi
}

echo "TAP version 13"
good_log >"$work/good.log"
check "a good log is accepted" "$parse" "$work/good.log" "$work/good"
check "and its files come back byte for byte" cmp -s "$work/t.json" "$work/good/t.json"
# Kernel messages inside a frame are dropped; the checksum proves the rest intact.
sed '/^@@KVMIPI BEGIN t.json/a [    7.1] kvm: some message' "$work/good.log" >"$work/noisy.log"
check "kernel lines inside a frame do not corrupt it" "$parse" "$work/noisy.log" "$work/noisy"

good_log | head -n -1 >"$work/truncated.log"
expect_error truncated "truncated"
good_log | sed 's/^@@KVMIPI DONE@@$/[ 9.9] Kernel panic - not syncing: Fatal exception\n&/' >"$work/panic.log"
expect_error panic "kernel panic: Kernel panic - not syncing"
{ echo "@@KVMIPI ERROR modules insmod /lib/modules/kvm-amd.ko bogus=1 failed@@"; good_log; } >"$work/modules.log"
expect_error modules "inside the guest: modules insmod"
good_log | sed '/^@@KVMIPI BEGIN t.json/{n;s/^./A/}' >"$work/corrupt.log"
expect_error corrupt "t.json: frame does not match"
printf 'not json\n' >"$work/bad.json"
{ frame t.json "$work/bad.json"; echo "@@KVMIPI DONE@@"; } >"$work/notjson.log"
expect_error notjson "t.json: not valid JSON"
echo "@@KVMIPI DONE@@" >"$work/empty.log"
expect_error empty "no result frames"

# bad_args PATTERN ARGS...: kernels.sh refuses ARGS for PATTERN, with exit
# 2, before it downloads, builds or boots anything.
bad_args() {
	local pattern=$1 rc

	shift
	"$SRC/scripts/kernels.sh" "$@" >"$work/args.log" 2>&1
	rc=$?
	if [ $rc -eq 2 ] && grep -q -- "$pattern" "$work/args.log"; then
		ok "kernels.sh $*: $(head -1 "$work/args.log")"
	else
		not_ok "kernels.sh $*: exit $rc, $(head -1 "$work/args.log")"
	fi
}
bad_args "no kernel" -e qemu
bad_args "--cpus is 1 to 8" -k debian-6.12 --cpus 9
bad_args "--qemu '/nonexistent' is not an executable" -k debian-6.12 --qemu /nonexistent
bad_args "--qemu is for -e qemu" -k debian-6.12 -e bochs --qemu /bin/true
bad_args "--emulator is qemu, bochs or bochs-noapicv" -k debian-6.12 -e kvmtool

# boot_fails NAME PATTERN ARGS...: a real boot that must fail as the rig
# itself (exit 2), for PATTERN, storing nothing but its serial log.
boot_fails() {
	local name=$1 pattern=$2 out=$work/fail-$1 rc

	shift 2
	"$SRC/scripts/kernels.sh" -t self_ipi_test -b "$bin" -o "$out" --run-id "$name" "$@" \
		-- -c 5 -v x2apic_icr_sti_hlt >"$work/$name.log" 2>&1
	rc=$?
	if [ $rc -eq 2 ] && grep -q -- "$pattern" "$work/$name.log" && [ ! -e "$out/$name" ] &&
		[ -s "$out/$name.failed.log" ]; then
		ok "$name: exit 2, $(grep -m 1 '^kernels: ' "$work/$name.log" | cut -c1-160)"
	else
		not_ok "$name: exit $rc"
		show_log "$work/$name.log"
	fi
}

if [ "${1:-}" = --boot ]; then
	bin=$2
	out=$work/results
	# A run made by the rig's own QEMU build (scripts/rig/build-qemu.sh).
	rig_qemu='(.rig.emulator_binary | test("/qemu/qemu-[0-9a-f]{16}/bin/qemu-system-x86_64$"))'
	# Bochs with APICv (built on first use): posted interrupts really used,
	# and VMX for nested_posted_test's L1 hypervisor.  One emulated CPU's
	# worth of work, in the background beside the QEMU boots that time
	# nothing; judged before the ones that do.  Not posted_dwell: stock
	# 6.12 loses its interrupts (README, "Nested posted interrupts").
	"$SRC/scripts/kernels.sh" -k debian-6.12 -e bochs -t self_ipi_test -t nested_posted_test \
		-b "$bin" -o "$out" --run-id apicv --timeout 600 -- -c 50 \
		-v x2apic_icr_sti_hlt,x2apic_self_ipi_spin,posted_spin,posted_hlt,msi_spin,msi_hlt,msi_dwell \
		>"$work/apicv.log" 2>&1 &
	apicv_pid=$!

	"$SRC/scripts/kernels.sh" -k debian-6.12 -t self_ipi_test -b "$bin" -o "$out" --run-id smoke \
		--timeout 300 -- -c 50 -v x2apic_icr_sti_hlt >"$work/boot.log" 2>&1
	rc=$?
	# The rig's QEMU carries its fixes: every boot passes, nothing excused.
	check "QEMU boots Debian 6.12 and the test inside passes (exit $rc)" test "$rc" -eq 0
	check "the run records the guest kernel, its kvm_amd and the rig's own QEMU" jq_holds \
		'(.kernel_release | startswith("6.12")) and .rig.vendor_module == "kvm_amd" and
		 .rig.params.nested == "1" and .rig.emulator == "qemu" and .rig.emulated_cpus == 2 and
		 '"$rig_qemu" "$out/smoke/run.json"
	check "the test's results came back through the serial console" jq_holds \
		'.host.kvm_vendor_module == "kvm_amd" and .variants[0].counts.sent == 50 and
		 .variants[0].counts.received == 50 and .variants[0].status == "pass" and
		 .host.memslot_compat == false' "$out/smoke/self_ipi_test.json"
	grep -E '^(not )?ok 1 ' "$work/boot.log" | sed 's/^/# inside: /'
	[ "$rc" -le 1 ] || show_log "$work/boot.log"

	# --qemu: Debian's own binary runs instead, and the check above refuses it.
	"$SRC/scripts/kernels.sh" -k debian-6.12 --qemu /usr/bin/qemu-system-x86_64 -t self_ipi_test \
		-b "$bin" -o "$out" --run-id debian-qemu --timeout 300 -- -c 5 -v x2apic_icr_sti_hlt \
		>"$work/debian-qemu.log" 2>&1
	check "--qemu runs Debian's QEMU, which the rig's-own-QEMU check refuses" jq_holds \
		'.rig.emulator_binary == "/usr/bin/qemu-system-x86_64" and ('"$rig_qemu"' | not)' \
		"$out/debian-qemu/run.json"

	# Debian 6.1 predates KVM_SET_USER_MEMORY_REGION2; two boots, one result set.
	"$SRC/scripts/kernels.sh" -k debian-6.1 -r 2 -t self_ipi_test -b "$bin" -o "$out" --run-id old \
		--timeout 300 -- -c 20 -v x2apic_icr_sti_hlt >"$work/old.log" 2>&1
	rc=$?
	check "Debian 6.1, booted twice: the test inside passes in each (exit $rc)" jq_holds \
		'(.kernel_release | startswith("6.1.")) and .repeat == 2 and (.rig.boot_seconds | length) == 2
		 and ([.tests[] | select(.result != null and .status == "pass")] | length) == 2' \
		"$out/old/run.json"
	check "... through the old memslot ioctl, which its results record; every IPI received once" \
		jq_holds '.host.memslot_compat == true and .variants[0].counts.sent == 20 and
		 .variants[0].counts.received == 20 and .variants[0].counts.duplicate == 0' \
		"$out/old/rep-2/self_ipi_test.json"

	boot_fails timeout "timed out after 2 s" -k debian-6.12 --timeout 2
	boot_fails bad-module "inside the guest: modules insmod .*kvm-amd.ko nested=banana failed" \
		-k debian-6.12 --params nested=banana
	boot_fails panic "kernel panic: Kernel panic" -k debian-6.12 --append rdinit=/nonexistent
	head -c 1000000 "$("$SRC/scripts/rig/fetch-kernel.sh" debian-6.12 "$("$SRC/scripts/rig/cache-dir.sh")/kernels" | sed -n 2p)" \
		>"$work/truncated-bzImage"
	boot_fails bad-kernel "the output is truncated" -k "$work/truncated-bzImage" --timeout 60

	wait "$apicv_pid"
	rc=$?
	check "Bochs boots Debian 6.12 with kvm_intel (nested) and APICv, and runs two tests (exit $rc)" jq_holds \
		'.rig.emulator == "bochs" and .rig.vendor_module == "kvm_intel" and
		 .rig.params.enable_apicv == "Y" and .rig.params.nested == "Y" and .rig.emulated_cpus == 2 and
		 ([.tests[] | .status] == ["pass", "pass"])' "$out/apicv/run.json"
	check "... and KVM injected (almost) none of the IPIs itself: they were posted" jq_holds \
		'[.variants[] | .counts.received == 50 and .per_ipi.irq_injections < 0.2] | all' \
		"$out/apicv/self_ipi_test.json"
	# L1's own account says which path each interrupt took: every posted
	# one notified and none exiting with the notification vector, every
	# host one exiting to L1, and msi_hlt's sent to a blocked L2 and waking it.
	check "... and nested_posted_test's L1 ran an L2 that took every interrupt, each by its path" jq_holds \
		'([.variants[] | select(.status == "pass" and .counts.received == 50)] | length) == 5 and
		 ([.variants[] | .nested.nv_exits == 0 and .nested.left_in_pir == 0] | all) and
		 ([.variants[] | select(.name | startswith("posted_")) | .nested.notifications == 50] | all) and
		 ([.variants[] | select(.name | startswith("msi_")) | .nested.ext_intr_exits >= 50 and .nested.posts == 0] | all) and
		 ([.variants[] | select(.name == "msi_hlt") | .nested.sent_to_blocked_l2 == 50 and .nested.wakes_from_hlt >= 50] | all)' \
		"$out/apicv/nested_posted_test.json"
	[ -s "$out/apicv/run.json" ] || show_log "$work/apicv.log"

	# kselftest's runner ends a test at its timeout with SIGTERM: what it
	# finished by then is in its results file, the rest marked not run.
	# Variants of 4 s each, the test ended after 8: the first finishes,
	# the second is cut.
	"$SRC/scripts/kernels.sh" -k debian-6.12 -t self_ipi_test -b "$bin" -o "$out" --run-id killed \
		--test-timeout 8 -- --duration-s 4 -T 40 -v 'x2apic_icr_sti_nop,x2apic_icr_spin,x2apic_icr_tpr' \
		>"$work/killed.log" 2>&1
	rc=$?
	check "a test ended by SIGTERM: status timeout, exit 143" jq_holds \
		'.tests[0].status == "timeout" and .tests[0].exit_code == 143' "$out/killed/run.json"
	check "... and the rig exits 1 (got $rc)" test "$rc" -eq 1
	check "... its results file holds the variant that finished, and marks the rest not run" jq_holds \
		'.complete == false and .variants[0].status == "pass" and .variants[0].counts.sent > 0 and
		 ([.variants[1:][] | .status] | index("not_run")) != null' "$out/killed/self_ipi_test.json"
	[ -s "$out/killed/self_ipi_test.json" ] || show_log "$work/killed.log"

	# A test that hangs (the watchdog told to wait 10 minutes on a halt
	# that only it can end): the boot falls silent, is ended, and keeps
	# what finished.  With a failing variant before the hang: exit 1.
	"$SRC/scripts/kernels.sh" -k debian-6.12 -t self_ipi_test -b "$bin" -o "$out" --run-id silent-fail \
		--silence 15 -- -c 20 -v 'x2apic_icr_sti_nop,x2apic_icr_sti_hlt' --fault rescued \
		--fault-every 20 --stall-ms 600000 >"$work/silent-fail.log" 2>&1
	rc=$?
	check "a silent boot after a failing variant: exit 1 (got $rc), the failure kept" jq_holds \
		'.incomplete[0].test == "self_ipi_test" and (.incomplete[0].why | test("silent for 15 s")) and
		 .tests[0].status == "timeout" and .totals.fail == 0' "$out/silent-fail/run.json"
	check "... and the run says why, and which test" test "$rc" -eq 1
	grep -q '^# not ok 1 x2apic_icr_sti_nop' "$work/silent-fail.log" ||
		not_ok "silent boot: the failing variant's KTAP line is not in the output"
	# Nothing failed before the hang: exit 2, the run kept all the same.
	"$SRC/scripts/kernels.sh" -k debian-6.12 -t self_ipi_test -b "$bin" -o "$out" --run-id silent \
		--silence 15 -- -c 20 -v x2apic_icr_sti_hlt --fault rescued --fault-every 20 \
		--stall-ms 600000 >"$work/silent.log" 2>&1
	rc=$?
	check "a silent boot with nothing judged: exit 2 (got $rc), the run kept" jq_holds \
		'.incomplete[0].test == "self_ipi_test" and .tests[0].status == "timeout"' \
		"$out/silent/run.json"
	check "... exit 2" test "$rc" -eq 2
fi

echo "1..$checks"
summary
