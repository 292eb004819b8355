'use client';
// React binding: a hook over a shared AlertClient, read with useSyncExternalStore.

import { createContext, useCallback, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { createAlertClient, type AlertClient, type AlertClientOptions } from './client.js';
import { acquireClient } from './registry.js';
import { AlertClientError, type Alert, type AlertClientState, type ConnectionStatus, type Outcome } from './types.js';

export interface UseAnomalyAlertsOptions extends Partial<AlertClientOptions> {
  /** Set false to stay disconnected (e.g. until the user has logged in). Default true. */
  enabled?: boolean;
}

export interface UseAnomalyAlertsResult {
  alerts: readonly Alert[];
  connected: boolean;
  clearAlerts: () => void;
  /** Acknowledge: the alert becomes yours (`owner`) for every recipient. Same as `ack`. */
  acknowledge: (alertId: string) => Promise<void>;
  ack: (alertId: string) => Promise<void>;
  /** Resolve with how it turned out, and an optional note. */
  resolve: (alertId: string, outcome: Outcome, note?: string) => Promise<void>;
  /** Take an acknowledged or resolved alert back to open. */
  reopen: (alertId: string) => Promise<void>;
  status: ConnectionStatus;
  error: AlertClientError | null;
  /** True while alerts may be missing: disconnected and trying again (or stopped on an error). */
  stale: boolean;
  attempt: number;
  nextRetryAt: number | null;
  reconnect: () => void;
}

/**
 * Default options for every useAnomalyAlerts() below it, typically the signed-in
 * user and a token getter, so components can call the hook with no arguments.
 */
export const AnomalyAlertsContext = createContext<UseAnomalyAlertsOptions>({});

export const DEFAULT_WS_URL = 'ws://localhost:8000';

/**
 * Live alerts for one user. The connection opens on mount and closes when the last
 * component using the same server and user unmounts. Options are read from the
 * context, overridden by the argument; `userId` and `url` pick the connection, the
 * token and callbacks are read at the time they are needed, and the timing options
 * are read once, when the connection is created.
 */
export function useAnomalyAlerts(options: UseAnomalyAlertsOptions = {}): UseAnomalyAlertsResult {
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
    if (unconfigured) warnUnconfigured();
  }, [unconfigured]);

  const [client, setClient] = useState<AlertClient | null>(null);
  useEffect(() => {
    if (!enabled || !userId) return;
    const lease = acquireClient(`${url}\n${userId}`, () =>
      createAlertClient({
        ...latest.current,
        url,
        userId,
        onAlert: undefined, // per-hook, below
        onUpdate: undefined,
        getToken: () => {
          const o = latest.current;
          return o.getToken ? o.getToken() : (o.token as string);
        },
      }),
    );
    setClient(lease.client);
    return () => {
      setClient(null);
      lease.release();
    };
  }, [enabled, url, userId]);

  useEffect(() => {
    if (!client) return;
    const offAlert = client.onAlert((alert) => latest.current.onAlert?.(alert));
    const offUpdate = client.onUpdate((update, alert) => latest.current.onUpdate?.(update, alert));
    return () => {
      offAlert();
      offUpdate();
    };
  }, [client]);

  const idle = enabled ? IDLE_CONNECTING : IDLE_OFF;
  const state = useSyncExternalStore(
    client ? client.subscribe : subscribeNothing,
    client ? client.getState : () => idle,
    () => idle,
  );

  const clearAlerts = useCallback(() => client?.clearAlerts(), [client]);
  const ack = useCallback((alertId: string) => (client ? client.ack(alertId) : notConnected()), [client]);
  const resolve = useCallback(
    (alertId: string, outcome: Outcome, note?: string) => (client ? client.resolve(alertId, outcome, note) : notConnected()),
    [client],
  );
  const reopen = useCallback((alertId: string) => (client ? client.reopen(alertId) : notConnected()), [client]);
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

function warnUnconfigured(): void {
  if (warnedUnconfigured) return;
  warnedUnconfigured = true;
  console.warn(
    'useAnomalyAlerts: no userId and token (or getToken), so it stays disconnected. Give them with ' +
      '<AnomalyAlertsContext.Provider value={{ userId, getToken }}> around your components, or as the ' +
      "hook's options; pass { enabled: false } to stay idle on purpose (e.g. before sign-in).",
  );
}

/**
 * NEXT_PUBLIC_WS_URL, written out literally so that Next.js inlines it at build
 * time; the try/catch covers browsers (and bundlers) where `process` does not exist.
 */
function envWsUrl(): string | undefined {
  try {
    return process.env.NEXT_PUBLIC_WS_URL || undefined;
  } catch {
    return undefined;
  }
}

// Snapshots used before the client exists (first render, server rendering); constant
// objects, as useSyncExternalStore requires.
const IDLE_CONNECTING: AlertClientState = Object.freeze({
  status: 'connecting',
  attempt: 0,
  nextRetryAt: null,
  lastError: null,
  stale: false,
  alerts: Object.freeze([]) as readonly Alert[],
  lastSeq: 0,
  epoch: null,
});
const IDLE_OFF: AlertClientState = Object.freeze({ ...IDLE_CONNECTING, status: 'closed' });

function notConnected(): Promise<void> {
  return Promise.reject(new AlertClientError('not_connected', 'not connected'));
}

function subscribeNothing(): () => void {
  return () => {};
}
