#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The suite inside a kernel tree's own kselftest flow.
#
#   kselftest.sh install KSRC     the tests beside the tree's x86 KVM tests,
#                                 the harness in its lib/ and include/, the
#                                 Makefile listing them; again is harmless
#   kselftest.sh uninstall KSRC   take all of that out again
#   kselftest.sh patch KSRC DIR   the same change as a git format-patch
#                                 series against KSRC, with a cover letter,
#                                 and checkpatch.pl --strict's report
#
# KSRC's tools/testing/selftests/kvm may use x86_64/ (up to 6.13, Makefile)
# or x86/ (6.14 on, Makefile.kvm).  lib/memslot_compat.c stays out: there
# the library and the kernel under test come from the same tree.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEXTS=$SRC/scripts/kselftest

die() {
	echo "kselftest: $*" >&2
	exit 1
}

usage() {
	sed -n '4,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

# Our files: tests, headers, library sources.
# Tests in the series' order (simplest first), then any others.
ORDER=(self_ipi_test cross_vcpu_ipi_test host_injection_test level_irq_test vector_priority_test nmi_test nested_posted_test)
tests() {
	local dir=$SRC/tools/testing/selftests/kvm/x86_64 t

	for t in "${ORDER[@]}"; do echo "$dir/$t.c"; done
	find "$dir" -name '*_test.c' | sort | grep -vxFf <(printf "$dir/%s.c\n" "${ORDER[@]}") || true
}
headers() { find "$SRC/include" -name '*.h' | sort; }
sources() { find "$SRC/lib" -name '*.c' ! -name memslot_compat.c | sort; }

# Sets kvm (the tree's KVM selftests), arch (x86_64 or x86), mk (its Makefile).
layout() {
	kvm=$1/tools/testing/selftests/kvm
	[ -d "$kvm" ] || die "$1 is not a kernel tree (no tools/testing/selftests/kvm)"
	if [ -f "$kvm/Makefile.kvm" ]; then
		mk=$kvm/Makefile.kvm
	else
		mk=$kvm/Makefile
	fi
	if grep -q '^LIBKVM_x86 ' "$mk"; then
		arch=x86
	elif grep -q '^LIBKVM_x86_64 ' "$mk"; then
		arch=x86_64
	else
		die "$mk lists no x86 library (LIBKVM_x86 or LIBKVM_x86_64): unknown layout"
	fi
	[ -d "$kvm/$arch" ] || die "$kvm/$arch: no such directory"
}

# The Makefile lines that list our files, in order.
lib_lines() {
	local f

	for f in $(sources); do
		echo "LIBKVM_$arch += lib/$arch/$(basename "$f")"
	done
}

test_lines() {
	local f

	for f in $(tests); do
		echo "TEST_GEN_PROGS_$arch += $arch/$(basename "$f" .c)"
	done
}

# insert_after PATTERN LINES...: each line not yet in $mk goes after the
# last line matching PATTERN (an ERE), in order.
insert_after() {
	local pattern=$1 line missing=() tmp

	shift
	for line in "$@"; do
		grep -qxF "$line" "$mk" || missing+=("$line")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	grep -qE "$pattern" "$mk" || die "$mk: no line matches $pattern"
	tmp=$(mktemp)
	printf '%s\n' "${missing[@]}" >"$tmp.lines"
	awk -v pat="$pattern" -v add="$tmp.lines" '
		{ line[NR] = $0; if ($0 ~ pat) last = NR }
		END {
			for (i = 1; i <= NR; i++) {
				print line[i]
				if (i == last)
					while ((getline l < add) > 0)
						print l
			}
		}' "$mk" >"$tmp"
	cat "$tmp" >"$mk"
	rm -f "$tmp" "$tmp.lines"
}

# Is DIR the top of a git work tree (not merely inside another one)?
git_tree() {
	[ "$(git -C "$1" rev-parse --show-toplevel 2>/dev/null)" = "$(realpath "$1")" ]
}

# copy FILE DIR: into the tree at $tree, never over a file its git tracks.
copy() {
	local dest

	dest=$2/$(basename "$1")
	if [ -e "$dest" ] && ! cmp -s "$1" "$dest" && git_tree "$tree" &&
		git -C "$tree" ls-files --error-unmatch "$dest" >/dev/null 2>&1; then
		die "$dest is the tree's own file; not replacing it"
	fi
	cp "$1" "$dest"
}

install_harness() {
	local f lines

	mkdir -p "$kvm/lib/$arch" "$kvm/include/$arch"
	for f in $(headers); do copy "$f" "$kvm/include/$arch"; done
	for f in $(sources); do copy "$f" "$kvm/lib/$arch"; done
	mapfile -t lines < <(lib_lines)
	insert_after "^LIBKVM_$arch \\+= lib/$arch/" "${lines[@]}"
	append_guest_flags "lib/$arch/ipi_guest.o"
	append_guest_flags "lib/$arch/lat_hist.o"
	append_guest_flags "lib/$arch/remote_sender.o"
	append_guest_flags "lib/$arch/nested_posted.o"
}

# Guest code without SIMD: the interrupt handler (and what it calls) must
# leave the interrupted code's XMM registers alone, handlers.S saving only
# the general-purpose ones; and KVM cannot emulate SSE where it has to
# emulate a guest instruction (shadow paging on kvm_pvm).
FLAGS_COMMENT="# The IPI tests' guest code and interrupt handler leave SIMD registers alone."
guest_flags_line() {
	echo "\$(OUTPUT)/$1: CFLAGS += -mgeneral-regs-only"
}

# At the end: after lib.mk, which defines $(OUTPUT).
append_guest_flags() {
	local line

	line=$(guest_flags_line "$1")
	grep -qxF "$line" "$mk" && return
	grep -qxF "$FLAGS_COMMENT" "$mk" || echo "$FLAGS_COMMENT" >>"$mk"
	echo "$line" >>"$mk"
}

flags_lines() {
	local t

	echo "$FLAGS_COMMENT"
	guest_flags_line "lib/$arch/ipi_guest.o"
	guest_flags_line "lib/$arch/lat_hist.o"
	guest_flags_line "lib/$arch/remote_sender.o"
	guest_flags_line "lib/$arch/nested_posted.o"
	for t in $(tests); do guest_flags_line "$arch/$(basename "$t" .c).o"; done
}

install_test() {
	copy "$1" "$kvm/$arch"
	insert_after "^TEST_GEN_PROGS_$arch \\+= $arch/" \
		"TEST_GEN_PROGS_$arch += $arch/$(basename "$1" .c)"
	append_guest_flags "$arch/$(basename "$1" .c).o"
}

install_into() {
	local t

	layout "$tree"
	install_harness
	for t in $(tests); do install_test "$t"; done
	echo "kselftest: installed into $kvm ($arch/, ${mk##*/})"
}

uninstall_from() {
	local f tmp

	layout "$tree"
	for f in $(tests); do rm -f "$kvm/$arch/$(basename "$f")"; done
	for f in $(headers); do rm -f "$kvm/include/$arch/$(basename "$f")"; done
	for f in $(sources); do rm -f "$kvm/lib/$arch/$(basename "$f")"; done
	tmp=$(mktemp)
	{ lib_lines; test_lines; flags_lines; } >"$tmp.lines"
	grep -vxFf "$tmp.lines" "$mk" >"$tmp" || true
	cat "$tmp" >"$mk"
	rm -f "$tmp" "$tmp.lines"
	echo "kselftest: removed from $kvm"
}

# The scratch tree for a series: a worktree at HEAD of a git tree (the
# series then names its base), else a git repository of the KVM selftests
# alone (Debian's linux-source is not git).
scratch_tree() {
	local ksrc=$1 dir=$2

	if git_tree "$ksrc" && git -C "$ksrc" rev-parse --verify -q HEAD >/dev/null; then
		git -C "$ksrc" worktree add -q --detach "$dir" HEAD
		base=$(git -C "$ksrc" rev-parse HEAD)
		worktree_of=$ksrc
	else
		mkdir -p "$dir/tools/testing/selftests"
		cp -a "$ksrc/tools/testing/selftests/kvm" "$dir/tools/testing/selftests/"
		git -C "$dir" init -q
		git -C "$dir" add -A
		git -C "$dir" -c user.name=base -c user.email=base@localhost \
			commit -q -m "base: tools/testing/selftests/kvm of $(basename "$ksrc")"
	fi
}

patch_series() {
	local ksrc=$1 out=$2 t n=0 commit=(git) name

	[ ! -e "$out" ] || die "$out exists; patches are never overwritten"
	layout "$ksrc"
	work=$(mktemp -d)
	base='' worktree_of=''
	trap 'cleanup_scratch "$work"' EXIT
	scratch_tree "$ksrc" "$work/tree"
	tree=$work/tree
	layout "$tree"
	# The author: the user's git identity, if there is one.
	git -C "$tree" config user.name >/dev/null ||
		commit+=(-c "user.name=$(git config user.name || echo kvm-ipi-selftests)")
	git -C "$tree" config user.email >/dev/null ||
		commit+=(-c "user.email=$(git config user.email || echo kvm-ipi-selftests@localhost)")
	commit+=(-C "$tree")

	install_harness
	"${commit[@]}" add -A
	"${commit[@]}" commit -q -s -F "$TEXTS/1-harness.txt"
	for t in $(tests); do
		n=$((n + 1))
		name=$(basename "$t" .c)
		[ -f "$TEXTS/$((n + 1))-$name.txt" ] || die "no changelog $TEXTS/$((n + 1))-$name.txt"
		install_test "$t"
		"${commit[@]}" add -A
		"${commit[@]}" commit -q -s -F "$TEXTS/$((n + 1))-$name.txt"
	done
	mkdir -p "$out"
	git -C "$tree" format-patch -q --cover-letter ${base:+--base="$base"} -o "$out" "HEAD~$((n + 1))"
	cover_letter "$out/0000-cover-letter.patch"
	(cd "$ksrc" && ./scripts/checkpatch.pl --strict --show-types "$out"/0*.patch) \
		>"$out/checkpatch.txt" 2>&1 || true
	echo "kselftest: $((n + 2)) patches (cover letter included) in $out"
	grep '^total:' "$out/checkpatch.txt" | sed 's/^/kselftest: checkpatch --strict: /'
}

cleanup_scratch() {
	[ -z "$worktree_of" ] || git -C "$worktree_of" worktree remove --force "$1/tree" 2>/dev/null
	rm -rf "$1"
}

# Our cover letter, in place of format-patch's blurb placeholders.
cover_letter() {
	local f=$1 subject body

	subject=$(head -n 1 "$TEXTS/cover-letter.txt")
	body=$(tail -n +3 "$TEXTS/cover-letter.txt")
	awk -v subject="$subject" -v body="$body" '
		/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subject) }
		/^\*\*\* BLURB HERE \*\*\*$/ { print body; next }
		{ print }' "$f" >"$f.tmp"
	mv "$f.tmp" "$f"
}

[ $# -ge 2 ] || usage
cmd=$1
tree=$(realpath "$2")
case $cmd in
install) [ $# -eq 2 ] || usage; install_into ;;
uninstall) [ $# -eq 2 ] || usage; uninstall_from ;;
patch) [ $# -eq 3 ] || usage; patch_series "$tree" "$(realpath -m "$3")" ;;
*) usage ;;
esac
