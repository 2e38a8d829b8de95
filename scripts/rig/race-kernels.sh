#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The kernels of the b95234c8 race experiment: stock and one per race in
# scripts/rig/races/.  Usage: race-kernels.sh [-o DIR] (patched-kernels.sh's).
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
exec "$SRC/scripts/rig/patched-kernels.sh" "$@" "$SRC/scripts/rig/races"
