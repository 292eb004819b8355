// Renders the notification icons into static/ with Debian's Chromium (a push
// notification cannot use an SVG): icon-192.png is favicon.svg; badge-96.png is
// its eye as a white silhouette on transparent (Android draws a badge from its
// alpha only). Run after changing favicon.svg:  node icons.mjs
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = dirname(fileURLToPath(import.meta.url));
const favicon = readFileSync(join(root, 'static', 'favicon.svg'), 'utf8');
const badge = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
  <path d="M2 16c3.5-6.4 8-9.6 14-9.6S26.5 9.6 30 16c-3.5 6.4-8 9.6-14 9.6S5.5 22.4 2 16z" fill="none" stroke="#fff" stroke-width="3" stroke-linejoin="round"/>
  <circle cx="16" cy="16" r="5.2" fill="#fff"/>
</svg>`;

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  for (const [name, svg, size] of [['icon-192.png', favicon, 192], ['badge-96.png', badge, 96]]) {
    const page = await browser.newPage({ viewport: { width: size, height: size } });
    const uri = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
    await page.setContent(`<style>html,body{margin:0;background:transparent}</style><img src="${uri}" width="${size}" height="${size}">`);
    await page.screenshot({ path: join(root, 'static', name), omitBackground: true });
    await page.close();
  }
} finally {
  await browser.close();
}
