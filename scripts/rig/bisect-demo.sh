#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# git bisect run, end to end, on a history with a race of b95234c8 in it:
# on top of linux-source-6.12, three harmless commits, the race (a patch
# from scripts/rig/races/), two more harmless ones; then git bisect run
# with scripts/bisect.sh --rig, which builds each commit, boots it under
# Bochs with APICv and runs the race scenarios inside.  Passes when bisect
# names the race's commit.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"

usage() {
	cat <<EOT
Usage: bisect-demo.sh [options] [-- test arguments...]

  --race NAME     a patch in scripts/rig/races/, by name (default:
                  sync-before-mode)
  -r, --repeat N  boots per bisect step (default 1)
  -o, --out DIR   where each step's results go (default: results/bisect-demo-<time>)
  -h, --help      this text

Each step boots under Bochs' default model (Skylake-X) and runs
host_injection_test with no verdict arguments: only -c 200, for
emulation speed.  An interrupt held back to a later VM entry fails the
suite's own verdict, which makes the step bad.  The kernel tree is
build/rig/linux-6.12 (prepare-ksrc.sh --git); the demo's branch is made
there and the tree is left on master afterwards.
EOT
}

die() {
	echo "bisect-demo: $*" >&2
	exit 2
}

race=sync-before-mode
repeat=1
out=
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--race) [ -n "${2:-}" ] || die "$1 needs a name"; race=$2; shift 2 ;;
	-r|--repeat) [[ ${2:-} =~ ^[1-9]$ ]] || die "--repeat is 1 to 9"; repeat=$2; shift 2 ;;
	-o|--out) [ -n "${2:-}" ] || die "$1 needs a directory"; out=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; args=("$@"); break ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
patch=$(find "$SRC/scripts/rig/races" -name "*-$race.patch" | head -n 1)
[ -n "$patch" ] || die "no patch for race '$race' in scripts/rig/races/"
[ ${#args[@]} -gt 0 ] || args=(-c 200)
[ -n "$out" ] || out=$SRC/results/bisect-demo-$(date -u +%Y%m%d-%H%M%S)
[ ! -e "$out" ] || die "$out exists; results are never overwritten"
mkdir -p "$out" || die "cannot create $out"

tree=$SRC/build/rig/linux-6.12
"$SRC/scripts/prepare-ksrc.sh" --git "$tree" >&2 || die "no kernel tree"
git_tree() {
	git -C "$tree" -c user.name=kvm-ipi-selftests -c user.email=rig@localhost "$@"
}
[ -z "$(git_tree status --porcelain)" ] || die "$tree has local changes"
git_tree bisect reset >/dev/null 2>&1
git_tree checkout -q master || die "cannot check out master in $tree"

# harmless FILE MESSAGE: a commit that changes a comment of FILE only.
harmless() {
	printf '\n/* %s */\n' "$2" >>"$tree/$1"
	git_tree commit -q -a -m "$2" -m "Harmless: a comment, for the bisect demonstration."
}

branch=bisect-demo-$(date -u +%Y%m%d%H%M%S)
git_tree checkout -q -b "$branch" master
harmless arch/x86/kvm/lapic.c "KVM: x86: note on the APIC timer (demo 1)"
harmless arch/x86/kvm/vmx/posted_intr.c "KVM: VMX: note on PID.ON (demo 2)"
harmless arch/x86/kvm/irq.c "KVM: x86: note on MSI routing (demo 3)"
git_tree am -q "$patch" || { git_tree am --abort; die "$patch does not apply"; }
culprit=$(git_tree rev-parse HEAD)
harmless arch/x86/kvm/x86.c "KVM: x86: note on vcpu_enter_guest (demo 4)"
harmless arch/x86/kvm/vmx/vmx.c "KVM: VMX: note on the notification vector (demo 5)"
git_tree log --oneline master.."$branch" | sed 's/^/# history: /'

# Each step rebuilds from the stock build, so that only what changed compiles.
kbuild=$SRC/build/rig/kbuild
if [ -d "$kbuild/stock" ]; then
	rm -rf "$kbuild/bisect-demo"
	cp -a "$kbuild/stock" "$kbuild/bisect-demo"
fi

echo "TAP version 13"
start=$SECONDS
git_tree bisect start "$branch" master >/dev/null
git_tree bisect run "$SRC/scripts/bisect.sh" --rig "$tree" --emulator bochs \
	--build-dir "$kbuild/bisect-demo" -r "$repeat" -o "$out" \
	-t host_injection_test -- "${args[@]}" >"$out/bisect-run.log" 2>&1
rc=$?
found=$(git_tree rev-parse refs/bisect/bad 2>/dev/null)
git_tree bisect log >"$out/bisect.log" 2>&1
steps=$(grep -c '^git bisect \(good\|bad\|skip\)' "$out/bisect.log")
git_tree bisect reset >/dev/null 2>&1
git_tree checkout -q master
seconds=$((SECONDS - start))
sed -n 's/^bisect: \(BAD\|GOOD\|SKIP\|building\)/# \1/p' "$out/bisect-run.log"

check "git bisect run finished (exit $rc) in $steps steps, $seconds s" test "$rc" -eq 0
check "it named the race's commit, $(git_tree log -1 --format='%h %s' "$culprit")" \
	test "$found" = "$culprit"
jq -n --arg race "$race" --arg branch "$branch" --arg culprit "$culprit" --arg found "$found" \
	--argjson steps "$steps" --argjson seconds "$seconds" --argjson repeat "$repeat" \
	--arg args "${args[*]}" '{race: $race, branch: $branch, culprit: $culprit, found: $found,
	 steps: $steps, seconds: $seconds, boots_per_step: $repeat, test_arguments: $args}' \
	>"$out/summary.json"
echo "# bisect-demo: $out"
echo "1..$checks"
summary
