#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The rig's full matrix: every kernel under every emulator, every test
# inside, repeated; then the comparisons that matter between them: APICv
# on against off on each kernel (Bochs), and the first kernel against each
# other one under every emulator.  Everything goes into one directory.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

usage() {
	cat <<EOT
Usage: matrix.sh [options] [-- test arguments...]

  -k, --kernel K     a kernel, as kernels.sh -k takes it (repeatable;
                     default: debian-6.1 debian-6.12)
  -e, --emulator E   qemu, bochs or bochs-noapicv (repeatable; default: all)
  -r, --repeat N     boots per kernel and emulator (default 3)
  -o, --out DIR      where (default: results/matrix-<time>); never overwritten
  -b, --bin-dir DIR  the static tests (default: build/static/tests)
  -h, --help         this text

Test arguments default to -c 100.  Each cell is a kernels.sh result set,
DIR/<kernel>-<emulator>/; comparisons go to DIR/compare-*/.  Ends with
"N passed, N failed": a cell passes when every boot completed and every
test passed, a comparison when it ran and found nothing lost, duplicated
or spurious in the candidate.
EOT
}

die() {
	echo "matrix: $*" >&2
	exit 2
}

kernels=()
emulators=()
repeat=3
out=
bin=$SRC/build/static/tests
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	-k|--kernel) [ -n "${2:-}" ] || die "$1 needs a value"; kernels+=("$2"); shift 2 ;;
	-e|--emulator) [[ ${2:-} =~ ^(qemu|bochs|bochs-noapicv)$ ]] || die "--emulator is qemu, bochs or bochs-noapicv"
		emulators+=("$2"); shift 2 ;;
	-r|--repeat) [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "--repeat is 1 to 99"; repeat=$2; shift 2 ;;
	-o|--out) [ -n "${2:-}" ] || die "$1 needs a directory"; out=$2; shift 2 ;;
	-b|--bin-dir) [ -d "${2:-}" ] || die "--bin-dir '${2:-}' is not a directory"; bin=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; args=("$@"); break ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ ${#kernels[@]} -gt 0 ] || kernels=(debian-6.1 debian-6.12)
[ ${#emulators[@]} -gt 0 ] || emulators=(qemu bochs bochs-noapicv)
[ ${#args[@]} -gt 0 ] || args=(-c 100)
[ -n "$out" ] || out=$SRC/results/matrix-$(date -u +%Y%m%d-%H%M%S)
[ ! -e "$out" ] || die "$out exists; results are never overwritten"
mkdir -p "$out" || die "cannot create $out"

# A cell's name: the kernel as given, made a plain name.
cell() {
	local k=${1##*/}

	echo "${k//[^A-Za-z0-9._+-]/_}-$2"
}

echo "TAP version 13"
start=$SECONDS
for k in "${kernels[@]}"; do
	for e in "${emulators[@]}"; do
		name=$(cell "$k" "$e")
		"$SRC/scripts/kernels.sh" -k "$k" -e "$e" -r "$repeat" -b "$bin" -o "$out" --run-id "$name" \
			-- "${args[@]}" >"$out/$name.log" 2>&1
		rc=$?
		grep -E '^# (kernels|results):' "$out/$name.log"
		case $rc in
		0) ok "$name: $(jq -r '"\(.totals.pass) test runs passed in \(.rig.seconds | round) s"' "$out/$name/run.json")" ;;
		1) not_ok "$name: $(jq -r '"\(.totals.fail) of \(.tests | length) test runs failed"' "$out/$name/run.json")" ;;
		*) not_ok "$name: the rig failed: $(tail -n 1 "$out/$name.log")" ;;
		esac
	done
done

# compare_cells BASE CAND LABEL_BASE LABEL_CAND
compare_cells() {
	local b=$out/$1 c=$out/$2 dir=$out/compare-$3-vs-$4 changed

	[ -f "$b/run.json" ] && [ -f "$c/run.json" ] || return 0
	"$SRC/scripts/compare.sh" -b "$b" -c "$c" --base-label "$3" --cand-label "$4" -o "$dir" \
		>"$dir.log" 2>&1
	changed=$(jq -r '[.variants[].verdict] | group_by(.) |
		map("\(length) \(.[0])") | join(", ")' "$dir/comparison.json" 2>/dev/null)
	# A regression between kernels is a finding, not a failure of the matrix.
	check "compare $3 vs $4: ${changed:-no comparison}" \
		jq_holds '[.variants[] | select(.flags | length > 0)] | length == 0' "$dir/comparison.json"
}

for k in "${kernels[@]}"; do
	if [[ " ${emulators[*]} " == *" bochs "* ]] && [[ " ${emulators[*]} " == *" bochs-noapicv "* ]]; then
		compare_cells "$(cell "$k" bochs-noapicv)" "$(cell "$k" bochs)" \
			"$(cell "$k" apicv-off)" "$(cell "$k" apicv-on)"
	fi
done
for e in "${emulators[@]}"; do
	for k in "${kernels[@]:1}"; do
		compare_cells "$(cell "${kernels[0]}" "$e")" "$(cell "$k" "$e")" \
			"$(cell "${kernels[0]}" "$e")" "$(cell "$k" "$e")"
	done
done
echo "# matrix: $out ($((SECONDS - start)) s)"
echo "1..$checks"
summary
