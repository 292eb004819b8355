#!/usr/bin/env bash
# Installs everything vigil needs to build, run and test on Debian 12, from Debian's
# own packages. Idempotent; run as root (or with sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config ccache patch clang libclang-rt-14-dev clang-format clang-tidy
  # libraries
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libjwt-dev libsqlite3-dev libpq-dev libhiredis-dev libpng-dev libjemalloc-dev liburing-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  # the system's trust store, against which push services' certificates are verified
  ca-certificates
  # tests and benchmarks
  libgtest-dev libbenchmark-dev python3 python3-websockets redis-server postgresql-15 chromium fonts-liberation
  # the Python client's tests (clients/python): pytest, a venv for the offline
  # install, numpy frames encoded with Pillow, the FastAPI example app, mypy
  python3-pytest python3-venv python3-numpy python3-pil python3-fastapi python3-httpx mypy
  nodejs npm
  # the Debian package and its check (dpkg-shlibdeps, systemd-analyze verify, curl)
  dpkg-dev file systemd adduser curl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The machine may ship Node.js outside Debian's packaging; keep it if it works.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
