import { createHmac } from 'node:crypto';

/** An HS256 JWT, the way the server expects it (claims `sub`, `exp`, optional `role`). */
export function mintToken(
  secret: string,
  claims: { sub: string; role?: 'admin' | 'publisher'; ttlSeconds?: number; exp?: number },
): string {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    sub: claims.sub,
    iat: now,
    exp: claims.exp ?? now + (claims.ttlSeconds ?? 3600),
  };
  if (claims.role) payload.role = claims.role;
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(payload));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
