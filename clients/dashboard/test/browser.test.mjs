// The dashboard in a real browser against the real server:
//   $VIGIL_BIN serve --web-root dist  ←  Chromium (/usr/bin/chromium) driven by playwright-core.
// Publishes alerts with real PNG frames, acknowledges one, restarts the server on
// the same port and data dir, and checks that the page comes back by itself.
// Ends with a screenshot for the README (docs/dashboard.png).
//
//   npm test                                  (builds dist/ first)
//   VIGIL_BIN=/path/to/vigil npm test         (skipped without VIGIL_BIN)
//   VIGIL_DASHBOARD_SCREENSHOT=/tmp/x.png     (where the screenshot goes; "" for none)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeFrame } from './helpers/png.mjs';
import { mintToken } from './helpers/tokens.mjs';
import { launchChromium, skipReason } from './helpers/chromium.mjs';
import { chainedSteps } from './helpers/steps.mjs';
import { startVigil } from './helpers/vigil.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(here, '..', 'dist');
const SCREENSHOT = process.env.VIGIL_DASHBOARD_SCREENSHOT ?? resolve(here, '..', '..', '..', 'docs', 'dashboard.png');

const skip = skipReason;

/** Alerts of the test, with frames drawn to match their detection boxes. */
const SCENES = {
  intrusion: {
    stream_id: 'cam-lobby',
    detection: { type: 'intrusion', confidence: 0.93, boxes: [{ x: 58, y: 48, w: 50, h: 112 }, { x: 196, y: 58, w: 44, h: 100 }], model: 'yolo-v8n' },
    look: { seed: 3, wall: [74, 86, 104], floor: [58, 62, 70] },
  },
  loitering: {
    stream_id: 'cam-parking-north',
    detection: { type: 'loitering', confidence: 0.71, boxes: [{ x: 150, y: 54, w: 46, h: 104 }], model: 'yolo-v8n' },
    look: { seed: 11, wall: [92, 98, 88], floor: [70, 72, 66] },
  },
  fall: {
    stream_id: 'cam-stairwell-2',
    detection: { type: 'fall_detected', confidence: 0.88, boxes: [{ x: 112, y: 118, w: 104, h: 46 }], model: 'pose-fall-2' },
    look: { seed: 27, wall: [98, 84, 78], floor: [72, 62, 58] },
  },
  crowd: {
    stream_id: 'cam-loading-dock',
    detection: {
      type: 'crowd_gathering',
      confidence: 0.66,
      boxes: [{ x: 40, y: 62, w: 40, h: 94 }, { x: 120, y: 56, w: 42, h: 100 }, { x: 236, y: 64, w: 40, h: 92 }],
      model: 'yolo-v8n',
    },
    look: { seed: 42, wall: [70, 80, 94], floor: [54, 60, 68] },
  },
};

function alertBody(scene, userId) {
  const { stream_id, detection, look } = SCENES[scene];
  const frame = makeFrame({
    ...look,
    stream: stream_id,
    label: detection.type.split('_')[0],
    confidence: detection.confidence,
    boxes: detection.boxes,
    time: new Date(),
  });
  return { user_id: userId, stream_id, detection, frame: frame.toString('base64'), frame_content_type: 'image/png' };
}

test('dashboard: live alerts with frames, ack, reconnect after a server restart', { skip, timeout: 120000 }, async (t) => {
  assert.ok(existsSync(join(DIST, 'index.html')), `${DIST}/index.html is missing: run npm run build`);

  const secret = randomBytes(32).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-dashboard-data-'));
  const profileDir = mkdtempSync(join(tmpdir(), 'vigil-dashboard-chromium-'));
  const server = await startVigil({ bin: resolve(process.env.VIGIL_BIN), dataDir, webRoot: DIST, secret });
  const publisher = mintToken(secret, { sub: 'detector-7', role: 'publisher' });
  // alice is an admin, so her dashboard also shows the live connections; bob is not.
  const alice = mintToken(secret, { sub: 'alice', role: 'admin' });
  const bob = mintToken(secret, { sub: 'bob' });

  const context = await launchChromium(profileDir, {
    viewport: { width: 1280, height: 760 },
    colorScheme: 'dark',
  });
  const problems = [];
  // Expected console errors: while the server is down (refused sockets and polls),
  // and bob's 403 from /ws/connections (Chromium logs every failed fetch).
  const expected = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE/;
  const watch = (page, who, alsoExpected = null) => {
    page.on('pageerror', (err) => problems.push(`${who}: page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      if (expected.test(text) || alsoExpected?.test(text)) return;
      problems.push(`${who}: console error: ${text}`);
    });
  };

  async function publish(scene, userId = 'alice') {
    const res = await server.request('/api/v1/alerts', { method: 'POST', token: publisher, body: alertBody(scene, userId) });
    assert.equal(res.status, 201, `publish answered ${res.status}: ${res.text}`);
    return res.json;
  }
  const card = (id) => `li.alert[data-alert-id="${id}"]`;
  /** The card is on the page and its <img> has decoded a real image. */
  async function waitForFrame(page, id, timeout) {
    await page.waitForFunction(
      (sel) => {
        const img = document.querySelector(`${sel} img.frame`);
        return !!img && img.complete && img.naturalWidth > 0;
      },
      card(id),
      { timeout, polling: 25 },
    );
  }

  const step = chainedSteps(t);

  try {
    const page = context.pages()[0] ?? (await context.newPage());
    watch(page, 'alice');
    // Fake timers (flowing like real ones until paused): used once below to hold the
    // page's retry while the test prepares the restarted server.
    await context.clock.install();

    await step('opens signed in from /?user=&token= and connects', async () => {
      await page.goto(`${server.baseUrl}/?user=alice&token=${alice}`);
      await page.waitForSelector('#status[data-state="open"]', { timeout: 5000 });
      assert.equal(await page.textContent('#status'), 'Connected');
      assert.equal(await page.textContent('#who-user'), 'alice');
      assert.equal(new URL(page.url()).searchParams.has('token'), false, 'the token is taken out of the address bar');
      assert.equal(await page.isVisible('#banner'), false, 'no stale banner while connected');
      // Admin: the connections table shows up with alice in it.
      await page.waitForSelector('#admin:not([hidden]) tr[data-user-id="alice"]', { timeout: 5000 });
    });

    let first;
    await step('a published alert appears with its frame within 1 s', async (st) => {
      // Counted from the publish's 201 (the alert is stored and handed to the live
      // connection by then): the page must show it and fetch and decode its frame.
      const posted = Date.now();
      first = await publish('intrusion');
      const stored = Date.now();
      await waitForFrame(page, first.alert_id, 1000);
      const elapsed = Date.now() - stored;
      st.diagnostic(`publish answered in ${stored - posted} ms; card with decoded frame ${elapsed} ms later`);
      assert.ok(elapsed <= 1000, `shown after ${elapsed} ms`);
      const text = await page.textContent(card(first.alert_id));
      for (const part of ['Intrusion', '93%', '2 boxes', 'cam-lobby', `#${first.seq}`]) {
        assert.ok(text.includes(part), `card shows ${part}: ${text}`);
      }
      const src = await page.getAttribute(`${card(first.alert_id)} img.frame`, 'src');
      assert.equal(src, `/api/v1/alerts/${first.alert_id}/frame?token=${alice}`);
      assert.equal(await page.getAttribute(card(first.alert_id), 'data-acked'), 'false');
    });

    await step('Acknowledge acks it on the server and shows it acked', async () => {
      await page.click(`${card(first.alert_id)} button.ack`);
      await page.waitForSelector(`${card(first.alert_id)}[data-acked="true"] .acked-label`, { timeout: 5000 });
      assert.equal(await page.isVisible(`${card(first.alert_id)} button.ack`), false);
      const stored = await server.request(`/api/v1/alerts/${first.alert_id}`, { token: alice });
      assert.equal(stored.status, 200, stored.text);
      assert.equal(stored.json.status, 'acked');
      assert.match(await page.textContent('#alert-counts'), /1 alert · 0 unacknowledged/);
    });

    let bobPage;
    await step('a user who is not an admin gets no connections table', async () => {
      bobPage = await context.newPage();
      watch(bobPage, 'bob', /status of 403 \(Forbidden\)/);
      const forbidden = bobPage.waitForResponse((r) => new URL(r.url()).pathname === '/ws/connections');
      await bobPage.goto(`${server.baseUrl}/?user=bob&token=${bob}`);
      assert.equal((await forbidden).status(), 403);
      await bobPage.waitForSelector('#status[data-state="open"]', { timeout: 5000 });
      assert.equal(await bobPage.isVisible('#admin'), false);
      assert.equal(await bobPage.isVisible('#empty'), true, 'bob has no alerts');
    });

    let whileAway;
    let afterRestart;
    await step('server restart: stale banner, then back by itself with nothing lost', async (st) => {
      await server.stop(); // SIGTERM: close 1001 to every socket
      await page.waitForSelector('#banner:not([hidden])', { timeout: 5000 });
      assert.match(await page.textContent('#banner'), /cannot reach the server/);
      await page.waitForFunction(() => /^Reconnecting( in \d+ s|…)$/.test(document.getElementById('status').textContent), null, { timeout: 5000, polling: 25 });

      // Hold the page's retry timer (fake clock paused) so that what follows happens
      // deterministically while it is away; let any attempt already in flight fail.
      // (Pausing jumps the clock ahead a little; a retry due meanwhile just fails again.)
      await context.clock.pauseAt((await page.evaluate(() => Date.now())) + 2000);
      await new Promise((r) => setTimeout(r, 300));

      await server.start(); // same port, same data dir
      // Published and acknowledged elsewhere while the page was away: it comes back
      // in the replay with `acked: true` and must show as acked.
      whileAway = await publish('loitering');
      const acked = await server.request(`/api/v1/alerts/${whileAway.alert_id}/ack`, { method: 'POST', token: alice });
      assert.equal(acked.status, 200, acked.text);
      afterRestart = await publish('fall');

      const resumed = Date.now();
      await context.clock.resume(); // the page's own backoff timer reconnects it
      await waitForFrame(page, afterRestart.alert_id, 15000);
      await page.waitForSelector('#status[data-state="open"]', { timeout: 5000 });
      await page.waitForSelector('#banner', { state: 'hidden', timeout: 5000 });
      st.diagnostic(`reconnected and showed the new alert ${Date.now() - resumed} ms after the timers resumed`);

      assert.equal(await page.getAttribute(card(whileAway.alert_id), 'data-acked'), 'true', 'acked elsewhere: shown acked');
      assert.ok((await page.textContent(card(whileAway.alert_id))).includes('replayed'));
      assert.equal(await page.getAttribute(card(afterRestart.alert_id), 'data-acked'), 'false');
      assert.equal(await page.getAttribute(card(first.alert_id), 'data-acked'), 'true', 'still acked');
      const ids = await page.$$eval('li.alert', (els) => els.map((el) => el.dataset.alertId));
      assert.deepEqual(ids, [afterRestart.alert_id, whileAway.alert_id, first.alert_id], 'newest first, no duplicates');
    });

    await step('screenshot for the README', async (st) => {
      const last = await publish('crowd');
      await waitForFrame(page, last.alert_id, 5000);
      assert.equal(await page.isVisible(`${card(last.alert_id)} .tag`), false, 'a live alert is not marked replayed');
      // Both users back in the connections table after the restart.
      await page.waitForSelector('#admin tr[data-user-id="alice"]', { timeout: 5000 });
      await page.waitForSelector('#admin tr[data-user-id="bob"]', { timeout: 5000 });
      await bobPage.waitForSelector('#status[data-state="open"]', { timeout: 15000 });
      assert.match(await page.textContent('#alert-counts'), /4 alerts · 2 unacknowledged/);
      assert.equal(await page.title(), '(2) vigil · alerts');
      if (SCREENSHOT) {
        mkdirSync(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, animations: 'disabled' });
        st.diagnostic(`screenshot: ${SCREENSHOT}`);
      }
    });

    await step('Clear empties the list', async () => {
      await page.click('#clear');
      await page.waitForSelector('#empty:not([hidden])', { timeout: 2000 });
      assert.equal(await page.$$eval('li.alert', (els) => els.length), 0);
      assert.equal(await page.title(), 'vigil · alerts');
    });

    if (!step.failed()) assert.deepEqual(problems, [], 'no page errors, CSP violations or unexpected console errors');
  } finally {
    await context.close().catch(() => {});
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  }
});
