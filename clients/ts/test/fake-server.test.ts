// Failure modes that a well-behaved server does not produce on demand, played by
// tiny in-test servers: silence, a handshake that never completes, chosen close codes.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { afterEach, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { createAlertClient, type AlertClient, type AlertClientOptions, type WebSocketConstructor } from '@vigil/client';
import { sleep, waitFor } from './helpers/wait.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function wsServer(onConnection: (ws: WebSocket, url: string) => void): Promise<{ url: string; wss: WebSocketServer }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws, req) => onConnection(ws, req.url ?? ''));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
  return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, wss };
}

function client(url: string, extra: Partial<AlertClientOptions> = {}): AlertClient {
  const c = createAlertClient({
    url,
    userId: 'u1',
    token: 'opaque-token',
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    initialReconnectDelay: 50,
    maxReconnectDelay: 100,
    ...extra,
  });
  cleanups.push(() => c.close());
  return c;
}

function errorCodes(c: AlertClient): string[] {
  const codes: string[] = [];
  c.subscribe(() => {
    const code = c.getState().lastError?.code;
    if (code && codes[codes.length - 1] !== code) codes.push(code);
  });
  return codes;
}

test('heartbeat: a server that goes silent is given up after heartbeatTimeout, then reconnected', async () => {
  const received: string[] = [];
  let connections = 0;
  const { url } = await wsServer((ws) => {
    connections++;
    ws.on('message', (m) => received.push(String(m))); // ...and never answers
  });
  const c = client(url, { heartbeatInterval: 100, heartbeatTimeout: 400 });
  const codes = errorCodes(c);
  await waitFor(() => connections >= 2, 'a second connection');
  assert.ok(received.includes('{"type":"ping"}'), 'the client sent JSON pings');
  assert.equal(codes[0], 'heartbeat_timeout');
  await waitFor(() => c.getState().status === 'open', 'open again');
});

test('heartbeat: any message counts as life, so a chatty server is never given up', async () => {
  let connections = 0;
  const { url } = await wsServer((ws) => {
    connections++;
    const t = setInterval(() => ws.send('{"type":"ping"}'), 100);
    ws.on('close', () => clearInterval(t));
  });
  const c = client(url, { heartbeatInterval: 60000, heartbeatTimeout: 300 });
  await waitFor(() => c.getState().status === 'open', 'open');
  await sleep(1000);
  assert.equal(connections, 1);
  assert.equal(c.getState().status, 'open');
});

test('a handshake that never completes times out and is retried', async () => {
  const held: Socket[] = [];
  const tcp = createServer((s) => held.push(s)); // accepts TCP, never answers the HTTP upgrade
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise((r) => { for (const s of held) s.destroy(); tcp.close(r); }));
  const c = client(`ws://127.0.0.1:${(tcp.address() as { port: number }).port}`, { heartbeatTimeout: 300 });
  const codes = errorCodes(c);
  await waitFor(() => held.length >= 2, 'a second attempt');
  assert.equal(codes[0], 'connect_timeout');
  assert.equal(c.getState().stale, true);
});

test('close codes: 4003 reconnects with a fresh token and since; 4008 and 1001 retry; 4001 stops', async () => {
  const script = [4003, 4008, 1001, 4001];
  const urls: string[] = [];
  const { url } = await wsServer((ws, reqUrl) => {
    urls.push(reqUrl);
    const code = script[urls.length - 1];
    // One alert first, so the reconnect has a seq to resume from.
    ws.send(JSON.stringify({ type: 'anomaly_detected', alert_id: `a${urls.length}`, seq: urls.length * 10,
      user_id: 'u1', stream_id: 's', timestamp: new Date().toISOString(), detection: {} }));
    setTimeout(() => ws.close(code, 'scripted'), 50);
  });
  let tokens = 0;
  const c = client(url, { getToken: () => `token-${++tokens}` });
  const codes = errorCodes(c);
  await waitFor(() => c.getState().status === 'closed', 'stopped on 4001');
  await sleep(300);
  assert.equal(urls.length, 4, 'no retry after 4001');
  assert.deepEqual(codes, ['token_expired', 'slow_consumer', 'going_away', 'replaced']);
  assert.equal(tokens, 4, 'getToken on every connect');
  assert.match(urls[1], /token=token-2&since=10$/);
  assert.match(urls[3], /since=30$/);
  assert.deepEqual(c.getState().alerts.map((a) => a.seq), [10, 20, 30, 40]);
});

test('close() cancels every timer and closes the socket', async () => {
  const closed: number[] = [];
  const { url } = await wsServer((ws) => ws.on('close', (code) => closed.push(code)));
  const c = createAlertClient({
    url,
    userId: 'u1',
    token: 'opaque-token',
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    heartbeatInterval: 50,
  });
  await waitFor(() => c.getState().status === 'open', 'open');
  const timersBefore = activeTimers();
  assert.ok(timersBefore >= 3, `heartbeat, watchdog and stable timers are running (${timersBefore})`);
  c.close();
  assert.equal(c.getState().status, 'closed');
  await waitFor(() => closed.length === 1, 'server saw the close');
  assert.equal(closed[0], 1000);
  // Polled: `ws` may still be finishing its close handshake. (waitFor's own sleep
  // timer has fired by the time the predicate runs, so it does not count.)
  await waitFor(() => activeTimers() === 0, 'no timers left behind', 2000);
  await assert.rejects(c.ack('x'), /closed/);

  // Also while waiting to retry (nobody listens on the port any more).
  const port = Number(new URL(url).port);
  for (const s of cleanups.splice(0)) await s();
  const waiting = client(`ws://127.0.0.1:${port}`, { initialReconnectDelay: 15000, maxReconnectDelay: 15000 });
  await waitFor(() => waiting.getState().status === 'reconnecting', 'waiting to retry');
  const { nextRetryAt } = waiting.getState();
  assert.ok(nextRetryAt !== null && nextRetryAt > Date.now() + 5000, `retry due at ${nextRetryAt}`);
  waiting.close();
  assert.equal(waiting.getState().status, 'closed');
  await waitFor(() => activeTimers() === 0, 'retry timer cancelled', 2000);
});

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}
