#!/usr/bin/env bash
# Checks style without changing anything: clang-format over the C++ sources
# (.clang-format; fails on any drift), ESLint (`npm run lint`) and TypeScript's
# type check (strict, tsc --noEmit) over clients/ts and clients/dashboard.
# With VIGIL_STYLE_TIDY=1 also clang-tidy over src/ (.clang-tidy; needs a
# configured build/ for compile_commands.json, and takes minutes).
#   scripts/check-style.sh            all of them; exit 1 when anything drifts
#   scripts/check-style.sh eslint     only the parts named: format, eslint, typecheck
#                                     (CTest's style.eslint runs `eslint`)
#   clang-format -i FILE...           fixes the layout of files it names
#   npm run lint -- --fix             (in a client) fixes what ESLint can
set -euo pipefail
cd "$(dirname "$0")/.."
parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(format eslint typecheck)
for part in "${parts[@]}"; do
  case "$part" in
    format | eslint | typecheck) ;;
    *) echo "check-style.sh: unknown part '$part' (format, eslint, typecheck)" >&2; exit 2 ;;
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

if [ "${VIGIL_STYLE_TIDY:-0}" = "1" ]; then
  echo "== clang-tidy src/ (build/compile_commands.json)"
  [ -f build/compile_commands.json ] || scripts/build.sh build
  out="$(run-clang-tidy -p build -quiet "$PWD/src/.*\\.cpp\$" 2>/dev/null)" || true
  if grep -E '(warning|error):' <<<"$out"; then status=1; fi
fi

[ "$status" = 0 ] && echo "style: clean"
exit "$status"
