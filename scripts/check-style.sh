#!/usr/bin/env bash
# Checks style without changing anything: clang-format over the C++ sources
# (.clang-format; fails on any drift), ESLint (`npm run lint`) and TypeScript's
# type check (strict, tsc --noEmit) over clients/ts and clients/dashboard.
# The part `tidy` runs clang-tidy over src/ (.clang-tidy; the compile commands
# of a built tree, $VIGIL_BUILD_DIR or build/; minutes of CPU).
#   scripts/check-style.sh            format, eslint, typecheck; exit 1 when anything drifts
#   scripts/check-style.sh eslint     only the parts named: format, eslint, typecheck, tidy
#                                     (CTest runs `eslint`, `format` and `tidy`)
#   clang-format -i FILE...           fixes the layout of files it names
#   npm run lint -- --fix             (in a client) fixes what ESLint can
set -euo pipefail
cd "$(dirname "$0")/.."
parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(format eslint typecheck)
for part in "${parts[@]}"; do
  case "$part" in
    format | eslint | typecheck | tidy) ;;
    *) echo "check-style.sh: unknown part '$part' (format, eslint, typecheck, tidy)" >&2; exit 2 ;;
  esac
done
wants() { [[ " ${parts[*]} " == *" $1 "* ]]; }
status=0

if wants format; then
  echo "== clang-format ($(clang-format --version | grep -o 'version [0-9.]*'))"
  mapfile -t cxx < <(git ls-files '*.cpp' '*.hpp' '*.ipp' ':!third_party/**')
  if ! clang-format --style=file --dry-run --Werror "${cxx[@]}"; then
    echo "clang-format: the files above drift from .clang-format (clang-format -i FILE fixes them)"
    status=1
  fi
fi

if wants eslint || wants typecheck; then
  for dir in clients/ts clients/dashboard; do
    if [ ! -d "$dir/node_modules" ]; then
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    if wants eslint; then
      echo "== eslint $dir"
      (cd "$dir" && npm run --silent lint) || status=1
    fi
    if wants typecheck; then
      echo "== tsc --noEmit $dir"
      (cd "$dir" && npm run --silent typecheck) || status=1
    fi
  done
fi

if wants tidy; then
  build="${VIGIL_BUILD_DIR:-build}"
  echo "== clang-tidy src/ ($(clang-tidy --version | grep -o 'version [0-9.]*'), $build/compile_commands.json)"
  [ -f "$build/compile_commands.json" ] || { echo "no $build/compile_commands.json: build first (scripts/build.sh)"; exit 2; }
  # run-clang-tidy exits 0 on findings; a finding is a line "file:line:col: warning|error: ...".
  out="$(run-clang-tidy -p "$build" -quiet -j "$(nproc)" "$PWD/src/.*\\.(cpp)\$" 2>&1 | sed 's/\x1b\[[0-9;]*m//g')" || true
  files="$(grep -c '^clang-tidy' <<<"$out" || true)"
  if [ "$files" = 0 ]; then
    echo "clang-tidy: checked no file (is $build a build of this tree?)"
    status=1
  elif grep -E '^/.*:[0-9]+:[0-9]+: (warning|error):' <<<"$out"; then
    echo "clang-tidy: the findings above, in $files files (.clang-tidy says which checks run and why others do not)"
    status=1
  else
    echo "clang-tidy: $files files clean"
  fi
fi

[ "$status" = 0 ] && echo "style: clean"
exit "$status"
