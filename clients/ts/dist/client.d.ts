import { type Alert, type AlertClientState, type AlertUpdate, type Outcome, type WebSocketConstructor } from './types.js';
export interface AlertClientOptions {
    /** Server base URL, e.g. `ws://localhost:8000` (http(s):// is converted). */
    url: string;
    userId: string;
    /** A fixed token; or use `getToken`. */
    token?: string;
    /** Called before every (re)connect and before each refresh, so it may return a fresh token. */
    getToken?: () => string | Promise<string>;
    /** WebSocket implementation; defaults to the global one (browsers, Node ≥ 22). In Node 20 pass `ws`. */
    WebSocket?: WebSocketConstructor;
    /** First retry delay, ms (default 1000). */
    initialReconnectDelay?: number;
    /** Longest retry delay, ms (default 30000). */
    maxReconnectDelay?: number;
    /** 0..1, spread of each retry delay around its base (default 0.5), see computeBackoff. */
    jitter?: number;
    /** A connection open this long (ms) resets the backoff (default 10000). */
    stableAfter?: number;
    /** How often we send a JSON ping, ms (default 30000). */
    heartbeatInterval?: number;
    /** Give up on a socket (or a handshake) after hearing nothing for this long, ms (default 60000). */
    heartbeatTimeout?: number;
    /** Send `refresh` this long (ms) before the token's `exp`, at most half its remaining life (default 60000). */
    refreshBefore?: number;
    /** An ack, resolve or reopen with no answer in this long (ms) is rejected (default 10000). */
    ackTimeout?: number;
    /** Keep at most this many alerts in state, the newest by seq (default 1000). */
    maxAlerts?: number;
    /** Called once per new alert (after state is updated). */
    onAlert?: (alert: Alert) => void;
    /** Called for every `alert_updated` (after state is updated); see AlertClient.onUpdate. */
    onUpdate?: (update: AlertUpdate, alert: Alert | undefined) => void;
}
export interface AlertClient {
    /** The current state; the same object until something changes. */
    getState(): AlertClientState;
    /** `listener` runs after every state change; returns an unsubscribe function. */
    subscribe(listener: () => void): () => void;
    /** `listener` runs once per new alert; returns an unsubscribe function. */
    onAlert(listener: (alert: Alert) => void): () => void;
    /**
     * `listener` runs once per `alert_updated` (someone acknowledged, resolved,
     * reopened or escalated an alert), after the held alert, if any, was updated;
     * `alert` is that updated alert, or undefined when this client does not hold it
     * (cleared, or older than `maxAlerts`). Returns an unsubscribe function.
     */
    onUpdate(listener: (update: AlertUpdate, alert: Alert | undefined) => void): () => void;
    /** Acknowledge an alert; resolves on `ack_ok`, rejects on an `error` naming it, a timeout or a disconnect. */
    ack(alertId: string): Promise<void>;
    /**
     * Resolve an alert (open or acknowledged) with how it turned out and an optional
     * note (at most 1000 bytes of UTF-8); resolves on `resolve_ok`, rejects like ack()
     * (`invalid_transition` when it is already resolved). The alert's `state`
     * changes when the server's `alert_updated` arrives.
     */
    resolve(alertId: string, outcome: Outcome, note?: string): Promise<void>;
    /** Take an acknowledged or resolved alert back to open; resolves on `reopen_ok`, rejects like resolve(). */
    reopen(alertId: string): Promise<void>;
    /** Empty the alert list (alerts already seen are not re-added if replayed). */
    clearAlerts(): void;
    /**
     * Drop the current connection, if any, and connect again now, resetting the
     * backoff. Also revives a client stopped by 4001/401/403 (e.g. a "use this tab" button).
     */
    reconnect(): void;
    /** Stop for good: closes the socket, cancels every timer, rejects pending requests. */
    close(): void;
}
export declare function createAlertClient(options: AlertClientOptions): AlertClient;
