// Starts the real `ember serve` for the page tests and always stops it.
//
// startServer(model, extraArgs) spawns `$EMBER_CLI serve -m MODEL --port 0 ...`, waits for the
// readiness line `ember: listening on http://HOST:PORT` on stderr and returns
// { baseURL, stop(), exited, log() }. Every server still running when the process exits is killed.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const READY = /^ember: listening on (http:\/\/\S+)\s*$/m;
const live = new Set();

process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => process.exit(128 + 15));
}

export function modelPath(name) {
  const dir = process.env.EMBER_TESTDATA;
  if (!dir) throw new Error('EMBER_TESTDATA is not set (the shared test data folder)');
  const p = path.join(dir, 'models', name);
  if (!existsSync(p)) throw new Error(`test model missing: ${p}`);
  return p;
}

export async function startServer(model, extraArgs = [], { readyTimeoutMs = 60_000 } = {}) {
  const cli = process.env.EMBER_CLI;
  if (!cli) throw new Error('EMBER_CLI is not set (the ember binary; CTest sets it)');
  const args = ['serve', '-m', model, '--host', '127.0.0.1', '--port', '0', ...extraArgs];
  const child = spawn(cli, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let log = '';
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const baseURL = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`ember serve was not ready in ${readyTimeoutMs} ms:\n${log}`)), readyTimeoutMs);
    child.stderr.on('data', (buf) => {
      log += buf.toString('utf8');
      const m = READY.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`ember serve exited (${code ?? signal}) before it was ready:\n${log}`));
    });
  });
  return {
    baseURL,
    exited,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
