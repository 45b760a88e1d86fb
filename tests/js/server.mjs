// Starts the real `ember serve` for a test file and always stops it.
//
// startServer(extraArgs) spawns `$EMBER_CLI serve -m <model> --port 0 ...extraArgs`, waits for the
// one readiness line `ember: listening on http://HOST:PORT` on stderr and returns
// { baseURL: "http://HOST:PORT", url(path), stop(), stderr() }. stop() sends SIGTERM, then SIGKILL
// after a grace period; every server still running when the process exits (normally, on an
// uncaught error, or on SIGINT/SIGTERM from CTest's timeout) is killed too.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const READY = /^ember: listening on (http:\/\/\S+)\s*$/;
const live = new Set();

function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll();
    process.exit(128 + 15);
  });
}

export function cliPath() {
  const cli = process.env.EMBER_CLI;
  if (!cli) throw new Error('EMBER_CLI is not set (the ember binary; CTest sets it)');
  return cli;
}

export function modelPath(name) {
  const dir = process.env.EMBER_TESTDATA;
  if (!dir) throw new Error('EMBER_TESTDATA is not set (the shared test data folder)');
  const p = path.join(dir, 'models', name);
  if (!existsSync(p)) throw new Error(`test model missing: ${p}`);
  return p;
}

export async function startServer(model, extraArgs = [], { readyTimeoutMs = 120_000 } = {}) {
  const args = ['serve', '-m', model, '--host', '127.0.0.1', '--port', '0', ...extraArgs];
  const child = spawn(cliPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let log = '';
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
    live.delete(child);
  });

  const baseURL = await new Promise((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => {
      reject(new Error(`ember serve did not print its listening line in ${readyTimeoutMs} ms:\n${log}`));
    }, readyTimeoutMs);
    const onData = (buf) => {
      const text = buf.toString('utf8');
      log += text;
      pending += text;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const m = READY.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      }
    };
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`ember serve exited (code ${code}, signal ${signal}) before listening:\n${log}`));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  }).catch((err) => {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
    throw err;
  });
  // Keep draining stderr (access log) so the server never blocks on a full pipe.
  child.stderr.on('data', (buf) => {
    log += buf.toString('utf8');
    if (log.length > 1 << 20) log = log.slice(-(1 << 19));
  });

  return {
    baseURL,
    url: (p) => baseURL + p,
    stderr: () => log,
    alive: () => exited === null,
    async stop(graceMs = 10_000) {
      if (exited !== null) return exited;
      const done = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await done;
      clearTimeout(timer);
      return result;
    },
  };
}
