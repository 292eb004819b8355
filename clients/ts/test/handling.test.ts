// Handling (docs/handling.md) over the WebSocket: alert_updated applied to the
// held alert, resolve and reopen round trips, refusals naming the alert, and one
// request per alert on the wire. Against a Node `ws` server that plays the
// contract (test/helpers/handling-server.ts); client.live.test.ts runs the
// same round trip against vigil.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import WebSocket from 'ws';
import {
  AlertClientError,
  createAlertClient,
  type Alert,
  type AlertClient,
  type AlertClientOptions,
  type AlertUpdate,
  type WebSocketConstructor,
} from '@vigil/client';
import { startHandlingServer, type HandlingServer } from './helpers/handling-server.js';
import { sleep, waitFor } from './helpers/wait.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function server(): Promise<HandlingServer> {
  const s = await startHandlingServer();
  cleanups.push(() => s.close());
  return s;
}

function client(url: string, userId: string, extra: Partial<AlertClientOptions> = {}): AlertClient {
  const c = createAlertClient({
    url,
    userId,
    token: 'opaque-token',
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    initialReconnectDelay: 50,
    maxReconnectDelay: 100,
    ...extra,
  });
  cleanups.push(() => c.close());
  return c;
}

const held = (c: AlertClient, id: string): Alert | undefined => c.getState().alerts.find((a) => a.alert_id === id);
const opened = (c: AlertClient) => waitFor(() => c.getState().status === 'open', 'status open');

/** Two members of a team, each with a client holding the team alert. */
async function teamOf2(extra: Partial<AlertClientOptions> = {}) {
  const s = await server();
  const alice = client(s.url, 'alice', extra);
  const bob = client(s.url, 'bob', extra);
  await Promise.all([opened(alice), opened(bob)]);
  const alert = s.publish(['alice', 'bob'], { team: 'night-shift' });
  await waitFor(() => !!held(alice, alert.alert_id) && !!held(bob, alert.alert_id), 'both hold the alert');
  return { s, alice, bob, id: alert.alert_id };
}

test('a new alert carries its handling: state, owner, team, severity, escalation level', async () => {
  const { alice, id } = await teamOf2();
  const a = held(alice, id);
  assert.equal(a?.state, 'open');
  assert.equal(a?.owner, undefined, 'no owner while open');
  assert.equal(a?.team, 'night-shift');
  assert.equal(a?.severity, 'high');
  assert.equal(a?.escalation_level, 1);
});

test('alert_updated updates the held alert in place and calls onUpdate with it', async () => {
  const updates: [AlertUpdate, Alert | undefined][] = [];
  const { s, alice, bob, id } = await teamOf2();
  bob.onUpdate((update, alert) => updates.push([update, alert]));
  const other = s.publish(['bob']);
  await waitFor(() => !!held(bob, other.alert_id), 'second alert');
  const before = bob.getState();

  await alice.ack(id);
  await waitFor(() => held(bob, id)?.state === 'acknowledged', "bob sees alice's acknowledgement");
  const after = bob.getState();
  assert.notEqual(after, before, 'a new state object');
  assert.deepEqual(after.alerts.map((a) => a.alert_id), [id, other.alert_id], 'same place in the list');
  const a = held(bob, id);
  assert.equal(a?.owner, 'alice');
  assert.match(String(a?.acknowledged_at), /^\d{4}-\d\d-\d\dT/);
  assert.equal(a?.acked, true, 'acked follows the state, for code written before handling');
  assert.equal(a?.acknowledged, undefined, 'bob did not acknowledge it himself');
  assert.deepEqual(a?.detection, { type: 'intrusion' }, 'the rest of the alert is kept');
  assert.equal(held(bob, other.alert_id), before.alerts[1], 'the other alert is the same object');

  assert.equal(updates.length, 1);
  const [update, alert] = updates[0];
  assert.equal(update.change, 'acknowledged');
  assert.equal(update.actor, 'alice');
  assert.equal(alert, held(bob, id), 'onUpdate gets the updated alert');
  // alice's own client sees the change too (the server sends it to every recipient).
  await waitFor(() => held(alice, id)?.owner === 'alice', "alice's own view");
  assert.equal(held(alice, id)?.acknowledged, true);
});

test('an alert_updated for an alert not held reaches onUpdate (alert undefined); junk is ignored', async () => {
  const s = await server();
  const updates: [AlertUpdate, Alert | undefined][] = [];
  const c = client(s.url, 'carol', { onUpdate: (u, a) => updates.push([u, a]) });
  await opened(c);
  const base = { type: 'alert_updated', alert_id: 'elsewhere', change: 'resolved', actor: 'dave', state: 'resolved',
    owner: 'dave', acknowledged_at: null, resolved_by: 'dave', resolved_at: null, outcome: 'real', note: null };
  s.sendTo('carol', { ...base, state: 'closed' }); // not a state
  s.sendTo('carol', { ...base, alert_id: '' });
  s.sendTo('carol', { ...base, change: 'moved' });
  s.sendTo('carol', base);
  await waitFor(() => updates.length > 0, 'the valid update');
  await sleep(50);
  assert.equal(updates.length, 1, 'only the well-formed message');
  assert.equal(updates[0][0].alert_id, 'elsewhere');
  assert.equal(updates[0][1], undefined);
  assert.deepEqual(c.getState().alerts, []);
});

test('resolve round trip: resolve_ok, the outcome and note reach the other member', async () => {
  const { s, alice, bob, id } = await teamOf2();
  await alice.ack(id);
  await alice.resolve(id, 'false_alarm', 'a cat');
  assert.deepEqual(s.received.get('alice')?.filter((m) => m.type === 'resolve'), [
    { type: 'resolve', alert_id: id, outcome: 'false_alarm', note: 'a cat' },
  ]);
  await waitFor(() => held(bob, id)?.state === 'resolved', 'bob sees it resolved');
  const a = held(bob, id);
  assert.equal(a?.outcome, 'false_alarm');
  assert.equal(a?.note, 'a cat');
  assert.equal(a?.resolved_by, 'alice');
  assert.equal(a?.owner, 'alice');

  // Resolving again is refused by the server with an error naming the alert.
  await assert.rejects(bob.resolve(id, 'real'), (e: unknown) => {
    assert.ok(e instanceof AlertClientError);
    assert.equal(e.code, 'invalid_transition');
    return true;
  });
  assert.equal(bob.getState().lastError, null, 'a refusal of a request is not a connection error');
});

test('resolve without a note sends none; a bad outcome or too long a note is refused before sending', async () => {
  const { s, alice, id } = await teamOf2();
  await assert.rejects(alice.resolve(id, 'solved' as 'real'), (e: unknown) => e instanceof AlertClientError && e.code === 'invalid_outcome');
  // 1000 bytes pass; 500 two-byte characters too; one more byte does not.
  await assert.rejects(alice.resolve(id, 'real', 'é'.repeat(500) + 'x'), (e: unknown) => e instanceof AlertClientError && e.code === 'invalid_note');
  assert.equal((s.received.get('alice') ?? []).filter((m) => m.type === 'resolve').length, 0, 'nothing sent');
  await alice.resolve(id, 'test', '');
  assert.deepEqual(s.received.get('alice')?.filter((m) => m.type === 'resolve'), [
    { type: 'resolve', alert_id: id, outcome: 'test' },
  ]);
  await waitFor(() => held(alice, id)?.state === 'resolved', 'resolved');
  assert.equal(held(alice, id)?.owner, 'alice', 'resolving an open alert makes you its owner');
});

test('reopen round trip: back to open for everyone, owner and resolution cleared', async () => {
  const { alice, bob, id } = await teamOf2();
  await assert.rejects(alice.reopen(id), /invalid_transition|open/, 'an open alert cannot be reopened');
  await alice.ack(id);
  await alice.resolve(id, 'real', 'checked on site');
  await waitFor(() => held(bob, id)?.state === 'resolved', 'resolved');
  await bob.reopen(id);
  await waitFor(() => held(alice, id)?.state === 'open' && held(bob, id)?.state === 'open', 'open again for both');
  const a = held(alice, id);
  assert.equal(a?.owner, null);
  assert.equal(a?.outcome, null);
  assert.equal(a?.note, null);
  assert.equal(a?.acked, false);
  assert.equal(a?.acknowledged, false, "alice's earlier ack no longer stands");
  // And it can be acknowledged again.
  await bob.ack(id);
  await waitFor(() => held(alice, id)?.owner === 'bob', 'bob owns it now');
});

test('one request per alert on the wire: the next goes out after the answer; each answer settles its own', async () => {
  const { s, alice, id } = await teamOf2();
  const other = s.publish(['alice']);
  await waitFor(() => !!held(alice, other.alert_id), 'second alert');
  s.hold = true;
  const ack = alice.ack(id);
  const again = alice.ack(id);
  const resolved = alice.resolve(id, 'false_alarm');
  const reopenOther = alice.reopen(other.alert_id); // another alert: not held back by the first
  await waitFor(() => (s.received.get('alice') ?? []).filter((m) => m.type !== 'ping').length === 2, 'two on the wire');
  await sleep(100);
  const types = () => (s.received.get('alice') ?? []).filter((m) => m.type !== 'ping').map((m) => `${m.type} ${m.alert_id}`);
  assert.deepEqual(types(), [`ack ${id}`, `reopen ${other.alert_id}`], 'the resolve waits for the ack_ok');
  assert.equal(again, ack, 'the same ack twice is one request');

  s.hold = false;
  s.release(); // ack_ok for id, an error naming the other alert
  await ack;
  await assert.rejects(reopenOther, /invalid_transition|open/);
  await resolved; // sent after the ack_ok, answered by resolve_ok
  assert.deepEqual(types().slice(2), [`resolve ${id}`]);
  await waitFor(() => held(alice, id)?.state === 'resolved', 'resolved');
});

test('a request unanswered times out; a disconnect rejects what is pending and what waits behind it', async () => {
  const { s, alice, id } = await teamOf2({ ackTimeout: 200 });
  s.hold = true;
  await assert.rejects(alice.resolve(id, 'real'), (e: unknown) => e instanceof AlertClientError && e.code === 'resolve_timeout');
  const first = alice.reopen(id);
  const second = alice.ack(id);
  await waitFor(() => (s.received.get('alice') ?? []).some((m) => m.type === 'reopen'), 'reopen sent');
  s.drop('alice');
  await assert.rejects(first, (e: unknown) => e instanceof AlertClientError && e.code === 'disconnected');
  await assert.rejects(second, (e: unknown) => e instanceof AlertClientError && e.code === 'disconnected');
  await assert.rejects(client(s.url, 'zed').resolve(id, 'real'), /not connected/);
});

test('another copy of a held alert (a replay, an escalation) brings its newer state', async () => {
  const { s, bob, id } = await teamOf2();
  const a = s.alerts.get(id);
  assert.ok(a);
  Object.assign(a, { state: 'acknowledged', owner: 'alice', escalation_level: 2 });
  s.sendTo('bob', {
    type: 'anomaly_detected', alert_id: id, seq: a.seqs.get('bob'), epoch: 'e1', user_id: 'bob', stream_id: 'cam-3',
    timestamp: new Date().toISOString(), detection: { type: 'intrusion' }, state: 'acknowledged', owner: 'alice',
    escalation_level: 2, replayed: true,
  });
  await waitFor(() => held(bob, id)?.state === 'acknowledged', 'state from the copy');
  assert.equal(held(bob, id)?.owner, 'alice');
  assert.equal(held(bob, id)?.escalation_level, 2);
  assert.equal(bob.getState().alerts.length, 1, 'still one alert');
  assert.equal(held(bob, id)?.replayed, undefined, 'the first copy is kept, with the newer handling');
});
