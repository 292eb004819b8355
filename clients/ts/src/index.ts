export { createAlertClient, type AlertClient, type AlertClientOptions } from './client.js';
export {
  AlertClientError,
  type Alert,
  type AlertChange,
  type AlertHandling,
  type AlertClientState,
  type AlertState,
  type AlertUpdate,
  type Outcome,
  type ConnectionStatus,
  type Severity,
  type WebSocketConstructor,
  type WebSocketLike,
  type SocketEventHandler,
} from './types.js';
// The pure building blocks, exported for apps that want the same rules elsewhere.
export { computeBackoff, type BackoffOptions } from './backoff.js';
export { mergeAlerts, isAlert, isAlertUpdate, applyHandling, type MergeResult } from './alerts.js';
export { decideOnClose, decideOnHandshake, decideOnFailedHandshake, type Decision } from './decisions.js';
export { buildSocketUrl } from './url.js';
export {
  alertFrameUrl,
  fetchAlertEvents,
  fetchHistory,
  httpBaseUrl,
  type AlertEventsOptions,
  type AuditEvent,
  type HistoryAlert,
  type HistoryOptions,
  type HistoryPage,
} from './http.js';
export { decodeJwtExp } from './jwt.js';
