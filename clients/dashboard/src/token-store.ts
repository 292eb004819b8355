// The signed-in user's token, kept in this origin's IndexedDB for the service
// worker (src/sw): a notification's Acknowledge action and its thumbnail need a
// credential while no tab of the dashboard is open, and a service worker can
// read neither sessionStorage nor a page's memory (and is stopped whenever it
// is idle, so it cannot keep the token itself). The page stores the token at
// sign-in and deletes it at sign-out; one entry per user, so two tabs signed in
// as different users do not take each other's place. Shared by the page and
// the worker: it uses only what both have (indexedDB, no DOM).

const DB_NAME = 'vigil-dashboard';
const STORE = 'tokens';

export interface StoredToken {
  user_id: string;
  token: string;
  /** Epoch ms of the last save: without a user to look for, the newest wins. */
  saved_at: number;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'user_id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('indexedDB.open failed'));
    req.onblocked = () => reject(new Error('indexedDB.open blocked'));
  });
}

async function run<T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = body(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('indexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('indexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

export async function saveToken(userId: string, token: string): Promise<void> {
  const entry: StoredToken = { user_id: userId, token, saved_at: Date.now() };
  await run('readwrite', (s) => s.put(entry));
}

export async function deleteToken(userId: string): Promise<void> {
  await run('readwrite', (s) => s.delete(userId));
}

/** The token stored for `userId` (null when none); without a user, the newest stored. */
export async function loadToken(userId?: string): Promise<string | null> {
  const all = (await run('readonly', (s) => s.getAll() as IDBRequest<StoredToken[]>)).filter(
    (e) => typeof e.user_id === 'string' && typeof e.token === 'string' && e.token !== '',
  );
  const mine = userId ? all.find((e) => e.user_id === userId) : undefined;
  if (mine) return mine.token;
  if (userId) return null; // another user's token would only be refused
  all.sort((a, b) => b.saved_at - a.saved_at);
  return all[0]?.token ?? null;
}
