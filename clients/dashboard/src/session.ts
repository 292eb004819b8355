// Who is signed in: from the link (`/?user=ID&token=JWT`), else from this tab's
// sessionStorage, else nobody (the sign-in form). The token is taken out of the
// address bar as soon as it is read, so it does not linger in history or get
// shared by copying the URL; sessionStorage keeps it for reloads of this tab only.

export interface Session {
  userId: string;
  token: string;
}

const STORAGE_KEY = 'vigil.dashboard.session';

export interface Startup {
  session: Session | null;
  /** A user id to prefill in the sign-in form. */
  userHint: string;
}

export function readStartup(): Startup {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token')?.trim() ?? '';
  const user = url.searchParams.get('user')?.trim() ?? '';
  if (url.searchParams.has('token') || url.searchParams.has('user')) {
    url.searchParams.delete('token');
    url.searchParams.delete('user');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  if (token) {
    const userId = user || subjectOf(token);
    if (userId) {
      const session = { userId, token };
      save(session);
      return { session, userHint: userId };
    }
    return { session: null, userHint: '' };
  }
  const stored = load();
  if (stored && (!user || stored.userId === user)) return { session: stored, userHint: stored.userId };
  return { session: null, userHint: user };
}

export function save(session: Session): void {
  try {
    window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  } catch {
    // storage disabled: the session lasts as long as the page
  }
}

export function forget(): void {
  try {
    window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}

function load(): Session | null {
  try {
    const parsed = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Partial<Session> | null;
    if (parsed && typeof parsed.userId === 'string' && typeof parsed.token === 'string' && parsed.userId && parsed.token) {
      return { userId: parsed.userId, token: parsed.token };
    }
  } catch {
    // unreadable: start over
  }
  return null;
}

/** The JWT's `sub`, unverified (the server verifies); '' when it has none. */
export function subjectOf(token: string): string {
  const claims = claimsOf(token);
  return typeof claims?.sub === 'string' ? claims.sub : '';
}

export function claimsOf(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    return claims !== null && typeof claims === 'object' ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
