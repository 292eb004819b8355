// Runs the real vigil binary for the browser test and restarts it on the same
// port and data dir. The first start asks for `--port 0` and reads the port back
// from the `server.listening` line that vigil logs (JSON, on stderr).
import { spawn } from 'node:child_process';

const READY_TIMEOUT_MS = 20000;

/**
 * @param {{ bin: string, dataDir: string, webRoot: string, secret: string, extraArgs?: string[] }} options
 */
export async function startVigil({ bin, dataDir, webRoot, secret, extraArgs = [] }) {
  let port = 0;
  let proc = null;
  let log = '';

  async function launch() {
    const args = ['serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--web-root', webRoot,
      '--ping-interval', '1', '--heartbeat-timeout', '3', ...extraArgs];
    const child = spawn(bin, args, {
      env: { ...process.env, VIGIL_JWT_SECRET: secret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killOnExit = () => child.kill('SIGKILL');
    process.on('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));

    const listening = new Promise((resolve, reject) => {
      let pending = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`vigil did not log server.listening within ${READY_TIMEOUT_MS} ms:\n${log}`));
      }, READY_TIMEOUT_MS);
      const onData = (data) => {
        const text = data.toString();
        log = (log + text).slice(-20000);
        pending += text;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          let event;
          try {
            event = JSON.parse(line);
          } catch {
            continue;
          }
          if (event?.event === 'server.listening' && Number.isInteger(event.port)) {
            clearTimeout(timer);
            resolve(event.port);
          }
        }
      };
      child.stderr.on('data', onData);
      child.stdout.on('data', (d) => (log = (log + d.toString()).slice(-20000)));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`vigil exited (${code ?? signal}) before listening:\n${log}`));
      });
    });
    const actual = await listening;
    proc = child;
    return actual;
  }

  port = await launch();

  const api = {
    get port() {
      return port;
    },
    get baseUrl() {
      return `http://127.0.0.1:${port}`;
    },
    get log() {
      return log;
    },
    /** SIGTERM; resolves once the process has exited. */
    async stop() {
      const child = proc;
      proc = null;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(force);
    },
    /** Start again on the same port and data dir (retrying briefly while the port is being released). */
    async start() {
      const deadline = Date.now() + 10000;
      for (;;) {
        try {
          await launch();
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    },
    async request(path, { method = 'GET', token, body } = {}) {
      const headers = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${api.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.status, json, text, headers: res.headers };
    },
  };
  return api;
}
