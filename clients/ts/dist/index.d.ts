export { createAlertClient, type AlertClient, type AlertClientOptions } from './client.js';
export { AlertClientError, type Alert, type AlertClientState, type ConnectionStatus, type Severity, type WebSocketConstructor, type WebSocketLike, type SocketEventHandler, } from './types.js';
export { computeBackoff, type BackoffOptions } from './backoff.js';
export { mergeAlerts, isAlert, type MergeResult } from './alerts.js';
export { decideOnClose, decideOnHandshake, decideOnFailedHandshake, type Decision } from './decisions.js';
export { buildSocketUrl } from './url.js';
export { alertFrameUrl, fetchHistory, httpBaseUrl, type HistoryAlert, type HistoryOptions, type HistoryPage, } from './http.js';
export { decodeJwtExp } from './jwt.js';
