#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# boot-qemu.sh VMLINUZ INITRD CMDLINE CPUS TIMEOUT SERIAL_LOG
#
# QEMU TCG with -cpu max: nested SVM, so the kernel inside runs kvm_amd.
# EMULATOR is the qemu-system-x86_64 to run (kernels.sh passes the rig's
# build, scripts/rig/build-qemu.sh, or --qemu).
# Exits 0 once the guest powered itself off, 124 on timeout, else the
# emulator's status.  QEMU_TCG_THREAD=multi for multi-threaded TCG
# (QEMU 7.2's let the guest kernel trip over its own text patching: an
# int3 Oops in __schedule under this suite).
set -uo pipefail

[ $# -eq 6 ] || { echo "usage: boot-qemu.sh VMLINUZ INITRD CMDLINE CPUS TIMEOUT SERIAL_LOG" >&2; exit 2; }
[ -x "${EMULATOR:-}" ] || { echo "EMULATOR must name a qemu-system-x86_64 binary" >&2; exit 2; }
timeout --kill-after=10 "$5" "$EMULATOR" -accel "tcg,thread=${QEMU_TCG_THREAD:-single}" \
	-cpu max -m 1024 -smp "$4" -nographic -no-reboot -kernel "$1" -initrd "$2" \
	-append "$3" </dev/null >"$6" 2>&1
