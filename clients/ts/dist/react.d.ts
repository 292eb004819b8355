import { type AlertClientOptions } from './client.js';
import { AlertClientError, type Alert, type ConnectionStatus, type Outcome } from './types.js';
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
export declare const AnomalyAlertsContext: import("react").Context<UseAnomalyAlertsOptions>;
export declare const DEFAULT_WS_URL = "ws://localhost:8000";
/**
 * Live alerts for one user. The connection opens on mount and closes when the last
 * component using the same server and user unmounts. Options are read from the
 * context, overridden by the argument; `userId` and `url` pick the connection, the
 * token and callbacks are read at the time they are needed, and the timing options
 * are read once, when the connection is created.
 */
export declare function useAnomalyAlerts(options?: UseAnomalyAlertsOptions): UseAnomalyAlertsResult;
