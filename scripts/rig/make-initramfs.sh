#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make-initramfs.sh OUT MODROOT KREL VENDOR "PARAMS" TESTDIR "TESTS" "ARGS" TEST_TIMEOUT
#
# busybox-static, VENDOR (kvm_amd or kvm_intel) and the modules it needs
# (decompressed, in load order), the suite's static tests, and /init.
# MODROOT "" is a kernel with KVM built in: no modules, and PARAMS go on
# the kernel command line instead (kernels.sh does that).
set -euo pipefail

die() {
	echo "make-initramfs: $*" >&2
	exit 1
}

[ $# -eq 9 ] || die "usage: make-initramfs.sh OUT MODROOT KREL VENDOR PARAMS TESTDIR TESTS ARGS TEST_TIMEOUT"
out=$1 modroot=$2 krel=$3 vendor=$4 params=$5 testdir=$6 tests=$7 args=$8 test_timeout=$9
busybox=$(command -v busybox) || die "busybox is needed (Debian: busybox-static)"
file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not static (Debian: busybox-static)"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,proc,sys,dev,tmp,results,tests,lib/modules}
cp "$busybox" "$root/bin/busybox"
for cmd in sh mount insmod poweroff cat echo grep uname base64 sha256sum wc cut mkdir sleep timeout; do
	ln -s busybox "$root/bin/$cmd"
done

# Modules in load order, as modprobe would; .xz, .zst or plain.
modules=
while read -r verb path _; do
	[ "$verb" = insmod ] || continue
	name=$(basename "$path")
	name=${name%.xz}
	name=${name%.zst}
	case "$path" in
	*.xz) xz -dc "$path" >"$root/lib/modules/$name" ;;
	*.zst) zstd -qdc "$path" >"$root/lib/modules/$name" ;;
	*) cp "$path" "$root/lib/modules/$name" ;;
	esac
	modules="$modules /lib/modules/$name"
done < <([ -z "$modroot" ] || modprobe -d "$modroot" -S "$krel" --show-depends "$vendor" 2>/dev/null)
[ -n "$modules" ] || [ -z "$modroot" ] || die "no $vendor module for $krel under $modroot"

# RIG_OVERLAY: a tree copied over the root first (vmexit-overlay.sh's:
# QEMU and vmexit.flat); a test it brings is used as it is.
if [ -n "${RIG_OVERLAY:-}" ]; then
	[ -d "$RIG_OVERLAY" ] || die "RIG_OVERLAY $RIG_OVERLAY: not a directory"
	cp -a "$RIG_OVERLAY"/. "$root"/
fi
for t in $tests; do
	[ -x "$root/tests/$t" ] && [ -n "${RIG_OVERLAY:-}" ] && [ -e "$RIG_OVERLAY/tests/$t" ] && continue
	[ -x "$testdir/$t" ] || die "$testdir/$t: no such test (make STATIC=1)"
	file -L "$testdir/$t" | grep -q 'statically linked' || die "$testdir/$t is not static (make STATIC=1)"
	cp "$testdir/$t" "$root/tests/"
done

cp "$(dirname "${BASH_SOURCE[0]}")/init" "$root/init"
chmod +x "$root/init"
# POSIX sh quoting, for busybox: 'it'\''s'.
quote() {
	printf "'%s'" "${1//\'/\'\\\'\'}"
}
{
	echo "RIG_MODULES=$(quote "${modules# }")"
	echo "RIG_VENDOR=$(quote "${vendor//-/_}")"
	echo "RIG_VENDOR_FILE=$(quote "${vendor//_/-}.ko")"
	echo "RIG_PARAMS=$(quote "$params")"
	echo "RIG_TESTS=$(quote "$tests")"
	echo "RIG_ARGS=$(quote "$args")"
	echo "RIG_TEST_TIMEOUT=$(quote "$test_timeout")"
} >"$root/rig.conf"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
