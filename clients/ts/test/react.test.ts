// The React hook, rendered with react-dom into a happy-dom document, against a live server.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Window } from 'happy-dom';
import { startHandlingServer } from './helpers/handling-server.js';
import { startServer, serverKind, type TestServer } from './helpers/server.js';
import { recordingWebSocket } from './helpers/sockets.js';
import { waitFor } from './helpers/wait.js';

// A minimal DOM must exist before react-dom loads (it checks for one at import).
// No act(): updates come from real socket events at their own pace, so React
// renders as it would in a browser and the test polls the DOM.
const window = new Window();
Object.assign(globalThis, { window, document: window.document });
// Node 21+ has a global navigator (a getter); Node 20 has none.
if (!('navigator' in globalThis)) Object.assign(globalThis, { navigator: window.navigator });
const { createElement, StrictMode } = await import('react');
const { createRoot } = await import('react-dom/client');
const { AnomalyAlertsContext, useAnomalyAlerts } = await import('@vigil/client/react');
type Result = ReturnType<typeof useAnomalyAlerts>;

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
  await window.happyDOM.close();
});

/** The quick reference's component, plus a handle on the hook's result for the test. */
function Panel({ name, results }: { name: string; results: Record<string, Result> }) {
  const result = useAnomalyAlerts();
  results[name] = result;
  return createElement('p', { id: name }, `${result.connected ? 'connected' : 'disconnected'} ${result.alerts.length}`);
}

const text = (id: string) => document.getElementById(id)?.textContent ?? '';

test(`useAnomalyAlerts: connects, shares one socket, updates, and cleans up on unmount (${serverKind()})`, async () => {
  const userId = `hook-${randomUUID().slice(0, 8)}`;
  const rec = recordingWebSocket();
  const results: Record<string, Result> = {};
  process.env.NEXT_PUBLIC_WS_URL = server.wsUrl; // no `url` option: the hook reads it from here
  const options = { userId, getToken: () => server.token(userId), WebSocket: rec.WebSocket, heartbeatInterval: 200 };

  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container as unknown as Element);
  root.render(
    createElement(
      StrictMode,
      null,
      createElement(
        AnomalyAlertsContext.Provider,
        { value: options },
        createElement(Panel, { name: 'header', results }),
        createElement(Panel, { name: 'list', results }),
      ),
    ),
  );

  await waitFor(() => text('header') === 'connected 0' && text('list') === 'connected 0', 'both panels connected');
  assert.equal(rec.sockets.length, 1, 'one socket for the user, despite StrictMode and two components');
  assert.match(rec.sockets[0].url, new RegExp(`^${server.wsUrl}/ws/alerts/${userId}\\?`));

  const published = await server.publish(userId);
  await waitFor(() => text('header') === 'connected 1' && text('list') === 'connected 1', 'alert rendered');
  assert.equal(results.list.alerts[0].alert_id, published.alert_id);
  await results.list.ack(published.alert_id);
  await waitFor(() => results.header.alerts[0]?.acknowledged === true, 'acknowledged in every panel');
  results.header.clearAlerts();
  await waitFor(() => text('list') === 'connected 0', 'clearAlerts clears the shared list');

  const timersWhileOpen = activeTimers();
  assert.ok(timersWhileOpen > 0, 'the open client has timers running');

  root.unmount();
  const socket = rec.sockets[0];
  await waitFor(() => socket.readyState === socket.CLOSED, 'socket closed');
  await waitFor(async () => !(await server.isConnected(userId)), 'server saw the disconnect');
  await waitFor(() => activeTimers() === 0, 'no timers left behind', 2000);
  assert.equal(rec.sockets.length, 1, 'no socket opened after unmount');
});

/** One user's view of their first alert: its state and owner, as a list would show them. */
function Handling({ name, userId, results, updates }: { name: string; userId: string; results: Record<string, Result>; updates: string[] }) {
  const result = useAnomalyAlerts({ userId, onUpdate: (u) => updates.push(`${name}: ${u.change} by ${u.actor}`) });
  results[name] = result;
  const first = result.alerts[0];
  const shown = first ? `${first.state} ${first.owner ?? '-'} ${first.outcome ?? '-'} ${first.note ?? '-'}` : 'none';
  return createElement('p', { id: `handling-${name}` }, `${result.connected ? 'connected' : 'disconnected'} ${shown}`);
}

test('useAnomalyAlerts: acknowledge, resolve and reopen reach every member, and each hook re-renders', async () => {
  const played = await startHandlingServer();
  const rec = recordingWebSocket();
  const results: Record<string, Result> = {};
  const updates: string[] = [];
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container as unknown as Element);
  const options = { url: played.url, getToken: () => 'opaque-token', WebSocket: rec.WebSocket };
  try {
    root.render(
      createElement(
        AnomalyAlertsContext.Provider,
        { value: options },
        createElement(Handling, { name: 'alice', userId: 'alice', results, updates }),
        createElement(Handling, { name: 'bob', userId: 'bob', results, updates }),
      ),
    );
    const shown = (name: string) => text(`handling-${name}`);
    await waitFor(() => shown('alice') === 'connected none' && shown('bob') === 'connected none', 'both connected');
    const { alert_id: id } = played.publish(['alice', 'bob'], { team: 'night-shift' });
    await waitFor(() => shown('bob') === 'connected open - - -', 'the team alert, open');

    await results.alice.acknowledge(id);
    await waitFor(() => shown('bob') === 'connected acknowledged alice - -', "bob sees alice's acknowledgement");
    await results.bob.resolve(id, 'false_alarm', 'a cat');
    await waitFor(() => shown('alice') === 'connected resolved alice false_alarm a cat', 'alice sees it resolved');
    await assert.rejects(results.alice.resolve(id, 'real'), /invalid_transition|resolved/);
    await results.alice.reopen(id);
    await waitFor(() => shown('alice') === 'connected open - - -' && shown('bob') === 'connected open - - -', 'open again');
    assert.equal(results.alice.ack, results.alice.acknowledge, 'ack and acknowledge are one function');
    // Every hook's onUpdate saw every change (both users, three changes each).
    for (const who of ['alice', 'bob']) {
      assert.deepEqual(
        updates.filter((u) => u.startsWith(`${who}:`)),
        [`${who}: acknowledged by alice`, `${who}: resolved by bob`, `${who}: reopened by alice`],
      );
    }
  } finally {
    root.unmount();
    container.remove();
    await played.close();
  }
  await assert.rejects(results.alice.resolve('x', 'real'), /not connected|closed/);
});

/** console.warn's calls during `f`. */
async function warningsDuring(f: () => Promise<void>): Promise<string[]> {
  const calls: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void calls.push(args.map(String).join(' '));
  try {
    await f();
  } finally {
    console.warn = original;
  }
  return calls;
}

test('useAnomalyAlerts with enabled: false stays idle without a warning', async () => {
  const rec = recordingWebSocket();
  const results: Record<string, Result> = {};
  const warnings = await warningsDuring(async () => {
    const root = createRoot(document.createElement('div') as unknown as Element);
    root.render(
      createElement(
        AnomalyAlertsContext.Provider,
        { value: { WebSocket: rec.WebSocket, enabled: false } },
        createElement(Panel, { name: 'waiting', results }),
      ),
    );
    await waitFor(() => results.waiting !== undefined, 'rendered');
    root.unmount();
  });
  assert.equal(results.waiting.status, 'closed');
  assert.deepEqual(warnings, []);
  assert.equal(rec.sockets.length, 0);
});

test('useAnomalyAlerts without a user stays idle, opens nothing, and warns once', async () => {
  const rec = recordingWebSocket();
  const results: Record<string, Result> = {};
  const warnings = await warningsDuring(async () => {
    const container = document.createElement('div');
    const root = createRoot(container as unknown as Element);
    // Two components, rendered twice: still one warning.
    const tree = () =>
      createElement(
        AnomalyAlertsContext.Provider,
        { value: { WebSocket: rec.WebSocket } },
        createElement(Panel, { name: 'idle', results }),
        createElement(Panel, { name: 'idle2', results }),
      );
    root.render(tree());
    await waitFor(() => results.idle !== undefined && results.idle2 !== undefined, 'rendered');
    root.render(tree());
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(results.idle.status, 'closed');
    assert.equal(results.idle.connected, false);
    await assert.rejects(results.idle.ack('x'), /not connected/);
    root.unmount();
  });
  assert.equal(rec.sockets.length, 0);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /useAnomalyAlerts: no userId and token/);
  assert.match(warnings[0], /AnomalyAlertsContext\.Provider/);
});

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}
