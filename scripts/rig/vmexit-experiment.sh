#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# b95234c8's claim in its own instrument: kvm-unit-tests' vmexit.flat,
# run nested under QEMU with KVM inside the rig's guest, on the stock
# 6.12 kernel and on it with b95234c8's KVM_REQ_EVENT injection put back
# (scripts/rig/req-event/), booted interleaved under Bochs with APICv.
# vmexit.flat prints the mean cycles per iteration of each test; the
# table puts each kernel's beside the other's.
#
# Usage: vmexit-experiment.sh --vmexit PATH [-r N] [-m MODEL] [-o DIR] [-- TEST...]
#        vmexit-experiment.sh --table DIR [-o OUT]
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

# vmexit.flat's tests through the x2APIC ICR, which b95234c8 is about
# (self_ipi_*: vmexit.flat runs with x2APIC on), and one through the SELF
# IPI MSR, which the CPU virtualizes, as a control (docs/vmexit-flat.md).
TESTS=(self_ipi_sti_nop self_ipi_sti_hlt self_ipi_tpr self_ipi_tpr_sti_nop self_ipi_tpr_sti_hlt
       x2apic_self_ipi_sti_hlt)

usage() {
	cat <<EOT
Usage: vmexit-experiment.sh --vmexit PATH [options] [-- TEST...]
       vmexit-experiment.sh --table DIR [-o OUT]

  --vmexit PATH      kvm-unit-tests' x86/vmexit.flat
  -r, --rounds N     rounds (default 2), each a boot of stock and one of
                     the patched kernel
  -m, --model M      Bochs' CPU model (default corei7_skylake_x)
  -o, --out DIR      where (default: results/vmexit-<time>); never
                     overwritten.  With --table: where the table goes
                     (default: DIR itself)
  --table DIR        only make the table again, from DIR's boots
  -h, --help         this text

TESTs: vmexit.flat's (default: ${TESTS[*]}).
Writes MODEL/stock/rep-N and MODEL/req-event/rep-N (each boot's
serial.log holds vmexit.flat's lines) and table.json, table.md and
table.txt.  A boot takes minutes: vmexit.flat runs each test for at
least 2^30 cycles, and a Bochs cycle is about an instruction.
EOT
}

die() {
	echo "vmexit-experiment: $*" >&2
	exit 2
}

# table DIR OUT: per model, test and kernel, the mean per iteration of
# each boot, from the lines vmexit.flat printed ("<test> <cycles>").
table() {
	local dir=$1 out=$2 f

	for f in "$dir"/*/*/rep-*/serial.log; do
		[ -e "$f" ] || die "$dir: no boots in it"
		awk -v f="${f#"$dir"/}" 'BEGIN { split(f, p, "/") }
			/^@@KVMIPI START vmexit_flat@@$/ { on = 1; next }
			/^@@KVMIPI EXIT vmexit_flat / { on = 0 }
			# A "0" before the name for each iteration whose IPI was late.
			on { sub(/^0+/, "") }
			on && $0 ~ /^[a-z][a-z0-9_]* [0-9]+$/ { print p[1] "\t" p[2] "\t" p[3] "\t" $1 "\t" $2 }' "$f"
	done | jq -Rn '
		def med: sort | if length % 2 == 1 then .[length / 2 | floor]
			else (.[length / 2 - 1] + .[length / 2]) / 2 end;
		[inputs | split("\t") | {model: .[0], kernel: .[1], rep: .[2], test: .[3],
		 cycles: (.[4] | tonumber)}] | group_by(.model) | map({model: .[0].model,
		 tests: (group_by(.test) | map(.[0].test as $t | {test: $t,
			stock: ([.[] | select(.kernel == "stock") | .cycles]),
			req_event: ([.[] | select(.kernel == "req-event") | .cycles])} |
			.difference = (if (.stock | length) > 0 and (.req_event | length) > 0
				then (.req_event | med) - (.stock | med) else null end)))}) |
		{schema: "kvm-ipi-selftests/vmexit-table", schema_version: 1,
		 statistic: "vmexit.flat mean cycles per iteration, one per boot; difference: of the medians over the boots",
		 models: .}' >"$out/table.json" || die "could not read the boots"
	jq -r '
		def r: if . == null then "-" else (. | round | tostring) end;
		def s: if . == null then "-" elif . > 0 then "+" + (. | round | tostring) else (. | round | tostring) end;
		.models[] | "**\(.model)**", "",
		"| vmexit.flat test | stock, per boot | req-event, per boot | difference |",
		"| --- | ---: | ---: | ---: |",
		(.tests[] | "| \(.test) | \(.stock | map(r) | join(", ")) | \(.req_event | map(r) | join(", ")) | \(.difference | s) |"),
		""' "$out/table.json" >"$out/table.md"
	local i n
	n=$(jq '.models | length' "$out/table.json")
	for ((i = 0; i < n; i++)); do
		jq -r --argjson i "$i" '.models[$i] |
			"vmexit.flat on Debian 6.12.117 under Bochs 3.0 (\(.model), APICv), mean cycles per iteration, per boot",
			"stock vs KVM_REQ_EVENT on every posted interrupt (b95234c8 reverted)", ""' "$out/table.json"
		jq -r --argjson i "$i" '
			def r: if . == null then "-" else (. | round | tostring) end;
			def s: if . == null then "-" elif . > 0 then "+" + (. | round | tostring) else (. | round | tostring) end;
			(["test", "stock", "req-event", "difference"] | @tsv),
			(.models[$i].tests[] | [.test, (.stock | map(r) | join(" ")), (.req_event | map(r) | join(" ")),
				(.difference | s)] | @tsv)' "$out/table.json" | column -t -s $'\t'
		echo
	done >"$out/table.txt"
}

vmexit=
rounds=2
model=corei7_skylake_x
out=
only_table=
tests=()
while [ $# -gt 0 ]; do
	case "$1" in
	--vmexit) [ -f "${2:-}" ] || die "--vmexit '${2:-}': no such file"; vmexit=$2; shift 2 ;;
	-r|--rounds) [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "--rounds is 1 to 99"; rounds=$2; shift 2 ;;
	-m|--model) [[ ${2:-} =~ ^[a-z0-9_]+$ ]] || die "--model needs a Bochs model name"; model=$2; shift 2 ;;
	-o|--out) [ -n "${2:-}" ] || die "$1 needs a directory"; out=$2; shift 2 ;;
	--table) [ -d "${2:-}" ] || die "--table '${2:-}' is not a directory"; only_table=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; tests=("$@"); break ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
if [ -n "$only_table" ]; then
	[ -n "$out" ] || out=$only_table
	mkdir -p "$out" || die "cannot create $out"
	for f in table.json table.md table.txt; do
		[ ! -e "$out/$f" ] || die "$out/$f exists; tables are never overwritten"
	done
	table "$only_table" "$out"
	exit 0
fi
[ -n "$vmexit" ] || die "--vmexit PATH is needed (kvm-unit-tests' x86/vmexit.flat)"
[ ${#tests[@]} -gt 0 ] || tests=("${TESTS[@]}")
[ -n "$out" ] || out=$SRC/results/vmexit-$(date -u +%Y%m%d-%H%M%S)
[ ! -e "$out" ] || die "$out exists; results are never overwritten"
mkdir -p "$out" || die "cannot create $out"
start=$SECONDS

declare -A image
if ! patched_images "$SRC/scripts/rig/req-event" ||
   [ -z "${image[req-event-on-posted-interrupt]:-}" ]; then
	die "building the kernels failed"
fi
"$SRC/scripts/rig/vmexit-overlay.sh" "$vmexit" "$out/.overlay" || die "could not make the overlay"

echo "TAP version 13"
# boot KERNEL-LABEL IMAGE REP
boot() {
	local log=$out/$model/$1-rep-$3.log

	mkdir -p "$out/$model/$1"
	"$SRC/scripts/kernels.sh" -k "$2" --label "$1" -e bochs --bochs-model "$model" \
		--overlay "$out/.overlay" -t vmexit_flat --timeout 3600 -o "$out/$model/$1" \
		--run-id "rep-$3" -- "${tests[@]}" >"$log" 2>&1
	case $? in
	0) ok "$model $1 rep-$3: vmexit.flat ran" ;;
	*) not_ok "$model $1 rep-$3: $(tail -n 1 "$log")" ;;
	esac
}
for r in $(seq 1 "$rounds"); do
	boot stock "${image[stock]}" "$r"
	boot req-event "${image[req-event-on-posted-interrupt]}" "$r"
done
rm -rf "$out/.overlay"
table "$out" "$out"
sed 's/^/# /' "$out/table.txt"
echo "# vmexit: $out ($((SECONDS - start)) s)"
echo "1..$checks"
summary
