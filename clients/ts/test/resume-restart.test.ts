// Resume across a server restart: only meaningful where alerts persist (vigil's data-dir).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAlertClient } from '@vigil/client';
import { serverKind, startServer } from './helpers/server.js';
import { recordingWebSocket } from './helpers/sockets.js';
import { recordStatuses, waitFor } from './helpers/wait.js';

const skip =
  serverKind() === 'node-peer'
    ? 'the Node peer keeps alerts in memory (a restart loses them and resets seq); set VIGIL_BIN to run this against vigil'
    : false;

test('resumes across a server restart without gap or duplicate', { skip }, async () => {
  const server = await startServer();
  const rec = recordingWebSocket();
  let gate: Promise<void> | null = null;
  const id = 'restart-user';
  const client = createAlertClient({
    url: server.wsUrl,
    userId: id,
    getToken: async () => {
      if (gate) await gate; // hold the reconnect until the test has published
      return server.token(id);
    },
    WebSocket: rec.WebSocket,
    initialReconnectDelay: 100,
    maxReconnectDelay: 500,
  });
  const statuses = recordStatuses(client);
  try {
    await waitFor(() => client.getState().status === 'open', 'open');
    const p1 = await server.publish(id);
    const p2 = await server.publish(id);
    await waitFor(() => client.getState().alerts.length === 2, 'two live alerts');

    let release!: () => void;
    gate = new Promise((r) => (release = r));
    await server.restart();
    await waitFor(() => client.getState().status !== 'open', 'client saw the restart');
    assert.equal(client.getState().stale, true, 'stale while disconnected');
    const p3 = await server.publish(id); // stored by the new process while the client is away
    release();
    await waitFor(() => client.getState().alerts.length === 3, 'replayed alert', 15000);
    const p4 = await server.publish(id);
    await waitFor(() => client.getState().alerts.length === 4, 'live alert after resume');

    const { alerts, stale } = client.getState();
    assert.deepEqual(alerts.map((a) => a.alert_id), [p1, p2, p3, p4].map((p) => p.alert_id));
    assert.ok(alerts.every((a, i) => i === 0 || alerts[i - 1].seq < a.seq), 'seq order');
    assert.equal(stale, false);
    assert.ok(statuses.includes('reconnecting'));
    assert.match(rec.sockets[rec.sockets.length - 1].url, new RegExp(`[?&]since=${p2.seq}(&|$)`));
  } finally {
    client.close();
    await server.stop();
  }
});

test('starts over when the server numbers from a new epoch (a memory store restarted)', {
  skip: serverKind() === 'node-peer' ? 'the Node peer sends no epoch; set VIGIL_BIN to run this against vigil' : false,
}, async () => {
  const server = await startServer({ extraArgs: ['--store', 'memory'] });
  const rec = recordingWebSocket();
  let gate: Promise<void> | null = null;
  const id = 'epoch-user';
  const client = createAlertClient({
    url: server.wsUrl,
    userId: id,
    getToken: async () => {
      if (gate) await gate;
      return server.token(id);
    },
    WebSocket: rec.WebSocket,
    initialReconnectDelay: 100,
    maxReconnectDelay: 500,
  });
  try {
    await waitFor(() => client.getState().status === 'open', 'open');
    for (let i = 0; i < 3; i++) await server.publish(id);
    await waitFor(() => client.getState().lastSeq === 3, 'three alerts');
    const oldEpoch = client.getState().epoch;
    assert.ok(oldEpoch, 'alerts carry their epoch');

    let release!: () => void;
    gate = new Promise((r) => (release = r));
    await server.restart(); // a new memory store: seqs start again at 1
    await waitFor(() => client.getState().status !== 'open', 'client saw the restart');
    const n1 = await server.publish(id);
    const n2 = await server.publish(id);
    assert.equal(n1.seq, 1);
    release();
    await waitFor(() => client.getState().alerts.length === 2 && client.getState().epoch !== oldEpoch,
      'the new epoch\'s alerts', 15000);
    const n3 = await server.publish(id);
    await waitFor(() => client.getState().lastSeq === 3, 'live alert in the new epoch');
    const state = client.getState();
    assert.deepEqual(state.alerts.map((a) => a.alert_id), [n1, n2, n3].map((p) => p.alert_id));
    assert.match(rec.sockets[rec.sockets.length - 1].url, new RegExp(`[?&]since=3&epoch=${oldEpoch}(&|$)`));
  } finally {
    client.close();
    await server.stop();
  }
});
