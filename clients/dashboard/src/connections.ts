// Live connections for admins: GET /ws/connections every 2 s with the page's token.
// 200 shows the section; 401/403 (not an admin) hides it and stops asking; anything
// else (the server restarting, a network error) keeps the last table and says so.
import { h, setHidden, setText } from './dom.js';
import { duration } from './format.js';

interface ConnectionRow {
  user_id: string;
  connected: boolean;
  uptime_seconds: number;
  seconds_since_heartbeat: number;
}

export interface ConnectionsOptions {
  section: HTMLElement;
  rows: HTMLTableSectionElement;
  total: HTMLElement;
  note: HTMLElement;
  token: string;
  /** The signed-in user, marked "you" in the table. */
  userId: string;
  intervalMs?: number;
}

export function startConnectionsPanel(options: ConnectionsOptions): () => void {
  const { section, rows, total, note } = options;
  const interval = options.intervalMs ?? 2000;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inflight: AbortController | null = null;
  let everShown = false;

  async function poll(): Promise<void> {
    inflight = new AbortController();
    const abort = setTimeout(() => inflight?.abort(), Math.max(interval, 5000));
    try {
      const res = await fetch('/ws/connections', {
        headers: { Authorization: `Bearer ${options.token}` },
        cache: 'no-store',
        signal: inflight.signal,
      });
      if (stopped) return;
      if (res.status === 401 || res.status === 403) {
        setHidden(section, true); // not an admin: nothing to show, nothing more to ask
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { total_connections?: number; connections?: ConnectionRow[] };
      if (stopped) return;
      renderRows(Array.isArray(body.connections) ? body.connections : []);
      const count = typeof body.total_connections === 'number' ? body.total_connections : rows.childElementCount;
      setText(total, `${count} online`);
      setText(note, `Updated ${new Date().toLocaleTimeString()} · every ${interval / 1000} s`);
      note.classList.remove('error');
      everShown = true;
      setHidden(section, false);
    } catch (err) {
      if (stopped) return;
      if (everShown) {
        setText(note, `Could not refresh (${err instanceof Error ? err.message : String(err)}); retrying every ${interval / 1000} s`);
        note.classList.add('error');
      }
    } finally {
      clearTimeout(abort);
      inflight = null;
    }
    if (!stopped) timer = setTimeout(() => void poll(), interval);
  }

  function renderRows(list: ConnectionRow[]): void {
    const sorted = list.slice().sort((a, b) => String(a.user_id).localeCompare(String(b.user_id)));
    rows.replaceChildren(
      ...sorted.map((c) =>
        h(
          'tr',
          { class: c.user_id === options.userId ? 'me' : null, 'data-user-id': c.user_id },
          h('td', {}, String(c.user_id), c.user_id === options.userId && h('span', { class: 'tag' }, 'you')),
          h('td', {}, h('span', { class: `state ${c.connected ? 'on' : 'off'}` }, c.connected ? 'connected' : 'gone')),
          h('td', { class: 'num' }, duration(Number(c.uptime_seconds) || 0)),
          h('td', { class: 'num' }, `${Math.max(0, Math.floor(Number(c.seconds_since_heartbeat) || 0))} s ago`),
        ),
      ),
    );
    if (sorted.length === 0) rows.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No live connections')));
  }

  void poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
    inflight?.abort();
    setHidden(section, true);
    rows.replaceChildren();
  };
}
