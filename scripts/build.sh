#!/usr/bin/env bash
# Configures and builds vigil into build/ (or $1), Release-ish with debug info.
# Extra arguments go to CMake, e.g. scripts/build.sh build-asan -DVIGIL_SANITIZE=ON
# VIGIL_CONFIGURE_ONLY=1 configures without building.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
# ccache keys on paths relative to the checkout, so a fresh clone elsewhere (CI)
# reuses what an earlier build compiled.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
shift || true
cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
[ "${VIGIL_CONFIGURE_ONLY:-0}" = "1" ] || ninja -C "$dir" -j"$(nproc)"
