// Starts `servicewatch serve` on 127.0.0.1 (a free port) over a generated
// sample file (passed with --data: the server never makes data up itself),
// serving the built app from dist/, with its own audit trail and marks in
// the temporary folder (never the user's store).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

const root = new URL('../../', import.meta.url).pathname;
const target = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache/servicewatch/target');
export const bin = process.env.SERVICEWATCH_BIN ?? path.join(target, 'debug/servicewatch');

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/** `data`: serve this file instead of generating a sample; `env`: extra
 * environment (with `env` and no `data`, the environment names the warehouse). */
export async function startServer({ services = 20, days = 200, seed = 11, basePath = '', data = null, env = null } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'servicewatch-browser-'));
  if (!data && !env) {
    data = path.join(dir, 'tx.parquet');
    execFileSync(bin, ['sample', '--out', data, '--services', String(services), '--days', String(days), '--seed', String(seed)], { stdio: 'ignore' });
  }
  const port = await freePort();
  const args = ['serve', '--bind', `127.0.0.1:${port}`, '--dist', path.join(root, 'dist'),
    '--audit-db', path.join(dir, 'audit.sqlite3')];
  if (data) args.push('--data', data);
  if (basePath) args.push('--base-path', basePath);
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...(env ?? {}) } });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${port}${basePath}`;
  for (let i = 0; i < 200; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, stop: () => { proc.kill(); fs.rmSync(dir, { recursive: true, force: true }); }, log: () => log };
}
