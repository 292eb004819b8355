// Builds the dashboard into a flat dist/ that `vigil serve --web-root dist` serves:
//   dist/index.html, dist/app.js (one ES2020 bundle, @vigil/client included), dist/sw.js (the
//   service worker, at the root so that its scope is the whole dashboard), dist/app.css and the icons
// The server serves plain file names only (no subdirectories), so nothing here may nest.
//   node build.mjs [--watch] [--outdir DIR]   (DIR instead of dist/: the CMake build writes build/web)
import { build, context } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const outdirAt = process.argv.indexOf('--outdir');
const dist = outdirAt > 0 && process.argv[outdirAt + 1] ? resolve(process.argv[outdirAt + 1]) : join(root, 'dist');
const watch = process.argv.includes('--watch');

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
for (const name of readdirSync(join(root, 'static'))) copyFileSync(join(root, 'static', name), join(dist, name));

const options = {
  absWorkingDir: root,
  entryPoints: { app: 'src/app.ts', sw: 'src/sw/sw.ts' },
  outdir: dist,
  bundle: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  tsconfig: 'tsconfig.json', // maps @vigil/client to ../ts/src
  minify: !watch,
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'info',
};

if (watch) {
  const ctx = await context(options);
  await ctx.watch();
  console.log('watching src/ (static/ is copied at start only)');
} else {
  await build(options);
}
