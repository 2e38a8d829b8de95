#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Cycles per iteration, baseline against candidate, in vmexit.flat's terms:
# per variant the mean (what vmexit.flat prints) and the median, each the
# median over the runs, and the candidate's shift with its 95% interval
# and in percent.  Two compare.sh comparisons underneath (--stat mean and
# --stat p50, --metric iteration), whose verdicts it keeps; a Markdown
# table and a plain-text one for a mailing-list reply.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	cat <<EOT
Usage: cycles-table.sh -b DIR [-b DIR...] -c DIR [-c DIR...] [options]

  -b, --baseline DIR     baseline runs (compare.sh's; repeatable)
  -c, --candidate DIR    candidate runs (repeatable)
      --base-label NAME  default: baseline
      --cand-label NAME  default: candidate
  -t, --test NAME        only this test's variants (default: every one)
      --title TEXT       the plain-text table's first line
  -o, --out DIR          where (a new directory, never overwritten)
  -h, --help             this text

Writes DIR/mean/ and DIR/p50/ (the two comparisons), and DIR/table.md,
DIR/table.txt and DIR/table.json.  Exit status: compare.sh's for the
means (0, or 1 when the candidate regressed), 2 for bad input.
EOT
}

die() {
	echo "cycles-table: $*" >&2
	exit 2
}

cmp_args=()
base_label=baseline
cand_label=candidate
test=
title=
out=
while [ $# -gt 0 ]; do
	case "$1" in
	-b|--baseline|-c|--candidate) [ -n "${2:-}" ] || die "$1 needs a directory"
		cmp_args+=("$1" "$2"); shift 2 ;;
	--base-label|--cand-label) [[ ${2:-} =~ ^[A-Za-z0-9._+-]+$ ]] ||
			die "$1 must be a plain name ([A-Za-z0-9._+-])"
		if [ "$1" = --base-label ]; then base_label=$2; else cand_label=$2; fi
		shift 2 ;;
	-t|--test) [[ ${2:-} =~ ^[a-z0-9_]+$ ]] || die "--test needs a test name"; test=$2; shift 2 ;;
	--title) [ -n "${2:-}" ] || die "--title needs a text"; title=$2; shift 2 ;;
	-o|--out) [ -n "${2:-}" ] || die "$1 needs a directory"; out=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ -n "$out" ] || die "no output directory (-o DIR)"
[ ! -e "$out" ] || die "$out exists; tables are never overwritten"
mkdir -p "$out" || die "cannot create $out"

rc=0
for stat in p50 mean; do
	"$SRC/scripts/compare.sh" "${cmp_args[@]}" --base-label "$base_label" --cand-label "$cand_label" \
		--metric iteration --stat $stat --no-plots -o "$out/$stat" >"$out/$stat.log" 2>&1
	r=$?
	[ $r -le 1 ] || { cat "$out/$stat.log" >&2; die "compare.sh --stat $stat failed"; }
	[ $stat = p50 ] || rc=$r
	rm -f "$out/$stat.log"
done

jq -n --arg test "$test" --arg title "$title" --slurpfile mean "$out/mean/comparison.json" \
	--slurpfile p50 "$out/p50/comparison.json" '
	($p50[0].variants | map({key: .variant, value: .}) | from_entries) as $med |
	{schema: "kvm-ipi-selftests/cycles-table", schema_version: 1, title: $title,
	 labels: $mean[0].labels, fdr: $mean[0].fdr, sides: $mean[0].sides,
	 variants: [$mean[0].variants[] | select($test == "" or (.variant | startswith($test + "/"))) |
		select(.base.median != null and .cand.median != null) | {
		variant, runs, verdict, flags,
		mean: {base: .base.median, cand: .cand.median, shift: .shift.cycles,
		       ci: [.shift.ci_low, .shift.ci_high], confidence: .shift.confidence,
		       percent: (if .base.median > 0 and .shift.cycles != null
				 then 100 * .shift.cycles / .base.median else null end)},
		median: {base: $med[.variant].base.median, cand: $med[.variant].cand.median,
			 shift: $med[.variant].shift.cycles,
			 ci: [$med[.variant].shift.ci_low, $med[.variant].shift.ci_high]}}]}' >"$out/table.json" || die "could not build the table"

jq -r '
	def n: if . == null then "-" else (. | round | tostring) end;
	def s: if . == null then "-" elif . > 0 then "+" + (. | round | tostring) else (. | round | tostring) end;
	def pct: if . == null then "-" else ((. * 10 | round) / 10 | if . > 0 then "+" + tostring elif . == 0 then "0" else tostring end) + "%" end;
	def ci: if .[0] == null then "-" else "\(.[0] | s) to \(.[1] | s)" end;
	"| variant | runs | \(.labels.base) mean | \(.labels.cand) mean | shift (95% CI) | change | \(.labels.base) median | \(.labels.cand) median | median shift (95% CI) | verdict |",
	"| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
	(.variants[] | "| \(.variant | sub("^[a-z0-9_]+/"; "")) | \(.runs.base)/\(.runs.cand) | \(.mean.base | n) | \(.mean.cand | n) | \(.mean.shift | s) (\(.mean.ci | ci)) | \(.mean.percent | pct) | \(.median.base | n) | \(.median.cand | n) | \(.median.shift | s) (\(.median.ci | ci)) | \(.verdict)\(if (.flags | length) > 0 then " **" + (.flags | join(" ")) + "**" else "" end) |")' \
	"$out/table.json" >"$out/table.md"

{
	jq -r '
		(if .title != "" then .title else "\(.labels.base) vs \(.labels.cand)" end),
		"cycles per iteration: the mean of each run, then the median over \(.variants[0].runs.base) and \(.variants[0].runs.cand) runs;",
		"shift: Hodges-Lehmann, with its 95% interval; verdict: exact rank test, FDR \(.fdr)", ""' \
		"$out/table.json"
	jq -r '
		def n: if . == null then "-" else (. | round | tostring) end;
		def s: if . == null then "-" elif . > 0 then "+" + (. | round | tostring) else (. | round | tostring) end;
		def pct: if . == null then "-" else ((. * 10 | round) / 10 | if . > 0 then "+" + tostring elif . == 0 then "0" else tostring end) + "%" end;
		def ci: if .[0] == null then "-" else "[\(.[0] | s), \(.[1] | s)]" end;
		(["variant", .labels.base, .labels.cand, "shift", "95% CI", "change", "verdict"] | @tsv),
		(.variants[] | [(.variant | sub("^[a-z0-9_]+/"; "")), (.mean.base | n), (.mean.cand | n),
			(.mean.shift | s), (.mean.ci | ci), (.mean.percent | pct), .verdict] | @tsv)' \
		"$out/table.json" | column -t -s $'\t'
} >"$out/table.txt"
exit $rc
