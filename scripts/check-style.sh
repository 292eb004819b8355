#!/usr/bin/env bash
# Checks style without changing anything: clang-format over the C++ sources
# (.clang-format; fails on any drift), ESLint and TypeScript's type check
# (strict, tsc --noEmit) over clients/ts and clients/dashboard. With
# VIGIL_STYLE_TIDY=1 also clang-tidy over src/ (.clang-tidy; needs a
# configured build/ for compile_commands.json, and takes minutes).
#   scripts/check-style.sh            exit 1 when anything drifts
#   clang-format -i FILE...           fixes the layout of files it names
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

echo "== clang-format ($(clang-format --version | grep -o 'version [0-9.]*'))"
mapfile -t cxx < <(git ls-files '*.cpp' '*.hpp' '*.ipp' ':!third_party/**')
if ! clang-format --style=file --dry-run --Werror "${cxx[@]}"; then
  echo "clang-format: the files above drift from .clang-format (clang-format -i FILE fixes them)"
  status=1
fi

for dir in clients/ts clients/dashboard; do
  if [ ! -d "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  echo "== eslint $dir"
  (cd "$dir" && npx --no-install eslint .) || status=1
  echo "== tsc --noEmit $dir"
  (cd "$dir" && npm run --silent typecheck) || status=1
done

if [ "${VIGIL_STYLE_TIDY:-0}" = "1" ]; then
  echo "== clang-tidy src/ (build/compile_commands.json)"
  [ -f build/compile_commands.json ] || scripts/build.sh build
  out="$(run-clang-tidy -p build -quiet "$PWD/src/.*\\.cpp\$" 2>/dev/null)" || true
  if grep -E '(warning|error):' <<<"$out"; then status=1; fi
fi

[ "$status" = 0 ] && echo "style: clean"
exit "$status"
