import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAlert, mergeAlerts, type Alert } from '@vigil/client';

const alert = (seq: number, id = `a${seq}`): Alert => ({
  type: 'anomaly_detected',
  alert_id: id,
  seq,
  user_id: 'u',
  stream_id: 's',
  timestamp: '2025-01-01T00:00:00Z',
  detection: {},
});
const ids = (list: readonly Alert[]) => list.map((a) => a.alert_id);

test('appends new alerts in seq order', () => {
  const { alerts, added } = mergeAlerts([alert(1), alert(2)], [alert(3)]);
  assert.deepEqual(ids(alerts), ['a1', 'a2', 'a3']);
  assert.deepEqual(ids(added), ['a3']);
});

test('drops duplicates by alert_id, within the batch and against the list; first copy wins', () => {
  const first = { ...alert(2), detection: { copy: 'first' } };
  const again = { ...alert(2), detection: { copy: 'replayed' }, replayed: true };
  const { alerts, added } = mergeAlerts([alert(1), first], [again, alert(3), alert(3)]);
  assert.deepEqual(ids(alerts), ['a1', 'a2', 'a3']);
  assert.deepEqual(ids(added), ['a3']);
  assert.deepEqual(alerts[1].detection, { copy: 'first' });
});

test('re-sorts alerts that arrive out of order (replay interleaved with live)', () => {
  const { alerts, added } = mergeAlerts([alert(5)], [alert(3), alert(7), alert(4)]);
  assert.deepEqual(ids(alerts), ['a3', 'a4', 'a5', 'a7']);
  assert.deepEqual(ids(added), ['a3', 'a7', 'a4'], 'added keeps arrival order');
});

test('keeps only the newest maxAlerts', () => {
  const { alerts } = mergeAlerts([alert(1), alert(2), alert(3)], [alert(4), alert(5)], 3);
  assert.deepEqual(ids(alerts), ['a3', 'a4', 'a5']);
});

test('does not mutate its input and returns a new array', () => {
  const current = Object.freeze([alert(2), alert(1)].sort((a, b) => a.seq - b.seq));
  const { alerts } = mergeAlerts(current, [alert(0)]);
  assert.notEqual(alerts, current);
  assert.deepEqual(ids(current), ['a1', 'a2']);
  assert.deepEqual(ids(mergeAlerts(current, [alert(1)]).alerts), ['a1', 'a2'], 'nothing new: same content');
});

test('isAlert accepts only anomaly_detected messages with an id and a numeric seq', () => {
  assert.equal(isAlert(alert(1)), true);
  assert.equal(isAlert({ ...alert(1), seq: '1' }), false);
  assert.equal(isAlert({ ...alert(1), alert_id: '' }), false);
  assert.equal(isAlert({ ...alert(1), type: 'ack_ok' }), false);
  assert.equal(isAlert(null), false);
});
