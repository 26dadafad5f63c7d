// Real MariaDB servers for integration and end-to-end tests.
//
// startMariaDB() starts a private mariadbd that has nothing to do with the system server on 3306:
//   - datadir: a fresh copy of a per-process template (made once, lazily, by mariadb-install-db plus a
//     bootstrap that gives root the password ROOT_PASSWORD for root@localhost and root@127.0.0.1);
//   - --no-defaults, so /etc/mysql is ignored; --user=root; bound to 127.0.0.1 on a port picked at run time
//     (a new port is tried when the bind fails with "Address already in use");
//   - socket, pid file, error log (the server's stderr), binlogs (bin.NNNNNN) and relay logs inside the datadir.
// Clean-up is layered: tests call destroy() in afterAll; a process 'exit' hook SIGKILLs every server still
// running and removes the datadirs; and a tiny reaper shell, which sees EOF on its stdin when this process
// dies however it dies (even SIGKILL), does the same for servers left behind by a hard kill.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { Connection, ConnectionOptions, Pool, RowDataPacket } from 'mysql2/promise';
import { getFreePort } from './ports.js';
import { onExitOrFatalSignal, spawnReaper } from './cleanup.js';

// ---------------------------------------------------------------------------------------------------------
// Public types

export interface MariaDBOptions {
  /** Default: unique per instance within this process (101, 102, ...). */
  serverId?: number;
  /** Default true: --log-bin=bin, so binlogs are <datadir>/bin.000001, ... */
  logBin?: boolean;
  /** Default 'ROW'. */
  binlogFormat?: 'ROW' | 'STATEMENT' | 'MIXED';
  /** Default 'CRC32'. */
  binlogChecksum?: 'CRC32' | 'NONE';
  /** Default 0. */
  gtidDomainId?: number;
  /** Default false. */
  gtidStrictMode?: boolean;
  /** Default false. */
  logSlaveUpdates?: boolean;
  /** rpl_semi_sync_master_enabled=ON with rpl_semi_sync_master_wait_point=AFTER_SYNC (built into 10.11). */
  semiSyncMaster?: boolean;
  /** Any other server options, e.g. ['--max-binlog-size=4096', '--sync-binlog=1']; they come last and win. */
  extraArgs?: string[];
  /** Default '1G' (the server's maximum), enough for 100+ MB rows and transactions. */
  maxAllowedPacket?: string;
}

export type ResolvedMariaDBOptions = Required<MariaDBOptions>;

/** Options for `connect()`: any mysql2 connection option; host and port are the instance's. */
export type ConnectOptions = Omit<ConnectionOptions, 'host' | 'port'>;

export interface MariaDBInstance {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Unix socket path (inside the datadir). */
  readonly socket: string;
  readonly datadir: string;
  readonly serverId: number;
  readonly rootUser: 'root';
  /** Password of root@127.0.0.1 and root@localhost. */
  readonly rootPassword: string;
  /** The server's stderr (its error log), appended across restarts. */
  readonly errorLogPath: string;
  readonly options: ResolvedMariaDBOptions;
  /** True while the mariadbd process is alive. */
  readonly running: boolean;
  /** Pid of the running mariadbd, or null. */
  readonly pid: number | null;
  /** Milliseconds the last successful start took (spawn to first good query). */
  readonly lastStartupMs: number;
  /** Errors reported by idle connections from connect() (e.g. the server went away); kept, not thrown. */
  readonly connectionErrors: readonly Error[];
  /**
   * Runs `sql` (text protocol, `?` placeholders escaped client-side, several statements allowed) on a
   * pooled root connection. Returns the rows for SELECT/SHOW, the result header (ResultSetHeader) otherwise,
   * and an array of those for several statements. Each call may use a different pooled connection: run a
   * multi-statement transaction in one call ('BEGIN; ...; COMMIT') or on a connection from `connect()`.
   * BIGINT values that do not fit a JS number come back as strings (supportBigNumbers).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- callers choose the row type; `any` is the mysql2 convention
  query<T = any>(sql: string, params?: unknown[]): Promise<T>;
  /** A new connection, as root unless `opts.user` is given (then `opts.password`, default ''). Caller ends it. */
  connect(opts?: ConnectOptions): Promise<Connection>;
  /**
   * CREATE OR REPLACE USER user@'%' with the given password and auth plugin (default mysql_native_password;
   * every instance loads auth_ed25519), then GRANT REPLICATION SLAVE (binlog dump), BINLOG MONITOR
   * (= REPLICATION CLIENT in 10.11: SHOW BINARY LOGS, SHOW MASTER STATUS, SHOW BINLOG EVENTS) and
   * REPLICATION MASTER ADMIN (SHOW SLAVE HOSTS) ON *.*. Both statements are binlogged (two GTIDs), like
   * any user change on a real primary; read gtidBinlogPos() afterwards if a test counts transactions.
   */
  createReplicationUser(user: string, password: string, plugin?: 'mysql_native_password' | 'ed25519'): Promise<void>;
  /** Absolute paths of the binlog files from SHOW BINARY LOGS, oldest first ([] when logBin is false). */
  binlogFiles(): Promise<string[]>;
  /** @@GLOBAL.gtid_binlog_pos, e.g. '0-101-7' ('' before the first transaction). */
  gtidBinlogPos(): Promise<string>;
  /** Clean shutdown (SIGTERM, wait for exit); keeps the datadir. No-op when not running. */
  stop(): Promise<void>;
  /** Start again on the same port and datadir (crash recovery runs if it was killed). */
  start(): Promise<void>;
  /** SIGKILL and wait for the process to be gone; keeps the datadir. No-op when not running. */
  kill(): Promise<void>;
  /** Kill if running and remove the datadir. Idempotent. The instance cannot be started again. */
  destroy(): Promise<void>;
  /** Last `lines` (default 40) lines of the server's error log, for failure messages. */
  logTail(lines?: number): string;
}

export interface MariaDBBinaries {
  mariadbd: string;
  installDb: string;
  client: string;
  binlog: string;
}

export interface ReplicaOptions extends MariaDBOptions {
  primary: { host: string; port: number };
  user: string;
  password: string;
  /** MASTER_USE_GTID. With 'no', replication starts at logFile/logPos (default: the primary's first binlog). */
  useGtid: 'slave_pos' | 'current_pos' | 'no';
  logFile?: string;
  logPos?: number;
  /** MASTER_CONNECT_RETRY in seconds; default 1 so the replica reconnects quickly after a restart. */
  connectRetrySeconds?: number;
  /** MASTER_HEARTBEAT_PERIOD in seconds; server default when omitted. */
  heartbeatPeriodSeconds?: number;
  /** Default true: START SLAVE after CHANGE MASTER. */
  startSlave?: boolean;
}

/** The root password of every instance (root@127.0.0.1 and root@localhost). */
export const ROOT_PASSWORD = 'binlog-proxy-test-root';

// ---------------------------------------------------------------------------------------------------------
// Binaries

const BINARY_NAMES: Readonly<Record<keyof MariaDBBinaries, string>> = {
  mariadbd: 'mariadbd',
  installDb: 'mariadb-install-db',
  client: 'mariadb',
  binlog: 'mariadb-binlog',
};

/** $PATH plus the sbin directories (mariadbd lives in /usr/sbin, which a non-root PATH may lack). */
export function defaultBinarySearchPath(): string {
  const dirs = (process.env.PATH ?? '').split(path.delimiter);
  for (const extra of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin']) {
    if (!dirs.includes(extra)) dirs.push(extra);
  }
  return dirs.filter((d) => d !== '').join(path.delimiter);
}

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function findExecutable(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = path.resolve(dir, name);
    let isExecutableFile: boolean;
    try {
      const st = statSync(candidate, { throwIfNoEntry: false });
      isExecutableFile = st !== undefined && st.isFile() && (st.mode & 0o111) !== 0;
    } catch (err) {
      // A PATH entry that is a file, or a directory we may not read, simply does not hold the binary.
      if (errnoCode(err) === 'ENOTDIR' || errnoCode(err) === 'EACCES') continue;
      throw err;
    }
    if (isExecutableFile) return candidate;
  }
  return undefined;
}

/**
 * Absolute paths of the MariaDB binaries found in `searchPath` (a PATH-style list; default
 * `defaultBinarySearchPath()`). Throws an Error with the install command when any is missing.
 */
export function requireMariaDBBinaries(searchPath: string = defaultBinarySearchPath()): MariaDBBinaries {
  const dirs = searchPath.split(path.delimiter);
  const found: Partial<MariaDBBinaries> = {};
  const missing: string[] = [];
  for (const key of Object.keys(BINARY_NAMES) as (keyof MariaDBBinaries)[]) {
    const hit = findExecutable(BINARY_NAMES[key], dirs);
    if (hit === undefined) missing.push(BINARY_NAMES[key]);
    else found[key] = hit;
  }
  if (missing.length > 0) {
    throw new Error(
      `MariaDB server binaries not found (${missing.join(', ')} missing; searched ${searchPath || '(empty path)'}). ` +
        'Install them with:\n  apt-get install -y mariadb-server mariadb-client   (or run .ci/run, which does it)',
    );
  }
  return found as MariaDBBinaries;
}

/**
 * The path of a server plugin (e.g. `file_key_management`) in the plugin dir of the `mariadbd` found. Throws
 * an Error with the install command when it is not there.
 */
export function requireMariaDBPlugin(name: string): string {
  const help = spawnSync(requireMariaDBBinaries().mariadbd, ['--no-defaults', '--verbose', '--help'], { encoding: 'utf8' });
  const dir = /^plugin-dir\s+(\S+)/m.exec(help.stdout ?? '')?.[1];
  const file = dir === undefined ? undefined : path.join(dir, `${name}.so`);
  if (file === undefined || !existsSync(file)) {
    throw new Error(
      `MariaDB plugin ${name} not found (${file ?? 'mariadbd --verbose --help names no plugin-dir'}). ` +
        'Install it with:\n  apt-get install -y mariadb-server   (or run .ci/run, which does it)',
    );
  }
  return file;
}

// ---------------------------------------------------------------------------------------------------------
// Small process utilities

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** Resolves with `promise`, or with `onTimeout()` after `ms`; never leaves a timer behind. */
async function withTimeout<T, U>(promise: Promise<T>, ms: number, onTimeout: () => U): Promise<T | U> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<U>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function lastLines(text: string, lines: number): string {
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  return all.slice(-lines).join('\n');
}

/** Runs a command to completion; throws with its output when it fails. */
function runCommand(file: string, args: string[], opts: { stdin?: string; what: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.once('error', (err) => reject(new Error(`${opts.what}: cannot run ${file}: ${err.message}`, { cause: err })));
    child.once('close', (code, signal) => {
      if (code === 0) {
        resolve();
        return;
      }
      const output = lastLines(Buffer.concat(chunks).toString('utf8'), 40);
      reject(new Error(`${opts.what} failed (exit ${code ?? signal}):\n${output}`));
    });
    child.stdin.on('error', (err) => reject(new Error(`${opts.what}: writing stdin failed: ${err.message}`, { cause: err })));
    child.stdin.end(opts.stdin ?? '');
  });
}

// ---------------------------------------------------------------------------------------------------------
// Per-process state: a root temp dir (template + datadirs), the reaper, the live instances

// Reads "add PID" / "del PID" lines; at EOF (this process is gone) SIGKILLs the PIDs still listed, waits
// (bounded) for them to die, then removes the root dir ($1). Ignores SIGINT/SIGHUP so Ctrl-C on the
// terminal reaches it only as EOF, after the test process died.
const REAPER_SCRIPT = `
trap '' INT HUP
root="$1"
pids=" "
while read -r cmd pid; do
  case "$cmd" in
    add) pids="$pids$pid " ;;
    del) pids=$(printf '%s' "$pids" | sed "s/ $pid / /") ;;
  esac
done
for p in $pids; do kill -9 "$p" 2>/dev/null; done
for p in $pids; do
  n=0
  while [ "$n" -lt 100 ]; do
    state=$(sed -n 's/^State:[[:space:]]*\\([A-Z]\\).*/\\1/p' "/proc/$p/status" 2>/dev/null)
    if [ -z "$state" ] || [ "$state" = Z ]; then break; fi
    sleep 0.05; n=$((n + 1))
  done
done
rm -rf -- "$root" 2>/dev/null || { sleep 0.2; rm -rf -- "$root"; }
`;

const TEMPLATE_INNODB_ARGS = ['--innodb-buffer-pool-size=64M', '--innodb-log-file-size=8M'];

const BOOTSTRAP_SQL = `
DELETE FROM mysql.global_priv WHERE User = 'root' AND Host NOT IN ('localhost', '127.0.0.1');
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost', '127.0.0.1');
FLUSH PRIVILEGES;
ALTER USER 'root'@'localhost' IDENTIFIED BY '${ROOT_PASSWORD}';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '${ROOT_PASSWORD}';
`;

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 60_000;
const KILL_TIMEOUT_MS = 10_000;
const MAX_PORT_ATTEMPTS = 5;
const MAX_SOCKET_PATH = 107;

let rootDir: string | null = null;
let rootDirPromise: Promise<string> | null = null;
let templatePromise: Promise<string> | null = null;
let exitHookInstalled = false;
let nextServerId = 101;
let nextInstanceNo = 1;
const liveInstances = new Set<MariaDBServer>();

function onProcessExit(): void {
  for (const inst of liveInstances) inst.killSync();
  for (const inst of liveInstances) {
    rmSync(inst.datadir, { recursive: true, force: true, maxRetries: 3 });
    rmSync(`${inst.datadir}-tmp`, { recursive: true, force: true, maxRetries: 3 });
  }
  liveInstances.clear();
  if (rootDir !== null) rmSync(rootDir, { recursive: true, force: true, maxRetries: 3 });
}

let tellReaper: (line: string) => void = () => undefined;

function processRoot(): Promise<string> {
  if (rootDirPromise === null) {
    if (!exitHookInstalled) {
      onExitOrFatalSignal(onProcessExit);
      exitHookInstalled = true;
    }
    rootDirPromise = mkdtemp(path.join(tmpdir(), 'bp-mdb-')).then((dir) => {
      rootDir = dir;
      tellReaper = spawnReaper(REAPER_SCRIPT, 'binlog-proxy-mariadb-reaper', [dir]);
      return dir;
    });
  }
  return rootDirPromise;
}

let templateMs = 0;

/** Milliseconds the template datadir took to build in this process (0 until built). */
export function templateBuildMs(): number {
  return templateMs;
}

function templateDatadir(bins: MariaDBBinaries): Promise<string> {
  if (templatePromise === null) {
    templatePromise = (async () => {
      const started = Date.now();
      const dir = path.join(await processRoot(), 'template');
      // A private tmpdir: concurrent bootstraps sharing /tmp collided on their temporary-table files
      // ("Error on delete of '/tmp/#sql-temptable-…'").
      const tmp = path.join(await processRoot(), 'template-tmp');
      await mkdir(tmp, { recursive: true });
      await runCommand(
        bins.installDb,
        [
          '--no-defaults',
          '--auth-root-authentication-method=normal',
          `--datadir=${dir}`,
          '--user=root',
          '--skip-test-db',
          '--skip-name-resolve',
          `--tmpdir=${tmp}`,
          ...TEMPLATE_INNODB_ARGS,
        ],
        { what: 'mariadb-install-db' },
      );
      await runCommand(
        bins.mariadbd,
        ['--no-defaults', '--bootstrap', `--datadir=${dir}`, `--tmpdir=${tmp}`, '--user=root', '--log-warnings=0', ...TEMPLATE_INNODB_ARGS],
        { stdin: BOOTSTRAP_SQL, what: 'mariadbd --bootstrap (root password)' },
      );
      templateMs = Date.now() - started;
      return dir;
    })();
    // A failed build is not cached: the next start tries again (and reports the error again).
    templatePromise.catch(() => {
      templatePromise = null;
    });
  }
  return templatePromise;
}

// ---------------------------------------------------------------------------------------------------------
// The instance

function onOff(value: boolean): 'ON' | 'OFF' {
  return value ? 'ON' : 'OFF';
}

function resolveOptions(opts: MariaDBOptions): ResolvedMariaDBOptions {
  const serverId = opts.serverId ?? nextServerId++;
  if (!Number.isInteger(serverId) || serverId < 1 || serverId > 0xffffffff) {
    throw new Error(`startMariaDB: serverId must be an integer in 1..4294967295, got ${serverId}`);
  }
  return {
    serverId,
    logBin: opts.logBin ?? true,
    binlogFormat: opts.binlogFormat ?? 'ROW',
    binlogChecksum: opts.binlogChecksum ?? 'CRC32',
    gtidDomainId: opts.gtidDomainId ?? 0,
    gtidStrictMode: opts.gtidStrictMode ?? false,
    logSlaveUpdates: opts.logSlaveUpdates ?? false,
    semiSyncMaster: opts.semiSyncMaster ?? false,
    extraArgs: [...(opts.extraArgs ?? [])],
    maxAllowedPacket: opts.maxAllowedPacket ?? '1G',
  };
}

class ServerExitedError extends Error {
  constructor(
    message: string,
    readonly bindConflict: boolean,
  ) {
    super(message);
    this.name = 'ServerExitedError';
  }
}

class MariaDBServer implements MariaDBInstance {
  readonly host = '127.0.0.1' as const;
  readonly rootUser = 'root' as const;
  readonly rootPassword = ROOT_PASSWORD;
  readonly socket: string;
  readonly errorLogPath: string;
  readonly serverId: number;
  readonly connectionErrors: Error[] = [];
  lastStartupMs = 0;

  private currentPort = 0;
  private child: ChildProcess | null = null;
  private exited: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  private pool: Pool | null = null;
  private destroyed = false;

  constructor(
    readonly datadir: string,
    readonly options: ResolvedMariaDBOptions,
    private readonly bins: MariaDBBinaries,
  ) {
    this.serverId = options.serverId;
    this.socket = path.join(datadir, 'mysqld.sock');
    this.errorLogPath = path.join(datadir, 'error.log');
    if (Buffer.byteLength(this.socket) > MAX_SOCKET_PATH) {
      throw new Error(`socket path too long for a unix socket (${this.socket}); set TMPDIR to a shorter directory`);
    }
  }

  get port(): number {
    return this.currentPort;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  private args(): string[] {
    const o = this.options;
    const args = [
      '--no-defaults', // must be first
      `--datadir=${this.datadir}`,
      '--user=root',
      '--bind-address=127.0.0.1',
      `--port=${this.currentPort}`,
      `--socket=${this.socket}`,
      `--pid-file=${path.join(this.datadir, 'mysqld.pid')}`,
      `--tmpdir=${this.datadir}-tmp`,
      `--server-id=${o.serverId}`,
      '--skip-name-resolve',
      ...TEMPLATE_INNODB_ARGS,
      `--max-allowed-packet=${o.maxAllowedPacket}`,
      `--binlog-format=${o.binlogFormat}`,
      `--binlog-checksum=${o.binlogChecksum}`,
      `--gtid-domain-id=${o.gtidDomainId}`,
      `--gtid-strict-mode=${onOff(o.gtidStrictMode)}`,
      `--log-slave-updates=${onOff(o.logSlaveUpdates)}`,
      '--relay-log=relay-bin',
      // Every instance has ed25519, so a replica can apply a replicated CREATE USER ... VIA ed25519.
      '--plugin-load-add=auth_ed25519',
      '--report-host=127.0.0.1',
      `--report-port=${this.currentPort}`,
    ];
    if (o.logBin) args.push('--log-bin=bin');
    if (o.semiSyncMaster) {
      args.push('--rpl-semi-sync-master-enabled=ON', '--rpl-semi-sync-master-wait-point=AFTER_SYNC');
    }
    args.push(...o.extraArgs);
    return args;
  }

  private logSize(): number {
    return statSync(this.errorLogPath, { throwIfNoEntry: false })?.size ?? 0;
  }

  private logSince(offset: number): string {
    const size = this.logSize();
    if (size <= offset) return '';
    const fd = openSync(this.errorLogPath, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      const n = readSync(fd, buf, 0, buf.length, offset);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  logTail(lines = 40): string {
    const text = statSync(this.errorLogPath, { throwIfNoEntry: false }) ? readFileSync(this.errorLogPath, 'utf8') : '';
    return lastLines(text, lines);
  }

  private describe(): string {
    return `MariaDB server-id ${this.serverId} on 127.0.0.1:${this.currentPort} (datadir ${this.datadir})`;
  }

  /** Spawns mariadbd (stderr and stdout appended to the error log). */
  private spawnServer(): ChildProcess {
    const logFd = openSync(this.errorLogPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.bins.mariadbd, this.args(), { stdio: ['ignore', logFd, logFd], detached: false });
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    this.exited = new Promise<ExitInfo>((resolve) => {
      child.once('error', (error) => {
        if (this.child === child) this.child = null;
        resolve({ code: null, signal: null, error });
      });
      child.once('exit', (code, signal) => {
        if (child.pid !== undefined) tellReaper(`del ${child.pid}`);
        if (this.child === child) this.child = null;
        resolve({ code, signal });
      });
    });
    if (child.pid !== undefined) tellReaper(`add ${child.pid}`);
    return child;
  }

  /**
   * One readiness probe: a root connection over TCP that reaches *this* server (checked by @@datadir, since
   * another process may have taken the port). Resolves with null when ready, else with why not; never rejects.
   */
  private async probe(): Promise<string | null> {
    try {
      const conn = await mysql.createConnection({
        host: this.host,
        port: this.currentPort,
        user: 'root',
        password: ROOT_PASSWORD,
        connectTimeout: 2_000,
      });
      try {
        const [rows] = await conn.query<RowDataPacket[]>('SELECT @@datadir AS datadir');
        const datadir = path.resolve(String(rows[0]?.['datadir']));
        if (datadir === path.resolve(this.datadir)) return null;
        return `port ${this.currentPort} answered with another server (datadir ${datadir})`;
      } finally {
        await conn.end();
      }
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  /** Polls until the server answers, bounded; fails as soon as the process exits (with its log). */
  private async waitReady(child: ChildProcess, logOffset: number): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError = 'no attempt yet';
    const exited = this.exited.then(() => 'exited' as const);
    for (;;) {
      // A probe can hang until connectTimeout on a port that accepts but never answers; the exit wins then.
      const outcome = this.child === child ? await Promise.race([this.probe(), exited]) : 'exited';
      if (outcome === null) return;
      if (outcome === 'exited') {
        const exit = await this.exited;
        const log = this.logSince(logOffset);
        const bindConflict = /Address already in use|Bind on TCP\/IP port/.test(log);
        const how = exit.error ? `could not be spawned (${exit.error.message})` : `exited (code ${exit.code}, signal ${exit.signal})`;
        throw new ServerExitedError(`${this.describe()} ${how} during start-up. Error log:\n${lastLines(log, 40)}`, bindConflict);
      }
      lastError = outcome;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.describe()} not ready after ${READY_TIMEOUT_MS} ms (last error: ${lastError}). Error log:\n` +
            lastLines(this.logSince(logOffset), 40),
        );
      }
      await delay(50);
    }
  }

  /** One start attempt on the current port; on failure the process is gone and the error says why. */
  private async startOnce(): Promise<void> {
    await this.closePool(); // connections from before a crash are dead
    const started = Date.now();
    const logOffset = this.logSize();
    const child = this.spawnServer();
    try {
      await this.waitReady(child, logOffset);
    } catch (err) {
      await this.killProcess();
      throw err;
    }
    this.lastStartupMs = Date.now() - started;
  }

  /** First start: picks a free port, and another one if the bind races with someone else. */
  async firstStart(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.currentPort = await getFreePort(this.host);
      try {
        await this.startOnce();
        return;
      } catch (err) {
        if (!(err instanceof ServerExitedError && err.bindConflict) || attempt >= MAX_PORT_ATTEMPTS) throw err;
      }
    }
  }

  async start(): Promise<void> {
    if (this.destroyed) throw new Error(`${this.describe()} was destroyed; start a new instance instead`);
    if (this.child !== null) return;
    await this.startOnce();
  }

  private getPool(): Pool {
    if (this.destroyed) throw new Error(`${this.describe()} was destroyed`);
    if (this.child === null) throw new Error(`${this.describe()} is not running`);
    this.pool ??= mysql.createPool({
      host: this.host,
      port: this.currentPort,
      user: 'root',
      password: ROOT_PASSWORD,
      connectionLimit: 4,
      multipleStatements: true,
      supportBigNumbers: true,
    });
    return this.pool;
  }

  private async closePool(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    if (pool !== null) await pool.end();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see MariaDBInstance.query
  async query<T = any>(sql: string, params?: unknown[]): Promise<T> {
    const [result] = await this.getPool().query(sql, params);
    return result as T;
  }

  async connect(opts: ConnectOptions = {}): Promise<Connection> {
    if (this.child === null) throw new Error(`${this.describe()} is not running`);
    const user = opts.user ?? 'root';
    const conn = await mysql.createConnection({
      supportBigNumbers: true,
      ...opts,
      user,
      password: opts.password ?? (user === 'root' ? ROOT_PASSWORD : ''),
      host: this.host,
      port: this.currentPort,
    });
    // An idle connection whose server goes away (stop/kill in a restart test) emits 'error'; unhandled, that
    // would crash the test process. Keep it for inspection instead; the next query on it fails anyway.
    conn.on('error', (err: Error) => {
      this.connectionErrors.push(err);
    });
    return conn;
  }

  async createReplicationUser(
    user: string,
    password: string,
    plugin: 'mysql_native_password' | 'ed25519' = 'mysql_native_password',
  ): Promise<void> {
    if (plugin === 'ed25519') {
      await this.query("CREATE OR REPLACE USER ?@'%' IDENTIFIED VIA ed25519 USING PASSWORD(?)", [user, password]);
    } else {
      await this.query("CREATE OR REPLACE USER ?@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(?)", [
        user,
        password,
      ]);
    }
    await this.query("GRANT REPLICATION SLAVE, BINLOG MONITOR, REPLICATION MASTER ADMIN ON *.* TO ?@'%'", [user]);
  }

  async binlogFiles(): Promise<string[]> {
    if (!this.options.logBin) return [];
    const rows = await this.query<RowDataPacket[]>('SHOW BINARY LOGS');
    return rows.map((row) => path.join(this.datadir, String(row['Log_name'])));
  }

  async gtidBinlogPos(): Promise<string> {
    const rows = await this.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS pos');
    return String(rows[0]?.['pos'] ?? '');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    await this.closePool();
    child.kill('SIGTERM');
    const exit = await withTimeout(this.exited, STOP_TIMEOUT_MS, () => null);
    if (exit === null) {
      await this.killProcess();
      throw new Error(`${this.describe()} did not shut down within ${STOP_TIMEOUT_MS} ms; killed. Error log:\n${this.logTail()}`);
    }
  }

  /** SIGKILL the process (if any) and wait until it is gone. */
  private async killProcess(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    child.kill('SIGKILL');
    const exit = await withTimeout(this.exited, KILL_TIMEOUT_MS, () => null);
    if (exit === null) throw new Error(`${this.describe()}: pid ${child.pid} still alive ${KILL_TIMEOUT_MS} ms after SIGKILL`);
  }

  async kill(): Promise<void> {
    if (this.child === null) return;
    await this.closePool();
    await this.killProcess();
  }

  /** For the process 'exit' hook: no waiting possible there. */
  killSync(): void {
    this.child?.kill('SIGKILL');
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      await this.closePool();
      await this.kill();
    } finally {
      await rm(this.datadir, { recursive: true, force: true, maxRetries: 3 });
      await rm(`${this.datadir}-tmp`, { recursive: true, force: true, maxRetries: 3 });
      liveInstances.delete(this);
    }
  }
}

/** Starts a private MariaDB server (see the top of this file); call `destroy()` when done (afterAll). */
export async function startMariaDB(opts: MariaDBOptions = {}): Promise<MariaDBInstance> {
  const bins = requireMariaDBBinaries();
  const options = resolveOptions(opts);
  const template = await templateDatadir(bins);
  const root = await processRoot();
  const datadir = path.join(root, `i${nextInstanceNo++}`);
  await cp(template, datadir, { recursive: true });
  await mkdir(`${datadir}-tmp`, { recursive: true });
  const inst = new MariaDBServer(datadir, options, bins);
  liveInstances.add(inst);
  try {
    await inst.firstStart();
  } catch (err) {
    await inst.destroy();
    throw err;
  }
  return inst;
}

// ---------------------------------------------------------------------------------------------------------
// Replication helpers

/**
 * Starts a new instance and makes it a replica of `opts.primary`: CHANGE MASTER TO ... (MASTER_USE_GTID as
 * given), then START SLAVE unless `startSlave: false`. On failure the new instance is destroyed.
 */
export async function startReplica(opts: ReplicaOptions): Promise<MariaDBInstance> {
  const { primary, user, password, useGtid, logFile, logPos, connectRetrySeconds, heartbeatPeriodSeconds, startSlave, ...serverOpts } =
    opts;
  if (useGtid !== 'no' && (logFile !== undefined || logPos !== undefined)) {
    throw new Error(`startReplica: logFile/logPos only apply with useGtid 'no' (got useGtid '${useGtid}')`);
  }
  const replica = await startMariaDB(serverOpts);
  try {
    const parts = ['MASTER_HOST = ?', 'MASTER_PORT = ?', 'MASTER_USER = ?', 'MASTER_PASSWORD = ?', 'MASTER_CONNECT_RETRY = ?'];
    const params: unknown[] = [primary.host, primary.port, user, password, connectRetrySeconds ?? 1];
    if (heartbeatPeriodSeconds !== undefined) {
      parts.push('MASTER_HEARTBEAT_PERIOD = ?');
      params.push(heartbeatPeriodSeconds);
    }
    parts.push(`MASTER_USE_GTID = ${useGtid}`);
    if (logFile !== undefined) {
      parts.push('MASTER_LOG_FILE = ?');
      params.push(logFile);
    }
    if (logPos !== undefined) {
      parts.push('MASTER_LOG_POS = ?');
      params.push(logPos);
    }
    await replica.query(`CHANGE MASTER TO ${parts.join(', ')}`, params);
    if (startSlave ?? true) await replica.query('START SLAVE');
  } catch (err) {
    await replica.destroy();
    throw err;
  }
  return replica;
}

/** The SHOW SLAVE STATUS row of the default connection, or null when the instance is not a replica. */
export async function replicaStatus(replica: MariaDBInstance): Promise<RowDataPacket | null> {
  const rows = await replica.query<RowDataPacket[]>('SHOW SLAVE STATUS');
  return rows[0] ?? null;
}

function statusSummary(status: RowDataPacket | null): string {
  if (status === null) return 'not a replica (SHOW SLAVE STATUS is empty)';
  const keys = ['Slave_IO_Running', 'Slave_SQL_Running', 'Last_IO_Errno', 'Last_IO_Error', 'Last_SQL_Errno', 'Last_SQL_Error', 'Gtid_IO_Pos', 'Using_Gtid'];
  return keys.map((k) => `${k}=${String(status[k])}`).join(', ');
}

/**
 * Waits until `replica` has applied every GTID in `primaryGtidPos` (MASTER_GTID_WAIT on gtid_slave_pos).
 * Fails fast when the SQL thread stops with an error; I/O errors are tolerated (the replica retries, e.g.
 * while a proxy restarts) until `timeoutMs`. The error names the slave status and the replica's log tail.
 */
export async function waitForReplicaCatchUp(
  replica: MariaDBInstance,
  primaryGtidPos: string,
  timeoutMs = 30_000,
): Promise<void> {
  if (primaryGtidPos.trim() === '') return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await replica.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, 0.2) AS r', [primaryGtidPos]);
    if (Number(rows[0]?.['r']) === 0) return;
    const status = await replicaStatus(replica);
    if (status !== null && Number(status['Last_SQL_Errno']) !== 0) {
      throw new Error(`replica server-id ${replica.serverId} SQL thread failed before ${primaryGtidPos}: ${statusSummary(status)}`);
    }
    if (Date.now() > deadline) {
      const slavePos = await replica.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_slave_pos AS pos');
      throw new Error(
        `replica server-id ${replica.serverId} did not reach ${primaryGtidPos} within ${timeoutMs} ms ` +
          `(gtid_slave_pos=${String(slavePos[0]?.['pos'])}; ${statusSummary(status)}). Replica error log:\n${replica.logTail(20)}`,
      );
    }
  }
}

/**
 * CHECKSUM TABLE for `tables` ('db.table'), as { 'db.table': checksum } with the checksum as a decimal
 * string (null for a missing table). Compare a primary's and a replica's results with toEqual.
 */
export async function checksumTables(instance: MariaDBInstance, tables: string[]): Promise<Record<string, string | null>> {
  if (tables.length === 0) throw new Error('checksumTables: no tables given');
  const quoted = tables.map((t) => {
    const parts = t.split('.');
    if (parts.length !== 2 || parts.some((p) => p === '')) throw new Error(`checksumTables: expected 'db.table', got '${t}'`);
    return parts.map((p) => mysql.escapeId(p)).join('.');
  });
  const rows = await instance.query<RowDataPacket[]>(`CHECKSUM TABLE ${quoted.join(', ')}`);
  const result: Record<string, string | null> = {};
  for (const row of rows) {
    const checksum = row['Checksum'] as unknown;
    result[String(row['Table'])] = checksum === null || checksum === undefined ? null : String(checksum);
  }
  return result;
}
