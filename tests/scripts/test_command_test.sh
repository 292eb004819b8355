#!/usr/bin/env bash
# Holds what scripts/test.sh promises: it tests what it says, in whatever order
# the README's two commands run. scripts/demo.sh configures build/ with the
# tests off and CMake keeps that in its cache; a test command that reuses such
# a build, or a CTest run that finds no test, must not pass.
#   test_command_test.sh SCRATCH_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/suite.sh
scratch="$1"
rm -rf "$scratch"
fail() { echo "FAIL: $*" >&2; exit 1; }

# Every build and CTest run of the test command goes through scripts/lib/suite.sh.
if grep -nE '^[^#]*(\bctest\b|scripts/build\.sh)' scripts/test.sh; then
  fail "scripts/test.sh builds or runs CTest without scripts/lib/suite.sh (lines above)"
fi
grep -q 'suite_ctest build ' scripts/test.sh || fail "scripts/test.sh does not run the normal build's suite"

# A build configured the way scripts/demo.sh does it: no tests.
grep -q -- '-DVIGIL_BUILD_TESTS=OFF' scripts/demo.sh || fail "scripts/demo.sh no longer turns tests off: update this test"
VIGIL_CONFIGURE_ONLY=1 scripts/build.sh "$scratch" -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF

# The test command's CTest run refuses it.
if out="$(suite_ctest "$scratch" 2>&1)"; then
  echo "$out" >&2
  fail "suite_ctest passed on a build with no tests"
fi
echo "$out" | grep -q "No tests were found" || { echo "$out" >&2; fail "suite_ctest failed for another reason"; }

# The test command's configure turns the tests back on in that same build.
VIGIL_CONFIGURE_ONLY=1 suite_build "$scratch" -DVIGIL_BUILD_BENCH=OFF
grep -q '^VIGIL_BUILD_TESTS:BOOL=ON$' "$scratch/CMakeCache.txt" || fail "suite_build left VIGIL_BUILD_TESTS off"
listed="$(suite_ctest "$scratch" -N)" || { echo "$listed" >&2; fail "no test listed after suite_build"; }
echo "$listed" | grep -q 'conformance.rfc6455' || { echo "$listed" >&2; fail "the suite is not registered after suite_build"; }
rm -rf "$scratch"
echo "the test command configures its tests and refuses a run with none"
