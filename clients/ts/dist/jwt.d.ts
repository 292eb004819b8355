/**
 * The `exp` claim (seconds since the epoch) of a JWT, or null when there is none
 * or the token is not a JWT. The signature is not checked: this only tells when to
 * refresh, and the server is the one that verifies.
 */
export declare function decodeJwtExp(token: string): number | null;
