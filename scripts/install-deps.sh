#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Install the Debian packages the suite needs, if any are missing.  Needs
# root (or sudo) only when something has to be installed.
set -euo pipefail

# command -> package
declare -A need=(
	[gcc]=gcc
	[make]=make
	[jq]=jq
	[shellcheck]=shellcheck
	[xz]=xz-utils
	[tar]=tar
	[column]=bsdextrautils
	[gnuplot]=gnuplot-nox
	[qemu-system-x86_64]=qemu-system-x86	# the firmware for the rig's own QEMU
	[busybox]=busybox-static
	[cpio]=cpio
	[depmod]=kmod
	[file]=file
	[timeout]=coreutils
	[perf]=linux-perf	# run_tests.sh --perf
	[rsync]=rsync		# a kernel tree's kselftest install
	# The kernel rig: QEMU and Bochs from source, boot ISOs, kernels built for it.
	[g++]=g++
	[meson]=meson
	[ninja]=ninja-build
	[pkg-config]=pkg-config
	[patch]=patch
	[xorriso]=xorriso
	[flex]=flex
	[bison]=bison
	[bc]=bc
)
missing=()
for cmd in "${!need[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
# Static test binaries (make STATIC=1) need libc.a; ASan/UBSan need their runtimes.
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
[ -e /usr/lib/ISOLINUX/isolinux.bin ] || missing+=(isolinux)
[ -e /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || missing+=(syslinux-common)
[ -e /usr/include/libelf.h ] || missing+=(libelf-dev)	# objtool
[ -e /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)	# kernel scripts/
[ -e /usr/share/bochs/BIOS-bochs-latest ] || missing+=(bochsbios)	# lists every CPU in its MADT
[ -e /usr/include/glib-2.0/glib.h ] || missing+=(libglib2.0-dev)	# QEMU
[ -e /usr/include/pixman-1/pixman.h ] || missing+=(libpixman-1-dev)
[ -e /usr/include/libfdt.h ] || missing+=(libfdt-dev)
gcc_major=$(gcc -dumpversion 2>/dev/null | cut -d. -f1 || true)
if [ -n "$gcc_major" ] && ! ls /usr/lib/gcc/x86_64-linux-gnu/"$gcc_major"/libasan.* >/dev/null 2>&1; then
	missing+=("libgcc-$gcc_major-dev")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "install-deps: installing ${missing[*]}"
sudo=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "install-deps: need root to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
