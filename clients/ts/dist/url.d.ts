/**
 * `ws://HOST:PORT` (or http(s)://…, converted) + user → the alerts endpoint:
 * `{base}/ws/alerts/{user_id}?token=JWT[&since=SEQ[&epoch=EPOCH]]`.
 * A path on the base (a reverse-proxy prefix) is kept.
 */
export declare function buildSocketUrl(base: string, userId: string, token: string, since?: number, epoch?: string | null): string;
