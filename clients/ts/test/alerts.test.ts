import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyHandling, isAlert, isAlertUpdate, mergeAlerts, type Alert, type AlertUpdate } from '@vigil/client';

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

const update = (patch: Partial<AlertUpdate> = {}): AlertUpdate => ({
  type: 'alert_updated',
  alert_id: 'a1',
  change: 'acknowledged',
  actor: 'alice',
  state: 'acknowledged',
  owner: 'alice',
  acknowledged_at: '2026-12-07T01:02:03.456Z',
  resolved_by: null,
  resolved_at: null,
  outcome: null,
  note: null,
  severity: 'high',
  escalation_level: 1,
  ...patch,
});

test('isAlertUpdate accepts alert_updated with an id, a known change and a known state', () => {
  assert.equal(isAlertUpdate(update()), true);
  assert.equal(isAlertUpdate(update({ change: 'escalated' })), true);
  assert.equal(isAlertUpdate({ ...update(), state: 'closed' }), false);
  assert.equal(isAlertUpdate({ ...update(), change: 'moved' }), false);
  assert.equal(isAlertUpdate({ ...update(), alert_id: '' }), false);
  assert.equal(isAlertUpdate({ ...update(), type: 'anomaly_detected' }), false);
  assert.equal(isAlertUpdate('alert_updated'), false);
});

test('applyHandling lays the handling over the alert and keeps the rest', () => {
  const open = { ...alert(1, 'a1'), state: 'open', severity: 'medium', detection: { type: 'fall' } } as Alert;
  const acked = applyHandling(open, update());
  assert.notEqual(acked, open);
  assert.equal(open.state, 'open', 'the input is not mutated');
  assert.equal(acked.state, 'acknowledged');
  assert.equal(acked.owner, 'alice');
  assert.equal(acked.severity, 'high');
  assert.equal(acked.acked, true);
  assert.deepEqual(acked.detection, { type: 'fall' });
  assert.equal(acked.seq, 1);
  assert.equal(applyHandling(acked, update()), acked, 'nothing new: the same object');

  const reopened = applyHandling({ ...acked, acknowledged: true }, update({ change: 'reopened', state: 'open', owner: null, acknowledged_at: null }));
  assert.equal(reopened.state, 'open');
  assert.equal(reopened.owner, null);
  assert.equal(reopened.acked, false);
  assert.equal(reopened.acknowledged, false);

  // A copy without handling fields (a server before handling) changes nothing.
  assert.equal(applyHandling(open, { detection: { type: 'other' }, replayed: true }), open);
});
