'use client';
// React binding: a hook over a shared AlertClient, read with useSyncExternalStore.
import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { createAlertClient } from './client.js';
import { acquireClient } from './registry.js';
import { AlertClientError } from './types.js';
/**
 * Default options for every useAnomalyAlerts() below it, typically the signed-in
 * user and a token getter, so components can call the hook with no arguments.
 */
export const AnomalyAlertsContext = createContext({});
export const DEFAULT_WS_URL = 'ws://localhost:8000';
/**
 * Live alerts for one user. The connection opens on mount and closes when the last
 * component using the same server and user unmounts. Options are read from the
 * context, overridden by the argument; `userId` and `url` pick the connection, the
 * token and callbacks are read at the time they are needed, and the timing options
 * are read once, when the connection is created.
 */
export function useAnomalyAlerts(options = {}) {
    const merged = { ...useContext(AnomalyAlertsContext), ...options };
    const url = merged.url ?? envWsUrl() ?? DEFAULT_WS_URL;
    const userId = merged.userId;
    const enabled = merged.enabled !== false && !!userId && (merged.token !== undefined || merged.getToken !== undefined);
    // The newest options, for callbacks that run later (getToken, onAlert).
    const latest = useRef(merged);
    useEffect(() => {
        latest.current = merged;
    });
    // A hook with nothing to connect with, and not told to wait, is a mistake
    // (usually a missing provider): say so once, rather than stay closed in silence.
    const unconfigured = merged.enabled !== false && !enabled;
    useEffect(() => {
        if (unconfigured)
            warnUnconfigured();
    }, [unconfigured]);
    const [client, setClient] = useState(null);
    useEffect(() => {
        if (!enabled || !userId)
            return;
        const lease = acquireClient(`${url}\n${userId}`, () => createAlertClient({
            ...latest.current,
            url,
            userId,
            onAlert: undefined, // per-hook, below
            onUpdate: undefined,
            getToken: () => {
                const o = latest.current;
                return o.getToken ? o.getToken() : o.token;
            },
        }));
        setClient(lease.client);
        return () => {
            setClient(null);
            lease.release();
        };
    }, [enabled, url, userId]);
    useEffect(() => {
        if (!client)
            return;
        const offAlert = client.onAlert((alert) => latest.current.onAlert?.(alert));
        const offUpdate = client.onUpdate((update, alert) => latest.current.onUpdate?.(update, alert));
        return () => {
            offAlert();
            offUpdate();
        };
    }, [client]);
    const idle = enabled ? IDLE_CONNECTING : IDLE_OFF;
    const state = useSyncExternalStore(client ? client.subscribe : subscribeNothing, client ? client.getState : () => idle, () => idle);
    const clearAlerts = useCallback(() => client?.clearAlerts(), [client]);
    const ack = useCallback((alertId) => (client ? client.ack(alertId) : notConnected()), [client]);
    const resolve = useCallback((alertId, outcome, note) => (client ? client.resolve(alertId, outcome, note) : notConnected()), [client]);
    const reopen = useCallback((alertId) => (client ? client.reopen(alertId) : notConnected()), [client]);
    const reconnect = useCallback(() => client?.reconnect(), [client]);
    return {
        alerts: state.alerts,
        connected: state.status === 'open',
        clearAlerts,
        acknowledge: ack,
        ack,
        resolve,
        reopen,
        status: state.status,
        error: state.lastError,
        stale: state.stale,
        attempt: state.attempt,
        nextRetryAt: state.nextRetryAt,
        reconnect,
    };
}
let warnedUnconfigured = false;
function warnUnconfigured() {
    if (warnedUnconfigured)
        return;
    warnedUnconfigured = true;
    console.warn('useAnomalyAlerts: no userId and token (or getToken), so it stays disconnected. Give them with ' +
        '<AnomalyAlertsContext.Provider value={{ userId, getToken }}> around your components, or as the ' +
        "hook's options; pass { enabled: false } to stay idle on purpose (e.g. before sign-in).");
}
/**
 * NEXT_PUBLIC_WS_URL, written out literally so that Next.js inlines it at build
 * time; the try/catch covers browsers (and bundlers) where `process` does not exist.
 */
function envWsUrl() {
    try {
        return process.env.NEXT_PUBLIC_WS_URL || undefined;
    }
    catch {
        return undefined;
    }
}
// Snapshots used before the client exists (first render, server rendering); constant
// objects, as useSyncExternalStore requires.
const IDLE_CONNECTING = Object.freeze({
    status: 'connecting',
    attempt: 0,
    nextRetryAt: null,
    lastError: null,
    stale: false,
    alerts: Object.freeze([]),
    lastSeq: 0,
    epoch: null,
});
const IDLE_OFF = Object.freeze({ ...IDLE_CONNECTING, status: 'closed' });
function notConnected() {
    return Promise.reject(new AlertClientError('not_connected', 'not connected'));
}
function subscribeNothing() {
    return () => { };
}
//# sourceMappingURL=react.js.map