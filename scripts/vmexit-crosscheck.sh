#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The suite against an independent reference, kvm-unit-tests' vmexit.flat,
# on this host's KVM: rounds of vmexit.flat's self-IPI tests (under QEMU,
# -accel kvm) and self_ipi_test's matching variants, interleaved, then
# their means per iteration side by side.
#
# What is matched with what.  vmexit.flat turns x2APIC on whenever the CPU
# has it (its start-up calls enable_x2apic(); QEMU is given +x2apic here),
# so its self_ipi_* tests write the ICR through MSR 0x830: the suite's
# x2apic_icr_* variants, not xapic_icr_*.  Its x2apic_self_ipi_* tests use
# the SELF IPI MSR, as the suite's x2apic_self_ipi_* do.  Its *_tpr* tests
# mask the vector with CR8 15 (TPR 0xf0) and unmask it with CR8 0; the
# suite's tpr* variants write the TPR register (MSR 0x808) to the same
# effect, by another exit where there is one.  vmexit.flat
# reads the TSC 4 times an iteration (around the send and around the EOI);
# self_ipi_test about 10 (the send's stamps, the handler's arrival and EOI
# timing, the iteration's own), and its "overhead" variant gives the cost
# of an iteration that sends nothing, which this prints beside the rest.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	cat <<EOT
Usage: vmexit-crosscheck.sh [options]

  --vmexit PATH      kvm-unit-tests' x86/vmexit.flat (default: \$KUT_VMEXIT,
                     or ../shared/tools/kvm-unit-tests/vmexit.flat)
  -r, --rounds N     rounds of each (default 3)
  -c, --count N      self_ipi_test's sends per variant (default 2000)
  -b, --bin-dir DIR  the built tests (default: build/tests)
  -o, --out DIR      where (default: results/crosscheck-<time>)
  -h, --help         this text

Exit status 4 (skip), saying why, without a usable /dev/kvm or without
vmexit.flat; 2 for bad arguments; 1 if a run failed.
EOT
}

die() {
	echo "vmexit-crosscheck: $*" >&2
	exit 2
}

skip() {
	echo "vmexit-crosscheck: SKIP: $*"
	exit 4
}

# vmexit.flat test -> the self_ipi_test variant it matches.
declare -A MATCH=(
	[self_ipi_sti_nop]=x2apic_icr_sti_nop
	[self_ipi_sti_hlt]=x2apic_icr_sti_hlt
	[self_ipi_tpr]=x2apic_icr_tpr
	[self_ipi_tpr_sti_nop]=x2apic_icr_tpr_sti_nop
	[self_ipi_tpr_sti_hlt]=x2apic_icr_tpr_sti_hlt
	[x2apic_self_ipi_sti_nop]=x2apic_self_ipi_sti_nop
	[x2apic_self_ipi_sti_hlt]=x2apic_self_ipi_sti_hlt
	[x2apic_self_ipi_tpr]=x2apic_self_ipi_tpr
	[x2apic_self_ipi_tpr_sti_nop]=x2apic_self_ipi_tpr_sti_nop
	[x2apic_self_ipi_tpr_sti_hlt]=x2apic_self_ipi_tpr_sti_hlt
)
ORDER=(self_ipi_sti_nop self_ipi_sti_hlt self_ipi_tpr self_ipi_tpr_sti_nop self_ipi_tpr_sti_hlt
       x2apic_self_ipi_sti_nop x2apic_self_ipi_sti_hlt x2apic_self_ipi_tpr
       x2apic_self_ipi_tpr_sti_nop x2apic_self_ipi_tpr_sti_hlt)

vmexit=${KUT_VMEXIT:-$SRC/../shared/tools/kvm-unit-tests/vmexit.flat}
rounds=3
count=2000
bin=$SRC/build/tests
out=
while [ $# -gt 0 ]; do
	case "$1" in
	--vmexit) [ -n "${2:-}" ] || die "--vmexit needs a path"; vmexit=$2; shift 2 ;;
	-r|--rounds) [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "--rounds is 1 to 99"; rounds=$2; shift 2 ;;
	-c|--count) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--count needs a number"; count=$2; shift 2 ;;
	-b|--bin-dir) [ -n "${2:-}" ] || die "--bin-dir needs a directory"; bin=$2; shift 2 ;;
	-o|--out) [ -n "${2:-}" ] || die "$1 needs a directory"; out=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done

if ! [ -c /dev/kvm ] || ! { : </dev/kvm; } 2>/dev/null; then
	skip "no usable /dev/kvm on this host: vmexit.flat and the suite must share a KVM"
fi
[ -f "$vmexit" ] || skip "no vmexit.flat at $vmexit (build kvm-unit-tests' x86/vmexit.flat, pass --vmexit)"
[ -x "$bin/self_ipi_test" ] || die "$bin/self_ipi_test is not built (make)"
if ! command -v qemu-system-x86_64 >/dev/null; then
	[ "$(id -u)" -eq 0 ] || skip "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 >/dev/null 2>&1 ||
		skip "qemu-system-x86_64 is missing and could not be installed"
fi
[ -n "$out" ] || out=$SRC/results/crosscheck-$(date -u +%Y%m%d-%H%M%S)
[ ! -e "$out" ] || die "$out exists; results are never overwritten"
mkdir -p "$out" || die "cannot create $out"

variants=overhead
for t in "${ORDER[@]}"; do
	variants+=,${MATCH[$t]}
done

status=0
for r in $(seq 1 "$rounds"); do
	echo "# round $r of $rounds: vmexit.flat"
	# Its output: "<test> <mean cycles per iteration>" per test.
	timeout 600 qemu-system-x86_64 -accel kvm -cpu qemu64,+x2apic -m 256 -smp 1 -nodefaults \
		-nographic -no-reboot -device pc-testdev -device isa-debug-exit,iobase=0xf4,iosize=0x4 \
		-serial stdio -kernel "$vmexit" -append "${ORDER[*]}" 2>"$out/vmexit-$r.err" |
		tr -d '\r' >"$out/vmexit-$r.log"
	grep -qE '^self_ipi_sti_hlt [0-9]+$' "$out/vmexit-$r.log" ||
		{ echo "# vmexit.flat printed no self_ipi_sti_hlt line (see $out/vmexit-$r.log)"; status=1; }
	echo "# round $r of $rounds: self_ipi_test"
	"$bin/self_ipi_test" -c "$count" -v "$variants" -o "$out/suite-$r" >"$out/suite-$r.log" 2>&1 ||
		{ echo "# self_ipi_test failed (see $out/suite-$r.log)"; status=1; }
done

# Side by side: each side's means, lowest to highest over the rounds.
{
	printf 'vmexit.flat\tmean cycles\tself_ipi_test\tmean cycles\texits/iteration\tinsn_emulation/iteration\n'
	for t in "${ORDER[@]}"; do
		v=${MATCH[$t]}
		# (A "0" before a name for each iteration whose IPI was late.)
		ref=$(sed -n "s/^0*$t \([0-9][0-9]*\)$/\1/p" "$out"/vmexit-*.log | sort -n | sed -n '1p;$p' | paste -sd-)
		mine=$(jq -r --arg v "$v" '.variants[] | select(.name == $v) | .iteration.cycles.mean' \
			"$out"/suite-*/self_ipi_test.json 2>/dev/null | sort -n | sed -n '1p;$p' | paste -sd-)
		stats=$(jq -r --arg v "$v" '.variants[] | select(.name == $v) |
			.counts.sent as $n | "\(.kvm_stats.exits / $n * 100 | round / 100)\t\(
			  (.kvm_stats.insn_emulation // 0) / $n * 100 | round / 100)"' "$out/suite-1/self_ipi_test.json" 2>/dev/null)
		printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${ref:--}" "$v" "${mine:--}" "$stats"
	done
	mine=$(jq -r '.variants[] | select(.name == "overhead") | .iteration.cycles.mean' \
		"$out"/suite-*/self_ipi_test.json 2>/dev/null | sort -n | sed -n '1p;$p' | paste -sd-)
	printf '%s\t%s\t%s\t%s\t-\t-\n' "-" "-" "overhead (sends nothing)" "${mine:--}"
} | column -t -s $'\t' | tee "$out/side-by-side.txt"
echo "# crosscheck: $out"
exit $status
