#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Prints the rig's cache: Debian's kernels, downloaded once, and the
# emulators, built once, for every clone on this machine.  $KVM_IPI_CACHE
# if set, else kvm-ipi-selftests/ in the user's cache directory, else
# (no $HOME) this clone's build/rig/.
set -euo pipefail

if [ -n "${KVM_IPI_CACHE:-}" ]; then
	echo "$KVM_IPI_CACHE"
elif [ -n "${XDG_CACHE_HOME:-}" ] || [ -n "${HOME:-}" ]; then
	echo "${XDG_CACHE_HOME:-$HOME/.cache}/kvm-ipi-selftests"
else
	echo "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/rig"
fi
