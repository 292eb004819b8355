# Shared by scripts/test.sh and the test that holds it (tests/scripts/test_command_test.sh):
# how the test command configures, builds and runs a suite. Source it from the
# repository root.

# Configures and builds DIR with the test suite on, whatever an earlier
# configure left in DIR's cache (scripts/demo.sh configures build/ with tests
# off, and CMake keeps that). The flag comes last so no argument undoes it.
# VIGIL_CONFIGURE_ONLY=1 stops after configuring.
suite_build() {
  local dir="$1"; shift
  scripts/build.sh "$dir" "$@" -DVIGIL_BUILD_TESTS=ON
}

# Runs CTest in DIR; fails when no test ran, which CTest alone reports with
# "No tests were found!!!" and exit status 0.
suite_ctest() {
  local dir="$1"; shift
  ctest --test-dir "$dir" --no-tests=error "$@"
}
