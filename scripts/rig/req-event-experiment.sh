#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The other half of b95234c8: what it saved per self-IPI.  The stock 6.12
# kernel against the same kernel with b95234c8's KVM_REQ_EVENT injection
# put back (scripts/rig/req-event/), booted under Bochs with APICv, the
# boots interleaved: each round boots stock, the patched kernel, and stock
# again, on each CPU model.  self_ipi_test runs in every boot at its own
# default count.  Then, per model, the cycles per iteration (what
# vmexit.flat prints for its self_ipi_* tests) of stock against the
# patched kernel, and the resolution: stock's odd boots against its even
# ones, an A/A comparison in which nothing changed.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

# Every variant of self_ipi_test, at its own default count: a variant
# takes a few hundredths of a second of emulated time, so the boot, not
# the count, is what a run costs.
TEST_ARGS=(-c 2000)

usage() {
	cat <<EOT
Usage: req-event-experiment.sh [options]

  -r, --rounds N       rounds (default 6): each boots stock, the patched
                       kernel and stock again, on every model
  -m, --model M        a Bochs CPU model (repeatable; default
                       corei7_skylake_x and corei7_icelake_u)
  -b, --bin-dir DIR    the static tests (default: kernels.sh's)
  -o, --out DIR        where (default: results/req-event-<time>); never
                       overwritten
  -h, --help           this text

Writes, per model M: M/stock (rep-1 ... rep-2N, round i's two boots
being rep-2i-1 and rep-2i) and M/req-event (rep-1 ... rep-N), one run
directory per boot; M-stock-vs-req-event/ (scripts/cycles-table.sh) and
M-resolution/ (scripts/bench.sh --summarize of M/stock).  Passes when
every boot ran and every variant passed: the patched kernel is slower,
not wrong.
EOT
}

die() {
	echo "req-event-experiment: $*" >&2
	exit 2
}

rounds=6
models=()
bin=()
out=
while [ $# -gt 0 ]; do
	case "$1" in
	-r|--rounds) [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "--rounds is 1 to 99"; rounds=$2; shift 2 ;;
	-m|--model) [[ ${2:-} =~ ^[a-z0-9_]+$ ]] || die "--model needs a Bochs model name"
		models+=("$2"); shift 2 ;;
	-b|--bin-dir) [ -d "${2:-}" ] || die "--bin-dir '${2:-}' is not a directory"; bin=(-b "$2"); shift 2 ;;
	-o|--out) [ -n "${2:-}" ] || die "$1 needs a directory"; out=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ ${#models[@]} -gt 0 ] || models=(corei7_skylake_x corei7_icelake_u)
[ -n "$out" ] || out=$SRC/results/req-event-$(date -u +%Y%m%d-%H%M%S)
[ ! -e "$out" ] || die "$out exists; results are never overwritten"
mkdir -p "$out" || die "cannot create $out"
start=$SECONDS

declare -A image
if ! patched_images "$SRC/scripts/rig/req-event" ||
   [ -z "${image[req-event-on-posted-interrupt]:-}" ]; then
	die "building the kernels failed"
fi

echo "TAP version 13"
# boot MODEL SIDE KERNEL REP: one boot into $out/MODEL/SIDE/rep-REP.
boot() {
	local log=$out/$1/$2-rep-$4.log

	mkdir -p "$out/$1/$2"
	"$SRC/scripts/kernels.sh" -k "$3" --label "$2" -e bochs --bochs-model "$1" \
		"${bin[@]}" -t self_ipi_test -o "$out/$1/$2" --run-id "rep-$4" -- "${TEST_ARGS[@]}" \
		>"$log" 2>&1
	case $? in
	0) ok "$1 $2 rep-$4: every variant passed" ;;
	1) not_ok "$1 $2 rep-$4: a variant failed"; grep -m 3 '^# .*FAIL' "$log" ;;
	*) not_ok "$1 $2 rep-$4: the rig failed: $(tail -n 1 "$log")" ;;
	esac
}

for r in $(seq 1 "$rounds"); do
	for m in "${models[@]}"; do
		boot "$m" stock "${image[stock]}" $((2 * r - 1))
		boot "$m" req-event "${image[req-event-on-posted-interrupt]}" "$r"
		boot "$m" stock "${image[stock]}" $((2 * r))
	done
done

for m in "${models[@]}"; do
	"$SRC/scripts/cycles-table.sh" -b "$out/$m/stock" -c "$out/$m/req-event" \
		--base-label stock --cand-label req-event -t self_ipi_test \
		--title "self_ipi_test, Debian 6.12.117, Bochs 3.0 $m with APICv: stock vs b95234c8's KVM_REQ_EVENT put back" \
		-o "$out/$m-stock-vs-req-event" >"$out/$m-table.log" 2>&1
	[ $? -le 1 ] || not_ok "$m: the cycles table failed: $(tail -n 1 "$out/$m-table.log")"
	"$SRC/scripts/bench.sh" --summarize "$out/$m/stock" -o "$out/$m-resolution" \
		>"$out/$m-resolution.log" 2>&1 ||
		not_ok "$m: the resolution failed: $(tail -n 1 "$out/$m-resolution.log")"
done
echo "# req-event: $out ($((SECONDS - start)) s)"
echo "1..$checks"
summary
