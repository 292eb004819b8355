// The client against a real server process (vigil with VIGIL_BIN, else the Node peer).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import {
  AlertClientError,
  createAlertClient,
  fetchAlertEvents,
  type Alert,
  type AlertClient,
  type AlertClientOptions,
} from '@vigil/client';
import { serverKind, startServer, type TestServer } from './helpers/server.js';
import { recordingWebSocket, sentOfType } from './helpers/sockets.js';
import { recordStatuses, sleep, waitFor } from './helpers/wait.js';

describe(`client against a live server (${serverKind()})`, () => {
  let server: TestServer;
  const clients: AlertClient[] = [];

  before(async () => {
    server = await startServer({ pingInterval: 1, heartbeatTimeout: 3 });
  });
  after(async () => {
    await server?.stop();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  /** A client with fast retries, recording its sockets. */
  function makeClient(userId: string, extra: Partial<AlertClientOptions> = {}) {
    const rec = recordingWebSocket();
    const client = createAlertClient({
      url: server.wsUrl,
      userId,
      getToken: () => server.token(userId),
      WebSocket: rec.WebSocket,
      initialReconnectDelay: 100,
      maxReconnectDelay: 500,
      ackTimeout: 3000,
      ...extra,
    });
    clients.push(client);
    return { client, sockets: rec.sockets, statuses: recordStatuses(client) };
  }
  const user = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;
  const opened = (c: AlertClient) => waitFor(() => c.getState().status === 'open', 'status open');

  test('receives a published alert and acks it (ack_ok)', async () => {
    const id = user('ack');
    const delivered: Alert[] = [];
    const { client } = makeClient(id, { onAlert: (a) => delivered.push(a) });
    await opened(client);

    const published = await server.publish(id, { type: 'intrusion', confidence: 0.97 });
    await waitFor(() => client.getState().alerts.length === 1, 'alert in state');
    const [alert] = client.getState().alerts;
    assert.equal(alert.alert_id, published.alert_id);
    assert.equal(alert.seq, published.seq);
    assert.equal(alert.user_id, id);
    assert.deepEqual(alert.detection, { type: 'intrusion', confidence: 0.97 });
    assert.equal(client.getState().lastSeq, published.seq);
    assert.deepEqual(delivered.map((a) => a.alert_id), [published.alert_id], 'onAlert called once');

    await client.ack(alert.alert_id); // resolves on ack_ok
    assert.equal(client.getState().alerts[0].acknowledged, true);

    await assert.rejects(client.ack('no-such-alert'), (err: unknown) => {
      assert.ok(err instanceof AlertClientError);
      assert.notEqual(err.code, 'ack_timeout', 'the server answered with an error naming the alert');
      return true;
    });
  });

  test('answers server pings from the message handler and outlives the server heartbeat timeout', async () => {
    const id = user('pong');
    // Our own heartbeat is off for the test's duration: only the answers to the
    // server's pings (every 1 s) keep the server's 3 s timeout from closing us, and
    // only the server's pings keep our 2.5 s watchdog quiet.
    const { client, sockets, statuses } = makeClient(id, { heartbeatInterval: 60000, heartbeatTimeout: 2500 });
    await opened(client);
    await sleep(4500);
    assert.deepEqual(statuses, ['connecting', 'open'], 'never dropped');
    assert.equal(sockets.length, 1);
    assert.ok(sentOfType(sockets[0], 'pong').length >= 2, 'answered the server pings');
    assert.equal(sentOfType(sockets[0], 'ping').length, 0);
    assert.equal(await server.isConnected(id), true);
  });

  test('resumes with since = last seq after a drop: no gap, no duplicate', async () => {
    const id = user('resume');
    let gate: Promise<void> | null = null;
    const { client, sockets } = makeClient(id, {
      getToken: async () => {
        if (gate) await gate; // lets the test publish while the client is away
        return server.token(id);
      },
    });
    await opened(client);
    const p1 = await server.publish(id);
    const p2 = await server.publish(id);
    await waitFor(() => client.getState().alerts.length === 2, 'two live alerts');

    let release!: () => void;
    gate = new Promise((r) => (release = r));
    client.reconnect();
    await waitFor(async () => !(await server.isConnected(id)), 'server saw the drop');
    const p3 = await server.publish(id); // stored while offline (p1, p2 stay unacknowledged too)
    release();
    await waitFor(() => client.getState().alerts.length === 3, 'replayed alert');
    const p4 = await server.publish(id);
    await waitFor(() => client.getState().alerts.length === 4, 'live alert after resume');
    await sleep(200); // room for any duplicate to show up

    const { alerts } = client.getState();
    assert.deepEqual(alerts.map((a) => a.alert_id), [p1, p2, p3, p4].map((p) => p.alert_id));
    assert.deepEqual(alerts.map((a) => a.seq), [p1, p2, p3, p4].map((p) => p.seq));
    assert.equal(sockets.length, 2);
    assert.match(sockets[1].url, new RegExp(`[?&]since=${p2.seq}(&|$)`), 'resumed after the last seq seen');
  });

  test('refreshes the token before it expires and keeps the connection', async () => {
    const id = user('refresh');
    let calls = 0;
    const { client, sockets, statuses } = makeClient(id, {
      refreshBefore: 2000,
      getToken: () => (++calls === 1 ? server.token(id, { ttlSeconds: 3 }) : server.token(id, { ttlSeconds: 3600 })),
    });
    await opened(client);
    await sleep(4500); // past the first token's exp, when the server would close with 4003
    assert.equal(calls, 2, 'getToken: once to connect, once to refresh');
    assert.equal(sentOfType(sockets[0], 'refresh').length, 1);
    assert.deepEqual(statuses, ['connecting', 'open'], 'never dropped');
    assert.equal(client.getState().lastError, null, 'refresh_ok, no error');
    assert.equal(await server.isConnected(id), true);
  });

  test('4001: a newer connection for the same user wins; the older client stops and stays stopped', async () => {
    const id = user('replaced');
    const first = makeClient(id);
    await opened(first.client);
    const second = makeClient(id);
    await opened(second.client);

    await waitFor(() => first.client.getState().status === 'closed', 'first client closed');
    const { lastError, stale } = first.client.getState();
    assert.equal(lastError?.code, 'replaced');
    assert.equal(lastError?.closeCode, 4001);
    assert.equal(stale, true);

    await sleep(1200); // over twice the longest retry delay: a retry would have happened
    assert.equal(first.client.getState().status, 'closed');
    assert.equal(first.sockets.length, 1, 'the older client did not reconnect');
    assert.deepEqual(second.statuses, ['connecting', 'open'], 'the newer client was left alone');
    assert.equal(await server.isConnected(id), true);
  });

  // Handling (docs/handling.md) is vigil's; the Node peer has none (handling.test.ts plays it instead).
  const noHandling = serverKind() === 'vigil' ? false : 'handling needs the vigil binary (VIGIL_BIN)';

  test('a team alert: acknowledged, resolved and reopened by one member, seen by the other; the audit trail', { skip: noHandling }, async () => {
    const [alice, bob] = [user('alice'), user('bob')];
    const team = user('team');
    const put = await server.request('PUT', `/api/v1/teams/${team}`, { body: { members: [alice, bob] } });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    const a = makeClient(alice).client;
    const b = makeClient(bob).client;
    await Promise.all([opened(a), opened(b)]);

    const published = await server.request('POST', '/api/v1/alerts', {
      token: server.token('cam-gateway', { role: 'publisher' }),
      body: { team, stream_id: 'cam-3', severity: 'critical', detection: { type: 'intrusion' } },
    });
    assert.equal(published.status, 201, JSON.stringify(published.json));
    const id = (published.json as { alert_id: string }).alert_id;
    const held = (c: AlertClient) => c.getState().alerts.find((x) => x.alert_id === id);
    await waitFor(() => !!held(a) && !!held(b), 'both members hold the alert');
    assert.equal(held(b)?.state, 'open');
    assert.equal(held(b)?.team, team);
    assert.equal(held(b)?.severity, 'critical');

    await a.ack(id);
    await waitFor(() => held(b)?.state === 'acknowledged' && held(b)?.owner === alice, "bob sees alice's acknowledgement");
    await b.resolve(id, 'false_alarm', 'a cat');
    await waitFor(() => held(a)?.state === 'resolved', 'alice sees it resolved');
    assert.equal(held(a)?.outcome, 'false_alarm');
    assert.equal(held(a)?.note, 'a cat');
    assert.equal(held(a)?.resolved_by, bob);
    await assert.rejects(b.resolve(id, 'real'), (e: unknown) => e instanceof AlertClientError && e.code === 'invalid_transition');
    await a.reopen(id);
    await waitFor(() => held(a)?.state === 'open' && held(b)?.state === 'open', 'open again for both');
    assert.equal(held(b)?.owner, null);

    const events = await fetchAlertEvents({ url: server.wsUrl, token: server.token(bob), alertId: id });
    const types = events.map((e) => e.type);
    for (const t of ['published', 'delivered', 'acknowledged', 'resolved', 'reopened']) assert.ok(types.includes(t as never), `${t} in ${types}`);
    assert.equal(events.find((e) => e.type === 'resolved')?.note, 'a cat');
    await assert.rejects(
      fetchAlertEvents({ url: server.wsUrl, token: server.token(user('stranger')), alertId: id }),
      (e: unknown) => e instanceof AlertClientError && e.code === 'not_found',
    );
  });

  test('refused handshakes (401, 403) stop instead of retrying, with the reason', async () => {
    const id = user('refused');
    const cases = [
      { token: 'not.a.jwt', code: 'unauthorized', status: 401 },
      { token: server.token(id, { exp: Math.floor(Date.now() / 1000) - 60 }), code: 'unauthorized', status: 401 },
      { token: server.token('somebody-else'), code: 'forbidden', status: 403 },
    ];
    for (const c of cases) {
      const { client, sockets } = makeClient(id, { getToken: () => c.token });
      await waitFor(() => client.getState().status === 'closed', `closed on ${c.status}`);
      const err = client.getState().lastError;
      assert.equal(err?.code, c.code);
      assert.equal(err?.httpStatus, c.status);
      await sleep(300);
      assert.equal(sockets.length, 1, 'no retry');
    }
  });
});
