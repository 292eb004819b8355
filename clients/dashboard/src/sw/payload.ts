// What a push carries (docs/notifications.md, "What is sent"), read defensively:
// the payload comes from the server through a push service, but a worker must
// never trust a shape, show an unbounded string, or send the user's token to
// an address the payload names. Pure: no worker APIs, so it is easy to read.

export type Severity = 'critical' | 'high' | 'medium' | 'low';

export type PushMessage =
  | {
      type: 'alert';
      alertId: string;
      userId: string;
      streamId: string;
      severity: Severity | null;
      title: string;
      body: string;
      tag: string;
      /** Alerts of this group pushed within the group window (1 for the first). */
      count: number;
      /** A path on this origin (`/api/v1/alerts/{id}/frame`), or null. */
      thumbnailPath: string | null;
      /** A path on this origin that a click opens. */
      url: string;
      /** Epoch ms, or null. */
      timestamp: number | null;
    }
  | { type: 'acknowledged'; alertId: string; streamId: string; by: string; tag: string; title: string; body: string; url: string }
  | { type: 'test'; tag: string; title: string; body: string }
  | { type: 'unreadable' };

const SEVERITIES: readonly string[] = ['critical', 'high', 'medium', 'low'];

function text(value: unknown, max: number): string {
  if (typeof value !== 'string') return '';
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/**
 * A same-origin path ("/x"; not "//host/x", "https://…", nor anything a URL parser
 * could turn into one: backslashes, and tabs or newlines, which it drops), or null.
 */
export function localPath(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 2048) return null;
  return /^\/(?![/\\])[\x21-\x5b\x5d-\x7e]*$/.test(value) ? value : null;
}

/** The page that shows one alert. */
export function alertPath(alertId: string): string {
  return `/?alert=${encodeURIComponent(alertId)}`;
}

/** `data` is the push's bytes as text (PushMessageData.text()), or null when it had none. */
export function parsePush(data: string | null): PushMessage {
  if (data === null || data.length === 0 || data.length > 8192) return { type: 'unreadable' };
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return { type: 'unreadable' };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { type: 'unreadable' };
  const m = raw as Record<string, unknown>;
  const tag = text(m.tag, 64);
  const title = text(m.title, 200);
  const body = text(m.body, 500);
  const alertId = text(m.alert_id, 128);
  switch (m.type) {
    case 'alert': {
      if (!alertId) return { type: 'unreadable' };
      const severity = typeof m.severity === 'string' && SEVERITIES.includes(m.severity) ? (m.severity as Severity) : null;
      const count = typeof m.count === 'number' && Number.isInteger(m.count) && m.count > 0 ? m.count : 1;
      const stamp = typeof m.timestamp === 'number' ? m.timestamp : typeof m.timestamp === 'string' ? Date.parse(m.timestamp) : NaN;
      return {
        type: 'alert',
        alertId,
        userId: text(m.user_id, 128),
        streamId: text(m.stream_id, 128),
        severity,
        title,
        body,
        tag: tag || `vigil-alert-${alertId}`,
        count,
        thumbnailPath: localPath(m.thumbnail_url),
        url: localPath(m.url) ?? alertPath(alertId),
        timestamp: Number.isFinite(stamp) ? stamp : null,
      };
    }
    case 'acknowledged':
      if (!alertId || !tag) return { type: 'unreadable' };
      return { type: 'acknowledged', alertId, streamId: text(m.stream_id, 128), by: text(m.by, 128), tag, title, body, url: alertPath(alertId) };
    case 'test':
      return { type: 'test', tag: tag || 'vigil-test', title, body };
    default:
      return { type: 'unreadable' };
  }
}
