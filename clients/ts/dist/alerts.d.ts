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
export declare function mergeAlerts(current: readonly Alert[], incoming: readonly Alert[], maxAlerts?: number): MergeResult;
/** True when `value` looks like an anomaly_detected message we can keep. */
export declare function isAlert(value: unknown): value is Alert;
/** True when `value` looks like an alert_updated message we can apply. */
export declare function isAlertUpdate(value: unknown): value is AlertUpdate;
/**
 * `alert` with the handling fields of `source` (an alert_updated message, or a
 * later copy of the same alert: a replay, an escalation) laid over it; fields
 * `source` lacks are kept. `acked` and `acknowledged` follow the state, so code
 * written before handling sees a reopened alert as not acknowledged. Returns
 * `alert` itself when nothing changes.
 */
export declare function applyHandling(alert: Alert, source: Partial<Alert> | AlertUpdate): Alert;
