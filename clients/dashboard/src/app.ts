// vigil dashboard: live alerts for the signed-in user and their handling
// (acknowledge, resolve, reopen, the audit trail: docs/handling.md), connection
// health, and (for admins) every live connection and the teams; Web Push for
// when no tab is open (the service worker in src/sw, the Notifications panel). Served by `vigil serve` at
// `/`, so the WebSocket and the HTTP API are on this page's own origin.
import {
  AlertClientError,
  applyHandling,
  createAlertClient,
  decodeJwtExp,
  type Alert,
  type AlertClient,
  type AlertUpdate,
  type AuditEvent,
} from '@vigil/client';
import { createAlertList, stateOf, type Action, type ActionPhase } from './alerts-view.js';
import { api, describeError } from './api.js';
import { startConnectionsPanel } from './connections.js';
import { startTeamsPanel } from './teams-panel.js';
import { byId, setHidden, setText } from './dom.js';
import { humanize, plural } from './format.js';
import { pushSupported, startNotificationsPanel, type NotificationsPanel } from './notifications-panel.js';
import { forget, readStartup, save, subjectOf, type Session } from './session.js';
import { describeStatus, type ConnectionHistory } from './status.js';
import { deleteToken, saveToken } from './token-store.js';

const ui = {
  status: byId('status'),
  announcer: byId('announcer'),
  who: byId('who'),
  whoUser: byId('who-user'),
  signOut: byId<HTMLButtonElement>('sign-out'),
  banner: byId('banner'),
  bannerTitle: byId('banner-title'),
  bannerDetail: byId('banner-detail'),
  bannerAction: byId<HTMLButtonElement>('banner-action'),
  login: byId('login'),
  loginForm: byId<HTMLFormElement>('login-form'),
  loginUser: byId<HTMLInputElement>('login-user'),
  loginToken: byId<HTMLInputElement>('login-token'),
  loginError: byId('login-error'),
  dashboard: byId('dashboard'),
  alerts: byId<HTMLOListElement>('alerts'),
  alertCounts: byId('alert-counts'),
  empty: byId('empty'),
  clear: byId<HTMLButtonElement>('clear'),
  reconnect: byId<HTMLButtonElement>('reconnect'),
  facts: {
    server: byId('fact-server'),
    status: byId('fact-status'),
    attempt: byId('fact-attempt'),
    error: byId('fact-error'),
    seq: byId('fact-seq'),
    token: byId('fact-token'),
  },
  admin: byId('admin'),
  adminRows: byId<HTMLTableSectionElement>('admin-rows'),
  adminTotal: byId('admin-total'),
  adminNote: byId('admin-note'),
  teams: {
    section: byId('teams'),
    list: byId<HTMLUListElement>('team-list'),
    form: byId<HTMLFormElement>('team-form'),
    name: byId<HTMLInputElement>('team-name'),
    members: byId<HTMLInputElement>('team-members'),
    message: byId('team-message'),
  },
  notify: {
    section: byId('notify'),
    permission: byId('notify-permission'),
    device: byId('notify-device'),
    devices: byId('notify-devices'),
    subscribe: byId<HTMLButtonElement>('notify-subscribe'),
    unsubscribe: byId<HTMLButtonElement>('notify-unsubscribe'),
    test: byId<HTMLButtonElement>('notify-test'),
    message: byId('notify-message'),
    snoozes: byId<HTMLUListElement>('snoozes'),
    quietState: byId('quiet-state'),
    quietForm: byId<HTMLFormElement>('quiet-form'),
    quietStart: byId<HTMLInputElement>('quiet-start'),
    quietEnd: byId<HTMLInputElement>('quiet-end'),
    quietOffset: byId<HTMLInputElement>('quiet-offset'),
    quietSeverities: [...document.querySelectorAll<HTMLInputElement>('input[name="quiet-severity"]')],
    quietRemove: byId<HTMLButtonElement>('quiet-remove'),
  },
  viewer: byId<HTMLDialogElement>('viewer'),
  viewerImg: byId<HTMLImageElement>('viewer-img'),
  viewerCaption: byId('viewer-caption'),
};

/** Stops the running dashboard (socket, timers, polling); null when signed out. */
let stopDashboard: (() => void) | null = null;
/** Shows one alert (from a notification's click, or `/?alert=ID`) once it is in the list. */
let showAlert: (alertId: string) => void = () => {};

/**
 * The service worker (dist/sw.js, scope: the dashboard) that shows pushes while no
 * tab is open. Registered on every load; null where browsers offer none (not a
 * secure context).
 */
const serviceWorker: Promise<ServiceWorkerRegistration | null> = pushSupported()
  ? navigator.serviceWorker.register('sw.js').then(
      () => navigator.serviceWorker.ready,
      (err: unknown) => {
        console.warn('vigil: the service worker was not registered:', err);
        return null;
      },
    )
  : Promise.resolve(null);
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.addEventListener('message', (event: MessageEvent) => {
    const data = event.data as { type?: unknown; alert_id?: unknown } | null;
    if (data?.type === 'vigil.show-alert' && typeof data.alert_id === 'string') showAlert(data.alert_id);
  });
}

/** Signing out: the service worker must not keep acting for this user. */
function forgetUser(userId: string): void {
  forget();
  if (userId) void deleteToken(userId).catch(() => undefined);
}

function showLogin(userHint: string, message = ''): void {
  stopDashboard?.();
  stopDashboard = null;
  setHidden(ui.dashboard, true);
  setHidden(ui.who, true);
  setHidden(ui.banner, true);
  ui.status.dataset.state = 'idle';
  setText(ui.status, 'Signed out');
  document.title = 'vigil';
  ui.loginUser.value = userHint;
  ui.loginToken.value = '';
  setText(ui.loginError, message);
  setHidden(ui.loginError, message === '');
  setHidden(ui.login, false);
  (userHint ? ui.loginToken : ui.loginUser).focus();
}

ui.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.loginToken.value.trim();
  const userId = ui.loginUser.value.trim() || subjectOf(token);
  if (!token) return showLogin(userId, 'Paste a token.');
  if (!userId) return showLogin('', 'Enter your user id (the token has no "sub" claim).');
  const session = { userId, token };
  save(session);
  startDashboard(session);
});

ui.signOut.addEventListener('click', () => {
  const user = ui.whoUser.textContent ?? '';
  forgetUser(user);
  showLogin(user);
});

ui.viewer.addEventListener('click', (event) => {
  if (event.target === ui.viewer) ui.viewer.close(); // a click on the backdrop
});

function startDashboard(session: Session): void {
  stopDashboard?.();
  setHidden(ui.login, true);
  setHidden(ui.dashboard, false);
  setHidden(ui.who, false);
  setText(ui.whoUser, session.userId);
  setText(ui.facts.server, window.location.host);

  const tokenExp = decodeJwtExp(session.token);
  // For the service worker: Acknowledge on a notification, and its thumbnail.
  void saveToken(session.userId, session.token).catch((err: unknown) => console.warn('vigil: token not kept for notifications:', err));
  const client: AlertClient = createAlertClient({
    url: window.location.origin, // http(s) → ws(s)
    userId: session.userId,
    getToken: () => session.token,
  });

  // Handling: the client keeps each alert's state current from alert_updated.
  // What the page learns over HTTP instead (an action sent that way while the
  // socket is down, the refresh after a reconnect) is laid over it here until the
  // socket brings a newer change of that alert.
  const phases = new Map<string, ActionPhase>();
  const learned = new Map<string, Partial<Alert>>();
  /** alert_updated messages seen per alert: a refresh does not overwrite what came in meanwhile. */
  const updatesSeen = new Map<string, number>();
  const current = (a: Alert): Alert => {
    const l = learned.get(a.alert_id);
    return l ? applyHandling(l.acked === true ? { ...a, acked: true } : a, l) : a;
  };
  const history: ConnectionHistory = { connectedSince: null, lastProblem: null };
  /** Set on sign-out: late results (an ack answered afterwards) must not touch the page. */
  let stopped = false;

  const list = createAlertList({
    list: ui.alerts,
    frameSrc: (alert) => frameSrc(alert, session.token),
    onAck: (alert) => void acknowledge(alert),
    onResolve: (alert, outcome, note) =>
      void act(alert, 'resolve', () => client.resolve(alert.alert_id, outcome, note || undefined), note ? { outcome, note } : { outcome }),
    onReopen: (alert) => void act(alert, 'reopen', () => client.reopen(alert.alert_id)),
    loadTrail: async (alert) => {
      const answer = await api<{ events?: AuditEvent[] }>('GET', `/api/v1/alerts/${encodeURIComponent(alert.alert_id)}/events`, session.token);
      return Array.isArray(answer.body?.events) ? answer.body.events : [];
    },
    describeError: failureText,
    onViewFrame: (alert, src) => {
      ui.viewerImg.src = src;
      ui.viewerImg.alt = `Annotated frame from ${String(alert.stream_id)}`;
      setText(ui.viewerCaption, `${humanize(alert.detection?.type)} · ${String(alert.stream_id)} · ${alert.timestamp}`);
      ui.viewer.showModal();
    },
    snoozedUntil: (streamId, nowMs) => notifications.snoozedUntil(streamId, nowMs),
    onSnooze: (streamId, minutes) => void (minutes === null ? notifications.endSnooze(streamId) : notifications.snooze(streamId, minutes)),
  });

  const notifications: NotificationsPanel = startNotificationsPanel({
    ui: ui.notify,
    token: session.token,
    userId: session.userId,
    registration: serviceWorker,
    onSnoozesChanged: () => render(),
  });

  /** An alert to show once it arrives (a page opened from a notification). */
  let wantedAlert: string | null = null;
  showAlert = (alertId) => {
    wantedAlert = list.focus(alertId) ? null : alertId;
  };

  function acknowledge(alert: Alert): Promise<void> {
    if (stateOf(current(alert)) !== 'open') return Promise.resolve();
    return act(alert, 'ack', () => client.ack(alert.alert_id));
  }

  /**
   * One action on an alert: over the socket, else (the socket is down or slow)
   * the same over HTTP, whose answer (the alert as history shows it) is laid over
   * the held alert. A refusal shows on the alert's card.
   */
  async function act(alert: Alert, action: Action, overSocket: () => Promise<void>, body?: object): Promise<void> {
    const id = alert.alert_id;
    if (phases.get(id)?.phase === 'pending') return;
    phases.set(id, { action, phase: 'pending' });
    render();
    try {
      await overSocket();
      phases.delete(id);
    } catch (err) {
      const code = err instanceof AlertClientError ? err.code : '';
      if (code === 'not_connected' || code === 'disconnected' || code.endsWith('_timeout')) {
        try {
          const answer = await api<Record<string, unknown>>('POST', `/api/v1/alerts/${encodeURIComponent(id)}/${action}`, session.token, body);
          learn(id, answer.body);
          phases.delete(id);
        } catch (httpErr) {
          phases.set(id, { action, phase: 'failed', message: `${NOT_DONE[action]}: ${failureText(httpErr)}` });
        }
      } else {
        phases.set(id, { action, phase: 'failed', message: `${NOT_DONE[action]}: ${failureText(err)}` });
      }
    }
    render();
  }

  /** Keeps the handling of an alert as an HTTP answer shows it. */
  function learn(id: string, row: Record<string, unknown> | null): void {
    if (!row) return;
    const patch: Partial<Alert> = {};
    for (const field of HANDLING_FIELDS) if (row[field] !== undefined) (patch as Record<string, unknown>)[field] = row[field];
    // A server before handling: only the quick reference's status.
    if (row.state === undefined && row.status === 'acked') patch.acked = true;
    learned.set(id, patch);
  }

  /**
   * After a reconnect: alerts held from before it were not replayed (the client
   * resumes after the last seq), so changes made while away are read from history.
   */
  async function refreshHandling(): Promise<void> {
    const held = client.getState().alerts;
    if (held.length === 0) return;
    const marks = new Map(held.map((a) => [a.alert_id, updatesSeen.get(a.alert_id) ?? 0]));
    try {
      const limit = Math.min(1000, Math.max(100, held.length));
      const answer = await api<{ alerts?: Record<string, unknown>[] }>('GET', `/api/v1/alerts?status=all&limit=${limit}`, session.token);
      if (stopped) return;
      for (const row of answer.body?.alerts ?? []) {
        const id = typeof row.alert_id === 'string' ? row.alert_id : '';
        if (marks.has(id) && (updatesSeen.get(id) ?? 0) === marks.get(id)) learn(id, row);
      }
      scheduleRender();
    } catch {
      // Not worth a banner: the next alert_updated brings each alert's state anyway.
    }
  }

  function render(): void {
    if (stopped) return;
    const state = client.getState();
    const alerts = state.alerts.map(current);
    list.render(alerts, (id) => phases.get(id));
    if (wantedAlert !== null && list.focus(wantedAlert)) wantedAlert = null;
    const unacked = alerts.filter((a) => stateOf(a) === 'open').length;
    setText(ui.alertCounts, state.alerts.length ? `${plural(state.alerts.length, 'alert')} · ${unacked} unacknowledged` : '');
    setHidden(ui.empty, state.alerts.length > 0);
    ui.clear.disabled = state.alerts.length === 0;
    document.title = unacked > 0 ? `(${unacked}) vigil · alerts` : 'vigil · alerts';
    renderStatus();
  }

  function renderStatus(): void {
    const now = Date.now();
    const view = describeStatus(client.getState(), now, tokenExp, history);
    if (ui.status.dataset.state !== view.pill.state) {
      ui.status.dataset.state = view.pill.state;
      announce(
        { open: 'Connected', connecting: 'Connecting', reconnecting: 'Connection lost, reconnecting', closed: 'Disconnected' }[
          view.pill.state
        ],
      );
    }
    setText(ui.status, view.pill.text);
    setText(ui.facts.status, view.facts.status);
    setText(ui.facts.attempt, view.facts.attempt);
    setText(ui.facts.error, view.facts.error);
    if (ui.facts.error.title !== view.facts.errorCode) ui.facts.error.title = view.facts.errorCode;
    setText(ui.facts.seq, view.facts.seq);
    setText(ui.facts.token, view.facts.token);
    setHidden(ui.banner, view.banner === null);
    if (view.banner) {
      setText(ui.bannerTitle, view.banner.title);
      setText(ui.bannerDetail, view.banner.detail);
      const action = view.banner.action;
      setHidden(ui.bannerAction, action === null);
      if (action) {
        setText(ui.bannerAction, action.label);
        ui.bannerAction.dataset.action = action.kind;
      }
    }
    list.tick(now);
  }

  // Coalesce bursts (a replay delivers many alerts in one task) into one render,
  // but note every transition as it happens.
  let renderQueued = false;
  function scheduleRender(): void {
    if (renderQueued) return;
    renderQueued = true;
    setTimeout(() => {
      renderQueued = false;
      render();
    }, 0);
  }
  let everOpen = false;
  const unsubscribe = client.subscribe(() => {
    const state = client.getState();
    if (state.status !== 'open') history.connectedSince = null;
    else if (history.connectedSince === null) {
      history.connectedSince = Date.now();
      if (everOpen) void refreshHandling();
      everOpen = true;
    }
    if (state.lastError && state.lastError !== history.lastProblem?.error) {
      history.lastProblem = { error: state.lastError, at: Date.now() };
    }
    scheduleRender();
  });
  const offAlert = client.onAlert((alert) => {
    if (alert.replayed !== true) announce(`New alert: ${humanize(alert.detection?.type)} on ${String(alert.stream_id)}`);
  });
  const offUpdate = client.onUpdate((update, alert) => {
    updatesSeen.set(update.alert_id, (updatesSeen.get(update.alert_id) ?? 0) + 1);
    learned.delete(update.alert_id); // the socket's word is newer
    if (alert && update.actor !== session.userId) announce(describeUpdate(update, alert));
    scheduleRender();
  });
  const ticker = setInterval(renderStatus, 250); // countdown and "… ago"

  const onClear = () => {
    client.clearAlerts();
    phases.clear();
    learned.clear();
  };
  const onReconnect = () => client.reconnect();
  const onBannerAction = () => {
    if (ui.bannerAction.dataset.action === 'sign-in') {
      forgetUser(session.userId);
      showLogin(session.userId, 'The token has expired. Paste a new one.');
    } else {
      client.reconnect();
    }
  };
  ui.clear.addEventListener('click', onClear);
  ui.reconnect.addEventListener('click', onReconnect);
  ui.bannerAction.addEventListener('click', onBannerAction);

  const stopConnections = startConnectionsPanel({
    section: ui.admin,
    rows: ui.adminRows,
    total: ui.adminTotal,
    note: ui.adminNote,
    token: session.token,
    userId: session.userId,
  });
  const stopTeams = startTeamsPanel({ ui: ui.teams, token: session.token });

  render();
  if (startupAlert) {
    showAlert(startupAlert);
    startupAlert = null;
  }

  stopDashboard = () => {
    stopped = true;
    showAlert = () => {};
    notifications.stop();
    unsubscribe();
    offAlert();
    offUpdate();
    clearInterval(ticker);
    client.close();
    stopConnections();
    stopTeams();
    ui.clear.removeEventListener('click', onClear);
    ui.reconnect.removeEventListener('click', onReconnect);
    ui.bannerAction.removeEventListener('click', onBannerAction);
    ui.alerts.replaceChildren();
  };
}

function announce(text: string): void {
  setText(ui.announcer, text);
}

/** The frame as an <img> src: the server's URL with the token (an <img> cannot send headers), or inline data. */
function frameSrc(alert: Alert, token: string): string | null {
  const frame = alert.frame;
  if (!frame) return null;
  if (typeof frame.url === 'string' && frame.url) {
    return `${frame.url}${frame.url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
  }
  if (typeof frame.data === 'string' && frame.data) {
    const type = typeof frame.content_type === 'string' ? frame.content_type : 'image/jpeg';
    return `data:${type};base64,${frame.data}`;
  }
  return null;
}

const NOT_DONE: Record<Action, string> = { ack: 'Not acknowledged', resolve: 'Not resolved', reopen: 'Not reopened' };

/** What an answer over HTTP may tell of an alert's handling. */
const HANDLING_FIELDS = [
  'state', 'owner', 'acknowledged_at', 'resolved_by', 'resolved_at', 'outcome', 'note', 'severity', 'escalation_level', 'team',
] as const;

/** A failed action or read, in the server's words with its code. */
function failureText(err: unknown): string {
  if (err instanceof AlertClientError) return err.code && err.code !== err.message ? `${err.message} (${err.code})` : err.message;
  return describeError(err);
}

/** "alice acknowledged: Intrusion on cam-3", for screen readers. */
function describeUpdate(update: AlertUpdate, alert: Alert): string {
  const what = `${humanize(alert.detection?.type)} on ${String(alert.stream_id)}`;
  if (update.change === 'escalated') return `Escalated to level ${String(update.escalation_level ?? '')}: ${what}`;
  return `${update.actor} ${update.change}: ${what}`;
}

/** `/?alert=ID`: the page a notification opens; the alert is shown once it is in the list. */
let startupAlert: string | null = (() => {
  const url = new URL(window.location.href);
  const id = url.searchParams.get('alert');
  if (id === null) return null;
  url.searchParams.delete('alert');
  window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  return id || null;
})();

const startup = readStartup();
if (startup.session) startDashboard(startup.session);
else showLogin(startup.userHint);
