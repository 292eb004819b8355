// A Node `ws` server that plays docs/handling.md's WebSocket side for one or
// more shared alerts: it delivers anomaly_detected copies, applies ack, resolve
// and reopen by the lifecycle table (answering *_ok or an error naming the
// alert), and sends alert_updated to every recipient's live connection. The
// client tests use it where the Node peer has no handling; with VIGIL_BIN the
// live tests run the same steps against vigil.
import { WebSocketServer, type WebSocket } from 'ws';

export type State = 'open' | 'acknowledged' | 'resolved';

export interface PlayedAlert {
  alert_id: string;
  team?: string;
  recipients: string[];
  severity: 'critical' | 'high' | 'medium' | 'low';
  state: State;
  owner: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  outcome: string | null;
  note: string | null;
  escalation_level: number;
  /** Each recipient's seq for its copy. */
  seqs: Map<string, number>;
}

export interface HandlingServer {
  url: string;
  /** Client messages received, parsed, per user, in arrival order. */
  received: Map<string, Record<string, unknown>[]>;
  /** Publishes an alert to `recipients`; each live one gets its copy at once. */
  publish(recipients: string[], extra?: { team?: string; severity?: PlayedAlert['severity'] }): PlayedAlert;
  /** Sends a raw message to a user's connections (for malformed or unsolicited messages). */
  sendTo(userId: string, message: unknown): void;
  /** While true, requests are queued unanswered; `release()` answers them in order. */
  hold: boolean;
  release(): void;
  /** Drops every connection of the user (code 1012, the client retries). */
  drop(userId: string): void;
  alerts: Map<string, PlayedAlert>;
  close(): Promise<void>;
}

const OUTCOMES = new Set(['real', 'false_alarm', 'test']);

export async function startHandlingServer(): Promise<HandlingServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  const connections = new Map<string, Set<WebSocket>>();
  const received = new Map<string, Record<string, unknown>[]>();
  const alerts = new Map<string, PlayedAlert>();
  const held: { userId: string; message: Record<string, unknown>; ws: WebSocket }[] = [];
  let nextSeq = 1;
  let nextId = 1;

  const copyOf = (a: PlayedAlert, userId: string, replayed: boolean) => ({
    type: 'anomaly_detected',
    alert_id: a.alert_id,
    seq: a.seqs.get(userId),
    epoch: 'e1',
    user_id: userId,
    stream_id: 'cam-3',
    timestamp: new Date().toISOString(),
    severity: a.severity,
    detection: { type: 'intrusion' },
    ...(a.team ? { team: a.team } : {}),
    state: a.state,
    ...(a.owner ? { owner: a.owner } : {}),
    escalation_level: a.escalation_level,
    ...(replayed ? { replayed: true } : {}),
  });
  const sendTo = (userId: string, message: unknown) => {
    for (const ws of connections.get(userId) ?? []) ws.send(JSON.stringify(message));
  };

  function update(a: PlayedAlert, change: string, actor: string): void {
    const message = {
      type: 'alert_updated',
      alert_id: a.alert_id,
      change,
      actor,
      state: a.state,
      owner: a.owner,
      acknowledged_at: a.acknowledged_at,
      resolved_by: a.resolved_by,
      resolved_at: a.resolved_at,
      outcome: a.outcome,
      note: a.note,
      severity: a.severity,
      escalation_level: a.escalation_level,
      ...(a.team ? { team: a.team } : {}),
    };
    for (const r of a.recipients) sendTo(r, message);
  }

  function handle(userId: string, m: Record<string, unknown>, ws: WebSocket): void {
    const reply = (message: unknown) => ws.send(JSON.stringify(message));
    const id = typeof m.alert_id === 'string' ? m.alert_id : '';
    const a = alerts.get(id);
    const refuse = (error: string, detail: string) => reply({ type: 'error', error, detail, alert_id: id });
    if (m.type === 'ping') return reply({ type: 'pong' });
    if (m.type !== 'ack' && m.type !== 'resolve' && m.type !== 'reopen') return;
    // A malformed resolve is refused without the alert's id, as vigil's parser does.
    if (m.type === 'resolve' && (!OUTCOMES.has(m.outcome as string) || (typeof m.note === 'string' && Buffer.byteLength(m.note) > 1000))) {
      return reply({ type: 'error', error: 'invalid_resolve', detail: 'resolve needs an outcome and a short note' });
    }
    if (!a || !a.recipients.includes(userId)) return refuse('unknown_alert', 'no such alert for this user');
    const now = new Date().toISOString();
    if (m.type === 'ack') {
      if (a.state === 'open') {
        Object.assign(a, { state: 'acknowledged', owner: userId, acknowledged_at: now });
        update(a, 'acknowledged', userId);
      }
      return reply({ type: 'ack_ok', alert_id: id });
    }
    if (m.type === 'resolve') {
      if (a.state === 'resolved') return refuse('invalid_transition', 'the alert is already resolved');
      if (a.state === 'open') Object.assign(a, { owner: userId, acknowledged_at: now });
      Object.assign(a, {
        state: 'resolved',
        resolved_by: userId,
        resolved_at: now,
        outcome: m.outcome,
        note: typeof m.note === 'string' ? m.note : null,
      });
      update(a, 'resolved', userId);
      return reply({ type: 'resolve_ok', alert_id: id });
    }
    if (a.state === 'open') return refuse('invalid_transition', 'the alert is open');
    Object.assign(a, { state: 'open', owner: null, acknowledged_at: null, resolved_by: null, resolved_at: null, outcome: null, note: null });
    update(a, 'reopened', userId);
    reply({ type: 'reopen_ok', alert_id: id });
  }

  const server: HandlingServer = {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`,
    received,
    alerts,
    hold: false,
    publish(recipients, extra = {}) {
      const a: PlayedAlert = {
        alert_id: `alert-${nextId++}`,
        team: extra.team,
        recipients,
        severity: extra.severity ?? 'high',
        state: 'open',
        owner: null,
        acknowledged_at: null,
        resolved_by: null,
        resolved_at: null,
        outcome: null,
        note: null,
        escalation_level: 1,
        seqs: new Map(recipients.map((r) => [r, nextSeq++])),
      };
      alerts.set(a.alert_id, a);
      for (const r of recipients) sendTo(r, copyOf(a, r, false));
      return a;
    },
    sendTo,
    release() {
      for (const { userId, message, ws } of held.splice(0)) handle(userId, message, ws);
    },
    drop(userId) {
      for (const ws of connections.get(userId) ?? []) ws.close(1012, 'restarting');
    },
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };

  wss.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const userId = decodeURIComponent(url.pathname.split('/').pop() ?? '');
    if (!connections.has(userId)) connections.set(userId, new Set());
    connections.get(userId)?.add(ws);
    ws.on('close', () => connections.get(userId)?.delete(ws));
    // Replay every alert of the user after `since`, with its current state.
    const since = Number(url.searchParams.get('since') ?? 0);
    for (const a of alerts.values()) {
      const seq = a.seqs.get(userId);
      if (seq !== undefined && seq > since) ws.send(JSON.stringify(copyOf(a, userId, true)));
    }
    ws.on('message', (data) => {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(String(data)) as Record<string, unknown>;
      } catch {
        return;
      }
      if (!received.has(userId)) received.set(userId, []);
      received.get(userId)?.push(m);
      if (server.hold && m.type !== 'ping') held.push({ userId, message: m, ws });
      else handle(userId, m, ws);
    });
  });
  return server;
}
