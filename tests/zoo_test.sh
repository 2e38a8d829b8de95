#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# zoo.sh's scoring, on stand-in boots whose answers are known: a bug
# caught in two boots of two, one caught in one boot of three (missed),
# one whose boot failed with a reason (caught, and the reason shown),
# one cut short (caught, with what its KTAP failed), one only compare.sh
# flagged, and stock or an equivalent that failed a
# boot (false positives).  Then its bad input.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"
zoo=$SRC/scripts/rig/zoo.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "TAP version 13"

# boot DIR RIG KERNEL N RC [VARIANT:STATUS:CLASS=COUNT]...: one stand-in
# boot: boot-N.rc, and a test result with those variants.
boot() {
	local d=$1/raw/$2/$3 n=$4 rc=$5 v name status class
	shift 5
	mkdir -p "$d/boot-$n"
	echo "$rc 100" >"$d/boot-$n.rc"
	for v in "$@"; do
		IFS=: read -r name status class <<<"$v"
		jq -n --arg n "$name" --arg s "$status" --arg c "${class%=*}" --argjson k "${class#*=}" \
			'{name: $n, status: $s, counts: {($c): $k, sent: 100}}'
	done | jq -s '{test: "cross_vcpu_ipi_test", variants: .}' >"$d/boot-$n/cross_vcpu_ipi_test.json"
}

set_a=$work/a
boot "$set_a" qemu stock 1 0 "x_spin:pass:lost=0"
boot "$set_a" qemu stock 2 0 "x_spin:pass:lost=0"
boot "$set_a" qemu bug-a 1 1 "x_spin:fail:spurious=7" "x_halt:pass:lost=0"
boot "$set_a" qemu bug-a 2 1 "x_spin:fail:spurious=5"
boot "$set_a" qemu bug-b 1 1 "x_halt:fail:lost=1"
boot "$set_a" qemu bug-b 2 0 "x_halt:pass:lost=0"
boot "$set_a" qemu bug-b 3 0 "x_halt:pass:lost=0"
boot "$set_a" qemu bug-c 1 2
echo "zoo: why: boot 1: kernel panic - not syncing" >"$set_a/raw/qemu/bug-c/boot-1.log"
boot "$set_a" qemu bug-c 2 2
boot "$set_a" qemu bug-d 1 0 "x_spin:pass:lost=0"
boot "$set_a" qemu bug-d 2 0 "x_spin:pass:lost=0"
echo 1 >"$set_a/raw/qemu/bug-d.compare"
# Cut short in a test that therefore left no result: its failing
# variants come from the boot's KTAP, and the reason is shown.
boot "$set_a" qemu bug-e 1 1
rm "$set_a/raw/qemu/bug-e/boot-1/cross_vcpu_ipi_test.json"
printf 'zoo: why: qemu timed out after 600 s, in cross_vcpu_ipi_test; keeping what finished\nzoo: failed: x_halt\n' \
	>"$set_a/raw/qemu/bug-e/boot-1.log"
"$zoo" --table "$set_a" >"$work/a.out" 2>&1
rc=$?
check "--table scores a zoo (exit $rc)" test "$rc" -eq 0 -a -s "$set_a/zoo.json" -a -s "$set_a/zoo.md" -a -s "$set_a/zoo.txt"
score() {
	jq -r --arg k "$2" '.kernels[] | select(.kernel == $k) | .score' "$1/zoo.json"
}
check "two failed boots of two: caught" test "$(score "$set_a" bug-a)" = caught
check "one failed boot of three: missed, with the boot counted" \
	jq_holds '.rows[] | select(.kernel == "bug-b") | .failed_boots == 1 and .boots == 3 and (.flagged | not)' "$set_a/zoo.json"
check "... and scored missed" test "$(score "$set_a" bug-b)" = missed
check "failed boots are caught, and the table gives the reason" \
	grep -q 'bug-c .*boot failed: boot 1: kernel panic - not syncing' "$set_a/zoo.txt"
check "cut short: caught, with the variants its KTAP failed and the reason" \
	grep -q 'bug-e .*cut short: qemu timed out after 600 s.* x_halt ' "$set_a/zoo.txt"
check "only compare.sh flagged it: caught, by compare.sh" \
	jq_holds '.rows[] | select(.kernel == "bug-d") | .flagged_by_compare and (.flagged_by_verdict | not)' "$set_a/zoo.json"
check "stock that passed every boot: clean" test "$(score "$set_a" stock)" = clean
check "the classes of the failing variants are summed over boots" \
	jq_holds '.rows[] | select(.kernel == "bug-a") | .counts.spurious == 12 and (.counts | has("lost") | not)' "$set_a/zoo.json"
# 12 boots of 100 s each.
check "the closing line gives the score" \
	grep -qx '4 caught, 1 missed, 0 false positive, in 20 minutes of boots' "$set_a/zoo.txt"

# A stock boot that failed is a false positive, whatever the bugs did.
set_b=$work/b
boot "$set_b" bochs stock 1 1 "x_dwell:fail:held=2"
boot "$set_b" bochs stock 2 0 "x_dwell:pass:held=0"
"$zoo" --table "$set_b" >/dev/null 2>&1
check "stock failing one boot of two: false positive" test "$(score "$set_b" stock)" = "false positive"

# Bad input: no zoo there, a table never overwritten elsewhere.
"$zoo" --table "$work/none" >"$work/none.out" 2>&1
rc=$?
check "--table on a directory that is no zoo: exit 2 with a reason" \
	test "$rc" -eq 2 -a "$(grep -c 'needs a zoo' "$work/none.out")" -eq 1
mkdir -p "$work/c"
: >"$work/c/zoo.md"
"$zoo" --table "$set_a" -o "$work/c" >"$work/c.out" 2>&1
rc=$?
check "--table -o never overwrites (exit $rc)" test "$rc" -eq 2 -a ! -s "$work/c/zoo.md"
"$zoo" --bug no-such-bug >"$work/bug.out" 2>&1
rc=$?
check "--bug with no patch: exit 2 before anything is built" \
	test "$rc" -eq 2 -a "$(grep -c 'no patch for' "$work/bug.out")" -eq 1
for p in "$SRC"/scripts/rig/bugs/[0-9]*.patch "$SRC"/scripts/rig/bugs/equivalent/[0-9]*.patch; do
	ok=1
	for f in Fix Mechanism Symptom Rig; do
		sed -n '1,/^---$/p' "$p" | grep -q "^$f: " || ok=
	done
	check "$(basename "$p"): its header has Fix, Mechanism, Symptom and Rig" test -n "$ok"
done

summary
