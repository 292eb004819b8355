export { createAlertClient } from './client.js';
export { AlertClientError, } from './types.js';
// The pure building blocks, exported for apps that want the same rules elsewhere.
export { computeBackoff } from './backoff.js';
export { mergeAlerts, isAlert, isAlertUpdate, applyHandling } from './alerts.js';
export { decideOnClose, decideOnHandshake, decideOnFailedHandshake } from './decisions.js';
export { buildSocketUrl } from './url.js';
export { alertFrameUrl, fetchAlertEvents, fetchHistory, httpBaseUrl, } from './http.js';
export { decodeJwtExp } from './jwt.js';
//# sourceMappingURL=index.js.map