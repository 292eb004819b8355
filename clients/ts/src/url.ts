/**
 * `ws://HOST:PORT` (or http(s)://…, converted) + user → the alerts endpoint:
 * `{base}/ws/alerts/{user_id}?token=JWT[&since=SEQ[&epoch=EPOCH]]`.
 * A path on the base (a reverse-proxy prefix) is kept.
 */
export function buildSocketUrl(
  base: string,
  userId: string,
  token: string,
  since?: number,
  epoch?: string | null,
): string {
  const root = base.replace(/^http(s?):\/\//i, 'ws$1://').replace(/\/+$/, '');
  let url = `${root}/ws/alerts/${encodeURIComponent(userId)}?token=${encodeURIComponent(token)}`;
  if (since !== undefined && since > 0) {
    url += `&since=${since}`;
    if (epoch) url += `&epoch=${encodeURIComponent(epoch)}`;
  }
  return url;
}
