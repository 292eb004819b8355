import { AlertClientError } from './types.js';
/** The server's close codes (SPEC §6) and what the client makes of them. */
const CLOSE_CODES = {
    1000: { code: 'closed', text: 'closed by the server' },
    1001: { code: 'going_away', text: 'server going away' },
    1003: { code: 'binary_refused', text: 'server refused binary data' },
    1006: { code: 'connection_lost', text: 'connection lost' },
    1008: { code: 'policy_violation', text: 'policy violation' },
    1009: { code: 'message_too_big', text: 'message too big' },
    4000: { code: 'heartbeat_timeout', text: 'server heard nothing from us in time' },
    // Another tab or device of the same user took over. Reconnecting would kick it
    // out, and it would kick us out again: stop and let the newer connection win.
    4001: { code: 'replaced', text: 'replaced by a newer connection of the same user', action: 'stop' },
    // getToken() runs again on reconnect, so a fresh token heals this.
    4003: { code: 'token_expired', text: 'token expired' },
    // Our alerts stay stored on the server and are replayed on reconnect.
    4008: { code: 'slow_consumer', text: 'slow consumer' },
};
/** A connection that had opened (or at least reached a close frame) ended with `closeCode`. */
export function decideOnClose(closeCode, reason = '') {
    const known = CLOSE_CODES[closeCode];
    const code = known?.code ?? 'closed';
    const text = known?.text ?? `closed with code ${closeCode}`;
    // The server's reason often says what our text already says ("server going away").
    const adds = reason !== '' && !text.toLowerCase().includes(reason.toLowerCase()) &&
        !reason.toLowerCase().includes(text.toLowerCase());
    return {
        action: known?.action ?? 'retry',
        error: new AlertClientError(code, adds ? `${text}: ${reason}` : text, { closeCode }),
    };
}
/**
 * The server refused the upgrade with an HTTP status. Only Node's `ws` shows us
 * this; 401 and 403 mean the token itself is wrong (getToken() already gave us its
 * best), so retrying would hammer the server for nothing. Anything else (404 from a
 * proxy, 502/503 during a deploy) is worth retrying.
 */
export function decideOnHandshake(httpStatus, body = '') {
    let serverCode = '';
    let detail = '';
    try {
        const parsed = JSON.parse(body);
        if (typeof parsed.error === 'string')
            serverCode = parsed.error;
        if (typeof parsed.detail === 'string')
            detail = parsed.detail;
    }
    catch {
        // Not JSON (a proxy's HTML page, say): the status alone decides.
    }
    const why = [serverCode, detail].filter(Boolean).join(': ');
    const message = `handshake refused with HTTP ${httpStatus}${why ? ` (${why})` : ''}`;
    if (httpStatus === 401)
        return { action: 'stop', error: new AlertClientError('unauthorized', message, { httpStatus }) };
    if (httpStatus === 403)
        return { action: 'stop', error: new AlertClientError('forbidden', message, { httpStatus }) };
    return { action: 'retry', error: new AlertClientError('handshake_refused', message, { httpStatus }) };
}
/**
 * The socket closed before it ever opened and we could not see why. In browsers
 * this is all we get for a 401/403 as much as for a server that is down: they are
 * indistinguishable, so retry with backoff (getToken() runs again on every
 * attempt, which heals an expired token) and say what it may be.
 */
export function decideOnFailedHandshake(closeCode) {
    return {
        action: 'retry',
        error: new AlertClientError('handshake_failed', 'could not open the connection (server unreachable, or the token was refused)', { closeCode }),
    };
}
//# sourceMappingURL=decisions.js.map