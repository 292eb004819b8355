// The Notifications panel: Web Push on this device (permission, subscribed or
// not, Subscribe / Unsubscribe / Send a test), the user's snoozed streams and
// quiet hours. It speaks the endpoints of docs/notifications.md and shows the
// server's own error messages. Snoozes are also started and ended from the
// alert rows (alerts-view), through snooze()/endSnooze() here.
import { api, ApiError, describeError } from './api.js';
import { h, setHidden, setText } from './dom.js';
import { saveToken } from './token-store.js';

export const SEVERITIES_QUIET = ['low', 'medium', 'high'] as const;

export interface QuietHours {
  start: string;
  end: string;
  utc_offset_minutes: number;
  severities: string[];
}

interface PushSettings {
  subscriptions?: number;
  snoozes?: { stream_id: string; until: number }[];
  quiet_hours?: QuietHours | null;
}

export interface NotificationsUi {
  section: HTMLElement;
  permission: HTMLElement;
  device: HTMLElement;
  devices: HTMLElement;
  subscribe: HTMLButtonElement;
  unsubscribe: HTMLButtonElement;
  test: HTMLButtonElement;
  message: HTMLElement;
  snoozes: HTMLUListElement;
  quietState: HTMLElement;
  quietForm: HTMLFormElement;
  quietStart: HTMLInputElement;
  quietEnd: HTMLInputElement;
  quietOffset: HTMLInputElement;
  quietSeverities: HTMLInputElement[];
  quietRemove: HTMLButtonElement;
}

export interface NotificationsOptions {
  ui: NotificationsUi;
  token: string;
  userId: string;
  /** The service worker's registration (null where there is none: not a secure context, no support). */
  registration: Promise<ServiceWorkerRegistration | null>;
  /** Snoozes changed: the alert rows show them. */
  onSnoozesChanged(): void;
}

export interface NotificationsPanel {
  /** Epoch ms until which the stream is snoozed, or null. */
  snoozedUntil(streamId: string, nowMs?: number): number | null;
  snooze(streamId: string, minutes: number): Promise<void>;
  endSnooze(streamId: string): Promise<void>;
  refresh(): Promise<void>;
  stop(): void;
}

export function pushSupported(): boolean {
  return window.isSecureContext && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

export function startNotificationsPanel(options: NotificationsOptions): NotificationsPanel {
  const { ui, token } = options;
  const snoozes = new Map<string, number>();
  let stopped = false;
  let busy = false;
  /** The server's VAPID key (base64url), '' while unknown, null when push is off there. */
  let serverKey: string | null | undefined;

  function say(text: string, kind: 'ok' | 'error' | 'info' = 'info'): void {
    if (stopped) return;
    setText(ui.message, text);
    ui.message.dataset.kind = kind;
    setHidden(ui.message, text === '');
  }

  async function registration(): Promise<ServiceWorkerRegistration | null> {
    return options.registration.catch(() => null);
  }

  async function currentSubscription(): Promise<PushSubscription | null> {
    const reg = await registration();
    return reg ? reg.pushManager.getSubscription() : null;
  }

  async function fetchServerKey(): Promise<string | null> {
    try {
      const res = await api<{ public_key?: unknown }>('GET', '/api/v1/push/vapid-public-key', null);
      const key = res.body?.public_key;
      return typeof key === 'string' && key ? key : null;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null; // push_disabled (or a server without push)
      throw err;
    }
  }

  async function renderDevice(): Promise<void> {
    if (!pushSupported()) {
      setText(ui.permission, 'not available');
      setText(ui.device, 'Push needs HTTPS (or localhost); on iPhone and iPad, the dashboard added to the Home Screen');
      ui.subscribe.disabled = ui.unsubscribe.disabled = true;
      ui.section.dataset.device = 'unsupported';
      return;
    }
    const permission = Notification.permission;
    setText(ui.permission, { granted: 'allowed', denied: 'blocked (allow it in this site’s settings)', default: 'not asked yet' }[permission]);
    ui.section.dataset.permission = permission;
    const sub = await currentSubscription();
    if (stopped) return;
    ui.section.dataset.device = sub ? 'subscribed' : 'not-subscribed';
    setText(ui.device, sub ? 'subscribed' : serverKey === null ? 'not subscribed (push is off on this server)' : 'not subscribed');
    ui.subscribe.disabled = busy || !!sub || permission === 'denied' || serverKey === null;
    ui.unsubscribe.disabled = busy || !sub;
  }

  function renderSnoozes(): void {
    const now = Date.now();
    const rows = [...snoozes].filter(([, until]) => until > now).sort(([a], [b]) => a.localeCompare(b));
    ui.snoozes.replaceChildren(
      ...rows.map(([stream, until]) => {
        const end = h('button', { class: 'link', type: 'button' }, 'End');
        end.addEventListener('click', () => void endSnooze(stream));
        return h('li', { 'data-stream-id': stream }, h('strong', {}, stream), ` until ${new Date(until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })} `, end);
      }),
    );
    if (rows.length === 0) ui.snoozes.append(h('li', { class: 'muted' }, 'No stream is snoozed.'));
  }

  function renderQuiet(q: QuietHours | null): void {
    ui.section.dataset.quiet = q ? 'on' : 'off';
    ui.quietRemove.disabled = !q;
    if (!q) {
      setText(ui.quietState, 'Off: every alert may be pushed.');
      ui.quietOffset.value = String(-new Date().getTimezoneOffset());
      return;
    }
    setText(ui.quietState, `${q.start}–${q.end} (UTC${offsetText(q.utc_offset_minutes)}): ${q.severities.join(', ')} alerts are not pushed.`);
    ui.quietStart.value = q.start;
    ui.quietEnd.value = q.end;
    ui.quietOffset.value = String(q.utc_offset_minutes);
    for (const box of ui.quietSeverities) box.checked = q.severities.includes(box.value);
  }

  async function refresh(): Promise<void> {
    try {
      if (serverKey === undefined) serverKey = await fetchServerKey();
    } catch (err) {
      say(`Could not ask the server for its push key: ${describeError(err)}`, 'error');
    }
    await renderDevice();
    if (serverKey) await resubscribeIfKeyChanged(serverKey);
    try {
      const res = await api<PushSettings>('GET', '/api/v1/push/settings', token);
      if (stopped) return;
      const s = res.body ?? {};
      setText(ui.devices, typeof s.subscriptions === 'number' ? String(s.subscriptions) : '—');
      snoozes.clear();
      for (const z of Array.isArray(s.snoozes) ? s.snoozes : []) {
        if (typeof z?.stream_id === 'string' && typeof z.until === 'number') snoozes.set(z.stream_id, z.until);
      }
      renderSnoozes();
      renderQuiet(s.quiet_hours ?? null);
      options.onSnoozesChanged();
    } catch (err) {
      if (stopped) return;
      setText(ui.devices, '—');
      say(`Could not read your notification settings: ${describeError(err)}`, 'error');
    }
  }

  /**
   * A server that came up with another VAPID key cannot push to subscriptions made
   * with the old one: make a new subscription with the served key.
   */
  async function resubscribeIfKeyChanged(key: string): Promise<void> {
    const sub = await currentSubscription();
    const current = sub?.options.applicationServerKey;
    if (!sub || !current || sameBytes(new Uint8Array(current), base64urlBytes(key))) return;
    say('The server’s push key changed: subscribing this device again…');
    const old = sub.endpoint;
    await sub.unsubscribe().catch(() => false);
    await api('DELETE', '/api/v1/push/subscriptions', token, { endpoint: old }).catch(() => undefined);
    await subscribe(true);
  }

  async function subscribe(quiet = false): Promise<void> {
    // Asked first, straight from the click: Safari honours a permission request only
    // within the user's gesture, not after other awaits.
    let permission = Notification.permission;
    if (permission === 'default') permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      await renderDevice();
      return say('Notifications are not allowed for this site: allow them in the browser’s site settings, then subscribe.', 'error');
    }
    const reg = await registration();
    if (!reg) return say('This browser offers no service worker here.', 'error');
    const key = serverKey ?? (serverKey = await fetchServerKey());
    if (!key) {
      await renderDevice();
      return say('Push is off on this server.', 'error');
    }
    say('Asking the browser’s push service for a subscription…');
    let sub: PushSubscription;
    try {
      sub = await withinTime(
        reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64urlBytes(key) }),
        SUBSCRIBE_TIMEOUT_MS,
        (late) => void late.unsubscribe().catch(() => false), // the page gave up on it: the server never heard of it
      );
    } catch (err) {
      return say(`The browser could not subscribe: ${describeError(err)}`, 'error');
    }
    try {
      await api('POST', '/api/v1/push/subscriptions', token, sub.toJSON());
    } catch (err) {
      await sub.unsubscribe().catch(() => false); // the server does not know it: do not keep it
      return say(`The server refused the subscription: ${describeError(err)}`, 'error');
    }
    await saveToken(options.userId, token).catch(() => undefined);
    if (!quiet) say('Subscribed: this device is notified of alerts while no dashboard of yours is open.', 'ok');
    else say('Subscribed again with the server’s new key.', 'ok');
  }

  async function unsubscribe(): Promise<void> {
    const sub = await currentSubscription();
    if (!sub) return say('This device is not subscribed.');
    try {
      await api('DELETE', '/api/v1/push/subscriptions', token, { endpoint: sub.endpoint });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404 && err.code === 'not_found')) {
        return say(`The server did not forget this device: ${describeError(err)}`, 'error');
      }
    }
    await sub.unsubscribe().catch(() => false);
    say('Unsubscribed: this device gets no more notifications.', 'ok');
  }

  async function sendTest(): Promise<void> {
    try {
      const res = await api<{ subscriptions?: number }>('POST', '/api/v1/push/test', token);
      const n = res.body?.subscriptions;
      say(`Test sent to ${typeof n === 'number' ? `${n} device${n === 1 ? '' : 's'}` : 'your devices'}.`, 'ok');
    } catch (err) {
      say(`No test sent: ${describeError(err)}`, 'error');
    }
  }

  async function snooze(streamId: string, minutes: number): Promise<void> {
    try {
      const res = await api<{ stream_id?: string; until?: number }>('POST', `/api/v1/streams/${encodeURIComponent(streamId)}/snooze`, token, { minutes });
      const until = typeof res.body?.until === 'number' ? res.body.until : Date.now() + minutes * 60000;
      snoozes.set(streamId, until);
      say(`${streamId} snoozed until ${new Date(until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: its alerts are shown here but not pushed.`, 'ok');
    } catch (err) {
      say(`${streamId} not snoozed: ${describeError(err)}`, 'error');
    }
    renderSnoozes();
    options.onSnoozesChanged();
  }

  async function endSnooze(streamId: string): Promise<void> {
    try {
      await api('DELETE', `/api/v1/streams/${encodeURIComponent(streamId)}/snooze`, token);
      snoozes.delete(streamId);
      say(`${streamId}: snooze ended.`, 'ok');
    } catch (err) {
      say(`${streamId}: snooze not ended: ${describeError(err)}`, 'error');
    }
    renderSnoozes();
    options.onSnoozesChanged();
  }

  async function saveQuiet(): Promise<void> {
    const body: QuietHours = {
      start: ui.quietStart.value,
      end: ui.quietEnd.value,
      utc_offset_minutes: Number.parseInt(ui.quietOffset.value || '0', 10),
      severities: ui.quietSeverities.filter((b) => b.checked).map((b) => b.value),
    };
    try {
      const res = await api<QuietHours>('PUT', '/api/v1/push/quiet-hours', token, body);
      renderQuiet(res.body ?? body);
      say('Quiet hours saved.', 'ok');
    } catch (err) {
      say(`Quiet hours not saved: ${describeError(err)}`, 'error');
    }
  }

  async function removeQuiet(): Promise<void> {
    try {
      await api('DELETE', '/api/v1/push/quiet-hours', token);
      renderQuiet(null);
      say('Quiet hours removed.', 'ok');
    } catch (err) {
      say(`Quiet hours not removed: ${describeError(err)}`, 'error');
    }
  }

  /** One action at a time; the device state is shown again afterwards. */
  const guarded = (fn: () => Promise<void>) => () => {
    if (busy) return;
    busy = true;
    ui.section.setAttribute('aria-busy', 'true');
    void fn()
      .catch((err: unknown) => say(describeError(err), 'error'))
      .finally(() => {
        busy = false;
        ui.section.removeAttribute('aria-busy');
        if (!stopped) void refresh();
      });
  };
  const onSubscribe = guarded(() => subscribe());
  const onUnsubscribe = guarded(unsubscribe);
  const onTest = guarded(sendTest);
  const onQuietSubmit = (event: SubmitEvent) => {
    event.preventDefault();
    guarded(saveQuiet)();
  };
  const onQuietRemove = guarded(removeQuiet);
  ui.subscribe.addEventListener('click', onSubscribe);
  ui.unsubscribe.addEventListener('click', onUnsubscribe);
  ui.test.addEventListener('click', onTest);
  ui.quietForm.addEventListener('submit', onQuietSubmit);
  ui.quietRemove.addEventListener('click', onQuietRemove);

  say('');
  renderSnoozes();
  renderQuiet(null);
  setHidden(ui.section, false);
  void refresh();

  return {
    snoozedUntil(streamId, nowMs = Date.now()) {
      const until = snoozes.get(streamId);
      return until !== undefined && until > nowMs ? until : null;
    },
    snooze,
    endSnooze,
    refresh,
    stop() {
      stopped = true;
      ui.subscribe.removeEventListener('click', onSubscribe);
      ui.unsubscribe.removeEventListener('click', onUnsubscribe);
      ui.test.removeEventListener('click', onTest);
      ui.quietForm.removeEventListener('submit', onQuietSubmit);
      ui.quietRemove.removeEventListener('click', onQuietRemove);
      ui.snoozes.replaceChildren();
      setHidden(ui.section, true);
    },
  };
}

/** How long the browser's push service may take to hand out a subscription (it is a network round trip). */
const SUBSCRIBE_TIMEOUT_MS = 30_000;

/** `work`, or a rejection after `ms`; what `work` gives after that goes to `late`. */
function withinTime<T>(work: Promise<T>, ms: number, late: (value: T) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let over = false;
    const timer = setTimeout(() => {
      over = true;
      reject(new Error(`the browser’s push service did not answer within ${ms / 1000} s`));
    }, ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        if (over) late(value);
        else resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function offsetText(minutes: number): string {
  const sign = minutes < 0 ? '−' : '+';
  const m = Math.abs(minutes);
  return `${sign}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

export function base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  const bin = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
