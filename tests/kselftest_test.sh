#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The suite inside a kernel tree's own kselftest flow, on a fresh
# extraction of linux-source-6.12: install (twice: harmless), build with
# the tree's selftests Makefile, install kselftest and run our tests with
# its run_kselftest.sh, uninstall (the tree as it was), and the
# format-patch series (it applies, and gives the installed tree).
#
# Usage: tests/kselftest_test.sh WORK_DIR [--full]
# --full also runs "make -C tools/testing/selftests TARGETS=kvm run_tests",
# every KVM selftest of the tree, ours among them (slow).
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

[ -n "${1:-}" ] || { echo "usage: $0 WORK_DIR [--full]" >&2; exit 2; }
work=$(realpath -m "$1")
full=${2:-}
ours=(self_ipi_test cross_vcpu_ipi_test host_injection_test level_irq_test vector_priority_test nmi_test nested_posted_test)
tarball=/usr/src/linux-source-6.12.tar.xz
[ -r "$tarball" ] || { echo "$tarball is missing (make installs linux-source-6.12)" >&2; exit 2; }

echo "TAP version 13"
rm -rf "$work"
mkdir -p "$work"
start=$SECONDS
tar -xJf "$tarball" -C "$work"
tree=$work/linux-source-6.12
kvm=$tree/tools/testing/selftests/kvm
make -s -C "$tree" headers >"$work/headers.log" 2>&1
check "a fresh linux-source-6.12 with its headers ($((SECONDS - start)) s)" test -d "$tree/usr/include/linux"
cp "$kvm/Makefile" "$work/Makefile.orig"

"$SRC/scripts/kselftest.sh" install "$tree" >"$work/install.log" 2>&1
check "install: $(tail -n 1 "$work/install.log")" test -f "$kvm/x86_64/self_ipi_test.c" -a \
	-f "$kvm/lib/x86_64/ipi_vm.c" -a -f "$kvm/include/x86_64/ipi_harness.h"
check "the tree's Makefile lists our tests and harness" grep -qx \
	'TEST_GEN_PROGS_x86_64 += x86_64/host_injection_test' "$kvm/Makefile"
cp "$kvm/Makefile" "$work/Makefile.once"
"$SRC/scripts/kselftest.sh" install "$tree" >>"$work/install.log" 2>&1
check "installing twice changes nothing" cmp -s "$work/Makefile.once" "$kvm/Makefile"
check "memslot_compat.c stays out of the tree" test ! -e "$kvm/lib/x86_64/memslot_compat.c"

start=$SECONDS
make -C "$tree/tools/testing/selftests" TARGETS=kvm -j"$(nproc)" >"$work/build.log" 2>&1
rc=$?
check "the tree's kselftest Makefile builds them with the rest (exit $rc, $((SECONDS - start)) s)" \
	test -x "$kvm/x86_64/self_ipi_test" -a -x "$kvm/x86_64/cross_vcpu_ipi_test" -a \
	-x "$kvm/x86_64/host_injection_test"
[ $rc -eq 0 ] || show_log "$work/build.log"

make -C "$tree/tools/testing/selftests" TARGETS=kvm install INSTALL_PATH="$work/ksft" \
	>"$work/ksft-install.log" 2>&1
check "kselftest install puts them in kvm/ beside upstream's" test -x "$work/ksft/kvm/self_ipi_test" -a \
	-x "$work/ksft/kvm/xapic_ipi_test" -a -x "$work/ksft/run_kselftest.sh"
start=$SECONDS
args=()
for t in "${ours[@]}"; do args+=(-t "kvm:$t"); done
(cd "$work/ksft" && ./run_kselftest.sh "${args[@]}") >"$work/run_kselftest.log" 2>&1
rc=$?
seconds=$((SECONDS - start))
# passed LOG TEST: TEST passed in LOG; a skip is no pass (it may be
# excused, with its reason, only where there is no /dev/kvm to run on).
passed() {
	local line

	line=$(grep -E "^(not )?ok [0-9]+ selftests: kvm: $2( |$)" "$1")
	if [[ $line == *"# SKIP"* ]] && [ ! -c /dev/kvm ]; then
		skip "${line:-no result for $2}: no /dev/kvm on this host"
	else
		check "${line:-no result for $2}" grep -qE "^ok [0-9]+ selftests: kvm: $2$" "$1"
	fi
}

for t in "${ours[@]}"; do
	passed "$work/run_kselftest.log" "$t"
	# Its variants: the nested KTAP between its header and its result.
	awk -v t="$t" '$0 == "# selftests: kvm: " t { on = 1; next }
		on && /^(not )?ok [0-9]+ selftests: kvm: / { exit }
		on && /^# (not )?ok [0-9]+ / { n[$2 == "ok" ? "ok" : "not ok"]++ }
		END { printf "# %s: %d variants ok, %d not ok\n", t, n["ok"], n["not ok"] }' \
		"$work/run_kselftest.log"
done
echo "# run_kselftest.sh took $seconds s (exit $rc)"
[ $rc -eq 0 ] || show_log "$work/run_kselftest.log" 40

if [ "$full" = --full ]; then
	start=$SECONDS
	make -C "$tree/tools/testing/selftests" TARGETS=kvm run_tests >"$work/run_tests.log" 2>&1
	for t in "${ours[@]}"; do
		passed "$work/run_tests.log" "$t"
	done
	echo "# run_tests, every KVM selftest: $((SECONDS - start)) s;" \
		"$(grep -cE '^ok [0-9]+ selftests: kvm:' "$work/run_tests.log") ok," \
		"$(grep -cE '^not ok [0-9]+ selftests: kvm:' "$work/run_tests.log") not ok"
fi

"$SRC/scripts/kselftest.sh" uninstall "$tree" >"$work/uninstall.log" 2>&1
check "uninstall puts the Makefile back as it was" cmp -s "$work/Makefile.orig" "$kvm/Makefile"
check "... and takes our sources out" test ! -e "$kvm/x86_64/self_ipi_test.c" -a \
	! -e "$kvm/lib/x86_64/ipi_vm.c" -a ! -e "$kvm/include/x86_64/ipi_harness.h"

# The series, against the pristine tree: it applies, and gives what install gives.
"$SRC/scripts/kselftest.sh" patch "$tree" "$work/patches" >"$work/patch.log" 2>&1
n=$(find "$work/patches" -name '0*.patch' | wc -l)
check "format-patch series: $n patches with the cover letter" test "$n" -eq 9
check "checkpatch.pl --strict ran on every patch" test "$(grep -c '^total:' "$work/patches/checkpatch.txt")" -eq 9
sed -n 's/^total: /# checkpatch --strict: /p' "$work/patches/checkpatch.txt"
mkdir -p "$work/apply/tools/testing/selftests"
cp -a "$kvm" "$work/apply/tools/testing/selftests/"
(cd "$work/apply" && git init -q && git add -A &&
	git -c user.name=t -c user.email=t@t commit -q -m base &&
	git -c user.name=t -c user.email=t@t am -q "$work"/patches/000[1-9]-*.patch) >"$work/am.log" 2>&1
check "git am applies the series to the pristine tree" test $? -eq 0
# Sources and Makefile only: the tree also holds the build's products.
sources_of() {
	(cd "$1" && find . -name '*.[ch]' -o -name 'Makefile*' | sort | xargs sha256sum)
}
"$SRC/scripts/kselftest.sh" install "$tree" >/dev/null 2>&1
check "and the result is what install gives" cmp -s <(sources_of "$work/apply/tools/testing/selftests/kvm") \
	<(sources_of "$kvm")
"$SRC/scripts/kselftest.sh" uninstall "$tree" >/dev/null 2>&1

echo "1..$checks"
summary
