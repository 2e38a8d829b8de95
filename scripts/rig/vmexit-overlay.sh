#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# vmexit-overlay.sh VMEXIT_FLAT DIR: a tree for the rig's initramfs
# (kernels.sh --overlay DIR) with Debian's QEMU, the libraries and firmware
# it loads, kvm-unit-tests' vmexit.flat, and /tests/vmexit_flat, which runs
# vmexit.flat under that QEMU on the booted kernel's KVM.  The test's
# arguments are vmexit.flat's: the names of the tests to run.
#
# So vmexit.flat, the reference that b95234c8 quoted, runs nested on the
# kernels the rig builds, beside self_ipi_test.
set -euo pipefail

die() {
	echo "vmexit-overlay: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: vmexit-overlay.sh VMEXIT_FLAT DIR"
flat=$1 out=$2
[ -f "$flat" ] || die "$flat: no such file"
[ ! -e "$out" ] || die "$out exists"
qemu=/usr/bin/qemu-system-x86_64
if [ ! -x "$qemu" ]; then
	[ "$(id -u)" -eq 0 ] || die "Debian's qemu-system-x86 is needed (apt-get install qemu-system-x86)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 >/dev/null ||
		die "could not install qemu-system-x86"
fi

mkdir -p "$out"/{usr/bin,tests,vmexit}
cp "$qemu" "$out/usr/bin/"
# The dynamic loader and every library, where the loader looks for them.
ldd "$qemu" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
while read -r lib; do
	mkdir -p "$out$(dirname "$lib")"
	cp -L "$lib" "$out$lib"
done
# The firmware a -kernel boot of a multiboot image loads: SeaBIOS, the
# multiboot option ROM, and the TPR-patching ROM QEMU adds under KVM.
# Debian's QEMU looks in /usr/share/qemu, then /usr/share/seabios (the
# seabios package's): each where it is found.
for f in bios-256k.bin multiboot_dma.bin kvmvapic.bin; do
	found=
	for d in /usr/share/qemu /usr/share/seabios; do
		if [ -f "$d/$f" ]; then
			mkdir -p "$out$d"
			cp -L "$d/$f" "$out$d/$f"
			found=1
			break
		fi
	done
	[ -n "$found" ] || die "no $f in /usr/share/qemu or /usr/share/seabios"
done
cp "$flat" "$out/vmexit/vmexit.flat"

# As kvm-unit-tests' own runner does, less its devices (-nodefaults):
# x2APIC offered, so vmexit.flat turns it on; one vCPU; its test device
# and exit port.  64 MB: vmexit.flat needs little, and the rig's guest
# has 1 GB.
# isa-debug-exit makes QEMU exit with (status << 1) | 1: 1 is a pass.
cat >"$out/tests/vmexit_flat" <<'EOF'
#!/bin/sh
/usr/bin/qemu-system-x86_64 -accel kvm -cpu qemu64,+x2apic -m 64 -smp 1 -nodefaults \
	-nographic -no-reboot -device pc-testdev -device isa-debug-exit,iobase=0xf4,iosize=0x4 \
	-serial stdio -kernel /vmexit/vmexit.flat -append "$*"
rc=$?
[ $rc -eq 1 ] && exit 0
echo "vmexit_flat: QEMU exited with $rc"
exit 1
EOF
chmod +x "$out/tests/vmexit_flat"
