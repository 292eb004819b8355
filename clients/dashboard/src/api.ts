// JSON over HTTP to the page's own server with the user's token, and its errors
// as the server words them: `{"error":"code","detail":"…"}`, shown to the user as they are.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The server's error code (`invalid_quiet_hours`), or '' (not JSON, the network). */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiAnswer<T> {
  status: number;
  body: T | null;
}

/** `token` null sends no credential. Throws ApiError for any answer other than 2xx, and for network failures (status 0). */
export async function api<T = unknown>(method: string, path: string, token: string | null, body?: unknown): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, '', `the server cannot be reached (${err instanceof Error ? err.message : String(err)})`);
  }
  const text = await res.text().catch(() => '');
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (res.ok) return { status: res.status, body: parsed as T | null };
  const { code, message } = errorOf(parsed);
  throw new ApiError(res.status, code, message || `HTTP ${res.status}`);
}

function errorOf(body: unknown): { code: string; message: string } {
  if (body === null || typeof body !== 'object') return { code: '', message: '' };
  const { error, detail } = body as Record<string, unknown>;
  return { code: typeof error === 'string' ? error : '', message: typeof detail === 'string' ? detail : '' };
}

/** "no such alert (not_found)", as the page shows a failed call. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return err.message;
    return err.code ? `${err.message} (${err.code}, HTTP ${err.status})` : `${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}
