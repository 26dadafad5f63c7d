/**
 * The built daemon (dist/src/main.js) as a child process for the benchmark: the real process, so RSS and
 * restart time are the daemon's own. Driven over the admin API. (test/helpers/daemon.ts does the same for
 * vitest, but finds dist/ relative to its source location, which does not hold once it is compiled.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { procStatusBytes } from '../src/memory.js';
import { DAEMON_NODE_FLAGS } from '../src/node-flags.js';

/** dist/bench/daemon.js -> dist/src/main.js */
export const MAIN = resolve(import.meta.dirname, '../src/main.js');

export interface BenchDaemon {
  readonly dataDir: string;
  readonly adminUrl: string;
  readonly child: ChildProcess;
  readonly logs: string[];
  /** ms from spawn to a healthy admin API. */
  readonly startMs: number;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Resident set size of the daemon process now, in MB (from /proc). */
  rssMB(): number;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export interface DaemonOptions {
  dataDir: string;
  adminPort: number;
  /** Extra CLI flags (e.g. --config FILE). */
  args?: string[];
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Resolve right after spawn instead of waiting for /health (the restart scenario times it itself). */
  noWait?: boolean;
  /** Append what the daemon prints to this file as well. */
  logFile?: string;
}

/**
 * CPU time a process has used so far, all its threads, in ms (the first field of each thread's
 * /proc/PID/task/TID/schedstat: ns on a CPU). Unlike wall-clock time this barely moves with the load of other
 * processes, so it compares the work done by the proxy and by MariaDB on a busy machine.
 */
export function cpuMsOfPid(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) ns += threadCpuNs(pid, tid);
  return ns / 1e6;
}

/**
 * CPU time of the process's main thread (the one whose id is the process id), in ms: for the daemon, the
 * JavaScript thread, against cpuMsOfPid's total, which adds LevelDB's threads, libuv's pool and V8's helpers.
 * A main thread busy for nearly the whole wall-clock time is the bottleneck.
 */
export function mainThreadCpuMs(pid: number): number {
  return threadCpuNs(pid, String(pid)) / 1e6;
}

function threadCpuNs(pid: number, tid: string): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return 0; // the thread ended between readdir and read
  }
}

export function rssOfPid(pid: number): number {
  return memOfPid(pid).rssMB;
}

/** RSS and its anonymous part (without file-backed pages such as LevelDB's memory-mapped tables), MB. */
export function memOfPid(pid: number): { rssMB: number; anonMB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (field: string): number => (procStatusBytes(s, field) ?? NaN) / 2 ** 20;
  return { rssMB: mb('VmRSS'), anonMB: mb('RssAnon') };
}

export async function startBenchDaemon(o: DaemonOptions): Promise<BenchDaemon> {
  const t0 = performance.now();
  const logs: string[] = [];
  const child = spawn(
    process.execPath,
    [...DAEMON_NODE_FLAGS, ...(o.nodeArgs ?? []), MAIN, '--data-dir', o.dataDir, '--admin-listen', `127.0.0.1:${o.adminPort}`, '--log-level', 'warn', ...(o.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: o.dataDir },
  );
  const logFile = o.logFile !== undefined ? createWriteStream(o.logFile, { flags: 'a' }) : null;
  const onOutput = (d: string): void => {
    logs.push(d);
    logFile?.write(d);
  };
  child.stdout!.setEncoding('utf8').on('data', onOutput);
  child.stderr!.setEncoding('utf8').on('data', onOutput);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.once('close', () => logFile?.end()); // after the last output: stdio is closed by then
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));
  const adminUrl = `http://127.0.0.1:${o.adminPort}`;
  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(adminUrl + path, {
      method,
      headers: body !== undefined ? { 'content-type': 'application/json' } : {},
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text.startsWith('{') ? JSON.parse(text) : text) as T };
  };
  let startMs = NaN;
  if (o.noWait !== true) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}:\n${logs.join('')}`);
      const ok = await api('GET', '/health').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`daemon did not become healthy:\n${logs.join('')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    startMs = performance.now() - t0;
  }
  return {
    dataDir: o.dataDir,
    adminUrl,
    child,
    logs,
    startMs,
    api,
    rssMB: () => rssOfPid(child.pid!),
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

export function dataPath(d: BenchDaemon, ...parts: string[]): string {
  return join(d.dataDir, ...parts);
}
