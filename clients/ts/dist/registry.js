const entries = new Map();
/**
 * One client per key (server URL + user), shared by reference count.
 *
 * Why: the server keeps one connection per user and closes the older one with
 * 4001, which the client obeys by stopping. Two components of the same page each
 * opening their own socket would therefore knock one another out; sharing keeps a
 * single socket per user per page.
 */
export function acquireClient(key, create) {
    let entry = entries.get(key);
    if (!entry) {
        entry = { client: create(), refs: 0 };
        entries.set(key, entry);
    }
    const held = entry;
    held.refs++;
    let released = false;
    return {
        client: held.client,
        release() {
            if (released)
                return;
            released = true;
            if (--held.refs > 0)
                return;
            if (entries.get(key) === held)
                entries.delete(key);
            held.client.close();
        },
    };
}
/** Number of live shared clients (for tests and debugging). */
export function sharedClientCount() {
    return entries.size;
}
//# sourceMappingURL=registry.js.map