// The HTTP helpers: an alert's frame URL from the client's base URL, and one
// page of history, against a live server.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { alertFrameUrl, fetchHistory, httpBaseUrl, AlertClientError } from '@vigil/client';
import { startServer, serverKind, type TestServer } from './helpers/server.js';

test('httpBaseUrl turns the client base URL into the HTTP one', () => {
  assert.equal(httpBaseUrl('ws://localhost:8000'), 'http://localhost:8000');
  assert.equal(httpBaseUrl('WSS://alerts.example/vigil/'), 'https://alerts.example/vigil');
  assert.equal(httpBaseUrl('http://localhost:8000//'), 'http://localhost:8000');
  assert.equal(httpBaseUrl('https://alerts.example'), 'https://alerts.example');
});

test('alertFrameUrl: absolute on the base, with ?token= for <img>, or inline data', () => {
  const byUrl = { frame: { url: '/api/v1/alerts/a1/frame', content_type: 'image/png' } };
  assert.equal(alertFrameUrl('ws://localhost:8000', byUrl), 'http://localhost:8000/api/v1/alerts/a1/frame');
  assert.equal(
    alertFrameUrl('wss://alerts.example/vigil/', byUrl, 'a.b+c'),
    'https://alerts.example/vigil/api/v1/alerts/a1/frame?token=a.b%2Bc',
  );
  assert.equal(
    alertFrameUrl('ws://h:1', { frame: { content_type: 'image/png', data: 'iVBORw0KGgo=' } }),
    'data:image/png;base64,iVBORw0KGgo=',
  );
  assert.equal(alertFrameUrl('ws://h:1', {}), null);
});

// History and frames are vigil's (the Node peer has neither).
const skip = serverKind() === 'vigil' ? false : 'history needs the vigil binary (VIGIL_BIN)';
let server: TestServer;
before(async () => {
  if (!skip) server = await startServer();
});
after(async () => {
  await server?.stop();
});

test('fetchHistory pages through a user\'s alerts from the client base URL', { skip }, async () => {
  const userId = `history-${randomUUID().slice(0, 8)}`;
  for (let i = 1; i <= 3; i++) await server.publish(userId, { n: i, confidence: 0.93 });
  const token = server.token(userId);
  const first = await fetchHistory({ url: server.wsUrl, token, limit: 2 });
  assert.deepEqual(first.alerts.map((a) => a.detection.n), [3, 2]);
  assert.equal(first.alerts[0].detection.confidence, 0.93);
  assert.equal(first.alerts[0].status, 'unacked');
  assert.ok(first.next_before);
  const second = await fetchHistory({ url: server.wsUrl, token, limit: 2, before: first.next_before });
  assert.deepEqual(second.alerts.map((a) => a.detection.n), [1]);
  assert.equal(second.next_before, null);

  await assert.rejects(fetchHistory({ url: server.wsUrl, token, before: 'xyz' }), (e: unknown) => {
    assert.ok(e instanceof AlertClientError);
    assert.equal(e.code, 'bad_request');
    assert.equal(e.httpStatus, 400);
    return true;
  });
  await assert.rejects(fetchHistory({ url: server.wsUrl, token, userId: 'someone-else' }), /forbidden|credentials/);
});
