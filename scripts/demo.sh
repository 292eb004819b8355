#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running demo: installs the
# packages vigil needs, builds it, and runs `vigil serve --dev --demo` on port
# 8000 (override with VIGIL_PORT) with the embedded SQLite store in ./vigil-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The build makes the dashboard served at / too (build/web, with npm).
scripts/build.sh build -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF
exec build/vigil serve --dev --demo "$@"
