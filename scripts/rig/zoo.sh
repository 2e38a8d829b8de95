#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The bug zoo: how many real kinds of KVM interrupt-delivery bug the
# suite catches with its defaults.  Stock 6.12, each equivalent change
# (scripts/rig/bugs/equivalent/) and each bug (scripts/rig/bugs/), built
# with the rig's config and booted under every emulator that runs the
# code its patch changes (the patch's "Rig:" line); inside each boot the
# whole default suite, with no verdict argument; then the score.
set -uo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib.sh
. "$SRC/tests/lib.sh"
BUGS=$SRC/scripts/rig/bugs
RIGS=(qemu bochs bochs-noapicv)
# Emulation is slow: fewer sends than the tests' defaults, and nothing
# else.  The verdict is the suite's own.  Bochs takes minutes for a boot
# that QEMU runs in one, so it gets half of QEMU's count: with the
# defaults the whole zoo fits in two hours on two CPUs.
# Stock must pass for a bug to score: not the nested test (see --help).
[ ${#tests[@]} -gt 0 ] || tests=(-t self_ipi_test -t cross_vcpu_ipi_test -t host_injection_test
	-t level_irq_test -t vector_priority_test -t nmi_test)
QEMU_ARGS=(-c 100)
BOCHS_ARGS=(-c 50)

usage() {
	cat <<EOT
Usage: zoo.sh [options] [-- test arguments...]
       zoo.sh --table DIR [-o OUT]
  --bug NAME          only this bug or equivalent (repeatable; stock always runs)
  -e, --emulator E    only this rig (repeatable): qemu, bochs (APICv on),
                      bochs-noapicv
  --qemu-boots N      boots per kernel under QEMU (default 3)
  --bochs-boots N     boots per kernel under Bochs, APICv on or off (default 2)
  -t, --test NAME     only this test inside each boot (repeatable; default:
                      the six single-level tests of the default suite, not
                      nested_posted_test, which stock kernels fail: README,
                      "Nested posted interrupts")
      --timeout S     each boot, in seconds (kernels.sh --timeout; default
                      600 under QEMU, 900 under Bochs).  A boot cut short
                      keeps what finished, and fails if anything did
  -j, --jobs N        boots at once (default: the CPUs); each is one emulator
                      process
  -b, --bin-dir DIR   the static tests (default: kernels.sh's)
      --build DIR     where the kernels are built (patched-kernels.sh -o;
                      default build/rig)
  -o, --out DIR       where (default: results/zoo-<time>); never overwritten
  --table DIR         the score of an earlier zoo, from DIR/raw, into OUT
                      (default DIR): zoo.md, zoo.txt, zoo.json
  -h, --help          this text
Test arguments default to ${QEMU_ARGS[*]} under QEMU and ${BOCHS_ARGS[*]} under Bochs;
given, they apply to every rig.  Each boot is bounded by kernels.sh's
own timeouts; a boot that fails (panic, hang, emulator) is reported with
its reason.  A bug is caught on a
rig when the default verdict failed in at least two thirds of its boots
there, or compare.sh against stock on that rig flagged it; stock or an
equivalent flagged anywhere is a false positive.  Exit status: 0 when
every bug was caught on some rig and nothing was a false positive, 1
otherwise, 2 for bad input or a build that failed.
EOT
}
die() {
	echo "zoo: $*" >&2
	exit 2
}

# field PATCH NAME: a header line of the patch ("Rig: qemu bochs").
field() {
	sed -n '1,/^---$/p' "$1" | sed -n "s/^$2: *//p" | head -n 1
}

# kind NAME: stock, equivalent or bug.
kind() {
	if [ "$1" = stock ]; then
		echo stock
	elif compgen -G "$BUGS/equivalent/[0-9]*-$1.patch" >/dev/null; then
		echo equivalent
	else
		echo bug
	fi
}

patch_of() {
	compgen -G "$BUGS/[0-9]*-$1.patch" || compgen -G "$BUGS/equivalent/[0-9]*-$1.patch"
}

# The score, from DIR/raw/<rig>/<kernel>/boot-N.rc ("exit seconds"), the
# boots' result sets and DIR/raw/<rig>/<kernel>.compare (compare.sh's
# exit), as one JSON document.
score_json() {
	local dir=$1 rig k b rc secs why cut
	for rig in "${RIGS[@]}"; do
		[ -d "$dir/raw/$rig" ] || continue
		for k in "$dir/raw/$rig"/*/; do
			k=$(basename "$k")
			for b in "$dir/raw/$rig/$k"/boot-*.rc; do
				[ -f "$b" ] || continue
				read -r rc secs <"$b"
				why=$(grep '^zoo: why: ' "${b%.rc}.log" 2>/dev/null | tail -n 1 | sed 's/^zoo: why: //')
				# A boot cut short wrote no result for the test it was in:
				# its failing variants are in the boot's KTAP.
				cut=$(sed -n 's/^zoo: failed: //p' "${b%.rc}.log" 2>/dev/null | jq -R . | jq -sc .)
				jq -n --arg rig "$rig" --arg kernel "$k" --arg kind "$(kind "$k")" \
					--argjson boot "$(basename "$b" .rc | tr -dc 0-9)" \
					--argjson rc "$rc" --argjson secs "$secs" --arg why "$why" --argjson cut "${cut:-[]}" \
					--argjson compare "$(cat "$dir/raw/$rig/$k.compare" 2>/dev/null || echo null)" \
					--slurpfile v <(cat "${b%.rc}"/*_test.json 2>/dev/null | jq -c '.variants[]') \
					'[$v[] | select(.status | IN("fail", "timeout", "crash"))] as $f |
					 {rig: $rig, kernel: $kernel, kind: $kind, boot: $boot, rc: $rc, seconds: $secs,
					  compare: $compare, why: $why,
					  failing: ([$f[].name] + $cut | unique),
					  counts: (reduce ($f[] | .counts // {} | to_entries[] |
						select(.key | IN("lost", "rescued", "held", "late", "stranded",
						"masked", "misordered", "stuck", "no_esr", "duplicate", "spurious")) | select(.value > 0)) as $e ({}; .[$e.key] += $e.value))}'
			done
		done
	done | jq -s --arg schema kvm-ipi-selftests/zoo \
		--argjson wall "$(cat "$dir/raw/wall-seconds" 2>/dev/null || echo null)" '
		def caught_boot: .rc != 0;
		{schema: $schema, schema_version: 1,
		 rows: (group_by([.rig, .kernel]) | map({
			rig: .[0].rig, kernel: .[0].kernel, kind: .[0].kind,
			boots: length, failed_boots: map(select(caught_boot)) | length,
			boot_failures: map(select(.rc != 0 and .rc != 1) | if .why == "" then "exit \(.rc)" else .why end) | unique,
			cut_short: map(select(.rc == 1 and .why != "") | .why) | unique,
			compare: .[0].compare,
			failing_variants: (map(.failing[]) | unique),
			counts: (reduce (.[].counts | to_entries[]) as $e ({}; .[$e.key] += $e.value)),
			seconds: (map(.seconds) | add)}
			| .flagged_by_verdict = (.failed_boots * 3 >= .boots * 2 and .failed_boots > 0)
			| .flagged_by_compare = (.compare == 1)
			| .flagged = (.flagged_by_verdict or .flagged_by_compare)))}
		| .kernels = (.rows | group_by(.kernel) | map({kernel: .[0].kernel, kind: .[0].kind,
			flagged_on: map(select(.flagged) | .rig), any_failed_boot: (map(.failed_boots) | add > 0),
			seconds: (map(.seconds) | add)}
			| .score = (if .kind == "bug" then (if (.flagged_on | length) > 0 then "caught" else "missed" end)
				elif .any_failed_boot or (.flagged_on | length) > 0 then "false positive" else "clean" end)))
		| .totals = {caught: ([.kernels[] | select(.score == "caught")] | length),
			missed: ([.kernels[] | select(.score == "missed")] | length),
			false_positive: ([.kernels[] | select(.score == "false positive")] | length),
			seconds: ([.rows[].seconds] | add), wall_seconds: $wall}'
}

# The tables, from the score.
tables() {
	local json=$1 out=$2

	jq -r '
		def classes: .counts | to_entries | map("\(.key) \(.value)") | join(", ");
		def variants: .failing_variants | if length > 2 then "\(.[0]), \(.[1]) and \(length - 2) more" else join(", ") end;
		"| kernel | kind | rig | boots failed | flagged by | classes in failing variants | failing variants | time (s) |",
		"| --- | --- | --- | ---: | --- | --- | --- | ---: |",
		(.rows | sort_by(.kind != "stock", .kind != "equivalent", .kernel, .rig)[] |
			"| \(.kernel) | \(.kind) | \(.rig) | \(.failed_boots) of \(.boots) | \([if .flagged_by_verdict then "verdict" else empty end, if .flagged_by_compare then "compare.sh" else empty end] | join(", ") | if . == "" then "-" else . end) | \([classes, (.boot_failures | if length > 0 then "boot failed: " + join("; ") else "" end),
				(.cut_short | if length > 0 then "cut short: " + join("; ") else "" end)] | map(select(. != "")) | join("; ") | if . == "" then "-" else . end) | \(variants | if . == "" then "-" else . end) | \(.seconds | round) |"),
		"",
		"| kernel | kind | score | flagged on | time (s) |",
		"| --- | --- | --- | --- | ---: |",
		(.kernels | sort_by(.kind != "stock", .kind != "equivalent", .kernel)[] |
			"| \(.kernel) | \(.kind) | \(.score) | \(.flagged_on | join(", ") | if . == "" then "-" else . end) | \(.seconds | round) |"),
		"",
		"\(.totals.caught) caught, \(.totals.missed) missed, \(.totals.false_positive) false positive, in \(.totals.seconds / 60 | round) minutes of boots\(if .totals.wall_seconds then ", \(.totals.wall_seconds / 60 | round) minutes in all" else "" end)"' \
		"$json" >"$out/zoo.md"
	# Plain text for a mailing-list reply: the same, without the markup.
	sed -e '/^| ---/d' -e 's/^| //' -e 's/ |$//' -e 's/ | /  /g' "$out/zoo.md" >"$out/zoo.txt"
}

table_only() {
	local dir=$1 out=$2 f

	[ -d "$dir/raw" ] || die "$dir/raw: no zoo there"
	for f in zoo.md zoo.txt zoo.json; do
		[ "$out" = "$dir" ] || [ ! -e "$out/$f" ] || die "$out/$f exists; tables are never overwritten"
	done
	mkdir -p "$out" || die "cannot create $out"
	if ! score_json "$dir" >"$out/zoo.json.tmp"; then
		die "scoring $dir failed"
	fi
	mv "$out/zoo.json.tmp" "$out/zoo.json"
	tables "$out/zoo.json" "$out"
}

bugs=()
emulators=()
qemu_boots=3
bochs_boots=2
jobs=$(nproc)
bin=()
timeout=()
kbuild=()
tests=()
out=
table=
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--bug) [ -n "${2:-}" ] || die "--bug needs a name"
		patch_of "$2" >/dev/null || die "--bug: no patch for '$2' in $BUGS"
		bugs+=("$2"); shift 2 ;;
	-e|--emulator) [[ ${2:-} =~ ^(qemu|bochs|bochs-noapicv)$ ]] || die "--emulator is qemu, bochs or bochs-noapicv"
		emulators+=("$2"); shift 2 ;;
	--qemu-boots) [[ ${2:-} =~ ^[1-9]$ ]] || die "--qemu-boots is 1 to 9"; qemu_boots=$2; shift 2 ;;
	--bochs-boots) [[ ${2:-} =~ ^[1-9]$ ]] || die "--bochs-boots is 1 to 9"; bochs_boots=$2; shift 2 ;;
	-t|--test) [[ ${2:-} =~ ^(self_ipi|cross_vcpu_ipi|host_injection|level_irq|vector_priority|nmi|nested_posted)_test$ ]] ||
		die "--test is one of the suite's tests (self_ipi_test ... nested_posted_test)"
		tests+=(-t "$2"); shift 2 ;;
	--timeout) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--timeout is a number of seconds"
		timeout=(--timeout "$2"); shift 2 ;;
	-j|--jobs) [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "--jobs is 1 to 99"; jobs=$2; shift 2 ;;
	-b|--bin-dir) [ -d "${2:-}" ] || die "--bin-dir '${2:-}' is not a directory"; bin=(-b "$2"); shift 2 ;;
	-o|--out) [ -n "${2:-}" ] || die "$1 needs a directory"; out=$2; shift 2 ;;
	--build) [ -n "${2:-}" ] || die "--build needs a directory"; kbuild=(-o "$2"); shift 2 ;;
	--table) [ -d "${2:-}" ] || die "--table needs a zoo's directory"; table=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; args=("$@"); break ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
if [ -n "$table" ]; then
	table_only "$table" "${out:-$table}"
	cat "${out:-$table}/zoo.txt"
	exit 0
fi
[ ${#emulators[@]} -gt 0 ] || emulators=("${RIGS[@]}")
if [ ${#bugs[@]} -eq 0 ]; then
	for p in "$BUGS"/equivalent/[0-9]*.patch "$BUGS"/[0-9]*.patch; do
		p=$(basename "$p" .patch)
		bugs+=("${p#*-}")
	done
fi
[ -n "$out" ] || out=$SRC/results/zoo-$(date -u +%Y%m%d-%H%M%S)
[ ! -e "$out" ] || die "$out exists; results are never overwritten"
mkdir -p "$out/raw" || die "cannot create $out"
start=$SECONDS

patches=()
for b in "${bugs[@]}"; do
	patches+=("$(patch_of "$b")")
done
declare -A image
patched_images "${kbuild[@]}" "${patches[@]}" >"$out/build.log" 2>&1 || die "building the kernels failed (see $out/build.log)"
for b in "${bugs[@]}"; do
	[ -n "${image[$b]:-}" ] || die "no kernel was built for $b (see $out/build.log)"
done
echo "# zoo: $((${#bugs[@]} + 1)) kernels built in $((SECONDS - start)) s; test arguments:" \
	"${args[*]:-${QEMU_ARGS[*]} under QEMU, ${BOCHS_ARGS[*]} under Bochs}"

# The boots: each kernel on each rig its patch names, stock on all.
boots=()
for rig in "${emulators[@]}"; do
	n=$bochs_boots
	[ "$rig" != qemu ] || n=$qemu_boots
	for k in stock "${bugs[@]}"; do
		if [ "$k" != stock ] && [[ " $(field "$(patch_of "$k")" Rig) " != *" $rig "* ]]; then
			continue
		fi
		for i in $(seq 1 "$n"); do
			boots+=("$rig $k $i")
		done
	done
done

# One boot: its result set in raw/<rig>/<kernel>/boot-<i>/, its exit and
# seconds in boot-<i>.rc, kernels.sh's output in boot-<i>.log, with the
# reason of a boot that failed as a "zoo: why:" line.
boot() {
	local rig=$1 k=$2 i=$3 dir=$out/raw/$1/$2 t0=$SECONDS rc why
	local targs=("${args[@]}")

	local tout=("${timeout[@]}")

	# Bochs' own bound is half an hour; a bug that stalls every variant
	# would take it, and a stock boot here takes minutes.
	[ ${#tout[@]} -gt 0 ] || [ "$rig" = qemu ] || tout=(--timeout 900)
	if [ ${#targs[@]} -eq 0 ] && [ "$rig" = qemu ]; then
		targs=("${QEMU_ARGS[@]}")
	elif [ ${#targs[@]} -eq 0 ]; then
		targs=("${BOCHS_ARGS[@]}")
	fi
	mkdir -p "$dir"
	"$SRC/scripts/kernels.sh" -k "${image[$k]}" --label "$k" -e "$rig" "${bin[@]}" "${tests[@]}" "${tout[@]}" \
		-o "$dir" --run-id "boot-$i" -- "${targs[@]}" >"$dir/boot-$i.log" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
		why=$(grep '^kernels: ' "$dir/boot-$i.log" | tail -n 1 | sed 's/^kernels: //')
		echo "zoo: why: ${why:-kernels.sh exited with $rc}" >>"$dir/boot-$i.log"
	elif why=$(grep '^kernels: boot 1: ' "$dir/boot-$i.log" | tail -n 1) && [ -n "$why" ]; then
		echo "zoo: why: ${why#kernels: boot 1: }" >>"$dir/boot-$i.log"
	fi
	sed -n 's/^# not ok [0-9]* \([a-z0-9_]*\)$/zoo: failed: \1/p' "$dir/boot-$i.log" >"$dir/boot-$i.failed"
	cat "$dir/boot-$i.failed" >>"$dir/boot-$i.log"
	rm -f "$dir/boot-$i.failed"
	echo "$rc $((SECONDS - t0))" >"$dir/boot-$i.rc.tmp" && mv "$dir/boot-$i.rc.tmp" "$dir/boot-$i.rc"
	echo "# zoo: $k under $rig, boot $i: exit $rc, $((SECONDS - t0)) s"
}

for b in "${boots[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	# shellcheck disable=SC2086 # "rig kernel boot"
	boot $b &
done
wait

# compare.sh against stock on each rig: lost, duplicated or invented
# interrupts whatever the cycles say, and cycles where the boots suffice.
for rig in "${emulators[@]}"; do
	for k in "${bugs[@]}"; do
		[ -d "$out/raw/$rig/$k" ] || continue
		"$SRC/scripts/compare.sh" -b "$out/raw/$rig/stock" -c "$out/raw/$rig/$k" \
			--base-label stock --cand-label "$k" --no-plots \
			-o "$out/compare/$rig-$k" >"$out/compare-$rig-$k.log" 2>&1
		echo $? >"$out/raw/$rig/$k.compare"
	done
done

echo "$((SECONDS - start))" >"$out/raw/wall-seconds"
table_only "$out" "$out"
cat "$out/zoo.txt"
echo "# zoo: $((SECONDS - start)) s in all; results in $out"
jq -e '.totals.missed == 0 and .totals.false_positive == 0' "$out/zoo.json" >/dev/null
