// The dashboard's service worker (built to sw.js, served at the dashboard's root,
// so its scope is the whole dashboard). It shows vigil's Web Push messages as
// notifications and handles their clicks:
//   push                 an alert → a notification (thumbnail, severity, an Acknowledge
//                        action); `acknowledged` → replaces it by tag ("Taken by …");
//                        `test` → a test notification; anything unreadable → a generic
//                        one (every push shows something: browsers revoke subscriptions
//                        that get silent pushes).
//   notificationclick    Acknowledge → POST /api/v1/alerts/{id}/ack with the user's token,
//                        without opening a page, then "Acknowledged"; if that fails (no
//                        token, 401/403, the network) the alert's page opens instead. A
//                        click elsewhere focuses an open dashboard on the alert, or opens it.
// The token comes from the page through IndexedDB (../token-store.ts).
import { loadToken } from '../token-store.js';
import { alertPath, localPath, parsePush, type PushMessage } from './payload.js';

const sw = self as unknown as ServiceWorkerGlobalScope;

/** What a notification remembers for its click. */
interface NoteData {
  type: 'alert' | 'acknowledged' | 'test' | 'generic';
  alert_id?: string;
  user_id?: string;
  url: string;
  title?: string;
}

/** NotificationOptions as browsers take them (TypeScript's lib lacks some members). */
interface ShowOptions extends NotificationOptions {
  actions?: { action: string; title: string }[];
  image?: string;
  renotify?: boolean;
  timestamp?: number;
}

const ICON = 'icon-192.png';
const BADGE = 'badge-96.png';
const SEVERITY_WORD = { critical: 'Critical', high: 'High', medium: 'Medium', low: 'Low' } as const;

/** Keeps the worker alive for `work`. A script-made event (a test's dispatchEvent) refuses waitUntil; the work runs anyway. */
function keepAlive(event: ExtendableEvent, work: Promise<unknown>): void {
  const settled = work.catch((err: unknown) => console.error('vigil service worker:', err));
  if (!event.isTrusted) return;
  event.waitUntil(settled);
}

sw.addEventListener('install', () => void sw.skipWaiting());
sw.addEventListener('activate', (event) => keepAlive(event, sw.clients.claim()));

sw.addEventListener('push', (event) => {
  let data: string | null = null;
  try {
    data = event.data ? event.data.text() : null;
  } catch {
    data = null;
  }
  keepAlive(event, show(parsePush(data)));
});

sw.addEventListener('notificationclick', (event) => {
  keepAlive(event, onClick(event.notification, event.action));
});

function absolute(path: string): string {
  return new URL(path, sw.location.origin).href;
}

async function show(message: PushMessage): Promise<void> {
  const base = { icon: absolute(ICON), badge: absolute(BADGE) };
  switch (message.type) {
    case 'alert': {
      const thumbnail = message.thumbnailPath ? await thumbnailUrl(message.thumbnailPath, message.userId) : null;
      const severity = message.severity ? SEVERITY_WORD[message.severity] : null;
      let title = message.title || `${severity ?? 'Alert'}${message.streamId ? ` on ${message.streamId}` : ''}`;
      if (message.count > 1) title += ` (${message.count} alerts)`;
      const data: NoteData = { type: 'alert', alert_id: message.alertId, user_id: message.userId, url: message.url, title };
      const options: ShowOptions = {
        ...base,
        body: message.body || [severity, message.streamId].filter(Boolean).join(' · '),
        tag: message.tag,
        data,
        // A grouped update replaces the notification in place; it should still be noticed.
        renotify: message.count > 1,
        requireInteraction: message.severity === 'critical',
        actions: [{ action: 'ack', title: 'Acknowledge' }],
      };
      if (thumbnail) {
        options.icon = thumbnail;
        options.image = thumbnail;
      }
      if (message.timestamp !== null) options.timestamp = message.timestamp;
      return sw.registration.showNotification(title, options);
    }
    case 'acknowledged': {
      const data: NoteData = { type: 'acknowledged', alert_id: message.alertId, url: message.url };
      const title = message.by ? `Taken by ${message.by}` : message.title || 'Acknowledged';
      return sw.registration.showNotification(title, {
        ...base,
        // The server's title names the alert ("Acknowledged: intrusion on cam-3"); its body only repeats who.
        body: message.title || message.body || message.streamId,
        tag: message.tag,
        data,
        silent: true,
      });
    }
    case 'test': {
      const data: NoteData = { type: 'test', url: '/' };
      return sw.registration.showNotification(message.title || 'vigil: test notification', {
        ...base,
        body: message.body || 'Notifications from vigil reach this device.',
        tag: message.tag,
        data,
      });
    }
    case 'unreadable': {
      const data: NoteData = { type: 'generic', url: '/' };
      return sw.registration.showNotification('vigil', {
        ...base,
        body: 'Something needs your attention. Open the dashboard.',
        tag: 'vigil-generic',
        data,
      });
    }
  }
}

/** The frame on this origin, with the stored token (the browser fetches it without headers), as the page's <img> does. */
async function thumbnailUrl(path: string, userId: string): Promise<string | null> {
  const token = await loadToken(userId || undefined).catch(() => null);
  if (!token) return null; // the frame would answer 401: show the notification without it
  const url = new URL(path, sw.location.origin);
  if (url.origin !== sw.location.origin) return null;
  url.searchParams.set('token', token);
  return url.href;
}

function noteData(notification: Notification): NoteData {
  const raw = notification.data as Partial<NoteData> | null;
  const url = localPath(raw?.url) ?? (typeof raw?.alert_id === 'string' ? alertPath(raw.alert_id) : '/');
  return {
    type: raw?.type ?? 'generic',
    alert_id: typeof raw?.alert_id === 'string' ? raw.alert_id : undefined,
    user_id: typeof raw?.user_id === 'string' ? raw.user_id : undefined,
    title: typeof raw?.title === 'string' ? raw.title : undefined,
    url,
  };
}

async function onClick(notification: Notification, action: string): Promise<void> {
  const data = noteData(notification);
  if (action === 'ack' && data.type === 'alert' && data.alert_id) {
    if (await acknowledge(data.alert_id, data.user_id)) {
      await sw.registration.showNotification('Acknowledged', {
        icon: absolute(ICON),
        badge: absolute(BADGE),
        body: data.title ?? '',
        tag: notification.tag,
        data: { type: 'acknowledged', alert_id: data.alert_id, url: data.url } satisfies NoteData,
        silent: true,
      });
      return;
    }
  }
  notification.close();
  await openDashboard(data);
}

/** POST /api/v1/alerts/{id}/ack with the stored token; false when it did not happen (no token, 401/403, the network, …). */
async function acknowledge(alertId: string, userId: string | undefined): Promise<boolean> {
  const token = await loadToken(userId).catch(() => null);
  if (!token) return false;
  try {
    const res = await fetch(absolute(`/api/v1/alerts/${encodeURIComponent(alertId)}/ack`), {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
    return res.ok; // 200, also when someone else acknowledged it first
  } catch {
    return false;
  }
}

/** Focuses an open dashboard and tells it which alert to show, or opens the alert's page. */
async function openDashboard(data: NoteData): Promise<void> {
  const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const scope = sw.registration.scope;
  const open = windows.find((w) => w.url.startsWith(scope));
  if (open) {
    if (data.alert_id) open.postMessage({ type: 'vigil.show-alert', alert_id: data.alert_id });
    await open.focus();
    return;
  }
  await sw.clients.openWindow(absolute(data.url));
}
