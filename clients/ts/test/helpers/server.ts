// Starts and stops a real alert server for the tests, on a free loopback port.
//
//   VIGIL_BIN set    → the vigil binary: `$VIGIL_BIN serve --port P --data-dir D
//                      --ping-interval N --heartbeat-timeout N` (alerts persist in D).
//   VIGIL_BIN unset  → the Node peer from shared/peers/node_ws (in memory), copied once
//                      to a temp folder where `npm ci` installs its dependencies.
//
// Either way the server gets VIGIL_JWT_SECRET, and tests mint their own tokens.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, copyFileSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mintToken } from './tokens.js';

export interface PublishResult {
  alert_id: string;
  seq: number;
  delivered: boolean;
}

export interface TestServer {
  kind: 'vigil' | 'node-peer';
  /** Alerts survive a restart: true for vigil (SQLite in data-dir), false for the in-memory peer. */
  persistent: boolean;
  secret: string;
  /** Base URL for the client, e.g. ws://127.0.0.1:PORT */
  wsUrl: string;
  httpUrl: string;
  /** A user token (role optional) signed with the server's secret. */
  token(sub: string, options?: { role?: 'admin' | 'publisher'; ttlSeconds?: number; exp?: number }): string;
  /** POST /api/v1/alerts as a publisher; resolves with the 201 body. */
  publish(userId: string, detection?: Record<string, unknown>): Promise<PublishResult>;
  /** An HTTP request to the server, as admin unless `token` says otherwise; the status and parsed JSON body. */
  request(method: string, path: string, options?: { token?: string; body?: unknown }): Promise<{ status: number; json: unknown }>;
  /** GET /ws/connections/{user} as admin: is this user connected right now? */
  isConnected(userId: string): Promise<boolean>;
  /** Stop and start again on the same port and data dir. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** More arguments for vigil (e.g. ['--store', 'memory']); ignored by the Node peer. */
  extraArgs?: string[];
  /** Seconds between server pings (default 1). */
  pingInterval?: number;
  /** Seconds of client silence before the server closes with 4000 (default 3). */
  heartbeatTimeout?: number;
}

const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

export function serverKind(): 'vigil' | 'node-peer' {
  return process.env.VIGIL_BIN ? 'vigil' : 'node-peer';
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const pingInterval = options.pingInterval ?? 1;
  const heartbeatTimeout = options.heartbeatTimeout ?? 3;
  const kind = serverKind();
  const secret = randomBytes(24).toString('hex');
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-ts-data-'));
  const httpUrl = `http://127.0.0.1:${port}`;
  const peerDir = kind === 'node-peer' ? await preparePeer() : '';

  const launch = (): ChildProcess => {
    if (kind === 'vigil') {
      const bin = resolve(process.env.VIGIL_BIN as string);
      const args = ['serve', '--port', String(port), '--data-dir', dataDir,
        '--ping-interval', String(pingInterval), '--heartbeat-timeout', String(heartbeatTimeout),
        ...(options.extraArgs ?? [])];
      return spawn(bin, args, { env: { ...process.env, VIGIL_JWT_SECRET: secret }, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    return spawn(process.execPath, ['server.js', '--port', String(port), '--host', '127.0.0.1'], {
      cwd: peerDir,
      env: {
        ...process.env,
        VIGIL_JWT_SECRET: secret,
        VIGIL_PING_INTERVAL: String(pingInterval),
        VIGIL_HEARTBEAT_TIMEOUT: String(heartbeatTimeout),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  };

  let proc = await startProcess(launch, httpUrl);
  const publisher = mintToken(secret, { sub: 'test-publisher', role: 'publisher' });
  const admin = mintToken(secret, { sub: 'test-admin', role: 'admin' });

  return {
    kind,
    persistent: kind === 'vigil',
    secret,
    wsUrl: `ws://127.0.0.1:${port}`,
    httpUrl,
    token: (sub, o = {}) => mintToken(secret, { sub, ...o }),
    async publish(userId, detection = { type: 'intrusion', confidence: 0.9 }) {
      const res = await fetch(`${httpUrl}/api/v1/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: userId, stream_id: 'cam-1', detection }),
      });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`publish answered ${res.status}: ${text}`);
      return JSON.parse(text) as PublishResult;
    },
    async request(method, path, o = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${o.token ?? admin}` };
      if (o.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${httpUrl}${path}`, {
        method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
      });
      const text = await res.text();
      let json: unknown = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
      return { status: res.status, json };
    },
    async isConnected(userId) {
      const res = await fetch(`${httpUrl}/ws/connections/${encodeURIComponent(userId)}`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      const body = (await res.json()) as { connected?: boolean };
      return body.connected === true;
    },
    async restart() {
      await stopProcess(proc.child);
      proc = await startProcess(launch, httpUrl);
    },
    async stop() {
      await stopProcess(proc.child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- processes

interface Running {
  child: ChildProcess;
}

async function startProcess(launch: () => ChildProcess, httpUrl: string): Promise<Running> {
  const child = launch();
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8000); // for the error message if it never comes up
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));

  const deadline = Date.now() + 20000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log}`);
    }
    try {
      const res = await fetch(`${httpUrl}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return { child };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not ready at ${httpUrl} within 20 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

// ---------------------------------------------------------------- the Node peer

/**
 * The peer lives read-only in shared/: copy it to a temp folder keyed by its
 * contents, install its dependencies there once, and reuse it. Test files run in
 * parallel processes, so the copy is built under a private name and renamed into
 * place (atomic; the loser of a race just uses the winner's copy).
 */
async function preparePeer(): Promise<string> {
  const source = findPeerSource();
  const files = readdirSync(source).filter((f) => f === 'server.js' || f === 'package.json' || f === 'package-lock.json');
  const hash = createHash('sha256');
  for (const f of files.sort()) hash.update(f).update(readFileSync(join(source, f)));
  const target = join(tmpdir(), `vigil-node-peer-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(target, 'node_modules', 'ws')) && existsSync(join(target, 'node_modules', 'jsonwebtoken'))) {
    return target;
  }
  const staging = `${target}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const f of files) copyFileSync(join(source, f), join(staging, f));
  // Drop the outer `npm test`'s npm_* variables so they do not steer this install.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  await promisify(execFile)('npm', ['ci', '--no-audit', '--no-fund', '--omit=optional', '--loglevel=error'], {
    cwd: staging,
    env,
  });
  try {
    renameSync(staging, target);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another test process got there first
  }
  return target;
}

function findPeerSource(): string {
  const candidates = [
    process.env.VIGIL_NODE_PEER_DIR,
    join(PACKAGE_ROOT, '..', '..', '..', 'shared', 'peers', 'node_ws'), // repo/clients/ts → ../shared
    '/work/shared/peers/node_ws',
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(join(p, 'server.js')));
  if (!found) throw new Error(`node peer not found (tried ${candidates.join(', ')}); set VIGIL_BIN or VIGIL_NODE_PEER_DIR`);
  return found;
}

function findPackageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package root not found');
    dir = up;
  }
  return dir;
}
