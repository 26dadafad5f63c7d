// The built daemon (dist/src/main.js) as a child process, for end-to-end tests: started on free ports with a
// temp data dir, driven over HTTP, stopped with SIGTERM (graceful) or SIGKILL. Always cleaned up.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { getFreePort } from './ports.js';
import { makeTempDir } from './tmp.js';
import { stringify } from 'yaml';
import { DAEMON_NODE_FLAGS } from '../../src/node-flags.js';

const ROOT = resolve(import.meta.dirname, '../..');
export const MAIN = join(ROOT, 'dist/src/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or older than the sources (npm ci builds it; a dev edit may not have). */
export function ensureBuilt(): void {
  const sources = Math.max(...['src', 'protocol', 'storage'].map((d) => newestMtime(join(ROOT, d))));
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= sources) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`building dist/ failed:\n${r.stdout}\n${r.stderr}`);
}

/**
 * Writes `dir/config.yaml` for a daemon that serves replicas on `listen` (user repl) and follows the primary on
 * 127.0.0.1:`primaryPort` (user repl) from its earliest binlog, with `storage` settings; returns the file's path.
 */
export async function writeProxyConfig(
  dir: string,
  o: { storage: Record<string, unknown>; listen: string; password: string; primaryPort: number; syncerId: number },
): Promise<string> {
  const file = join(dir, 'config.yaml');
  const config = {
    storage: o.storage,
    server: { listen: o.listen, users: [{ user: 'repl', password: o.password }] },
    syncer: { mysql_addr: `127.0.0.1:${o.primaryPort}`, mysql_user: 'repl', mysql_password: o.password, syncer_id: o.syncerId, start: 'earliest' },
  };
  await writeFile(file, stringify(config));
  return file;
}

export interface DaemonProcess {
  readonly dataDir: string;
  readonly adminUrl: string;
  readonly adminPort: number;
  readonly logs: string[];
  readonly child: ChildProcess;
  api<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * The built daemon as a child process, ready once GET /health answers 200, or with `readyWhen: 'log'` once it
 * logs that the admin API listens (for a daemon /health cannot be polled on: an admin token, or HTTPS).
 */
export async function startDaemon(
  opts: { dataDir?: string; adminPort?: number; args?: string[]; env?: Record<string, string>; readyWhen?: 'health' | 'log' } = {},
): Promise<DaemonProcess> {
  ensureBuilt();
  const dataDir = opts.dataDir ?? (await makeTempDir('binlog-proxy-daemon-'));
  const adminPort = opts.adminPort ?? (await getFreePort());
  const logs: string[] = [];
  // With the V8 flags npm start gives it: the daemon under test is the one that runs in production.
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, MAIN, '--data-dir', dataDir, '--admin-listen', `127.0.0.1:${adminPort}`, '--log-level', 'debug', ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(opts.env ?? {}) },
  });
  running.add(child);
  child.stdout!.setEncoding('utf8').on('data', (d: string) => logs.push(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => logs.push(d));
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolveExit(code);
    }),
  );
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const api = async <T,>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(adminUrl + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed as T };
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}:\n${logs.join('')}`);
    if (opts.readyWhen === 'log') {
      if (logs.join('').includes('admin API listening')) break;
    } else {
      try {
        const r = await api('GET', '/health');
        if (r.status === 200) break;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`daemon did not become ready (${opts.readyWhen ?? 'health'}):\n${logs.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dataDir,
    adminUrl,
    adminPort,
    logs,
    child,
    api,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
