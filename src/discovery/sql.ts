/**
 * The probe's view of an instance: a session that runs one statement at a time and returns rows as objects
 * keyed by column name. The mysql2 adapter below enforces the connect timeout, the per-query timeout and an
 * overall deadline, and turns every failure into a DiscoveryError (never leaking the password).
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { DiscoveryError, redactSecrets } from './errors.js';
import { formatKey } from './key.js';
import type { InstanceKey } from './types.js';

export type Row = Readonly<Record<string, unknown>>;

export interface SqlSession {
  /** Rows of a SELECT/SHOW ([] for statements without a result set). Throws DiscoveryError. */
  query(sql: string): Promise<Row[]>;
  /** Ends the session (COM_QUIT, bounded); never throws. */
  close(): Promise<void>;
}

export interface SqlConnectOptions {
  user: string;
  password: string;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  /** Absolute time (ms since the epoch) after which everything fails with ERR_DISCOVERY_TIMEOUT. */
  deadline: number;
}

export type SqlConnector = (key: InstanceKey, opts: SqlConnectOptions) => Promise<SqlSession>;

const CLOSE_TIMEOUT_MS = 1_000;

interface DriverError {
  code?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  sqlMessage?: unknown;
  message?: unknown;
}

/** Maps a mysql2 (or socket) error to the discovery catalogue. `what` names the step for the message. */
export function mapDriverError(err: unknown, key: InstanceKey, what: string, secrets: ReadonlyArray<string | null>): DiscoveryError {
  if (err instanceof DiscoveryError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as DriverError;
  const code = typeof e.code === 'string' ? e.code : '';
  const where = formatKey(key);
  const clean = (s: string): string => redactSecrets(s, secrets);
  if (typeof e.sqlState === 'string' && typeof e.errno === 'number' && e.errno > 0) {
    const text = typeof e.sqlMessage === 'string' ? e.sqlMessage : String(e.message);
    return new DiscoveryError(
      'ERR_DISCOVERY_SERVER_ERROR',
      clean(`${where} ${what}: ${text} (${code || 'error'} ${e.errno}, SQLSTATE ${e.sqlState})`),
      { cause: err, details: { errno: e.errno, sql_state: e.sqlState, server_message: clean(text) } },
    );
  }
  switch (code) {
    case 'ECONNREFUSED':
      return new DiscoveryError('ERR_DISCOVERY_REFUSED', `${where} ${what}: connection refused`, { cause: err });
    case 'ETIMEDOUT':
    case 'PROTOCOL_SEQUENCE_TIMEOUT':
      return new DiscoveryError('ERR_DISCOVERY_TIMEOUT', `${where} ${what}: timed out`, { cause: err });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new DiscoveryError('ERR_DISCOVERY_UNREACHABLE', `${where} ${what}: ${code}`, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DiscoveryError('ERR_DISCOVERY_UNRESOLVED', `${where} ${what}: cannot resolve the host (${code})`, { cause: err });
    default: {
      const text = typeof e.message === 'string' ? e.message : String(err);
      return new DiscoveryError('ERR_DISCOVERY_IO', clean(`${where} ${what}: ${text}${code ? ` (${code})` : ''}`), { cause: err });
    }
  }
}

function timeoutError(key: InstanceKey, what: string, ms: number): DiscoveryError {
  return new DiscoveryError('ERR_DISCOVERY_TIMEOUT', `${formatKey(key)} ${what}: timed out after ${ms} ms`);
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms`. A hard stop behind the driver's own
 * timers (which only count inactivity); never leaves a timer behind.
 */
async function within<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

class Mysql2Session implements SqlSession {
  private closed = false;

  constructor(
    private readonly conn: Connection,
    private readonly key: InstanceKey,
    private readonly opts: SqlConnectOptions,
  ) {}

  async query(sql: string): Promise<Row[]> {
    if (this.closed) throw new DiscoveryError('ERR_DISCOVERY_IO', `${formatKey(this.key)}: session already closed`);
    const remaining = this.opts.deadline - Date.now();
    if (remaining <= 0) throw timeoutError(this.key, sql, 0);
    const timeout = Math.min(this.opts.queryTimeoutMs, remaining);
    const secrets = [this.opts.password];
    let result: unknown;
    try {
      // The driver's timeout covers a silent server; `within` also covers one that trickles bytes.
      [result] = await within(this.conn.query<RowDataPacket[]>({ sql, timeout }), timeout + 50, () =>
        timeoutError(this.key, sql, timeout),
      );
    } catch (err) {
      const mapped = mapDriverError(err, this.key, sql, secrets);
      // After a timeout or a broken connection the session is unusable; a server error leaves it fine.
      if (mapped.code !== 'ERR_DISCOVERY_SERVER_ERROR') this.destroy();
      throw mapped;
    }
    if (!Array.isArray(result)) return [];
    // A multi-result answer (a stored procedure) is not something the probe sends; take the first set.
    const rows = result.length > 0 && Array.isArray(result[0]) ? (result[0] as unknown[]) : result;
    return rows.filter((r): r is Row => typeof r === 'object' && r !== null && !Array.isArray(r));
  }

  private destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.conn.destroy();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await within(this.conn.end(), CLOSE_TIMEOUT_MS, () => timeoutError(this.key, 'COM_QUIT', CLOSE_TIMEOUT_MS));
    } catch {
      // The probe's answer is already complete; a server that does not say goodbye is just cut off.
      this.conn.destroy();
    }
  }
}

/** mysql2/promise, loaded by the first probe (a daemon that discovers nothing never loads it). */
let mysql2: Promise<typeof import('mysql2/promise')> | null = null;
function loadMysql2(): Promise<typeof import('mysql2/promise')> {
  return (mysql2 ??= import('mysql2/promise').then((m) => m.default));
}

/** The production connector: mysql2/promise, one plain connection per probe, BIGINTs as strings. */
export const mysql2Connector: SqlConnector = async (key, opts) => {
  const mysql = await loadMysql2();
  const remaining = opts.deadline - Date.now();
  if (remaining <= 0) throw timeoutError(key, 'connect', 0);
  const connectTimeout = Math.min(opts.connectTimeoutMs, remaining);
  const secrets = [opts.password];
  const pending = mysql.createConnection({
    host: key.host,
    port: key.port,
    user: opts.user,
    password: opts.password,
    connectTimeout,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    multipleStatements: false,
    connectAttributes: { program_name: 'binlog-proxy-discovery' },
  });
  let conn: Connection;
  try {
    conn = await within(pending, connectTimeout + 100, () => timeoutError(key, 'connect', connectTimeout));
  } catch (err) {
    // If our hard stop won the race, the driver may still finish the handshake later: close that connection.
    // Its own failure, if it fails instead, is the one we already reported.
    pending.then(
      (late) => late.destroy(),
      () => undefined,
    );
    throw mapDriverError(err, key, 'connect', secrets);
  }
  // A connection that dies while idle emits 'error'; the next query reports it, so only keep it quiet here.
  conn.on('error', () => undefined);
  return new Mysql2Session(conn, key, opts);
};
