#!/usr/bin/env bash
# The TypeScript client as a new user meets it: installed from a clean copy of
# the tree with `npm install ./clients/ts` into a scratch project, imported at
# run time, and the README's React snippet, extracted as written, type-checked
# under moduleResolution bundler, node16 and node. Also: `npm pack` ships dist/,
# and the committed dist/ is what a fresh build of src/ gives.
#   tests/clients/ts_install.sh REPO_ROOT
# Packages come from npm's cache when `npm ci` has run in clients/ts (the
# versions are that lockfile's), else from the registry.
set -euo pipefail
repo="$(cd "${1:?usage: ts_install.sh REPO_ROOT}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm_quiet=(--prefer-offline --no-audit --no-fund --loglevel=error)

echo "== a clean copy of the tree (tracked and new files; nothing ignored, built or installed)"
mkdir -p "$work/clone"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
  tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$work/clone"
test ! -e "$work/clone/clients/ts/node_modules"

# The versions the client is developed against.
version() {
  node -e 'const l = require(process.argv[1]); console.log(l.packages["node_modules/" + process.argv[2]].version)' \
    "$repo/clients/ts/package-lock.json" "$1"
}
react="$(version react)"; types_react="$(version @types/react)"; typescript="$(version typescript)"

echo "== npm install ./clients/ts into a scratch project"
mkdir -p "$work/app/src"
cd "$work/app"
cat > package.json <<JSON
{ "name": "scratch-app", "version": "1.0.0", "private": true, "type": "module" }
JSON
cp -r "$work/clone/clients" "$work/app/clients"  # `./clients/ts`, as the README says, from the app's folder
npm install "${npm_quiet[@]}" ./clients/ts "react@$react" "@types/react@$types_react" "typescript@$typescript"

echo "== imports resolve at run time"
node --input-type=module -e '
  const core = await import("@vigil/client");
  const react = await import("@vigil/client/react");
  for (const [name, value] of [["createAlertClient", core.createAlertClient], ["fetchHistory", core.fetchHistory],
                               ["alertFrameUrl", core.alertFrameUrl], ["useAnomalyAlerts", react.useAnomalyAlerts]])
    if (typeof value !== "function") { console.error(name + " is not exported"); process.exit(1); }
'

echo "== the README's React snippet, exactly as written"
node -e '
  const text = require("fs").readFileSync(process.argv[1], "utf8");
  const blocks = [...text.matchAll(/```tsx\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.includes("useAnomalyAlerts"));
  if (blocks.length !== 1) { console.error("README.md: expected one tsx block using useAnomalyAlerts, found " + blocks.length); process.exit(1); }
  require("fs").writeFileSync("src/snippet.tsx", blocks[0]);
' "$work/clone/README.md"
cat src/snippet.tsx

for resolution in bundler node16 node; do
  case "$resolution" in
    bundler) module=esnext ;;
    node16) module=node16 ;;
    node) module=commonjs ;;
  esac
  cat > "tsconfig.$resolution.json" <<JSON
{ "compilerOptions": { "module": "$module", "moduleResolution": "$resolution", "target": "es2020",
    "jsx": "react-jsx", "strict": true, "noEmit": true, "skipLibCheck": false, "types": [] },
  "files": ["src/snippet.tsx"] }
JSON
  echo "-- tsc, moduleResolution $resolution"
  npx --no-install tsc -p "tsconfig.$resolution.json"
done

echo "== npm pack ships dist/"
cd "$work/clone/clients/ts"
npm pack --dry-run --json 2>/dev/null > "$work/pack.json"
node -e '
  const files = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].files.map((f) => f.path);
  for (const f of ["dist/index.js", "dist/index.d.ts", "dist/react.js", "dist/react.d.ts", "dist/http.js", "package.json"])
    if (!files.includes(f)) { console.error("npm pack leaves out " + f); process.exit(1); }
' "$work/pack.json"

echo "== the committed dist/ is a fresh build of src/"
cp -r dist "$work/committed-dist"
npm ci "${npm_quiet[@]}"
npm run build --silent
if ! diff -r "$work/committed-dist" dist; then
  echo "clients/ts/dist is stale: run 'npm run build' in clients/ts and commit dist/" >&2
  exit 1
fi
echo "ok"
