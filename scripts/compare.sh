#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Compare two result sets (baseline, candidate): per variant, the median of
# the per-run medians on each side, their difference, an exact rank test
# between the runs with the false discovery rate held over all variants,
# a verdict, and every lost, duplicate, spurious or delayed interrupt side
# by side.  Writes text and Markdown tables, JSON, gnuplot plots and a
# README into a new directory.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ME=compare
# The comparison's false discovery rate, and the fewest runs a side with
# which a two-sided exact rank test can reach it (2/C(8,4) = 0.029).
FDR=0.05
MIN_RUNS=4

usage() {
	cat <<EOT
Usage: compare.sh -b DIR [-b DIR...] -c DIR [-c DIR...] [options]

A result set is one or more run directories (results/<run-id>/, as
run_tests.sh or make bench writes them; a directory of such runs counts
as all of them, and one repeat of a run, <run-id>/rep-N/, as that one).
Every test result file in a set is one run.

  -b, --baseline DIR     baseline run directory (repeatable)
  -c, --candidate DIR    candidate run directory (repeatable)
      --base-label NAME  how to call the baseline (default: baseline)
      --cand-label NAME  how to call the candidate (default: candidate)
  -m, --metric NAME      latency (send to handler, default) or iteration
  -s, --stat NAME        each run's p50 (default), p90, p99 or max: a tail
                         statistic for a change that leaves the median alone;
                         or mean, what vmexit.flat reports
  -t, --threshold PCT    smallest change reported, in percent (default 5)
  -o, --out DIR          where to write (default: results/compare-<labels>);
                         never overwritten
      --cdf TEST/VARIANT variant for the latency CDF plot (default: the
                         largest change)
      --no-plots         tables and JSON only
  -h, --help             this text

Statistics: each run's median (p50, or --stat) of the metric is one
sample: a run's IPIs share its conditions, so runs, not IPIs, are the
independent samples.  The estimate per side is the median of its runs.
Per variant, an exact two-sided Wilcoxon rank-sum test between the runs
gives p; over every variant compared, the Benjamini-Hochberg procedure
turns those into q-values, and a change is reported only when q <= 0.05
(the false discovery rate of the whole comparison: of the changes it
reports, at most 5% are expected to be noise) and it is at least the
threshold.  A verdict needs $MIN_RUNS runs a side: with 3, no split of the
runs is rarer than 1 in 10, so no test can reach 5%; the variant says
"insufficient runs".  One changed variant among m needs more, so that
2/C(2n,n) <= 0.05/m (8 runs a side for m = 115); the README says how many
for the comparison at hand.  Runs of the two sides should be interleaved
in time: drift of the host between them is what the test cannot tell from
the kernel.  Lost, duplicate and spurious interrupts in the candidate are
flagged whatever the cycles say.
Exit status: 0, 1 if the candidate regressed or lost, duplicated or
invented an interrupt, 2 for bad input.
EOT
}

die() {
	echo "$ME: $*" >&2
	exit 2
}

base_dirs=()
cand_dirs=()
base_label=baseline
cand_label=candidate
metric=latency
stat=p50
threshold=5
out=
cdf=
plots=1
while [ $# -gt 0 ]; do
	case "$1" in
	-b|--baseline) [ -n "${2:-}" ] || die "$1 needs a directory"; base_dirs+=("$2"); shift 2 ;;
	-c|--candidate) [ -n "${2:-}" ] || die "$1 needs a directory"; cand_dirs+=("$2"); shift 2 ;;
	# Plain names: they go into a directory name and into gnuplot's scripts.
	--base-label) [[ ${2:-} =~ ^[A-Za-z0-9._+-]+$ ]] || die "$1 must be a plain name ([A-Za-z0-9._+-])"
		base_label=$2; shift 2 ;;
	--cand-label) [[ ${2:-} =~ ^[A-Za-z0-9._+-]+$ ]] || die "$1 must be a plain name ([A-Za-z0-9._+-])"
		cand_label=$2; shift 2 ;;
	-m|--metric) [[ ${2:-} =~ ^(latency|iteration)$ ]] || die "--metric is latency or iteration"; metric=$2; shift 2 ;;
	-s|--stat) [[ ${2:-} =~ ^(p50|p90|p99|max|mean)$ ]] || die "--stat is p50, p90, p99, max or mean"; stat=$2; shift 2 ;;
	-t|--threshold) [[ ${2:-} =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--threshold needs a percentage"; threshold=$2; shift 2 ;;
	-o|--out) [ -n "${2:-}" ] || die "$1 needs a directory"; out=$2; shift 2 ;;
	--cdf) [[ ${2:-} == */* ]] || die "--cdf needs TEST/VARIANT"; cdf=$2; shift 2 ;;
	--no-plots) plots=0; shift ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ ${#base_dirs[@]} -gt 0 ] || die "no baseline (-b DIR)"
[ ${#cand_dirs[@]} -gt 0 ] || die "no candidate (-c DIR)"
command -v jq >/dev/null || die "jq is needed (make installs it)"
[ $plots -eq 0 ] || command -v gnuplot >/dev/null ||
	die "gnuplot is needed for plots (Debian: gnuplot-nox; make installs it), or pass --no-plots"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every test result file of one set, one per line; checks schemas on the way.
result_files() {
	local dir=$1 run f listed

	[ -d "$dir" ] || die "$dir: no such directory"
	if [ -f "$dir/run.json" ]; then
		jq -e '.schema == "kvm-ipi-selftests/run" and .schema_version == 1' "$dir/run.json" \
			>/dev/null 2>&1 || die "$dir/run.json: not a version 1 run.json (corrupt, or another schema)"
		# Not a pipe: die must end the script, not a subshell.
		mapfile -t listed < <(jq -r '.tests[].result // empty' "$dir/run.json")
		for f in "${listed[@]}"; do
			[ -f "$dir/$f" ] || die "$dir/$f: listed in run.json but missing"
			echo "$dir/$f"
		done
		return
	fi
	# One repeat of a run (run_tests.sh -r, kernels.sh -r): its rep-N/ alone.
	if [[ $(basename "$dir") == rep-[0-9]* ]] && [ -f "$dir/../run.json" ]; then
		jq -e '.schema == "kvm-ipi-selftests/run" and .schema_version == 1' "$dir/../run.json" \
			>/dev/null 2>&1 || die "$dir/../run.json: not a version 1 run.json (corrupt, or another schema)"
		mapfile -t listed < <(jq -r --arg r "$(basename "$dir")/" \
			'.tests[].result // empty | select(startswith($r))' "$dir/../run.json")
		for f in "${listed[@]}"; do
			[ -f "$dir/../$f" ] || die "$dir/../$f: listed in run.json but missing"
			echo "$dir/${f#*/}"
		done
		return
	fi
	for run in "$dir"/*/; do
		if [ -f "$run/run.json" ]; then
			result_files "${run%/}"
		fi
	done
	return 0
}

# The emulator a result came from (kernels.sh's rig), or "" for real hardware.
emulator_of() {
	local dir

	dir=$(dirname "$1")
	[ -f "$dir/run.json" ] || dir=$(dirname "$dir")
	jq -r '.rig.emulator // ""' "$dir/run.json" 2>/dev/null
}

collect() {
	local side=$1 f

	shift
	for d in "$@"; do
		result_files "$d" >"$work/files" || exit 2
		[ -s "$work/files" ] || die "$d: no runs with results in it"
		while read -r f; do
			# One pass over each file; every line tagged with where it goes.
			if ! jq -r --arg side "$side" --arg run "$f" --arg m "$metric" --arg s "$stat" \
				--arg emulator "$(emulator_of "$f")" '
				if .schema != "kvm-ipi-selftests/test-result" or .schema_version != 1 then "bad"
				else .test as $t |
				# side, run, test/variant, status, stat, p99, lost, dup, spurious,
				# delayed, late, held, rescued, stranded, masked
				(.variants[] | ["samples", $side, $run, "\($t)/\(.name)", .status,
				  (if (.[$m].count // 0) > 0 then .[$m].cycles[$s] else "-" end),
				  (if (.[$m].count // 0) > 0 then .[$m].cycles.p99 else "-" end),
				  (.counts.lost // 0), (.counts.duplicate // 0), (.counts.spurious // 0),
				  (.counts.delayed // 0), (.counts.late // 0), (.counts.held // 0),
				  (.counts.rescued // 0), (.counts.stranded // 0), (.counts.masked // 0)] | @tsv),
				(.variants[] | "\($t)/\(.name)" as $v | (.[$m].buckets // [])[] |
				  ["buckets", $side, $v, .[0], .[1], .[2]] | @tsv),
				(.variants[] | select(.per_ipi != null) | ["per_ipi", $side, "\($t)/\(.name)",
				  (.per_ipi.exits // "-"), (.per_ipi.irq_injections // "-")] | @tsv),
				"meta\t" + ({side: $side, kernel: .host.kernel_release, host: .host.hostname,
				  cpu: .host.cpu_model, vendor: .host.kvm_vendor_module,
				  delivery: .host.configured_delivery, emulator: $emulator, started: .started,
				  test: .test, argv: (.argv[1:] | join(" "))} | tojson)
				end' "$f" >"$work/one" 2>/dev/null || [ "$(head -c 4 "$work/one")" = bad ]; then
				die "$f: not a version 1 test result (corrupt, or another schema)"
			fi
			awk -F'\t' -v dir="$work" '{ tag = $1; sub(/^[^\t]*\t/, ""); print >> (dir "/" tag) }' \
				"$work/one"
		done <"$work/files"
	done
}

: >"$work/samples"
: >"$work/meta"
: >"$work/per_ipi"
: >"$work/buckets"
collect base "${base_dirs[@]}"
collect cand "${cand_dirs[@]}"
# Two sets with no variant in common compare nothing: a mistake, not a pass.
awk -F'\t' '{ seen[$3] = seen[$3] "," $1 } END { for (v in seen) if (seen[v] ~ /base/ && seen[v] ~ /cand/) exit 0; exit 1 }' \
	"$work/samples" || die "the baseline and the candidate have no variant in common"
if [ -n "$cdf" ]; then
	# (Not cut | grep -q: under pipefail, grep's early exit fails the pipe.)
	awk -F'\t' -v v="$cdf" '$3 == v { found = 1 } END { exit !found }' "$work/samples" ||
		die "--cdf $cdf: no such variant in the results"
fi

# Per variant: each side's runs, a rank test between them, and over every
# variant, the Benjamini-Hochberg step-up (false discovery rate q).
awk -F'\t' -v threshold="$threshold" -v q="$FDR" -v min_runs="$MIN_RUNS" -v family="$work/family" \
	-v exact_steps="${IPI_COMPARE_EXACT_STEPS:-5000000}" '
function median(a, n,    i, j, t, b) {
	for (i = 1; i <= n; i++) b[i] = a[i]
	for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
	return n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
}
# Two-sided p of the Wilcoxon rank-sum (Mann-Whitney) test of the samples
# of keys kb (nb of them) and kc (nc), exact under the permutation null:
# every split of the pooled runs into nb and nc is equally likely when the
# kernels do not differ.  Ties get mid-ranks (doubled, to stay integers),
# and the distribution of the candidate side'"'"'s rank sum over all C(N, nc)
# splits is counted exactly (ways[j, s]: subsets of j runs summing to s).
# Past 40 runs in all, the normal approximation with the tie correction.
function ranksum_p(kb, nb, kc, nc,    N, i, j, k, t, x, lab, idx, R, e2, w2, d, s, maxs, ways, hit, tot, v, z) {
	N = nb + nc
	for (i = 1; i <= nb; i++) { x[i] = val[kb, i]; lab[i] = 0 }
	for (i = 1; i <= nc; i++) { x[nb + i] = val[kc, i]; lab[nb + i] = 1 }
	for (i = 1; i <= N; i++) idx[i] = i
	for (i = 2; i <= N; i++) { t = idx[i]; for (j = i - 1; j >= 1 && x[idx[j]] > x[t]; j--) idx[j + 1] = idx[j]; idx[j + 1] = t }
	tiecorr = 0
	for (i = 1; i <= N; i = j + 1) {
		for (j = i; j < N && x[idx[j + 1]] == x[idx[i]]; j++) ;
		for (k = i; k <= j; k++) R[idx[k]] = i + j
		t = j - i + 1; tiecorr += t * t * t - t
	}
	w2 = 0
	for (i = 1; i <= N; i++) if (lab[i]) w2 += R[i]
	e2 = nc * (N + 1)
	d = w2 - e2; if (d < 0) d = -d
	# The side the candidate leans to, by the ranks: the verdict must agree.
	rankdir[kc] = w2 > e2 ? 1 : w2 < e2 ? -1 : 0
	if (N > 40) {
		v = nb * nc / 12 * ((N + 1) - tiecorr / (N * (N - 1)))
		if (v <= 0)
			return 1	# every run the same: nothing to tell apart
		z = (d / 2 - 0.5) / sqrt(v); if (z < 0) z = 0
		return erfc_half(z)
	}
	maxs = N * (N + 1)
	ways[0, 0] = 1
	for (i = 1; i <= N; i++)
		for (j = (i < nc ? i : nc); j >= 1; j--)
			for (s = maxs; s >= R[i]; s--)
				if ((j - 1, s - R[i]) in ways) ways[j, s] += ways[j - 1, s - R[i]]
	hit = tot = 0
	for (s = 0; s <= maxs; s++) {
		if (!((nc, s) in ways)) continue
		tot += ways[nc, s]
		t = s - e2; if (t < 0) t = -t
		if (t >= d) hit += ways[nc, s]
	}
	return hit / tot
}
# The shift of the candidate from the baseline, Hodges-Lehmann: the median of
# the nb * nc differences between a candidate run and a baseline run, and
# its distribution-free confidence interval, the k-th smallest and k-th
# largest of those differences, k from the null distribution of the
# Mann-Whitney U (the rank test above, inverted): at least 95% coverage,
# the exact level in shift_conf.  No interval when even the widest has
# less (fewer than 4 runs a side).  Sets shift_est, shift_lo, shift_hi.
function shift_ci(kb, nb, kc, nc,    M, N, m, i, j, t, d, k, u, cum, key, ways, s, maxs, tot, sd) {
	M = nb * nc; N = nb + nc
	for (i = 1; i <= nb; i++)
		for (j = 1; j <= nc; j++) d[++t] = val[kc, j] - val[kb, i]
	for (i = 2; i <= M; i++) { u = d[i]; for (j = i - 1; j >= 1 && d[j] > u; j--) d[j + 1] = d[j]; d[j + 1] = u }
	shift_est = M % 2 ? d[(M + 1) / 2] : (d[M / 2] + d[M / 2 + 1]) / 2
	key = nb SUBSEP nc
	# U has the same null distribution with the sides swapped: count the
	# subsets of the smaller side, m of the ranks 1..N.
	m = nb < nc ? nb : nc
	maxs = N * (N + 1) / 2
	if (!(key in ci_k) && N * m * maxs > exact_steps) {
		# Too many to count: P(U <= k - 1) ~ Phi((k - 1/2 - M/2) / sd),
		# with the continuity correction; the largest k within 2.5%, and
		# the level it gives.
		sd = sqrt(M * (N + 1) / 12)
		k = int(M / 2 - 1.959964 * sd + 0.5)
		ci_k[key] = k >= 1 ? k : 0
		ci_conf[key] = k >= 1 ? 1 - erfc_half((M / 2 - k + 0.5) / sd) : "-"
	} else if (!(key in ci_k)) {
		# ways[j, s]: subsets of j of the ranks 1..N that sum to s.
		ways[0, 0] = 1
		for (i = 1; i <= N; i++)
			for (j = (i < m ? i : m); j >= 1; j--)
				for (s = maxs; s >= i; s--)
					if ((j - 1, s - i) in ways) ways[j, s] += ways[j - 1, s - i]
		tot = 0
		for (s = 0; s <= maxs; s++) if ((m, s) in ways) tot += ways[m, s]
		# U = rank sum - m(m + 1)/2; k: the most with P(U <= k - 1) <= 2.5%.
		cum = 0; k = 0
		for (u = 0; u <= M; u++) {
			s = u + m * (m + 1) / 2
			if (cum + ways[m, s] / tot > 0.025) break
			cum += ways[m, s] / tot; k = u + 1
		}
		ci_k[key] = k; ci_conf[key] = 1 - 2 * cum
	}
	k = ci_k[key]
	if (k < 1) { shift_lo = shift_hi = shift_conf = "-"; return }
	shift_lo = d[k]; shift_hi = d[M + 1 - k]; shift_conf = ci_conf[key]
}
# Two-sided normal tail, 2 * (1 - Phi(z)), by Abramowitz and Stegun 7.1.26.
function erfc_half(z,    t, y) {
	z = z / sqrt(2); t = 1 / (1 + 0.3275911 * z)
	y = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
	return y * exp(-z * z)
}
{
	key = $3 SUBSEP $1
	variants[$3] = 1
	runs[key]++
	status[key] = status[key] (status[key] == "" ? "" : ",") $4
	if ($5 != "-") { n[key]++; val[key, n[key]] = $5 }
	lost[key] += $7; dup[key] += $8; spur[key] += $9; delayed[key] += $10; late[key] += $11
	held[key] += $12; rescued[key] += $13; stranded[key] += $14; masked[key] += $15
	if ($4 != "pass" && $4 != "xfail" && $4 != "skip") failed[key]++
}
END {
	# The family: every variant with enough runs on both sides.
	m = 0
	for (v in variants) {
		b = v SUBSEP "base"; c = v SUBSEP "cand"
		if (n[b] >= min_runs && n[c] >= min_runs) {
			pval[v] = ranksum_p(b, n[b], c, n[c])
			fam[++m] = v
		}
	}
	for (i = 2; i <= m; i++) { t = fam[i]; for (j = i - 1; j >= 1 && pval[fam[j]] > pval[t]; j--) fam[j + 1] = fam[j]; fam[j + 1] = t }
	# q-values: the smallest FDR at which each would be a discovery.
	prev = 1
	for (i = m; i >= 1; i--) {
		t = pval[fam[i]] * m / i
		if (t > prev) t = prev
		qval[fam[i]] = prev = t
	}
	print m > family
	for (v in variants) {
		b = v SUBSEP "base"; c = v SUBSEP "cand"
		nb = n[b] + 0; nc = n[c] + 0
		bm = cm = bmin = bmax = cmin = cmax = "-"
		for (s = 0; s < 2; s++) {
			k = s ? c : b; mm = s ? nc : nb
			if (!mm) continue
			for (i = 1; i <= mm; i++) a[i] = val[k, i]
			med = median(a, mm); lo = hi = a[1]
			for (i = 1; i <= mm; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
			if (s) { cm = med; cmin = lo; cmax = hi } else { bm = med; bmin = lo; bmax = hi }
		}
		diff = pct = pv = qv = "-"
		shift_est = shift_lo = shift_hi = shift_conf = "-"
		if (!runs[b] || !runs[c]) verdict = runs[b] ? "only in baseline" : "only in candidate"
		else if (!nb || !nc) verdict = "no samples"
		else {
			diff = cm - bm; pct = bm ? 100 * diff / bm : 0
			if (!(v in pval)) verdict = "insufficient runs"
			else {
				pv = pval[v]; qv = qval[v]
				shift_ci(b, nb, c, nc)
				big = (pct >= threshold || -pct >= threshold)
				# The medians and the ranks must agree on the direction.
				if (qv <= q && big && diff > 0 && rankdir[c] > 0) verdict = "regressed"
				else if (qv <= q && big && diff < 0 && rankdir[c] < 0) verdict = "improved"
				else verdict = "no change"
			}
		}
		flag = ""
		if (lost[c] + 0) flag = flag "LOST "
		if (dup[c] + 0) flag = flag "DUPLICATE "
		if (spur[c] + 0) flag = flag "SPURIOUS "
		if (held[c] + 0) flag = flag "HELD "
		if (rescued[c] + 0) flag = flag "RESCUED "
		if (stranded[c] + 0) flag = flag "STRANDED "
		if (masked[c] + 0) flag = flag "MASKED "
		# Failed, timed out, crashed or never ran: whatever its cycles say.
		if (failed[c] + 0) flag = flag "FAILED "
		printf "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", \
			v, verdict, runs[b], runs[c], bm, bmin, bmax, cm, cmin, cmax, \
			diff, pct, pv, qv, lost[b], lost[c], dup[b], dup[c], spur[b], spur[c], \
			delayed[b], delayed[c], late[b], late[c], flag, status[b] "|" status[c], \
			shift_est, shift_lo, shift_hi, shift_conf
	}
}' "$work/samples" | sort >"$work/rows" || die "statistics failed"

# KVM's events per interrupt, per variant and side: the medians over runs.
jq -Rn '
	def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
	[inputs | split("\t") | {side: .[0], variant: .[1], exits: (.[2] | tonumber?),
	 irq_injections: (.[3] | tonumber?)}] | group_by(.variant) |
	map({key: .[0].variant, value: (group_by(.side) | map({key: .[0].side, value: {
		exits: ([.[].exits | values] | med),
		irq_injections: ([.[].irq_injections | values] | med)}}) | from_entries)}) |
	from_entries' <"$work/per_ipi" >"$work/per_ipi.json" || die "could not summarize per-IPI events"

jq -Rn --arg metric "$metric" --arg stat "$stat" --argjson threshold "$threshold" \
	--argjson fdr "$FDR" --argjson min_runs "$MIN_RUNS" --argjson family "$(cat "$work/family")" \
	--arg base "$base_label" --arg cand "$cand_label" \
	--slurpfile meta <(jq -s . "$work/meta") --slurpfile per_ipi "$work/per_ipi.json" '
	def num: if . == "-" then null else tonumber end;
	[inputs | split("\t") | {
		variant: .[0], verdict: .[1], runs: {base: (.[2] | tonumber), cand: (.[3] | tonumber)},
		base: {median: (.[4] | num), min: (.[5] | num), max: (.[6] | num)},
		cand: {median: (.[7] | num), min: (.[8] | num), max: (.[9] | num)},
		diff: {cycles: (.[10] | num), percent: (.[11] | num)},
		shift: {cycles: (.[26] | num), ci_low: (.[27] | num), ci_high: (.[28] | num),
			confidence: (.[29] | num)},
		test: {p: (.[12] | num), q: (.[13] | num)},
		lost: {base: (.[14] | tonumber), cand: (.[15] | tonumber)},
		duplicate: {base: (.[16] | tonumber), cand: (.[17] | tonumber)},
		spurious: {base: (.[18] | tonumber), cand: (.[19] | tonumber)},
		delayed: {base: (.[20] | tonumber), cand: (.[21] | tonumber)},
		late: {base: (.[22] | tonumber), cand: (.[23] | tonumber)},
		flags: (.[24] | split(" ") | map(select(length > 0))),
		statuses: {base: (.[25] | split("|")[0]), cand: (.[25] | split("|")[1])},
		per_ipi: ($per_ipi[0][.[0]] // {})}] as $rows |
	($meta[0] | group_by(.side) | map({key: .[0].side, value: {
		kernels: ([.[].kernel] | unique), hosts: ([.[].host] | unique), cpus: ([.[].cpu] | unique),
		vendors: ([.[].vendor] | unique), delivery: ([.[].delivery] | unique),
		emulators: ([.[].emulator | select(. != "")] | unique),
		dates: ([.[].started] | [min, max]), arguments: ([.[] | "\(.test) \(.argv)"] | unique)}})
	 | from_entries) as $sides |
	{schema: "kvm-ipi-selftests/compare", schema_version: 1, metric: $metric, stat: $stat,
	 statistic: "median of per-run \($stat)s; exact two-sided Wilcoxon rank-sum test between the runs, Benjamini-Hochberg over the variants; shift: Hodges-Lehmann, the median of the differences between a candidate and a baseline run, with its distribution-free confidence interval of at least 95% (the exact level in confidence)",
	 fdr: $fdr, min_runs: $min_runs, family: $family,
	 runs_for_one_variant: (if $family == 0 then null else
		def choose(n; k): reduce range(0; k) as $i (1; . * (n - $i) / ($i + 1));
		first(range($min_runs; 1000) as $n | select(2 / choose(2 * $n; $n) <= $fdr / $family) | $n) end),
	 threshold_percent: $threshold, labels: {base: $base, cand: $cand},
	 sides: $sides, variants: $rows}' <"$work/rows" >"$work/comparison.json" ||
	die "could not build the comparison JSON"

# Where it goes: a new directory, never an existing one.
[ -n "$out" ] || out=$SRC/results/compare-$base_label-vs-$cand_label
mkdir -p "$(dirname "$out")" || die "cannot create $(dirname "$out")"
mkdir "$out" 2>/dev/null || die "$out exists or cannot be created; comparisons are never overwritten"
cp "$work/comparison.json" "$out/comparison.json"

# The plain-text table, for mail.
{
	jq -r '"\(.labels.base) vs \(.labels.cand): median \(.metric) cycles (median of per-run \(.stat)s)",
		"change reported when q <= \(.fdr) (exact rank test, FDR over \(.family) variants) and |change| >= \(.threshold_percent)%",
		"a verdict needs \(.min_runs) runs a side\(if .runs_for_one_variant then "; one changed variant alone, \(.runs_for_one_variant)" else "" end)", ""' \
		"$out/comparison.json"
	jq -r '
		def n: if . == null then "-" else (. | floor | tostring) end;
		def p: if . == null then "-" else ((. * 10 | round) / 10 | tostring) + "%" end;
		def g: if . == null then "-" else (. * 10000 | round / 10000 | tostring) end;
		def ci: if .ci_low == null then "-" else "[\(.ci_low | n), \(.ci_high | n)]" end;
		(["variant", "runs", .labels.base, .labels.cand, "change", "shift", "95% CI", "p", "q", "verdict", "lost", "dup", "delayed"] | @tsv),
		(.variants[] | [.variant, "\(.runs.base)/\(.runs.cand)", (.base.median | n), (.cand.median | n),
			(.diff.percent | p), (.shift.cycles | n), (.shift | ci), (.test.p | g), (.test.q | g),
			.verdict + (if (.flags | length) > 0 then " !! " + (.flags | join(" ")) else "" end),
			"\(.lost.base)/\(.lost.cand)", "\(.duplicate.base)/\(.duplicate.cand)",
			"\(.delayed.base)/\(.delayed.cand)"] | @tsv)' "$out/comparison.json" |
		column -t -s $'\t'
} >"$out/comparison.txt"

# The Markdown tables.
jq -r '
	def n: if . == null then "-" else (. | floor | tostring) end;
	def f: if . == null then "-" else ((. * 100 | round) / 100 | tostring) end;
	def p: if . == null then "-" else ((. * 10 | round) / 10 | tostring) + "%" end;
	def g: if . == null then "-" else (. * 10000 | round / 10000 | tostring) end;
	def ci: if .ci_low == null then "-" else "\(.ci_low | n) to \(.ci_high | n)" end;
	"| variant | runs | \(.labels.base) | \(.labels.cand) | change | shift (95% CI) | p | q | verdict | lost | duplicate | delayed |",
	"| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |",
	(.variants[] | "| \(.variant) | \(.runs.base)/\(.runs.cand) | \(.base.median | n) | \(.cand.median | n) | \(.diff.percent | p) | \(if .shift.cycles == null then "-" else "\(.shift.cycles | n) (\(.shift | ci))" end) | \(.test.p | g) | \(.test.q | g) | \(.verdict)\(if (.flags | length) > 0 then " **" + (.flags | join(" ")) + "**" else "" end) | \(.lost.base)/\(.lost.cand) | \(.duplicate.base)/\(.duplicate.cand) | \(.delayed.base)/\(.delayed.cand) |"),
	(if [.variants[].per_ipi | .base, .cand | values] | length > 0 then
		"", "KVM events per interrupt (median over runs): exits, and irq_injections, the",
		"interrupts KVM injected at VM entry; posted-interrupt delivery (APICv)",
		"leaves irq_injections near 0.", "",
		"| variant | exits \(.labels.base) | exits \(.labels.cand) | irq_injections \(.labels.base) | irq_injections \(.labels.cand) |",
		"| --- | ---: | ---: | ---: | ---: |",
		(.variants[] | select(.per_ipi.base != null or .per_ipi.cand != null) |
		 "| \(.variant) | \(.per_ipi.base.exits | f) | \(.per_ipi.cand.exits | f) | \(.per_ipi.base.irq_injections | f) | \(.per_ipi.cand.irq_injections | f) |")
	 else empty end)' \
	"$out/comparison.json" >"$out/comparison.md"

plot_medians() {
	jq -r '.variants[] | select(.base.median != null and .cand.median != null) |
		[(.variant | sub("_test/"; ": ")), .base.median, .base.min, .base.max,
		 .cand.median, .cand.min, .cand.max] | @tsv' \
		"$out/comparison.json" >"$work/medians.dat"
	[ -s "$work/medians.dat" ] || return 0
	local n width

	n=$(wc -l <"$work/medians.dat")
	width=$((n * 28 + 200))
	[ $width -ge 800 ] || width=800
	for term in "svg size $width,700" "png size $width,700"; do
		gnuplot <<EOG || return 1
set terminal $term
set output "$out/medians.${term%% *}"
set title "Median $metric cycles per variant, and the range of its runs"
set logscale y
set ylabel "cycles"
set xtics rotate by -45 font ",8" noenhanced
set bmargin 14
set xrange [-0.6:$n - 0.4]
set key outside top center horizontal noenhanced
set datafile separator "\t"
plot "$work/medians.dat" using (\$0 - 0.15):2:3:4:xtic(1) with yerrorbars pt 7 ps 0.6 title "$base_label", \
     "$work/medians.dat" using (\$0 + 0.15):5:6:7 with yerrorbars pt 5 ps 0.6 title "$cand_label"
EOG
	done
}

plot_cdf() {
	local v=$cdf side

	[ -n "$v" ] || v=$(jq -r '[.variants[] | select(.diff.percent != null)] |
		max_by(.diff.percent | fabs) | .variant // empty' "$out/comparison.json")
	[ -n "$v" ] || return 0
	for side in base cand; do
		awk -F'\t' -v s=$side -v v="$v" '$1 == s && $2 == v { c[$4] += $5; t += $5 }
			END { for (h in c) print h "\t" c[h] }' "$work/buckets" | sort -n |
			awk -F'\t' '{ t += $2; h[NR] = $1; c[NR] = t } END { for (i = 1; i <= NR; i++) print h[i] "\t" c[i] / t }' \
			>"$work/cdf.$side"
	done
	[ -s "$work/cdf.base" ] && [ -s "$work/cdf.cand" ] || return 0
	for term in "svg size 900,600" "png size 900,600"; do
		gnuplot <<EOG || return 1
set terminal $term
set output "$out/cdf.${term%% *}"
set title "$v: $metric cycles, all runs of each side merged" noenhanced
set logscale x
set xlabel "cycles"
set ylabel "fraction of deliveries"
set key bottom right noenhanced
set datafile separator "\t"
plot "$work/cdf.base" using 1:2 with steps title "$base_label", \
     "$work/cdf.cand" using 1:2 with steps title "$cand_label"
EOG
	done
	echo "$v" >"$work/cdf.variant"
}

if [ $plots -eq 1 ]; then
	plot_medians || die "gnuplot failed on the medians plot"
	plot_cdf || die "gnuplot failed on the CDF plot"
fi

# What was compared, and how to make all this again.
rel() {
	realpath --relative-to="$SRC" "$1"
}
{
	cmd="scripts/compare.sh"
	for d in "${base_dirs[@]}"; do cmd+=" -b $(rel "$d")"; done
	for d in "${cand_dirs[@]}"; do cmd+=" -c $(rel "$d")"; done
	cmd+=" --base-label $base_label --cand-label $cand_label --metric $metric"
	[ "$stat" = p50 ] || cmd+=" --stat $stat"
	cmd+=" --threshold $threshold${cdf:+ --cdf $cdf}"
	[ $plots -eq 1 ] || cmd+=" --no-plots"
	cmd+=" -o $(rel "$out")"
	jq -r --arg cmd "$cmd" --arg cdf "$(cat "$work/cdf.variant" 2>/dev/null)" '
		def side(s): "- kernel \(s.kernels | join(", ")) on \(s.hosts | join(", ")) (\(s.cpus | join(", "))\(if (s.emulators // []) | length > 0 then ", emulated by " + (s.emulators | join(", ")) else "" end)), KVM \(s.vendors | join(", ")), delivery configured as \(s.delivery | join(", "))",
			"- runs from \(s.dates[0]) to \(s.dates[1])",
			"- arguments: \(s.arguments | map("`" + . + "`") | join("; "))";
		"# \(.labels.base) vs \(.labels.cand)", "",
		(if [.sides[].emulators // [] | .[]] | length > 0 then
			"**Emulated.** These runs were made inside a CPU emulator (\([.sides[].emulators[]] | unique | join(", "))): the kernel under test ran its KVM on emulated hardware. Cycle counts are the emulator'"'"'s, not a real CPU'"'"'s; compare them only with each other, never with hardware figures.", ""
		 else empty end),
		"## What was compared", "",
		"**\(.labels.base)** (baseline):", "", side(.sides.base), "",
		"**\(.labels.cand)** (candidate):", "", side(.sides.cand), "",
		"## How", "",
		"Metric: \(.metric) cycles (\(if .metric == "latency" then "send to the handler'"'"'s first instruction" else "one test iteration" end)). \(.statistic). A run'"'"'s IPIs share its conditions (host load, CPU placement), so runs, not IPIs, are the independent samples. A change is reported only when its q-value is at most \(.fdr) (the false discovery rate over the \(.family) variants with enough runs) and it is at least \(.threshold_percent)%; otherwise it is within the run-to-run noise. A verdict needs \(.min_runs) runs a side\(if .runs_for_one_variant then "; a change in one variant alone among \(.family) needs \(.runs_for_one_variant)" else "" end).", "",
		"## Results", "",
		"See comparison.md (below), comparison.txt for mail, comparison.json for everything." +
		(if $cdf != "" then " Plots: medians.svg/.png (each side'"'"'s median and the range of its runs), cdf.svg/.png (\($cdf))." else "" end), "",
		"## Regenerate", "", "From the repository top, on the committed raw results (remove this directory first: comparisons are never overwritten):", "", "    \($cmd)"' \
		"$out/comparison.json"
	echo
	cat "$out/comparison.md"
} >"$out/README.md"

cat "$out/comparison.txt"
echo "# comparison: $out"
jq -e '[.variants[] | select(.verdict == "regressed" or (.flags | length) > 0)] | length == 0' \
	"$out/comparison.json" >/dev/null
