// Handling in the dashboard (docs/handling.md), in real browsers against the real server:
//   $VIGIL_BIN serve --web-root dist  ←  two Chromium profiles, one per member of a team.
// An admin creates a team of two over HTTP and publishes a team alert; each
// member has the dashboard open in a browser of their own. What one does
// (acknowledge, resolve with an outcome and a note, reopen) shows in the
// other's within seconds, from the server's alert_updated; the audit trail
// lists what happened; the admin's Teams panel lists and changes the team.
//
//   VIGIL_BIN=/path/to/vigil npm test        (skipped without VIGIL_BIN or /usr/bin/chromium)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mintToken } from './helpers/tokens.mjs';
import { launchChromium, skipReason } from './helpers/chromium.mjs';
import { chainedSteps } from './helpers/steps.mjs';
import { startVigil } from './helpers/vigil.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(here, '..', 'dist');
/** "Within a few seconds": how long a change may take to show in the other member's browser. */
const SEEN_WITHIN_MS = 3000;

test('dashboard: a team alert handled by one member, seen live by the other; audit trail; teams', { skip: skipReason, timeout: 120000 }, async (t) => {
  assert.ok(existsSync(join(DIST, 'index.html')), `${DIST}/index.html is missing: run npm run build`);

  const secret = randomBytes(32).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-handling-data-'));
  const profiles = [mkdtempSync(join(tmpdir(), 'vigil-handling-alice-')), mkdtempSync(join(tmpdir(), 'vigil-handling-bob-'))];
  const server = await startVigil({ bin: resolve(process.env.VIGIL_BIN), dataDir, webRoot: DIST, secret });
  const admin = mintToken(secret, { sub: 'ops-admin', role: 'admin' });
  const publisher = mintToken(secret, { sub: 'cam-gateway', role: 'publisher' });
  // alice is also an admin, so her dashboard shows the Teams panel; bob is not.
  const tokens = { alice: mintToken(secret, { sub: 'alice', role: 'admin' }), bob: mintToken(secret, { sub: 'bob' }) };
  const team = 'night-shift';

  const problems = [];
  // Chromium logs every failed fetch: bob's 403s from the admin-only panels are expected.
  const expected = /status of 403 \(Forbidden\)/;
  const contexts = [];
  /** A browser of the member's own (its own profile: nothing shared), signed in. */
  async function openDashboard(who, profileDir) {
    const context = await launchChromium(profileDir, { viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
    contexts.push(context);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => problems.push(`${who}: page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !expected.test(msg.text())) problems.push(`${who}: console error: ${msg.text()}`);
    });
    await page.goto(`${server.baseUrl}/?user=${who}&token=${tokens[who]}`);
    await page.waitForSelector('#status[data-state="open"]', { timeout: 5000 });
    return page;
  }

  const step = chainedSteps(t);
  let alice;
  let bob;
  let alertId;
  const card = () => `li.alert[data-alert-id="${alertId}"]`;
  /** Waits until `page`'s card is in `state`; the time it took, in ms. */
  async function seen(page, selector, what) {
    const started = Date.now();
    await page.waitForSelector(`${card()}${selector}`, { timeout: SEEN_WITHIN_MS }).catch((err) => {
      throw new Error(`${what} not shown within ${SEEN_WITHIN_MS} ms: ${err.message}`);
    });
    return Date.now() - started;
  }

  try {
    await step('an admin creates a team of two (and its escalation policy) over HTTP; each member opens the dashboard in their own browser', async () => {
      // An escalation policy whose first step is the team itself: the alert shows level 1
      // (its deadline is far beyond the test).
      const policy = await server.request('/api/v1/escalation-policies/night', {
        method: 'PUT',
        token: admin,
        body: { steps: [{ notify: `team:${team}`, ack_within_seconds: 3600 }], repeat: 0 },
      });
      assert.equal(policy.status, 200, policy.text);
      const put = await server.request(`/api/v1/teams/${team}`, {
        method: 'PUT',
        token: admin,
        body: { members: ['alice', 'bob'], escalation: { default: 'night' } },
      });
      assert.equal(put.status, 200, put.text);
      assert.equal(put.json.team, team);
      assert.deepEqual([...put.json.members].sort(), ['alice', 'bob']);
      [alice, bob] = await Promise.all([openDashboard('alice', profiles[0]), openDashboard('bob', profiles[1])]);
    });

    await step('a team alert reaches both, open, with its severity, team and escalation level', async () => {
      const res = await server.request('/api/v1/alerts', {
        method: 'POST',
        token: publisher,
        body: { team, stream_id: 'cam-3', severity: 'critical', detection: { type: 'intrusion', confidence: 0.91 } },
      });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.json.recipients, 2);
      alertId = res.json.alert_id;
      for (const page of [alice, bob]) {
        await page.waitForSelector(`${card()}[data-state="open"]`, { timeout: 5000 });
        const text = await page.textContent(card());
        for (const part of ['open', 'critical', `team ${team}`, 'level 1', 'Intrusion', 'cam-3']) {
          assert.ok(text.includes(part), `card shows ${part}: ${text}`);
        }
        assert.equal(await page.isVisible(`${card()} .owner`), false, 'no owner while open');
        assert.equal(await page.isVisible(`${card()} button.reopen`), false, 'an open alert cannot be reopened');
      }
    });

    await step('alice acknowledges; bob sees her as the owner within seconds', async (st) => {
      await alice.click(`${card()} button.ack`);
      const ms = await seen(bob, '[data-state="acknowledged"] .owner', "alice's acknowledgement in bob's browser");
      st.diagnostic(`shown in bob's browser ${ms} ms after the click`);
      assert.equal(await bob.textContent(`${card()} .owner`), 'owner alice');
      assert.equal(await bob.isVisible(`${card()} button.ack`), false, 'nothing left to acknowledge');
      assert.ok(await bob.isVisible(`${card()} button.reopen`));
      await alice.waitForSelector(`${card()}[data-state="acknowledged"] .acked-label`, { timeout: 2000 });
      assert.match(await bob.textContent('#alert-counts'), /1 alert · 0 unacknowledged/);
    });

    await step('alice resolves it as a false alarm with a note; bob sees it resolved', async (st) => {
      await alice.click(`${card()} button.resolve`);
      await alice.selectOption(`${card()} form.resolve-form select[name="outcome"]`, 'false_alarm');
      await alice.fill(`${card()} form.resolve-form input[name="note"]`, 'a cat on the fence');
      await alice.click(`${card()} form.resolve-form button[type="submit"]`);
      const ms = await seen(bob, '[data-state="resolved"]', "the resolution in bob's browser");
      st.diagnostic(`shown in bob's browser ${ms} ms after the click`);
      const text = await bob.textContent(`${card()} .handling`);
      for (const part of ['resolved', 'owner alice', 'False alarm', 'a cat on the fence']) assert.ok(text.includes(part), `${part} in ${text}`);
      assert.equal(await bob.isVisible(`${card()} button.resolve`), false);
      await alice.waitForSelector(`${card()}[data-state="resolved"]`, { timeout: 2000 });
      assert.equal(await alice.isVisible(`${card()} form.resolve-form`), false, 'the form folds away once resolved');

      const stored = await server.request(`/api/v1/alerts/${alertId}`, { token: tokens.bob });
      assert.equal(stored.status, 200, stored.text);
      assert.equal(stored.json.state, 'resolved');
      assert.equal(stored.json.outcome, 'false_alarm');
      assert.equal(stored.json.note, 'a cat on the fence');
      assert.equal(stored.json.resolved_by, 'alice');
    });

    await step("bob opens the audit trail: published, delivered, acknowledged, resolved", async () => {
      const toggle = `${card()} button.trail-toggle`;
      assert.equal(await bob.getAttribute(toggle, 'aria-expanded'), 'false');
      await bob.click(toggle);
      assert.equal(await bob.getAttribute(toggle, 'aria-expanded'), 'true');
      await bob.waitForSelector(`${card()} .trail li[data-type="resolved"]`, { timeout: 5000 });
      const types = await bob.$$eval(`${card()} .trail li`, (els) => els.map((el) => el.dataset.type));
      for (const type of ['published', 'delivered', 'acknowledged', 'resolved']) assert.ok(types.includes(type), `${type} in ${types}`);
      assert.equal(types[0], 'published', 'oldest first');
      assert.ok(types.indexOf('acknowledged') < types.indexOf('resolved'));
      assert.match(await bob.textContent(`${card()} .trail li[data-type="published"]`), /by cam-gateway/);
      assert.match(await bob.textContent(`${card()} .trail li[data-type="acknowledged"]`), /by alice/);
      assert.match(await bob.textContent(`${card()} .trail li[data-type="resolved"]`), /by alice: false alarm.*a cat on the fence/);
    });

    await step('bob reopens it: open again in both browsers, and his open trail shows it', async () => {
      await bob.click(`${card()} button.reopen`);
      await seen(alice, '[data-state="open"]', "the reopening in alice's browser");
      assert.equal(await alice.isVisible(`${card()} .owner`), false, 'owner cleared');
      assert.ok(await alice.isVisible(`${card()} button.ack`), 'it can be acknowledged again');
      await bob.waitForSelector(`${card()} .trail li[data-type="reopened"]`, { timeout: 5000 });
      assert.match(await bob.textContent(`${card()} .trail li[data-type="reopened"]`), /by bob/);
    });

    await step('a change made while bob was away shows once his page is back (read from history)', async () => {
      // Bob opens a second tab: the server keeps one connection per user, so his
      // first tab is replaced and stops; he closes the second one.
      const second = await contexts[1].newPage();
      await second.goto(`${server.baseUrl}/?user=bob&token=${tokens.bob}`);
      await second.waitForSelector('#status[data-state="open"]', { timeout: 5000 });
      await bob.waitForSelector('#banner:not([hidden]) #banner-action[data-action="reconnect"]', { timeout: 5000 });
      await second.close();
      // Meanwhile alice acknowledges it again.
      await alice.click(`${card()} button.ack`);
      await alice.waitForSelector(`${card()}[data-state="acknowledged"]`, { timeout: 2000 });
      assert.equal(await bob.getAttribute(card(), 'data-state'), 'open', 'bob was away');
      // "Use this tab": the page resumes after its last seq, so the alert is not
      // replayed; its state comes from history.
      await bob.click('#banner-action');
      await bob.waitForSelector(`${card()}[data-state="acknowledged"] .owner`, { timeout: 5000 });
      assert.equal(await bob.textContent(`${card()} .owner`), 'owner alice');
    });

    await step("the admin's Teams panel lists the team and changes its members; bob has no Teams panel", async () => {
      await alice.waitForSelector(`#teams:not([hidden]) li[data-team="${team}"]`, { timeout: 5000 });
      assert.match(await alice.textContent(`li[data-team="${team}"]`), /2 members.*alice, bob|2 members.*bob, alice/s);
      assert.match(await alice.textContent(`li[data-team="${team}"]`), /escalation default: night/);
      await alice.click(`li[data-team="${team}"] button:text("Edit")`);
      assert.equal(await alice.inputValue('#team-name'), team);
      await alice.fill('#team-members', 'alice, bob, carol');
      await alice.click('#team-form button[type="submit"]');
      await alice.waitForSelector('#team-message[data-kind="ok"]', { timeout: 5000 });
      assert.match(await alice.textContent(`li[data-team="${team}"]`), /3 members/);
      const stored = await server.request(`/api/v1/teams/${team}`, { token: admin });
      assert.equal(stored.status, 200, stored.text);
      assert.deepEqual([...stored.json.members].sort(), ['alice', 'bob', 'carol']);
      assert.deepEqual(stored.json.escalation, { default: 'night' }, 'changing the members keeps the policy');
      assert.equal(await bob.isVisible('#teams'), false);
    });

    if (!step.failed()) assert.deepEqual(problems, [], 'no page errors or unexpected console errors');
  } finally {
    for (const context of contexts) await context.close().catch(() => {});
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    for (const p of profiles) rmSync(p, { recursive: true, force: true });
  }
});
