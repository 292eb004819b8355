import { createHmac } from 'node:crypto';

/** An HS256 JWT as vigil expects it: `sub`, `exp`, optional `role`. */
export function mintToken(secret, { sub, role, ttlSeconds = 3600 }) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, iat: now, exp: now + ttlSeconds };
  if (role) claims.role = role;
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

function b64url(text) {
  return Buffer.from(text, 'utf8').toString('base64url');
}
