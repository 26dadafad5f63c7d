// Private etcd servers and node child processes for the cluster tests.
//
// startEtcd() starts a single-member etcd (Debian's etcd-server, /usr/bin/etcd) that has nothing to do with
// any etcd the machine may run: a fresh data dir under the OS temp dir, client and peer URLs on 127.0.0.1
// ports picked at run time (new ports are tried when a bind fails), fast raft timing (heartbeat 50 ms,
// election 500 ms) so that it is ready in well under a second, its log in a file for failure messages.
//
// spawnTsNode() runs a TypeScript entry point of ours in a separate node process (through a tiny
// TypeScript-transpiling loader), reading JSON lines from its stdout; pause()/resume() send SIGSTOP/SIGCONT.
// These are for *nodes* (processes running our cluster code), never for etcd.
//
// Clean-up is layered, as for the MariaDB harness: tests call destroy()/kill() in afterAll/afterEach; a
// process 'exit' hook (and SIGTERM/SIGINT/SIGHUP, which vitest uses to stop workers) SIGKILLs whatever is
// still running and removes the temp dirs; and a reaper shell, which sees EOF on its stdin when this process
// dies however it dies (even SIGKILL), does the same for processes left behind by a hard kill.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { getFreePorts } from './ports.js';
import { onExitOrFatalSignal, spawnReaper } from './cleanup.js';

// ---------------------------------------------------------------------------------------------------------
// Public types

export interface EtcdOptions {
  /** Raft heartbeat interval, ms (default 50). */
  heartbeatMs?: number;
  /** Raft election timeout, ms (default 500). etcd's minimum lease TTL is 1.5 election timeouts. */
  electionMs?: number;
}

export interface EtcdInstance {
  /** Client URL, e.g. http://127.0.0.1:40123 (give it to etcd3 as `hosts`). */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly pid: number | null;
  readonly running: boolean;
  /** Milliseconds from spawn to a healthy /health answer. */
  readonly startupMs: number;
  /** Last `lines` (default 40) lines of etcd's log. */
  logTail(lines?: number): string;
  /** SIGTERM and wait for exit (keeps the data dir). */
  stop(): Promise<void>;
  /** Start again after stop()/kill(), on the same ports and data dir (leases and keys survive). */
  restart(): Promise<void>;
  /** SIGKILL and wait for exit (keeps the data dir). */
  kill(): Promise<void>;
  /** Kill if running and remove the data dir. Idempotent. */
  destroy(): Promise<void>;
}

export interface EtcdBinaries {
  etcd: string;
  /** etcdctl, when installed (only for humans debugging a failed test). */
  etcdctl: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// Binaries

const SEARCH_DIRS = ['/usr/bin', '/usr/local/bin', '/usr/sbin', '/opt/etcd', '/opt/etcd/bin'];

function findOnPath(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      continue; // not in this directory
    }
  }
  return null;
}

/** Finds etcd ($ETCD_BIN, then PATH and the usual directories); throws a message naming the package. */
export function findEtcdBinaries(): EtcdBinaries {
  const explicit = process.env.ETCD_BIN;
  const etcd = explicit && explicit.length > 0 ? explicit : findOnPath('etcd');
  if (etcd === null) {
    throw new Error(
      'etcd is not installed: the cluster tests start a private etcd server. Install it with ' +
        '`apt-get install etcd-server` (Debian/Ubuntu; provides /usr/bin/etcd, etcd v3.4+) or set ETCD_BIN to an etcd binary.',
    );
  }
  return { etcd, etcdctl: findOnPath('etcdctl') };
}

// ---------------------------------------------------------------------------------------------------------
// Process-wide clean-up

const liveProcesses = new Map<number, ChildProcess>();
const liveDirs = new Set<string>();
let hooksInstalled = false;

const REAPER = `
trap '' INT HUP TERM
pids=" "
dirs=""
while read -r cmd arg; do
  case "$cmd" in
    pid) pids="$pids$arg " ;;
    unpid) pids=$(printf '%s' "$pids" | sed "s/ $arg / /") ;;
    dir) dirs="$dirs
$arg" ;;
  esac
done
for p in $pids; do kill -9 "$p" 2>/dev/null; done
sleep 0.3
printf '%s\\n' "$dirs" | while read -r d; do [ -n "$d" ] && rm -rf -- "$d"; done
`;

function cleanupSync(): void {
  for (const [pid] of liveProcesses) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  liveProcesses.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  liveDirs.clear();
}

let tellReaper: (line: string) => void = () => undefined;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  onExitOrFatalSignal(cleanupSync);
  tellReaper = spawnReaper(REAPER, 'binlog-proxy-etcd-reaper');
}

function trackProcess(child: ChildProcess): void {
  installHooks();
  const pid = child.pid;
  if (pid === undefined) return;
  liveProcesses.set(pid, child);
  tellReaper(`pid ${pid}`);
  child.once('exit', () => {
    liveProcesses.delete(pid);
    tellReaper(`unpid ${pid}`);
  });
}

async function makeDir(prefix: string): Promise<string> {
  installHooks();
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  liveDirs.add(dir);
  tellReaper(`dir ${dir}`);
  return dir;
}

async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  liveDirs.delete(dir);
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------------------
// etcd

class EtcdServer implements EtcdInstance {
  endpoint = '';
  clientPort = 0;
  peerPort = 0;
  startupMs = 0;
  private child: ChildProcess | null = null;
  private destroyed = false;

  constructor(
    readonly dataDir: string,
    private readonly logPath: string,
    private readonly bin: string,
    private readonly opts: Required<EtcdOptions>,
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch (err) {
      return `(no etcd log: ${(err as Error).message})`;
    }
  }

  async start(): Promise<void> {
    let lastError: Error | null = null;
    for (let attempt = 0; attempt < 4; attempt++) {
      [this.clientPort, this.peerPort] = await getFreePorts(2);
      this.endpoint = `http://127.0.0.1:${this.clientPort}`;
      try {
        await this.startOnce();
        return;
      } catch (err) {
        lastError = err as Error;
        if (!/address already in use/i.test(this.logTail(80))) throw err;
        await rm(path.join(this.dataDir, 'member'), { recursive: true, force: true });
      }
    }
    throw lastError ?? new Error('etcd did not start');
  }

  async restart(): Promise<void> {
    if (this.destroyed) throw new Error('etcd was destroyed');
    if (this.running) throw new Error('etcd is still running');
    await this.startOnce();
  }

  private async startOnce(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const args = [
      '--name', 'bp-test',
      '--data-dir', this.dataDir,
      '--listen-client-urls', this.endpoint,
      '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `bp-test=${peer}`,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', `bp-test-${process.pid}-${this.clientPort}`,
      '--heartbeat-interval', String(this.opts.heartbeatMs),
      '--election-timeout', String(this.opts.electionMs),
      '--logger', 'zap',
      '--log-level', 'warn',
      '--log-outputs', 'stderr',
    ];
    const logFd = openSync(this.logPath, 'a');
    const began = performance.now();
    let child: ChildProcess;
    try {
      child = spawn(this.bin, args, { stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    trackProcess(child);
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited) throw new Error(`etcd exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${this.logTail()}`);
      const failed = await Promise.race([spawnError, sleep(0).then(() => null)]);
      if (failed) throw new Error(`etcd could not be spawned (${this.bin}): ${failed.message}`);
      if (await this.healthy()) break;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`etcd did not become healthy within 20s:\n${this.logTail()}`);
      }
      await sleep(25);
    }
    this.startupMs = Math.round(performance.now() - began);
  }

  private async healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      return res.ok && body.health === 'true';
    } catch {
      return false; // not listening yet
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await waitForExit(child);
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGKILL');
    await waitForExit(child);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.kill();
    await removeDir(path.dirname(this.dataDir));
  }
}

/** Starts a private single-member etcd; call destroy() when done. */
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdInstance> {
  const { etcd } = findEtcdBinaries();
  const root = await makeDir('bp-etcd-');
  await mkdir(path.join(root, 'data'), { mode: 0o700 });
  const server = new EtcdServer(path.join(root, 'data'), path.join(root, 'etcd.log'), etcd, {
    heartbeatMs: options.heartbeatMs ?? 50,
    electionMs: options.electionMs ?? 500,
  });
  try {
    await server.start();
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}

// ---------------------------------------------------------------------------------------------------------
// Node child processes running our TypeScript

/** One JSON line printed by a child, plus when the parent read it. */
export interface ChildLine {
  [key: string]: unknown;
  /** The `ev` field of the line. */
  ev: string;
  /** Date.now() in the parent when the line was read. */
  readAt: number;
}

export interface NodeChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every JSON line so far, in order. */
  readonly lines: readonly ChildLine[];
  /** Non-JSON output and stderr, for failure messages. */
  output(): string;
  /** Resolves with the first line (from index `from`, default 0) matching `pred`; rejects after `timeoutMs` or on exit. */
  waitFor(pred: (line: ChildLine) => boolean, timeoutMs?: number, from?: number): Promise<ChildLine>;
  /** SIGSTOP. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// Resolves `./x.js` to `./x.ts` when only the .ts exists, and transpiles .ts files with TypeScript's
// transpileModule (no type checking; tsc does that for the project).
const LOADER_SOURCE = (typescriptPath: string): string => `
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
const ts = createRequire(import.meta.url)(${JSON.stringify(typescriptPath)});
export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && (specifier.startsWith('.') || specifier.startsWith('file:')) && context.parentURL && context.parentURL.startsWith('file:')) {
    const url = new URL(specifier, context.parentURL);
    const tsUrl = new URL(url.href.slice(0, -3) + '.ts');
    if (!existsSync(fileURLToPath(url)) && existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    const file = fileURLToPath(url);
    const out = ts.transpileModule(await readFile(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, inlineSourceMap: true, inlineSources: true },
    });
    return { format: 'module', source: out.outputText, shortCircuit: true };
  }
  return next(url, context);
}
`;

let loaderDir: Promise<string> | null = null;

function loaderRegistration(): Promise<string> {
  loaderDir ??= (async () => {
    const dir = await makeDir('bp-tsnode-');
    const typescriptPath = createRequire(path.join(process.cwd(), 'package.json')).resolve('typescript');
    await writeFile(path.join(dir, 'loader.mjs'), LOADER_SOURCE(typescriptPath));
    await writeFile(
      path.join(dir, 'register.mjs'),
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(dir, 'loader.mjs')).href)});\n`,
    );
    return path.join(dir, 'register.mjs');
  })();
  return loaderDir;
}

/**
 * Runs `entry` (a .ts file of this project) with `args` in a new node process. The child talks back with
 * one JSON object per stdout line, each with an `ev` field.
 */
export async function spawnTsNode(entry: string, args: string[] = [], env: Record<string, string> = {}): Promise<NodeChild> {
  const register = await loaderRegistration();
  const child = spawn(process.execPath, ['--import', pathToFileURL(register).href, entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    cwd: process.cwd(),
  });
  trackProcess(child);
  if (child.pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`cannot spawn node for ${entry}: ${err.message}`);
  }
  const pid = child.pid;
  const lines: ChildLine[] = [];
  const other: string[] = [];
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      other.push(text);
      return;
    }
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { ev?: unknown }).ev === 'string') {
      lines.push({ ...(parsed as { ev: string }), readAt: Date.now() });
      wake();
    } else {
      other.push(text);
    }
  });
  createInterface({ input: child.stderr! }).on('line', (text) => other.push(text));
  let hasExited = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      hasExited = true;
      resolve({ code, signal });
      wake();
    });
  });

  const handle: NodeChild = {
    child,
    pid,
    lines,
    exited,
    output: () => other.slice(-60).join('\n'),
    waitFor(pred, timeoutMs = 15_000, from = 0) {
      return new Promise<ChildLine>((resolve, reject) => {
        const check = (): void => {
          for (let i = from; i < lines.length; i++) {
            if (pred(lines[i]!)) {
              done();
              resolve(lines[i]!);
              return;
            }
          }
          if (hasExited) {
            done();
            reject(new Error(`child ${entry} exited before the expected line; output:\n${handle.output()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs}ms waiting for a line from ${entry}; lines: ${JSON.stringify(lines.slice(-10))}\n${handle.output()}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    pause: () => {
      process.kill(pid, 'SIGSTOP');
    },
    resume: () => {
      process.kill(pid, 'SIGCONT');
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      // A stopped process only acts on SIGKILL; let any other signal through.
      if (signal !== 'SIGKILL') process.kill(pid, 'SIGCONT');
      await exited;
    },
  };
  return handle;
}
