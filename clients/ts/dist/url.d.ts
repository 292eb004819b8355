/**
 * `ws://HOST:PORT` (or http(s)://…, converted) + user → the alerts endpoint:
 * `{base}/ws/alerts/{user_id}?token=JWT[&since=SEQ]`.
 * A path on the base (a reverse-proxy prefix) is kept.
 */
export declare function buildSocketUrl(base: string, userId: string, token: string, since?: number): string;
