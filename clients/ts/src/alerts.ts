import type { Alert, AlertUpdate } from './types.js';

export interface MergeResult {
  /** The merged list: unique alert_ids, ascending seq, at most `maxAlerts` (the newest). */
  alerts: Alert[];
  /** The incoming alerts that were new, in the order they arrived. */
  added: Alert[];
}

/**
 * Merge incoming alerts into a list that is already unique and in seq order.
 *
 * Delivery is at-least-once: the same alert can arrive live and again in a replay,
 * and a replay can interleave with live alerts, so identity is the alert_id
 * (first copy wins) and order is re-established by seq rather than by arrival.
 * Ties on seq (which a correct server never sends) keep arrival order.
 */
export function mergeAlerts(current: readonly Alert[], incoming: readonly Alert[], maxAlerts = Infinity): MergeResult {
  const known = new Set(current.map((a) => a.alert_id));
  const added: Alert[] = [];
  for (const alert of incoming) {
    if (known.has(alert.alert_id)) continue;
    known.add(alert.alert_id);
    added.push(alert);
  }
  if (added.length === 0) return { alerts: current.slice(), added };

  const alerts = current.concat(added);
  // Array.prototype.sort is stable, so equal seqs keep arrival order.
  const inOrder = alerts.every((a, i) => i === 0 || alerts[i - 1].seq <= a.seq);
  if (!inOrder) alerts.sort((a, b) => a.seq - b.seq);
  const overflow = alerts.length - Math.max(0, maxAlerts);
  return { alerts: overflow > 0 ? alerts.slice(overflow) : alerts, added };
}

/** True when `value` looks like an anomaly_detected message we can keep. */
export function isAlert(value: unknown): value is Alert {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    v.type === 'anomaly_detected' &&
    typeof v.alert_id === 'string' &&
    v.alert_id !== '' &&
    typeof v.seq === 'number' &&
    Number.isFinite(v.seq)
  );
}

const STATES: ReadonlySet<unknown> = new Set(['open', 'acknowledged', 'resolved']);
const CHANGES: ReadonlySet<unknown> = new Set(['acknowledged', 'resolved', 'reopened', 'escalated']);

/** True when `value` looks like an alert_updated message we can apply. */
export function isAlertUpdate(value: unknown): value is AlertUpdate {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    v.type === 'alert_updated' &&
    typeof v.alert_id === 'string' &&
    v.alert_id !== '' &&
    CHANGES.has(v.change) &&
    STATES.has(v.state)
  );
}

/** The fields of an alert that its handling changes, and that an `alert_updated` carries. */
const HANDLING_FIELDS = [
  'state',
  'owner',
  'acknowledged_at',
  'resolved_by',
  'resolved_at',
  'outcome',
  'note',
  'severity',
  'escalation_level',
  'team',
  'escalation',
] as const;

/**
 * `alert` with the handling fields of `source` (an alert_updated message, or a
 * later copy of the same alert: a replay, an escalation) laid over it; fields
 * `source` lacks are kept. `acked` and `acknowledged` follow the state, so code
 * written before handling sees a reopened alert as not acknowledged. Returns
 * `alert` itself when nothing changes.
 */
export function applyHandling(alert: Alert, source: Partial<Alert> | AlertUpdate): Alert {
  const patch: Record<string, unknown> = {};
  for (const field of HANDLING_FIELDS) {
    const value = source[field];
    if (value !== undefined && value !== alert[field]) patch[field] = value;
  }
  if (STATES.has(source.state)) {
    const handled = source.state !== 'open';
    if ((alert.acked === true) !== handled && (handled || alert.acked !== undefined)) patch.acked = handled;
    if (!handled && alert.acknowledged === true) patch.acknowledged = false;
  }
  return Object.keys(patch).length === 0 ? alert : { ...alert, ...patch };
}
