// Pure formatting helpers: no DOM, no state.

/** "fall_detected" → "Fall detected". */
export function humanize(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') return 'Anomaly';
  const text = value.replace(/[_-]+/g, ' ').trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A detector confidence in 0..1 (or a percentage) → 0..1, or null when absent. */
export function confidenceOf(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return null;
  return value > 1 ? Math.min(value / 100, 1) : value;
}

export function percent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Local wall-clock time; the date too when it is not today. */
export function clockTime(iso: string, now = new Date()): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return date.toDateString() === now.toDateString()
    ? time
    : `${date.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

/** "just now", "12 s ago", "4 min ago", "2 h ago", "3 d ago". */
export function ago(iso: string, nowMs = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.floor((nowMs - t) / 1000));
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** Seconds → "42 s", "3 min 05 s", "2 h 07 min", "4 d 3 h". */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** Whole seconds left until `atMs`, never negative (a countdown shows 0 while the attempt starts). */
export function secondsUntil(atMs: number, nowMs = Date.now()): number {
  return Math.max(0, Math.ceil((atMs - nowMs) / 1000));
}
