import { AlertClientError } from './types.js';
/** What to do after a connection ended: try again (with backoff) or stop for good. */
export interface Decision {
    action: 'retry' | 'stop';
    error: AlertClientError;
}
/** A connection that had opened (or at least reached a close frame) ended with `closeCode`. */
export declare function decideOnClose(closeCode: number, reason?: string): Decision;
/**
 * The server refused the upgrade with an HTTP status. Only Node's `ws` shows us
 * this; 401 and 403 mean the token itself is wrong (getToken() already gave us its
 * best), so retrying would hammer the server for nothing. Anything else (404 from a
 * proxy, 502/503 during a deploy) is worth retrying.
 */
export declare function decideOnHandshake(httpStatus: number, body?: string): Decision;
/**
 * The socket closed before it ever opened and we could not see why. In browsers
 * this is all we get for a 401/403 as much as for a server that is down: they are
 * indistinguishable, so retry with backoff (getToken() runs again on every
 * attempt, which heals an expired token) and say what it may be.
 */
export declare function decideOnFailedHandshake(closeCode: number): Decision;
