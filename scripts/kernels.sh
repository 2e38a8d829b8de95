#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Run the suite inside another kernel, booted under an emulator, with its
# KVM as a nested hypervisor: a result set in results/<run-id>/ like a
# local run, labelled with the kernel and the emulator.
set -uo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	cat <<EOT
Usage: kernels.sh -k KERNEL [options] [-- test arguments...]

Test arguments default to -c 200: fewer sends than the tests' own
defaults, for emulation speed (the whole suite in one Bochs boot takes
minutes, not an hour), and nothing else: the verdict is the suite's own.

  -k, --kernel KERNEL    debian-6.1, debian-6.12 (the newest of each), a
                         Debian kernel version (6.1.0-54, 6.12.57+deb12), a
                         linux-image-* package, or a bzImage path (with
                         --modules DIR, or KVM built in as
                         scripts/rig/build-kernel.sh builds it)
      --modules DIR      the bzImage's modules tree (DIR/lib/modules/<release>)
      --label NAME       what the results call the kernel (default: its
                         release, or bzImage-<release>)
  -e, --emulator NAME    qemu          TCG, -cpu max: nested SVM, kvm_amd (default)
                         bochs         Bochs 3.0, VMX: kvm_intel enable_apicv=1,
                                       posted interrupts
                         bochs-noapicv the same with enable_apicv=0
      --bochs-model NAME Bochs' CPU model (default corei7_skylake_x; also
                         corei7_icelake_u, tigerlake, sapphire_rapids, ...
                         with posted interrupts; 6.1 stalls on icelake)
      --params "P=V ..." more vendor module parameters
      --append "ARGS"    more kernel command line (kvm.halt_poll_ns=0, ...)
      --overlay DIR      a tree copied into the initramfs, whose tests/ may
                         bring tests of its own (scripts/rig/vmexit-overlay.sh:
                         -t vmexit_flat, kvm-unit-tests' vmexit.flat)
  -t, --test NAME        a test to run inside (repeatable; default: all six)
  -r, --repeat N         boot N times, each a run of every test: rep-1/ ...
                         rep-N/ in one result set (compare.sh's samples)
      --cpus N           emulated CPUs (default 2: cross-CPU races need two)
      --qemu PATH        this qemu-system-x86_64 instead of the rig's build
                         (QEMU 7.2 with scripts/rig/qemu/*.patch, built on
                         first use: Debian's own delivers an SVM-injected
                         interrupt twice now and then)
      --tcg-thread MODE  single (default) or multi: QEMU 7.2's multi-threaded
                         TCG let the guest kernel trip over its own text
                         patching (int3 Oops in __schedule) under this suite
      --timeout S        each boot, in seconds (default 600 for qemu, 1800
                         for bochs)
      --test-timeout S   inside the guest, end each test after S seconds with
                         SIGTERM, as kselftest's runner does (default: none);
                         what the test wrote by then comes back, its result
                         file with the variants that finished
      --silence S        end a boot whose serial console printed nothing
                         for S seconds (default: three times the tests'
                         own per-variant timeout, -T, 100 s unless given,
                         plus a minute: every variant prints as it starts
                         and ends)
  -b, --bin-dir DIR      the static tests (default: $SRC/build/static/tests)
  -o, --results DIR      results root (default: $SRC/results)
      --run-id ID        the run's directory name (default: time, kernel, emulator)
  -h, --help             this text

The tests must be built static first: make static.  QEMU and Bochs are
built on first use (minutes, once per machine), and Debian's
kernels downloaded, into one cache for every clone on the machine:
\$KVM_IPI_CACHE, default \${XDG_CACHE_HOME:-\$HOME/.cache}/kvm-ipi-selftests.
Each emulator is keyed by its build script and patches, so a change to
either rebuilds it.
Exit status: 0 when every test passed, 1 when one failed, 2 when the rig
itself failed (emulator, panic, modules, corrupt output) in any boot;
then nothing is stored as a result, and the serial log is kept beside
the results as <run-id>.failed.log.  A boot that timed out or fell
silent keeps what finished: the tests that completed, and the test it
was running as "timeout", with the variants it had reported (run.json's
"incomplete" says which boot and test).  That is exit 1 when anything
was judged before the cut, and 2 only when nothing was.
EOT
}

die() {
	echo "kernels: $*" >&2
	exit 2
}

kernel=
modules=
emulator=qemu
params=
append=
overlay=
bochs_model=corei7_skylake_x
tests=()
repeat=1
cpus=2
timeout_s=
silence_s=
test_timeout=0
tcg_thread=single
qemu_bin=
label=
results=$SRC/results
run_id=
args=()
static=$SRC/build/static/tests
while [ $# -gt 0 ]; do
	case "$1" in
	-k|--kernel) [ -n "${2:-}" ] || die "$1 needs a value"; kernel=$2; shift 2 ;;
	--modules) [ -d "${2:-}" ] || die "--modules '${2:-}' is not a directory"; modules=$2; shift 2 ;;
	--label) [[ ${2:-} =~ ^[A-Za-z0-9._+-]+$ ]] || die "--label must be a plain name"; label=$2; shift 2 ;;
	-e|--emulator) [[ ${2:-} =~ ^(qemu|bochs|bochs-noapicv)$ ]] || die "--emulator is qemu, bochs or bochs-noapicv"
		emulator=$2; shift 2 ;;
	--params) params=${2:-}; shift 2 ;;
	--append) append=${2:-}; shift 2 ;;
	--overlay) [ -d "${2:-}" ] || die "--overlay '${2:-}' is not a directory"; overlay=$(cd "$2" && pwd)
		shift 2 ;;
	--bochs-model) [[ ${2:-} =~ ^[a-z0-9_]+$ ]] || die "--bochs-model needs a Bochs CPU model name"
		bochs_model=$2; shift 2 ;;
	-t|--test) [ -n "${2:-}" ] || die "$1 needs a value"; tests+=("$2"); shift 2 ;;
	-r|--repeat) [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || die "--repeat is 1 to 99"; repeat=$2; shift 2 ;;
	--cpus) [[ ${2:-} =~ ^[1-8]$ ]] || die "--cpus is 1 to 8"; cpus=$2; shift 2 ;;
	--qemu) [ -x "${2:-}" ] || die "--qemu '${2:-}' is not an executable"; qemu_bin=$(realpath "$2"); shift 2 ;;
	--tcg-thread) [[ ${2:-} =~ ^(single|multi)$ ]] || die "--tcg-thread is single or multi"; tcg_thread=$2; shift 2 ;;
	--timeout) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--timeout needs seconds"; timeout_s=$2; shift 2 ;;
	--silence) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--silence needs seconds"; silence_s=$2; shift 2 ;;
	--test-timeout) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--test-timeout needs seconds"; test_timeout=$2; shift 2 ;;
	-b|--bin-dir) [ -d "${2:-}" ] || die "--bin-dir '${2:-}' is not a directory"; static=$2; shift 2 ;;
	-o|--results) [ -n "${2:-}" ] || die "$1 needs a value"; results=$2; shift 2 ;;
	--run-id) [[ ${2:-} =~ ^[A-Za-z0-9._+-]+$ ]] || die "--run-id must be a plain name"; run_id=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; args=("$@"); break ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ -n "$kernel" ] || die "no kernel (-k)"
[ ${#args[@]} -gt 0 ] || args=(-c 200)
if [ -z "$silence_s" ]; then
	variant_timeout=100
	for ((i = 0; i < ${#args[@]}; i++)); do
		case ${args[i]} in
		-T|--timeout-s) variant_timeout=${args[i + 1]:-100} ;;
		--timeout-s=*) variant_timeout=${args[i]#*=} ;;
		esac
	done
	[[ $variant_timeout =~ ^[0-9]+$ ]] || die "-T '$variant_timeout' is not a number of seconds"
	silence_s=$((3 * variant_timeout + 60))
fi
[ ${#tests[@]} -gt 0 ] || tests=(self_ipi_test cross_vcpu_ipi_test host_injection_test level_irq_test vector_priority_test nmi_test nested_posted_test)
case $emulator in
qemu)
	vendor=kvm_amd	# TCG -cpu max offers SVM, not VMX
	bochs_model=
	boot="boot-qemu.sh"
	: "${timeout_s:=600}"
	;;
bochs*)
	vendor=kvm_intel
	boot="boot-bochs.sh"
	: "${timeout_s:=1800}"
	[ -z "$qemu_bin" ] || die "--qemu is for -e qemu"
	apicv=1
	[ "$emulator" = bochs-noapicv ] && apicv=0
	[[ " $params " != *" enable_apicv="* ]] || die "--params: enable_apicv is set by the emulator name (bochs or bochs-noapicv)"
	params="enable_apicv=$apicv${params:+ $params}"
	;;
esac
# Downloads and emulator builds, shared by every clone (see --help).
cache=$("$SRC/scripts/rig/cache-dir.sh")
mkdir -p "$cache" "$results" || die "cannot create $cache or $results"

# The kernel: a Debian package, or a bzImage of the user's.
if [ -f "$kernel" ]; then
	vmlinuz=$kernel
	krel=$(file -L "$kernel" | sed -n 's/.*version \([^ ]*\).*/\1/p')
	[ -n "$krel" ] || die "$kernel: not a bzImage"
	modroot=$modules
	: "${label:=bzImage-$krel}"
else
	mapfile -t k < <("$SRC/scripts/rig/fetch-kernel.sh" "$kernel" "$cache/kernels") || exit 2
	[ ${#k[@]} -eq 3 ] || die "could not fetch $kernel"
	krel=${k[0]} vmlinuz=${k[1]} modroot=${k[2]}
	: "${label:=$krel}"
fi
[ -n "$run_id" ] || run_id=$(date -u +%Y%m%d-%H%M%S)-$label-$emulator
run=$results/$run_id
[ ! -e "$run" ] || die "$run exists; runs are never overwritten"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# IPI_RIG_EMULATOR reaches /init, and the tests, as an environment
# variable: the key of known issues that are the emulator's own.
# tsc=reliable: under an emulator the guest kernel's clocksource watchdog
# may give up on the TSC, and KVM then moves each vCPU's TSC offset at
# every load, so that no host stamp converts to the guest's timeline
# (Debian 6.1 under QEMU did it in every boot).  The emulators' TSCs are
# monotonic and shared by their CPUs.
cmdline="console=ttyS0,115200 panic=-1 quiet loglevel=1 tsc=reliable IPI_RIG_EMULATOR=$emulator${bochs_model:+:$bochs_model}${append:+ $append}"
if [ -z "$modroot" ]; then
	# KVM built in: its parameters go on the command line.
	for p in $params; do
		cmdline="$cmdline $vendor.$p"
	done
fi
RIG_OVERLAY=$overlay "$SRC/scripts/rig/make-initramfs.sh" "$work/initrd" "$modroot" "$krel" "$vendor" "$params" \
	"$static" "${tests[*]}" "${args[*]}" "$test_timeout" || die "could not build the initramfs"

# The emulator, built on first use with the rig's fixes.
if [ "$emulator" = qemu ]; then
	[ -n "$qemu_bin" ] || qemu_bin=$("$SRC/scripts/rig/build-qemu.sh" "$cache/qemu") ||
		die "could not build QEMU"
	emulator_bin=$qemu_bin
else
	emulator_bin=$("$SRC/scripts/rig/build-bochs.sh" "$cache/bochs") || die "could not build Bochs"
fi

echo "# kernels: $label under $emulator${bochs_model:+ ($bochs_model)}, $cpus CPUs, $vendor ${params:-(default parameters)}"

failed() {
	cp "$work/serial.log" "$results/$run_id.failed.log"
	die "$* (serial log: $results/$run_id.failed.log)"
}

# One boot into $work/boot-$1: its serial log, checked and unpacked.  A
# boot that ran out of time, or whose console fell silent, keeps what it
# finished (parse-serial.sh --partial) and is noted in $work/incomplete.
boot_once() {
	local dir=$work/boot-$1 start rc why cut running pid size last=-1 quiet=0

	start=$EPOCHREALTIME
	# (Bochs creates its serial file only once the guest writes to it.)
	: >"$work/raw.log"
	setsid env EMULATOR="$emulator_bin" QEMU_TCG_THREAD="$tcg_thread" BOCHS_CPU_MODEL="$bochs_model" \
		"$SRC/scripts/rig/$boot" "$vmlinuz" "$work/initrd" "$cmdline" \
		"$cpus" "$timeout_s" "$work/raw.log" 2>"$work/boot.err" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		size=$(stat -c %s "$work/raw.log" 2>/dev/null || echo 0)
		if [ "$size" -ne "$last" ]; then
			last=$size quiet=0
			continue
		fi
		quiet=$((quiet + 5))
		if [ "$quiet" -ge "$silence_s" ]; then
			kill -TERM -- "-$pid" 2>/dev/null
			sleep 2
			kill -KILL -- "-$pid" 2>/dev/null
			break
		fi
	done
	wait "$pid"
	rc=$?
	[ "$quiet" -lt "$silence_s" ] || rc=125
	# (A marker may share its line with what the firmware printed before it.)
	tr -d '\r' <"$work/raw.log" | sed 's/^.*\(@@KVMIPI \)/\1/' >"$work/serial.log"
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || [ "$rc" -eq 125 ]; then
		cut="$emulator timed out after $timeout_s s"
		[ "$rc" -ne 125 ] || cut="the serial console was silent for $silence_s s"
		running=$(sed -n 's/^@@KVMIPI START \(.*\)@@$/\1/p' "$work/serial.log" | tail -n 1)
		if [ -n "$running" ] && grep -q "^@@KVMIPI EXIT $running " "$work/serial.log"; then
			running=
		fi
		echo "kernels: boot $1: $cut${running:+, in $running}; keeping what finished" >&2
		why=$("$SRC/scripts/rig/parse-serial.sh" --partial "$work/serial.log" "$dir" 2>&1) ||
			failed "boot $1: $why"
		[ -f "$dir/rig-info" ] || failed "boot $1: $cut, before anything ran"
		jq -cn --argjson boot "$1" --arg why "$cut" --arg test "$running" \
			'{boot: $boot, why: $why, test: (if $test == "" then null else $test end)}' \
			>>"$work/incomplete"
	else
		why=$("$SRC/scripts/rig/parse-serial.sh" "$work/serial.log" "$dir" 2>&1) ||
			failed "boot $1: $why"
		[ "$rc" -eq 0 ] || failed "boot $1: $emulator exited with $rc: $(tail -1 "$work/boot.err")"
	fi
	cp "$work/serial.log" "$dir/serial.log"
	awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }' >"$dir/seconds"
}

: >"$work/incomplete"
for r in $(seq 1 "$repeat"); do
	boot_once "$r"
done

# Every boot completed: the run, as run_tests.sh would write it, plus
# what the rig knows.
mkdir "$run" || die "cannot create $run"
pass=0 fail=0 skip=0 xfail=0 unjudged=0 n=0
echo "TAP version 13"
echo "1..$((${#tests[@]} * repeat))"
: >"$work/entries"
for r in $(seq 1 "$repeat"); do
	dir=$work/boot-$r
	out=$run sub='' rep=null what=''
	if [ "$repeat" -gt 1 ]; then
		sub=rep-$r/ rep=$r what=", boot $r of $repeat"
		out=$run/rep-$r
		mkdir "$out"
	fi
	cp "$dir/serial.log" "$out/serial.log"
	for t in "${tests[@]}"; do
		n=$((n + 1))
		sed -n "/^@@KVMIPI START $t@@\$/,/^@@KVMIPI EXIT $t /p" "$dir/serial.log" |
			grep -v '^@@KVMIPI' | sed 's/^/# /'
		trc=$(sed -n "s/^@@KVMIPI EXIT $t \([0-9]*\)@@\$/\1/p" "$dir/serial.log")
		started=$(grep -c "^@@KVMIPI START $t@@\$" "$dir/serial.log")
		[ -n "$trc" ] || trc=255
		result=
		if [ -f "$dir/$t.json" ]; then
			cp "$dir/$t.json" "$out/$t.json"
			result=$sub$t.json
			xfail=$((xfail + $(jq '[.variants[] | select(.status == "xfail")] | length' "$out/$t.json")))
		fi
		if [ "$trc" -eq 255 ] && [ "$started" -eq 0 ] && [ -s "$work/incomplete" ]; then
			# Cut short before it began: not judged.
			status=not_run; echo "ok $n $t ($label, $emulator$what) # SKIP not run: the boot was cut short"
		elif [ "$trc" -eq 255 ] && [ "$started" -gt 0 ] && [ -s "$work/incomplete" ]; then
			status=timeout
			# Judged only by what it had reported: a failing variant is a failure.
			# (One awk, not sed | grep -q: under pipefail, grep's early
			# exit can fail the pipe.)
			if awk -v t="$t" '$0 == "@@KVMIPI START " t "@@" { on = 1 }
				on && /^not ok / { found = 1 } END { exit !found }' "$dir/serial.log"; then
				fail=$((fail + 1)); echo "not ok $n $t ($label, $emulator$what) # cut short, after failing variants"
			else
				unjudged=$((unjudged + 1)); echo "not ok $n $t ($label, $emulator$what) # cut short, nothing failed before"
			fi
		else
			case $trc in
			0) status=pass; pass=$((pass + 1)); echo "ok $n $t ($label, $emulator$what)" ;;
			4) status=skip; skip=$((skip + 1)); echo "ok $n $t ($label, $emulator$what) # SKIP" ;;
			# SIGTERM from --test-timeout (busybox timeout reports 128 + 15).
			124 | 143) status=timeout; fail=$((fail + 1))
				echo "not ok $n $t ($label, $emulator$what) # TIMEOUT: ended by SIGTERM" ;;
			*) status=fail; fail=$((fail + 1)); echo "not ok $n $t ($label, $emulator$what) # exit=$trc" ;;
			esac
		fi
		jq -cn --arg name "$t" --arg status "$status" --argjson rc "$trc" --arg result "$result" \
			--argjson rep "$rep" \
			'{name: $name, status: $status, exit_code: $rc, repeat: $rep,
			  result: (if $result == "" then null else $result end)}' >>"$work/entries"
	done
done
echo "# Totals: pass:$pass fail:$fail xfail:$xfail xpass:0 skip:$skip error:0"

# What the guest said of itself, from the first boot; the boots' times.
jq -R 'split("=") | {key: .[0], value: (.[1:] | join("="))}' "$work/boot-1/rig-info" |
	jq -s 'from_entries' >"$work/rig.json"
for r in $(seq 1 "$repeat"); do
	cat "$work/boot-$r/seconds"
	echo
done | jq -s . >"$work/seconds.json"
jq -s --arg id "$run_id" --arg emulator "$emulator" --arg kernel "$kernel" --arg klabel "$label" \
	--arg bochs_model "$bochs_model" --arg emulator_bin "$emulator_bin" \
	--argjson cpus "$cpus" --argjson repeat "$repeat" --slurpfile boots "$work/seconds.json" \
	--slurpfile rig "$work/rig.json" --slurpfile incomplete "$work/incomplete" \
	--arg revision "$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)" '
	{schema: "kvm-ipi-selftests/run", schema_version: 1, run_id: $id, repeat: $repeat,
	 kernel_release: $rig[0].kernel_release, suite_revision: $revision,
	 rig: {emulator: $emulator, kernel: $kernel, label: $klabel, emulated_cpus: $cpus,
	       bochs_model: (if $bochs_model == "" then null else $bochs_model end),
	       emulator_binary: $emulator_bin,
	       seconds: ($boots[0] | add), boot_seconds: $boots[0],
	       vendor_module: $rig[0].vendor_module, requested_params: $rig[0].requested_params,
	       cmdline: $rig[0].cmdline,
	       params: ($rig[0] | with_entries(select(.key | startswith("param."))) |
			with_entries(.key |= ltrimstr("param.")))},
	 incomplete: (if ($incomplete | length) > 0 then $incomplete else null end),
	 tests: ., totals: {pass: (map(select(.status == "pass")) | length),
			    fail: (map(select(.status == "fail")) | length),
			    skip: (map(select(.status == "skip")) | length)}}' \
	"$work/entries" >"$run/.run.json.tmp" && ln "$run/.run.json.tmp" "$run/run.json"
rm -f "$run/.run.json.tmp"
echo "# results: $run (boots and tests: $(jq -r '.rig.seconds | . * 10 | round / 10' "$run/run.json") s)"
[ $fail -eq 0 ] || exit 1
# Cut short with nothing failed before: the rest could not be judged.
[ $unjudged -eq 0 ] && [ ! -s "$work/incomplete" ] || exit 2
