/**
 * The `exp` claim (seconds since the epoch) of a JWT, or null when there is none
 * or the token is not a JWT. The signature is not checked: this only tells when to
 * refresh, and the server is the one that verifies.
 */
export function decodeJwtExp(token) {
    const part = token.split('.')[1];
    if (!part)
        return null;
    try {
        const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const payload = JSON.parse(new TextDecoder().decode(bytes));
        return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp : null;
    }
    catch {
        return null;
    }
}
//# sourceMappingURL=jwt.js.map