import type { AlertClient } from './client.js';
export interface Lease {
    client: AlertClient;
    /** Give the client back; the last release closes it. Idempotent. */
    release(): void;
}
/**
 * One client per key (server URL + user), shared by reference count.
 *
 * Why: the server keeps one connection per user and closes the older one with
 * 4001, which the client obeys by stopping. Two components of the same page each
 * opening their own socket would therefore knock one another out; sharing keeps a
 * single socket per user per page.
 */
export declare function acquireClient(key: string, create: () => AlertClient): Lease;
/** Number of live shared clients (for tests and debugging). */
export declare function sharedClientCount(): number;
