// The HTTP side of a vigil server, from the same base URL the client connects
// to: an alert's frame and the user's history, without joining URLs or turning
// ws:// into http:// by hand.
import { AlertClientError } from './types.js';
/**
 * The server's HTTP base for a client base URL: `ws://` → `http://`, `wss://` →
 * `https://`, trailing slashes dropped; a path (a reverse-proxy prefix) is kept.
 */
export function httpBaseUrl(base) {
    return base.replace(/^ws(s?):\/\//i, (_, s) => (s ? 'https://' : 'http://')).replace(/\/+$/, '');
}
/**
 * An alert's annotated frame as an image URL, or null when it has none. A
 * frame the server sends by URL becomes absolute on `base`; with `token` it
 * carries `?token=` (an `<img>` cannot send an Authorization header). With
 * `--inline-frames` it is a `data:` URL.
 */
export function alertFrameUrl(base, alert, token) {
    const frame = alert.frame;
    if (!frame)
        return null;
    if (typeof frame.url === 'string' && frame.url !== '') {
        const url = new URL(frame.url.replace(/^\/+/, ''), `${httpBaseUrl(base)}/`);
        if (token !== undefined)
            url.searchParams.set('token', token);
        return url.toString();
    }
    if (typeof frame.data === 'string' && frame.data !== '') {
        const type = typeof frame.content_type === 'string' && frame.content_type !== '' ? frame.content_type : 'image/jpeg';
        return `data:${type};base64,${frame.data}`;
    }
    return null;
}
/**
 * One page of `GET /api/v1/alerts`. Rejects with an AlertClientError whose
 * `code` is the server's error code (`bad_request`, `forbidden`…) and whose
 * `httpStatus` is the answer's.
 */
export async function fetchHistory(options) {
    const url = new URL(`${httpBaseUrl(options.url)}/api/v1/alerts`);
    if (options.userId !== undefined)
        url.searchParams.set('user_id', options.userId);
    if (options.status !== undefined)
        url.searchParams.set('status', options.status);
    if (options.team !== undefined)
        url.searchParams.set('team', options.team);
    if (options.limit !== undefined)
        url.searchParams.set('limit', String(options.limit));
    if (options.before !== undefined)
        url.searchParams.set('before', options.before);
    return getJson(url, 'history', options);
}
/**
 * An alert's audit trail (`GET /api/v1/alerts/{id}/events`): published,
 * delivered, escalated, acknowledged, resolved, reopened, oldest first. Rejects
 * like fetchHistory (`not_found` for an alert the token may not see).
 */
export async function fetchAlertEvents(options) {
    const url = new URL(`${httpBaseUrl(options.url)}/api/v1/alerts/${encodeURIComponent(options.alertId)}/events`);
    const body = await getJson(url, 'events', options);
    return Array.isArray(body?.events) ? body.events : [];
}
async function getJson(url, what, options) {
    const doFetch = options.fetch ?? globalThis.fetch;
    if (typeof doFetch !== 'function')
        throw new TypeError('no fetch implementation: pass options.fetch');
    const res = await doFetch(url.toString(), {
        headers: { Authorization: `Bearer ${options.token}` },
        signal: options.signal,
    });
    const text = await res.text();
    let body = null;
    try {
        body = JSON.parse(text);
    }
    catch {
        // not JSON: a proxy's page, say
    }
    if (!res.ok) {
        const e = (body ?? {});
        const code = typeof e.error === 'string' ? e.error : 'http_error';
        const detail = typeof e.detail === 'string' ? e.detail : `HTTP ${res.status}`;
        throw new AlertClientError(code, `${what}: ${detail}`, { httpStatus: res.status });
    }
    return body;
}
//# sourceMappingURL=http.js.map