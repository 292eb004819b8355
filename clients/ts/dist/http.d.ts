import { type Alert, type AlertHandling, type AlertState, type Outcome, type Severity } from './types.js';
/**
 * The server's HTTP base for a client base URL: `ws://` → `http://`, `wss://` →
 * `https://`, trailing slashes dropped; a path (a reverse-proxy prefix) is kept.
 */
export declare function httpBaseUrl(base: string): string;
/**
 * An alert's annotated frame as an image URL, or null when it has none. A
 * frame the server sends by URL becomes absolute on `base`; with `token` it
 * carries `?token=` (an `<img>` cannot send an Authorization header). With
 * `--inline-frames` it is a `data:` URL.
 */
export declare function alertFrameUrl(base: string, alert: Pick<Alert, 'frame'>, token?: string): string | null;
/** An alert as history shows it: the live message's fields and its delivery record. */
export interface HistoryAlert extends AlertHandling {
    alert_id: string;
    seq: number;
    user_id: string;
    stream_id: string;
    /** ISO-8601, the producer's (or the server's when it gave none). */
    timestamp: string;
    /** Absent from servers that predate severities. */
    severity?: Severity;
    group_key?: string;
    /** Present (true) when the alert was not pushed: a snoozed stream or quiet hours. */
    suppressed?: boolean;
    detection: Record<string, unknown>;
    frame?: {
        url: string;
        content_type: string;
    };
    created_at: string;
    /** The quick reference's words: `acked` once acknowledged or resolved. */
    status: 'acked' | 'unacked';
    acked_at: string | null;
    acked_by: string | null;
    first_delivered_at: string | null;
    delivery_count: number;
}
export interface HistoryPage {
    /** Newest first. */
    alerts: HistoryAlert[];
    /** Pass as `before` for the next (older) page; null on the last one. */
    next_before: string | null;
}
export interface HistoryOptions {
    /** The server's base URL, as for the client (`ws://…` or `http://…`). */
    url: string;
    /** The user's token (its own alerts), or an admin's (any user's). */
    token: string;
    /** Whose alerts; default: the token's user (an admin without it: every user's). */
    userId?: string;
    /** `open`, `acknowledged`, `resolved` or `all`; the quick reference's `unacked` (open) and `acked` (the other two). */
    status?: AlertState | 'unacked' | 'acked' | 'all';
    /** Only the alerts of this team. */
    team?: string;
    /** 1..1000 (the server's default: 100). */
    limit?: number;
    /** `next_before` of the previous page. */
    before?: string;
    /** A fetch implementation; default: the global one (browsers, Node ≥ 18). */
    fetch?: typeof fetch;
    signal?: AbortSignal;
}
/**
 * One page of `GET /api/v1/alerts`. Rejects with an AlertClientError whose
 * `code` is the server's error code (`bad_request`, `forbidden`…) and whose
 * `httpStatus` is the answer's.
 */
export declare function fetchHistory(options: HistoryOptions): Promise<HistoryPage>;
/** One entry of an alert's audit trail, oldest first. */
export interface AuditEvent {
    type: 'published' | 'delivered' | 'escalated' | 'acknowledged' | 'resolved' | 'reopened';
    /** A user id, the publisher's subject, or `escalation`. */
    actor: string;
    /** ISO-8601 */
    at: string;
    /** delivered: the node that delivered it. */
    node?: string;
    /** escalated: the step's level, audience (`team:NAME`, `user:ID`) and who received it. */
    level?: number;
    notify?: string;
    recipients?: string[];
    /** resolved: how it turned out. */
    outcome?: Outcome;
    note?: string;
    [key: string]: unknown;
}
export interface AlertEventsOptions {
    url: string;
    /** A recipient's token, or an admin's. */
    token: string;
    alertId: string;
    fetch?: typeof fetch;
    signal?: AbortSignal;
}
/**
 * An alert's audit trail (`GET /api/v1/alerts/{id}/events`): published,
 * delivered, escalated, acknowledged, resolved, reopened, oldest first. Rejects
 * like fetchHistory (`not_found` for an alert the token may not see).
 */
export declare function fetchAlertEvents(options: AlertEventsOptions): Promise<AuditEvent[]>;
