/** How much an alert matters (SPEC section 7); `critical` is never suppressed. */
export type Severity = 'critical' | 'high' | 'medium' | 'low';

/** Where an alert is in its handling (docs/handling.md): `open` until someone acknowledges it. */
export type AlertState = 'open' | 'acknowledged' | 'resolved';

/** How a resolved alert turned out. */
export type Outcome = 'real' | 'false_alarm' | 'test';

/** What an `alert_updated` message reports. */
export type AlertChange = 'acknowledged' | 'resolved' | 'reopened' | 'escalated';

/** The handling fields (docs/handling.md), on live alerts and in history. */
export interface AlertHandling {
  /**
   * The alert's shared state, the same for every recipient; kept current by
   * `alert_updated`. Absent from servers that predate handling.
   */
  state?: AlertState;
  /** Who acknowledged it (or resolved it while open); null while open. */
  owner?: string | null;
  /** ISO-8601, or null. */
  acknowledged_at?: string | null;
  resolved_by?: string | null;
  /** ISO-8601, or null. */
  resolved_at?: string | null;
  outcome?: Outcome | null;
  note?: string | null;
  /** The team it was published to; absent for an alert published to one user. */
  team?: string;
  /** The escalation policy it follows, when it has one. */
  escalation?: string;
  /** 1 for the first step's audience (and the alert's own); grows as escalation reaches further. */
  escalation_level?: number;
}

/** An alert as delivered by the server (`type: "anomaly_detected"`). */
export interface Alert extends AlertHandling {
  type: 'anomaly_detected';
  alert_id: string;
  /** Per-user sequence number; only grows within an epoch. Used for ordering and `?since=` resume. */
  seq: number;
  /**
   * The server's numbering that `seq` belongs to: it changes when numbering starts
   * again (a server on a memory store restarted, a database replaced). Absent from
   * servers that predate epochs.
   */
  epoch?: string;
  user_id: string;
  stream_id: string;
  /** ISO-8601 */
  timestamp: string;
  /** Absent from servers that predate severities; `medium` when the producer gave none. */
  severity?: Severity;
  /** Alerts of one group update one push notification in place (default `<stream_id>/<detection type>`). */
  group_key?: string;
  /** True when the user had snoozed the stream or was in quiet hours for this severity: shown here, not pushed. */
  suppressed?: boolean;
  /** Free-form detector output (type, confidence, boxes…). */
  detection: Record<string, unknown>;
  /** Annotated frame: a URL to fetch (owner or admin token), or inline data when the server is configured so. */
  frame?: { url?: string; content_type?: string; /** base64, with --inline-frames */ data?: string; [key: string]: unknown };
  /** Set by the server on alerts replayed at (re)connect. */
  replayed?: boolean;
  /**
   * Set by the server on a replayed alert that was already acknowledged (possible
   * with `since`); kept by this client as "acknowledged or resolved" once an
   * `alert_updated` arrives for it.
   */
  acked?: boolean;
  /** Set by this client once the server confirmed our ack (`ack_ok`); false again once the alert is reopened. */
  acknowledged?: boolean;
  [key: string]: unknown;
}

/** An `alert_updated` message: an alert's handling changed (for every recipient at once). */
export interface AlertUpdate {
  type: 'alert_updated';
  alert_id: string;
  change: AlertChange;
  /** Who made the change (`escalation` for an escalation step). */
  actor: string;
  state: AlertState;
  owner: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  outcome: Outcome | null;
  note: string | null;
  severity?: Severity;
  escalation_level?: number;
  team?: string;
  [key: string]: unknown;
}

export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Everything a UI needs to render; replaced (never mutated) on every change. */
export interface AlertClientState {
  status: ConnectionStatus;
  /** Consecutive failed attempts since the last stable connection (0 once stable). */
  attempt: number;
  /** Epoch ms of the next scheduled connection attempt, or null. */
  nextRetryAt: number | null;
  /** Why the last connection ended or failed; cleared when a connection opens. */
  lastError: AlertClientError | null;
  /** True while alerts may be missing: the client wants a connection and has none. */
  stale: boolean;
  /** Received alerts, deduplicated by alert_id, in seq order (oldest first). */
  alerts: readonly Alert[];
  /** Highest seq seen; sent as `?since=` on reconnect. 0 before the first alert. */
  lastSeq: number;
  /**
   * The epoch of `lastSeq`, sent as `&epoch=` on reconnect, or null before the first
   * alert. When alerts arrive in a new epoch the client starts over: the alerts it
   * held, and its seq, belonged to a numbering the server no longer has.
   */
  epoch: string | null;
}

/** Error with a stable machine-readable `code` (see README for the list). */
export class AlertClientError extends Error {
  readonly code: string;
  /** WebSocket close code, when the error comes from a close. */
  readonly closeCode?: number;
  /** HTTP status of a refused handshake, when the runtime lets us see it (Node `ws`). */
  readonly httpStatus?: number;

  constructor(code: string, message: string, extra: { closeCode?: number; httpStatus?: number } = {}) {
    super(message);
    this.name = 'AlertClientError';
    this.code = code;
    if (extra.closeCode !== undefined) this.closeCode = extra.closeCode;
    if (extra.httpStatus !== undefined) this.httpStatus = extra.httpStatus;
  }
}

/**
 * The part of the WebSocket API the client uses. Browsers' WebSocket, Node 22's
 * global WebSocket and the `ws` package all fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: SocketEventHandler<unknown> | null;
  onmessage: SocketEventHandler<{ readonly data?: unknown }> | null;
  onclose: SocketEventHandler<{ readonly code?: number; readonly reason?: string }> | null;
  onerror: SocketEventHandler<unknown> | null;
}

/**
 * A handler of a socket event: the client reads only the fields of `E`. Checked
 * bivariantly, as a method's parameter is, so that each runtime's own handler
 * type (the DOM's `(ev: MessageEvent) => any`, `ws`'s) still fits under
 * strictFunctionTypes.
 */
export type SocketEventHandler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

export type WebSocketConstructor = new (url: string) => WebSocketLike;
