#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to every test passing: installs
# the packages, runs the fuzz targets briefly, then the suite with CTest in a
# normal build, under AddressSanitizer + UndefinedBehaviorSanitizer, and under
# ThreadSanitizer (the server binary the tests start is instrumented too).
#   scripts/test.sh           all of them
#   VIGIL_SKIP_SANITIZERS=1   the normal build only (quicker, for development)
#   VIGIL_SKIP_FUZZ=1         no fuzz run
#   VIGIL_SKIP_PACKAGE=1      no .deb build, install and service check (scripts/check-package.sh)
# Each build is configured with the tests on, and each CTest run fails when it
# ran no test (scripts/lib/suite.sh; tests/scripts/test_command_test.sh holds it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/suite.sh
scripts/install-deps.sh

jobs="$(nproc)"
if [ "${VIGIL_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== fuzz targets (clang, libFuzzer): a short run of each from the committed corpus"
  CXX=clang++ suite_build build-fuzz -DVIGIL_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++
  suite_ctest build-fuzz --output-on-failure -j"$jobs"
fi
echo "== npm ci (clients)"
(cd clients/ts && npm ci --no-audit --no-fund --loglevel=error)
(cd clients/dashboard && npm ci --no-audit --no-fund --loglevel=error)
echo "== build (RelWithDebInfo)"
suite_build build
echo "== tests"
suite_ctest build --output-on-failure -j"$jobs" --timeout 300
if [ "${VIGIL_SKIP_PACKAGE:-0}" != "1" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "== package: the .deb installed and started as a service, answering /health"
    scripts/check-package.sh build
  else
    echo "== package check skipped: it installs a package and needs root (CI runs it)"
  fi
fi

if [ "${VIGIL_SKIP_SANITIZERS:-0}" != "1" ]; then
  echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
  suite_build build-asan -DVIGIL_SANITIZE=ON -DVIGIL_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
  echo "== tests under sanitizers"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # Descriptor exhaustion starves the sanitizer runtimes themselves: not run
  # here; nor are the checks of the scripts, which build nothing instrumented.
  suite_ctest build-asan --output-on-failure -j"$jobs" --timeout 600 -E 'DescriptorExhaustion' -LE scripts

  echo "== build (ThreadSanitizer)"
  # Always on epoll: TSan cannot see the order that munmap and mmap give, so
  # an io_uring ring mapped where a freed one was reads as a race on its SQEs.
  suite_build build-tsan -DVIGIL_TSAN=ON -DVIGIL_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_IO_URING=OFF
  echo "== tests under ThreadSanitizer (the server binary the tests start is instrumented too)"
  # A race stops the process that has it, so the test that drove it fails.
  # The npm suites test the clients, not the server's threads, and the checks
  # of the scripts build nothing instrumented: not run here.
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
  suite_ctest build-tsan --output-on-failure -j"$jobs" --timeout 600 -LE 'clients|scripts' -E 'DescriptorExhaustion'
fi
