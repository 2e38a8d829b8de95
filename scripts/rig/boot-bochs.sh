#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# boot-bochs.sh VMLINUZ INITRD CMDLINE CPUS TIMEOUT SERIAL_LOG
#
# Bochs 3.0 (EMULATOR, built by build-bochs.sh with its fixes) emulating a
# CPU with VMX, APIC virtualization and posted interrupts, BOCHS_CPU_MODEL
# (kernels.sh's --bochs-model): the kernel inside runs kvm_intel with APICv.
# Debian's 6.1 kernels, and 6.1 built with the rig's config, stall early
# in boot on corei7_icelake_u (even with 1 CPU); 6.12 runs on both.
# Boots an isolinux ISO.  Exits 0 once
# the guest powered itself off, 124 on timeout, else non-zero with the
# reason from Bochs' log on stderr.
set -uo pipefail

# SeaBIOS 1.13 from the source package puts only the boot CPU into its
# ACPI MADT under Bochs; Bochs' own ROM BIOS (bookworm's bochsbios) lists
# every CPU.
ROM=/usr/share/bochs/BIOS-bochs-latest

die() {
	echo "$*" >&2
	exit 2
}

[ $# -eq 6 ] || die "usage: boot-bochs.sh VMLINUZ INITRD CMDLINE CPUS TIMEOUT SERIAL_LOG"
vmlinuz=$1 initrd=$2 cmdline=$3 cpus=$4 timeout_s=$5 serial=$6
[ -r "$ROM" ] || die "$ROM is missing (Debian: bochsbios)"
for f in /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32; do
	[ -r "$f" ] || die "$f is missing (Debian: isolinux, syslinux-common)"
done
command -v xorriso >/dev/null || die "xorriso is needed (Debian: xorriso)"
bochs=${EMULATOR:-}
[ -x "$bochs" ] || die "EMULATOR must name a bochs binary (scripts/rig/build-bochs.sh builds one)"
[ -n "${BOCHS_CPU_MODEL:-}" ] || die "BOCHS_CPU_MODEL must name a Bochs CPU model"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/iso/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$work/iso/isolinux/"
cp "$vmlinuz" "$work/iso/vmlinuz"
cp "$initrd" "$work/iso/initrd"
printf 'DEFAULT rig\nPROMPT 0\nTIMEOUT 0\nLABEL rig\n  KERNEL /vmlinuz\n  APPEND initrd=/initrd %s\n' \
	"$cmdline" >"$work/iso/isolinux/isolinux.cfg"
xorriso -as mkisofs -quiet -o "$work/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table "$work/iso" 2>"$work/xorriso.log" ||
	die "xorriso: $(tail -1 "$work/xorriso.log")"

cat >"$work/bochsrc" <<EOT
megs: 1024
cpu: count=$cpus, model=$BOCHS_CPU_MODEL, reset_on_triple_fault=0
romimage: file=$ROM
vgaromimage: file=$(dirname "$bochs")/../bios/vgabios.bin
pci: enabled=1, chipset=i440fx
ata0-master: type=cdrom, path=$work/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$serial
display_library: nogui
clock: sync=none
log: $work/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
EOT
timeout --kill-after=10 "$timeout_s" "$bochs" -q -f "$work/bochsrc" </dev/null >"$work/stdout" 2>&1
rc=$?
[ $rc -eq 124 ] || [ $rc -eq 137 ] && exit 124
# The guest's soft power-off is how Bochs ends (as a "panic", status 1).
grep -q 'ACPI control: soft power off' "$work/bochs.log" && exit 0
why=$(grep -m 1 '>>PANIC<<' "$work/bochs.log" || tail -1 "$work/stdout")
die "bochs exited with $rc: ${why:-no reason logged}"
