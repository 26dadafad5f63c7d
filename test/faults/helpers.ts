// Shared pieces of the fault suite: a primary with the bookkeeping schema, a write load where every
// transaction carries a unique id, the daemon started with syncer and server, log capture for the secrets
// check, and the final comparison of primary and replica (ids, counter, CHECKSUM TABLE, GTID positions).
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { expect, inject } from 'vitest';
import { startDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { makeTempDir } from '../helpers/tmp.js';
import { checksumTables, startMariaDB, waitForReplicaCatchUp, type MariaDBInstance } from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { SECRETS } from './secrets.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { procStatusBytes } from '../../src/memory.js';

export { sleep, waitFor };

export const TABLES = ['fault.txn', 'fault.counter'];

/** A primary with the replication account and the bookkeeping schema. */
export async function startPrimary(serverId: number, extraArgs: string[] = []): Promise<MariaDBInstance> {
  const primary = await startMariaDB({ serverId, extraArgs });
  await primary.createReplicationUser('repl', SECRETS.replPassword);
  await primary.query('CREATE DATABASE fault');
  await primary.query(
    'CREATE TABLE fault.txn (uid VARCHAR(64) PRIMARY KEY, seq INT NOT NULL, payload VARBINARY(4000) NOT NULL) ENGINE=InnoDB',
  );
  await primary.query('CREATE TABLE fault.counter (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB');
  await primary.query('INSERT INTO fault.counter VALUES (1, 0)');
  return primary;
}

let logSeq = 0;
/** The log files this test file wrote (checked for secrets after the file's tests: setup-file.ts). */
export const capturedLogFiles: string[] = [];

let fallbackLogDir: string | null = null;

/** The suite's log directory (provided by global-setup.ts), or a private one when run by another config. */
function logDir(): string {
  const provided = inject('faultLogDir') as string | undefined;
  if (provided) return provided;
  if (fallbackLogDir === null) {
    const dir = mkdtempSync(join(tmpdir(), 'binlog-proxy-fault-logs-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    fallbackLogDir = dir;
  }
  return fallbackLogDir;
}

/** Writes the daemon's logs so far, and everything it logs from now on, into the suite's log directory. */
export function captureLogs(name: string, daemon: DaemonProcess): string {
  const file = join(logDir(), `${name}-${process.pid}-${logSeq++}.log`);
  appendFileSync(file, daemon.logs.join(''));
  capturedLogFiles.push(file);
  const append = (d: string | Buffer): void => appendFileSync(file, d);
  daemon.child.stdout?.on('data', append);
  daemon.child.stderr?.on('data', append);
  return file;
}

export function readLog(file: string): string {
  return readFileSync(file, 'utf8');
}

export interface Proxy {
  daemon: DaemonProcess;
  serverPort: number;
  logFile: string;
}

/** Starts the built daemon and, unless `restart` (the state files resume them), its syncer and server. */
export async function startProxy(
  name: string,
  primaryAddr: string,
  opts: { dataDir?: string; adminPort?: number; serverPort?: number; restart?: boolean; args?: string[] } = {},
): Promise<Proxy> {
  const daemon = await startDaemon({ dataDir: opts.dataDir, adminPort: opts.adminPort, args: opts.args });
  const logFile = captureLogs(name, daemon);
  const serverPort = opts.serverPort ?? (await getFreePort());
  if (!opts.restart) {
    const s = await daemon.api('PUT', '/binlog/syncer/start', {
      mysql_addr: primaryAddr,
      mysql_user: 'repl',
      mysql_password: SECRETS.replPassword,
      syncer_id: 7000 + Math.floor(Math.random() * 1000),
      start: 'earliest',
    });
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    const r = await daemon.api('PUT', '/binlog/server/start', { addr: `127.0.0.1:${serverPort}`, user: 'repl', password: SECRETS.serverPassword });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
  return { daemon, serverPort, logFile };
}

/**
 * A write load: one connection committing small transactions as fast as it can. Each transaction inserts a
 * row with a unique id and increments the counter, so a lost transaction is a missing id and a doubled one
 * is a duplicate-key error on the replica (and a counter that disagrees with the row count).
 */
export class WriteLoad {
  private conn: Connection | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private seq = 0;
  /** Transactions whose COMMIT returned OK. */
  committed = 0;
  /** Statement errors (the primary restarting, the connection killed); the load reconnects. */
  errors = 0;

  constructor(
    private readonly primary: MariaDBInstance,
    private readonly tag: string,
    private readonly payloadBytes = 200,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        this.conn ??= await this.primary.connect();
        const uid = `${this.tag}-${this.seq++}`;
        await this.conn.query('BEGIN');
        await this.conn.query('INSERT INTO fault.txn (uid, seq, payload) VALUES (?, ?, REPEAT(?, ?))', [uid, this.seq, 'p', this.payloadBytes]);
        await this.conn.query('UPDATE fault.counter SET n = n + 1 WHERE id = 1');
        await this.conn.query('COMMIT');
        this.committed++;
      } catch {
        this.errors++;
        const c = this.conn;
        this.conn = null;
        if (c) c.destroy();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.loop = null;
    if (this.conn) await this.conn.end().catch(() => this.conn?.destroy());
    this.conn = null;
  }
}

/** Waits until the proxy has stored everything the primary has binlogged. */
export async function waitForProxy(daemon: DaemonProcess, primary: MariaDBInstance, timeoutMs: number): Promise<void> {
  const target = await primary.gtidBinlogPos();
  await waitFor(
    async () => {
      const s = await daemon.api<{ data: { executed_gtid_set: string } }>('GET', '/binlog/syncer/status');
      return covers(s.body.data.executed_gtid_set, target);
    },
    timeoutMs,
    `the proxy to store ${target}`,
  );
}

/**
 * The promise of the proxy, checked end to end: the replica applied exactly the primary's transactions
 * (same ids, none missing, none doubled), the same table checksums, and its GTID position equals the
 * primary's binlog position.
 */
export async function expectReplicaEqualsPrimary(primary: MariaDBInstance, replica: MariaDBInstance, timeoutMs = 60_000): Promise<number> {
  const target = await primary.gtidBinlogPos();
  await waitForReplicaCatchUp(replica, target, timeoutMs);
  const ids = async (db: MariaDBInstance): Promise<string[]> =>
    (await db.query<RowDataPacket[]>('SELECT uid FROM fault.txn ORDER BY uid')).map((r) => String(r['uid']));
  const counter = async (db: MariaDBInstance): Promise<number> =>
    Number((await db.query<RowDataPacket[]>('SELECT n FROM fault.counter WHERE id = 1'))[0]?.['n']);
  const [pIds, rIds] = await Promise.all([ids(primary), ids(replica)]);
  const rSet = new Set(rIds);
  const missing = pIds.filter((u) => !rSet.has(u));
  const pSet = new Set(pIds);
  const extra = rIds.filter((u) => !pSet.has(u));
  expect({ missing: missing.slice(0, 10), extra: extra.slice(0, 10) }).toEqual({ missing: [], extra: [] });
  expect(rIds.length).toBe(pIds.length);
  // Every transaction incremented the counter once: a doubled one would show here.
  expect(await counter(replica)).toBe(pIds.length);
  expect(await counter(primary)).toBe(pIds.length);
  expect(await checksumTables(replica, TABLES)).toEqual(await checksumTables(primary, TABLES));
  const slavePos = (await replica.query<RowDataPacket[]>('SELECT @@GLOBAL.gtid_slave_pos AS p'))[0]?.['p'];
  expect(String(slavePos)).toBe(await primary.gtidBinlogPos());
  return pIds.length;
}

/** True when MariaDB GTID position `have` ('d-s-n,...') is at or past `want` in every domain of `want`. */
export function covers(have: string, want: string): boolean {
  const parse = (t: string): Map<string, bigint> =>
    new Map(
      t
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '')
        .map((x) => {
          const [d, , n] = x.split('-');
          return [d!, BigInt(n!)] as [string, bigint];
        }),
    );
  const h = parse(have);
  for (const [d, n] of parse(want)) if ((h.get(d) ?? -1n) < n) return false;
  return true;
}



/**
 * RSS, descriptors and sockets of a process. `anonBytes` is the part of the RSS the process holds itself (heap,
 * buffers, malloc): what a leak or a buffering server grows. The rest is file-backed, mostly the node binary and
 * LevelDB's memory-mapped table files (the kernel's page cache, bounded by LevelDB's table cache).
 */
export function processUsage(pid: number): { rssBytes: number; anonBytes: number; fds: number; sockets: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const bytes = procStatusBytes(status, field);
    if (bytes === null) throw new Error(`no ${field} in /proc/${pid}/status`);
    return bytes;
  };
  let fds = 0;
  let sockets = 0;
  for (const fd of readdirFds(pid)) {
    fds++;
    if (fd.startsWith('socket:')) sockets++;
  }
  return { rssBytes: kb('VmRSS'), anonBytes: kb('RssAnon'), fds, sockets };
}

function readdirFds(pid: number): string[] {
  const out: string[] = [];
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${name}`));
    } catch (err) {
      // The descriptor closed between readdir and readlink: it is gone, do not count it.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return out;
}

/** The built daemon for the fault suite, ready once it logs that the admin API listens (see startDaemon). */
export async function spawnDaemon(opts: { args: string[]; dataDir?: string; adminPort?: number }): Promise<DaemonProcess> {
  return startDaemon({ ...opts, dataDir: opts.dataDir ?? (await makeTempDir('bp-fault-daemon-')), readyWhen: 'log' });
}
