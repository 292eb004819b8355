import { applyHandling, isAlert, isAlertUpdate, mergeAlerts } from './alerts.js';
import { computeBackoff } from './backoff.js';
import { decideOnClose, decideOnFailedHandshake, decideOnHandshake, type Decision } from './decisions.js';
import { decodeJwtExp } from './jwt.js';
import {
  AlertClientError,
  type Alert,
  type AlertClientState,
  type AlertUpdate,
  type Outcome,
  type WebSocketConstructor,
  type WebSocketLike,
} from './types.js';
import { buildSocketUrl } from './url.js';

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

const OPEN = 1;

/** The parts of Node's `ws` beyond the browser API that we use when present. */
interface NodeWsExtras {
  on?(event: 'unexpected-response', listener: (request: unknown, response: HttpResponseLike) => void): unknown;
  terminate?(): void;
}
interface HttpResponseLike {
  statusCode?: number;
  setEncoding?(encoding: string): void;
  on(event: string, listener: (chunk?: unknown) => void): unknown;
}
type Socket = WebSocketLike & NodeWsExtras;
/** The browser's window.addEventListener, as used for the 'online' event. */
type OnlineListener = (type: 'online', listener: () => void) => void;

const noop = () => {};

type RequestKind = 'ack' | 'resolve' | 'reopen';
interface HandlingRequest {
  kind: RequestKind;
  /** The message as sent: the same request made twice shares one answer. */
  key: string;
  message: object;
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}
const OUTCOMES: ReadonlySet<unknown> = new Set(['real', 'false_alarm', 'test']);
/** The server's limit on a resolution note. */
const MAX_NOTE_BYTES = 1000;

export function createAlertClient(options: AlertClientOptions): AlertClient {
  const cfg = {
    initialReconnectDelay: 1000,
    maxReconnectDelay: 30000,
    jitter: 0.5,
    stableAfter: 10000,
    heartbeatInterval: 30000,
    heartbeatTimeout: 60000,
    refreshBefore: 60000,
    ackTimeout: 10000,
    maxAlerts: 1000,
    ...definedOnly(options),
  };
  const givenOrGlobal = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof givenOrGlobal !== 'function') {
    throw new TypeError('no WebSocket implementation: pass options.WebSocket (e.g. the `ws` package in Node 20)');
  }
  const WebSocketImpl: WebSocketConstructor = givenOrGlobal; // narrowed once, for the hoisted functions below
  if (!cfg.userId) throw new TypeError('userId is required');
  if (options.getToken === undefined && options.token === undefined) throw new TypeError('token or getToken is required');
  const getToken = options.getToken ?? (() => options.token as string);

  let state: AlertClientState = {
    status: 'connecting',
    attempt: 0,
    nextRetryAt: null,
    lastError: null,
    stale: false,
    alerts: [],
    lastSeq: 0,
    epoch: null,
  };
  const listeners = new Set<() => void>();
  const alertListeners = new Set<(alert: Alert) => void>();
  if (options.onAlert) alertListeners.add(options.onAlert);
  const updateListeners = new Set<(update: AlertUpdate, alert: Alert | undefined) => void>();
  if (options.onUpdate) updateListeners.add(options.onUpdate);
  /** Ids already delivered, so a replay does not bring back alerts the user cleared. Bounded. */
  const seenIds = new Set<string>();
  /**
   * Handling requests (ack, resolve, reopen) per alert, oldest first. Only the
   * first is on the wire: the server's answers and errors name the alert but not
   * the request, so one at a time per alert keeps each answer with its request.
   */
  const requests = new Map<string, HandlingRequest[]>();

  // All timers live in one map, so close() provably cancels every one of them.
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  function later(name: string, ms: number, fn: () => void): void {
    cancel(name);
    timers.set(name, setTimeout(() => { timers.delete(name); fn(); }, Math.max(0, ms)));
  }
  function cancel(name: string): void {
    const t = timers.get(name);
    if (t !== undefined) clearTimeout(t);
    timers.delete(name);
  }

  let disposed = false;
  /** Bumped whenever the current attempt is abandoned, so late async results of an old attempt are ignored. */
  let generation = 0;
  let socket: Socket | null = null;
  let socketOpened = false;
  let lastHeardAt = 0;
  /** `exp` of the token the server currently holds for us (seconds), if it is a JWT. */
  let tokenExp: number | null = null;
  /** `exp` of the token sent in a `refresh` that the server has not confirmed yet. */
  let refreshingExp: number | null = null;

  function setState(patch: Partial<AlertClientState>): void {
    state = { ...state, ...patch };
    for (const listener of Array.from(listeners)) guarded(listener);
  }

  // ------------------------------------------------------------ connecting

  function connect(): void {
    const gen = ++generation;
    cancel('retry');
    setState({ status: state.attempt === 0 ? 'connecting' : 'reconnecting', nextRetryAt: null });
    // Always asynchronous, even with a fixed token: a client created and closed in
    // the same tick (React StrictMode mounts, unmounts, mounts) never opens a socket.
    Promise.resolve()
      .then(getToken)
      .then(
        (token) => {
          if (gen !== generation) return;
          if (typeof token !== 'string' || token === '') {
            fail({ action: 'retry', error: new AlertClientError('token_error', 'getToken() returned no token') });
          } else {
            openSocket(token);
          }
        },
        (err: unknown) => {
          if (gen !== generation) return;
          fail({ action: 'retry', error: new AlertClientError('token_error', `getToken() failed: ${messageOf(err)}`) });
        },
      );
  }

  function openSocket(token: string): void {
    tokenExp = decodeJwtExp(token);
    // Resume after the last alert seen, in its epoch; the server replays everything
    // after it (or, from another epoch, every unacknowledged alert).
    const since = state.lastSeq > 0 ? state.lastSeq : undefined;
    let ws: Socket;
    try {
      ws = new WebSocketImpl(buildSocketUrl(cfg.url, cfg.userId, token, since, state.epoch));
    } catch (err) {
      // The constructor only throws for a malformed URL: retrying cannot help.
      fail({ action: 'stop', error: new AlertClientError('invalid_url', messageOf(err)) });
      return;
    }
    socket = ws;
    socketOpened = false;
    heard(); // the watchdog doubles as the handshake timeout

    let refusal: Decision | null = null;
    if (typeof ws.on === 'function') {
      // Node `ws` only: the refused handshake's HTTP status and JSON body.
      ws.on('unexpected-response', (_request, response) => {
        readBody(response, (body) => {
          refusal = decideOnHandshake(response.statusCode ?? 0, body);
          ws.terminate?.(); // ws leaves the handshake hanging once we listen for this
        });
      });
    }
    ws.onopen = () => {
      if (socket === ws) onOpen();
    };
    ws.onmessage = (event: { data?: unknown }) => {
      if (socket !== ws) return;
      heard();
      onMessage(event.data);
    };
    ws.onerror = noop; // a close event always follows; the decision is made there
    ws.onclose = (event: { code?: number; reason?: string }) => {
      if (socket !== ws) return;
      const code = event.code ?? 1006;
      fail(refusal ?? (socketOpened ? decideOnClose(code, event.reason) : decideOnFailedHandshake(code)));
    };
  }

  function onOpen(): void {
    socketOpened = true;
    setState({ status: 'open', stale: false, lastError: null, nextRetryAt: null });
    scheduleHeartbeat();
    later('stable', cfg.stableAfter, () => setState({ attempt: 0 }));
    scheduleRefresh();
  }

  /**
   * End the current attempt or connection; then either stop (status 'closed') or
   * retry after a backoff delay. Every path that loses the socket comes through here.
   */
  function fail(decision: Decision): void {
    dropSocket(false, decision.error);
    if (decision.action === 'stop') {
      setState({ status: 'closed', stale: true, lastError: decision.error, nextRetryAt: null });
      return;
    }
    const attempt = state.attempt + 1;
    const delay = computeBackoff(attempt, {
      initialDelay: cfg.initialReconnectDelay,
      maxDelay: cfg.maxReconnectDelay,
      jitter: cfg.jitter,
    });
    later('retry', delay, connect);
    setState({ status: 'reconnecting', stale: true, attempt, lastError: decision.error, nextRetryAt: Date.now() + delay });
  }

  /** Detach from the current socket and cancel everything tied to it. */
  function dropSocket(clean: boolean, reason: AlertClientError): void {
    generation++;
    refreshingExp = null;
    for (const name of ['heartbeat', 'watchdog', 'stable', 'refresh']) cancel(name);
    for (const [id, queue] of Array.from(requests)) {
      requests.delete(id);
      cancel(`request:${id}`);
      for (const r of queue) {
        r.reject(new AlertClientError('disconnected', `connection ended before ${r.kind}_ok (${reason.message})`));
      }
    }
    const ws = socket;
    socket = null;
    if (!ws) return;
    // Its late events must not reach us; `ws` throws on an 'error' without a listener, hence noop, not null.
    ws.onmessage = noop;
    ws.onclose = noop;
    ws.onerror = noop;
    ws.onopen = () => safely(() => ws.close(1000));
    if (clean) {
      safely(() => ws.close(1000, 'client closed'));
    } else if (typeof ws.terminate === 'function') {
      ws.terminate(); // Node: do not wait for a close handshake from a peer we gave up on
    } else {
      safely(() => ws.close(4000, reason.code.slice(0, 100)));
    }
  }

  // ------------------------------------------------------------ heartbeat

  function heard(): void {
    lastHeardAt = Date.now();
    if (!timers.has('watchdog')) armWatchdog();
  }

  // One timer re-armed lazily rather than reset on every message: cheap under a flood.
  function armWatchdog(): void {
    later('watchdog', lastHeardAt + cfg.heartbeatTimeout - Date.now(), () => {
      if (Date.now() - lastHeardAt < cfg.heartbeatTimeout) return armWatchdog();
      const error = socketOpened
        ? new AlertClientError('heartbeat_timeout', `nothing heard from the server for ${cfg.heartbeatTimeout} ms`)
        : new AlertClientError('connect_timeout', `no handshake answer within ${cfg.heartbeatTimeout} ms`);
      fail({ action: 'retry', error });
    });
  }

  function scheduleHeartbeat(): void {
    later('heartbeat', cfg.heartbeatInterval, () => {
      send({ type: 'ping' });
      scheduleHeartbeat();
    });
  }

  function send(message: object): boolean {
    if (!socket || !socketOpened || socket.readyState !== OPEN) return false;
    try {
      socket.send(JSON.stringify(message));
      return true;
    } catch {
      return false; // the close event that follows decides what to do
    }
  }

  // ------------------------------------------------------------ messages

  function onMessage(data: unknown): void {
    if (typeof data !== 'string') return; // the server sends text only
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return;
    }
    if (message === null || typeof message !== 'object') return;
    switch (message.type) {
      case 'ping':
        // Answered here, not from a timer: hidden browser tabs throttle timers to
        // as rarely as once a minute, but still deliver messages promptly.
        send({ type: 'pong' });
        break;
      case 'anomaly_detected':
        if (isAlert(message)) receiveAlert(message);
        break;
      case 'ack_ok':
      case 'resolve_ok':
      case 'reopen_ok':
        if (typeof message.alert_id === 'string') settleRequest(message.alert_id, message.type.slice(0, -3), null);
        break;
      case 'alert_updated':
        if (isAlertUpdate(message)) receiveUpdate(message);
        break;
      case 'refresh_ok':
        // Prefer the server's word; else the exp of the token we sent. Never keep the
        // old exp: rescheduling against it would refresh in a tightening loop.
        tokenExp = typeof message.exp === 'number' ? message.exp : (refreshingExp ?? tokenExp);
        refreshingExp = null;
        scheduleRefresh();
        break;
      case 'error':
        onServerError(message);
        break;
      default:
        break; // 'pong' and unknown types only count as "heard"
    }
  }

  function receiveAlert(alert: Alert): void {
    const epoch = typeof alert.epoch === 'string' ? alert.epoch : state.epoch;
    let held = state.alerts;
    let lastSeq = state.lastSeq;
    if (state.epoch !== null && epoch !== state.epoch) {
      // Numbering started again on the server: its seqs say nothing about ours, and
      // the alerts held so far are from a store it no longer has. Start over.
      held = [];
      lastSeq = 0;
      seenIds.clear();
    }
    if (seenIds.has(alert.alert_id)) {
      // Another copy (a replay, an escalation) of one we hold: its state is newer.
      updateHeld(alert.alert_id, alert);
      return;
    }
    rememberId(alert.alert_id);
    const { alerts, added } = mergeAlerts(held, [alert], cfg.maxAlerts);
    setState({ alerts, lastSeq: Math.max(lastSeq, alert.seq), epoch });
    for (const a of added) for (const listener of Array.from(alertListeners)) guarded(() => listener(a));
  }

  function receiveUpdate(update: AlertUpdate): void {
    const alert = updateHeld(update.alert_id, update);
    for (const listener of Array.from(updateListeners)) guarded(() => listener(update, alert));
  }

  /** Lays `source`'s handling fields over the held alert `id`; returns it (undefined when not held). */
  function updateHeld(id: string, source: Partial<Alert> | AlertUpdate): Alert | undefined {
    const index = state.alerts.findIndex((a) => a.alert_id === id);
    if (index < 0) return undefined;
    const before = state.alerts[index];
    const after = applyHandling(before, source);
    if (after !== before) {
      const alerts = state.alerts.slice();
      alerts[index] = after;
      setState({ alerts });
    }
    return after;
  }

  function rememberId(id: string): void {
    seenIds.add(id);
    // A Set iterates in insertion order: drop the oldest.
    if (seenIds.size > cfg.maxAlerts * 4) seenIds.delete(seenIds.values().next().value as string);
  }

  function onServerError(message: Record<string, unknown>): void {
    const code = typeof message.error === 'string' ? message.error : 'server_error';
    const detail = typeof message.detail === 'string' ? message.detail : code;
    const error = new AlertClientError(code, detail);
    if (typeof message.alert_id === 'string' && requests.has(message.alert_id)) {
      settleRequest(message.alert_id, null, error);
    } else {
      setState({ lastError: error });
    }
  }

  // ------------------------------------------------------------ handling requests

  function request(kind: RequestKind, message: { type: RequestKind; alert_id: string; [key: string]: unknown }): Promise<void> {
    const alertId = message.alert_id;
    const queue = requests.get(alertId) ?? [];
    const key = JSON.stringify(message);
    const same = queue.find((r) => r.key === key);
    if (same) return same.promise; // the same request twice (a double click): one on the wire
    if (disposed) return Promise.reject(new AlertClientError('closed', 'the client is closed'));
    if (state.status !== 'open') return Promise.reject(new AlertClientError('not_connected', 'not connected'));
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    queue.push({ kind, key, message, promise, resolve, reject });
    requests.set(alertId, queue);
    if (queue.length === 1) sendRequest(alertId);
    return promise;
  }

  /** Puts the alert's oldest request on the wire, with its timeout. */
  function sendRequest(alertId: string): void {
    const head = requests.get(alertId)?.[0];
    if (!head) return;
    later(`request:${alertId}`, cfg.ackTimeout, () =>
      settleRequest(
        alertId,
        null,
        new AlertClientError(`${head.kind}_timeout`, `no ${head.kind}_ok for ${alertId} within ${cfg.ackTimeout} ms`),
      ),
    );
    if (!send(head.message)) settleRequest(alertId, null, new AlertClientError('not_connected', 'not connected'));
  }

  /**
   * The answer to the alert's request on the wire: `kind` names an `*_ok` (one
   * for another kind of request is stray and ignored), `error` a refusal,
   * timeout or disconnect. The next request of the alert, if any, goes out.
   */
  function settleRequest(alertId: string, kind: string | null, error: Error | null): void {
    const queue = requests.get(alertId);
    const head = queue?.[0];
    if (!queue || !head || (kind !== null && kind !== head.kind)) return;
    queue.shift();
    if (queue.length === 0) requests.delete(alertId);
    cancel(`request:${alertId}`);
    if (error) {
      head.reject(error);
    } else {
      head.resolve();
      if (head.kind === 'ack' && state.alerts.some((a) => a.alert_id === alertId && !a.acknowledged)) {
        setState({ alerts: state.alerts.map((a) => (a.alert_id === alertId ? { ...a, acknowledged: true } : a)) });
      }
    }
    if (queue.length > 0) sendRequest(alertId);
  }

  function resolveAlert(alertId: string, outcome: Outcome, note?: string): Promise<void> {
    if (!OUTCOMES.has(outcome)) {
      return Promise.reject(new AlertClientError('invalid_outcome', `outcome must be real, false_alarm or test, not ${String(outcome)}`));
    }
    // Checked here as the server does (UTF-8 bytes): its refusal of a malformed
    // resolve cannot name the alert, so the request would only time out.
    if (note !== undefined && new TextEncoder().encode(note).length > MAX_NOTE_BYTES) {
      return Promise.reject(new AlertClientError('invalid_note', `a note is at most ${MAX_NOTE_BYTES} bytes of UTF-8`));
    }
    const message: { type: 'resolve'; alert_id: string; outcome: Outcome; note?: string } = { type: 'resolve', alert_id: alertId, outcome };
    if (note !== undefined && note !== '') message.note = note;
    return request('resolve', message);
  }

  // ------------------------------------------------------------ token refresh

  function scheduleRefresh(): void {
    cancel('refresh');
    if (tokenExp === null) return;
    const remaining = tokenExp * 1000 - Date.now();
    // At most half the remaining life early: a token shorter-lived than
    // refreshBefore would otherwise be refreshed in a tight loop.
    later('refresh', remaining - Math.min(cfg.refreshBefore, remaining / 2), refresh);
  }

  function refresh(): void {
    const gen = generation;
    Promise.resolve()
      .then(getToken)
      .then(
        (token) => {
          if (gen !== generation) return;
          const exp = typeof token === 'string' ? decodeJwtExp(token) : null;
          if (exp !== null && (tokenExp === null || exp > tokenExp)) {
            refreshingExp = exp;
            send({ type: 'refresh', token }); // tokenExp moves on refresh_ok
          } else {
            retryRefreshLater(); // the token source has nothing newer yet
          }
        },
        (err: unknown) => {
          if (gen !== generation) return;
          setState({ lastError: new AlertClientError('token_error', `getToken() failed: ${messageOf(err)}`) });
          retryRefreshLater();
        },
      );
  }

  // Until the token expires; past that the server closes with 4003 and the reconnect gets a token.
  function retryRefreshLater(): void {
    const remaining = (tokenExp ?? 0) * 1000 - Date.now();
    if (remaining > 1000) later('refresh', Math.min(remaining / 2, 30000), refresh);
  }

  // ------------------------------------------------------------ browser niceties

  // Back online after a network change: try now rather than at the end of a long backoff.
  const target = globalThis as { addEventListener?: OnlineListener; removeEventListener?: OnlineListener };
  const onOnline = () => {
    if (!disposed && state.status === 'reconnecting' && timers.has('retry')) connect();
  };
  if (typeof target.addEventListener === 'function') target.addEventListener('online', onOnline);

  // ------------------------------------------------------------ public API

  connect();

  return {
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    onAlert(listener) {
      alertListeners.add(listener);
      return () => void alertListeners.delete(listener);
    },
    onUpdate(listener) {
      updateListeners.add(listener);
      return () => void updateListeners.delete(listener);
    },
    ack: (alertId) => request('ack', { type: 'ack', alert_id: alertId }),
    resolve: resolveAlert,
    reopen: (alertId) => request('reopen', { type: 'reopen', alert_id: alertId }),
    clearAlerts() {
      if (state.alerts.length > 0) setState({ alerts: [] });
    },
    reconnect() {
      if (disposed) return;
      dropSocket(true, new AlertClientError('reconnect', 'reconnect requested'));
      state = { ...state, attempt: 0 };
      connect();
    },
    close() {
      if (disposed) return;
      disposed = true;
      dropSocket(true, new AlertClientError('closed', 'the client was closed'));
      for (const name of Array.from(timers.keys())) cancel(name);
      if (typeof target.removeEventListener === 'function') target.removeEventListener('online', onOnline);
      alertListeners.clear();
      updateListeners.clear();
      setState({ status: 'closed', stale: false, nextRetryAt: null });
    },
  };
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // closing a socket that is already closing or closed
  }
}

/** A listener that throws must not break the client: rethrow it outside our call stack. */
function guarded(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    setTimeout(() => {
      throw err;
    }, 0);
  }
}

/** Read up to 4 KiB of an HTTP response body, then call `done` once. */
function readBody(response: HttpResponseLike, done: (body: string) => void): void {
  let body = '';
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    done(body);
  };
  response.setEncoding?.('utf8');
  response.on('data', (chunk) => {
    if (body.length < 4096) body += String(chunk);
  });
  response.on('end', finish);
  response.on('error', finish);
  response.on('close', finish);
}
