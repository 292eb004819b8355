// Pure pieces of the protocol: URL, JWT exp, and what each close code or refused handshake leads to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSocketUrl, decideOnClose, decideOnFailedHandshake, decideOnHandshake, decodeJwtExp } from '@vigil/client';
import { mintToken } from './helpers/tokens.js';

test('socket URL: endpoint, encoding, optional since, http→ws', () => {
  assert.equal(buildSocketUrl('ws://h:8000', 'u1', 't'), 'ws://h:8000/ws/alerts/u1?token=t');
  assert.equal(buildSocketUrl('ws://h:8000/', 'a b/c', 'x.y+z', 42), 'ws://h:8000/ws/alerts/a%20b%2Fc?token=x.y%2Bz&since=42');
  assert.equal(buildSocketUrl('https://h/prefix/', 'u', 't', 0), 'wss://h/prefix/ws/alerts/u?token=t');
  assert.equal(buildSocketUrl('http://h', 'u', 't'), 'ws://h/ws/alerts/u?token=t');
});

test('decodeJwtExp reads exp, tolerates junk', () => {
  assert.equal(decodeJwtExp(mintToken('s', { sub: 'u', exp: 1900000000 })), 1900000000);
  const noExp = `${Buffer.from('{}').toString('base64url')}.${Buffer.from('{"sub":"ü"}').toString('base64url')}.x`;
  assert.equal(decodeJwtExp(noExp), null);
  assert.equal(decodeJwtExp('not-a-jwt'), null);
  assert.equal(decodeJwtExp('a.%%%.c'), null);
});

test('close codes: 4001 stops, everything else retries', () => {
  const replaced = decideOnClose(4001, 'replaced by a newer connection');
  assert.equal(replaced.action, 'stop');
  assert.equal(replaced.error.code, 'replaced');
  assert.equal(replaced.error.closeCode, 4001);
  assert.match(replaced.error.message, /newer connection/);
  for (const [code, name] of [[1000, 'closed'], [1001, 'going_away'], [1003, 'binary_refused'], [1006, 'connection_lost'],
    [1008, 'policy_violation'], [1009, 'message_too_big'], [4000, 'heartbeat_timeout'], [4003, 'token_expired'],
    [4008, 'slow_consumer'], [4999, 'closed']] as const) {
    const d = decideOnClose(code);
    assert.equal(d.action, 'retry', `close ${code}`);
    assert.equal(d.error.code, name, `close ${code}`);
  }
});

test('refused handshakes: 401/403 stop with the server reason, others retry', () => {
  const expired = decideOnHandshake(401, '{"error":"token_expired","detail":"token expired"}');
  assert.equal(expired.action, 'stop');
  assert.equal(expired.error.code, 'unauthorized');
  assert.equal(expired.error.httpStatus, 401);
  assert.match(expired.error.message, /token_expired: token expired/);
  assert.equal(decideOnHandshake(403, '').error.code, 'forbidden');
  assert.equal(decideOnHandshake(403, '').action, 'stop');
  assert.equal(decideOnHandshake(503, '<html>').action, 'retry');
  // Browsers cannot see the status: a socket that never opened is retried.
  assert.equal(decideOnFailedHandshake(1006).action, 'retry');
  assert.equal(decideOnFailedHandshake(1006).error.code, 'handshake_failed');
});
