// Just enough of Node's `process` for the guarded NEXT_PUBLIC_WS_URL lookup in
// react.ts; the library build excludes @types/node on purpose.
declare const process: { env: Record<string, string | undefined> };
