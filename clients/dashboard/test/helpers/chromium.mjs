// Debian's Chromium (never a downloaded browser), driven by playwright-core.
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or false when they can. */
export const skipReason = !process.env.VIGIL_BIN
  ? 'VIGIL_BIN is not set: point it at a vigil binary (e.g. VIGIL_BIN=../../build/vigil npm test)'
  : !existsSync(CHROMIUM)
    ? `${CHROMIUM} is missing: apt-get install -y chromium`
    : false;

/** A headless Chromium with its own profile, quiet on the network, in UTC and en-GB. */
export async function launchChromium(profileDir, options = {}) {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    locale: 'en-GB',
    timezoneId: 'UTC',
    ...options,
  });
}
