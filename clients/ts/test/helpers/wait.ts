import type { AlertClient, ConnectionStatus } from '@vigil/client';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `predicate` until it holds; fail with `what` after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(20);
  }
}

/** Every status a client goes through, in order (consecutive repeats collapsed). */
export function recordStatuses(client: AlertClient): ConnectionStatus[] {
  const seen: ConnectionStatus[] = [client.getState().status];
  client.subscribe(() => {
    const s = client.getState().status;
    if (seen[seen.length - 1] !== s) seen.push(s);
  });
  return seen;
}
