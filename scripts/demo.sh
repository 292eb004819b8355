#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running demo: installs the
# packages vigil needs, builds it, and runs `vigil serve --dev --demo` on port
# 8000 (override with VIGIL_PORT) with the embedded SQLite store in ./vigil-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF
# The dashboard served at / (found by the binary in clients/dashboard/dist).
(cd clients/dashboard && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
exec build/vigil serve --dev --demo "$@"
