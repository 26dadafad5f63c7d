/**
 * Optional passthrough: read-only statements the proxy does not answer itself (information_schema queries,
 * SHOW CREATE TABLE, snapshot SELECTs of CDC tools) are run on the primary, with the syncer's credentials,
 * over one mysql2 connection per client session, opened on first use. The answer is streamed back with
 * backpressure (the primary's connection pauses while the client's socket is full), and the primary's
 * column definitions and ERR packets reach the client unchanged.
 *
 * Read-only is enforced twice: the router forwards only statements that start with SELECT/SHOW/DESCRIBE/
 * EXPLAIN/... and contain no locking or INTO clause, and the primary session is put in
 * `SET SESSION TRANSACTION READ ONLY` before the first statement.
 */
import type { Connection, FieldPacket, QueryError, ResultSetHeader } from 'mysql2';
import type { Logger } from '../logger.js';
import type { ColumnDefinition } from '../../protocol/resultset.js';
import { MysqlServerError } from '../../protocol/generic.js';
import { SqlError } from './errors.js';

/** Where passthrough connects (the syncer's primary and credentials), or null when unknown. */
export interface PassthroughTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  ssl?: { rejectUnauthorized: boolean; ca?: string } | null;
}

/** Where the primary's answer goes (the session writes it to the client). */
export interface PassthroughSink {
  ok(ok: { affectedRows: number; insertId: number; warnings: number; info: string }): void;
  columns(cols: ColumnDefinition[]): void;
  /** Returns false when the client's socket is full. */
  row(values: Array<Buffer | null>): boolean;
  drained(): Promise<void>;
  end(warnings: number): void;
}

function unavailable(message: string, cause?: unknown): SqlError {
  return new SqlError(1105, 'HY000', `passthrough to the primary failed: ${message}`, { cause });
}

/** mysql2, loaded on the first passthrough query (most daemons never forward one). */
let mysql2: Promise<typeof import('mysql2')> | null = null;
function loadMysql2(): Promise<typeof import('mysql2')> {
  return (mysql2 ??= import('mysql2').then((m) => m.default));
}

export class PassthroughSession {
  private connection: Connection | null = null;
  private opening: Promise<Connection> | null = null;
  private database: string | null = null;

  constructor(
    private readonly target: () => PassthroughTarget | null,
    private readonly log: Logger,
    private readonly connectTimeoutMs = 10_000,
  ) {}

  private async connect(database: string | null): Promise<Connection> {
    const t = this.target();
    if (!t) throw unavailable('no primary is configured (start the syncer first)');
    const conn = (await loadMysql2()).createConnection({
      host: t.host,
      port: t.port,
      user: t.user,
      password: t.password,
      database: database ?? undefined,
      connectTimeout: this.connectTimeoutMs,
      ssl: t.ssl ?? undefined,
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: false,
      connectAttributes: { program_name: 'binlog-proxy-passthrough' },
    });
    conn.on('error', (err: Error) => {
      this.log.warn({ err: err.message }, 'passthrough connection error');
      if (this.connection === conn) this.connection = null;
    });
    await new Promise<void>((resolve, reject) => {
      conn.connect((err) => (err ? reject(err) : resolve()));
    }).catch((err: unknown) => {
      conn.destroy();
      throw toSqlError(err);
    });
    await runSimple(conn, 'SET SESSION TRANSACTION READ ONLY');
    this.database = database;
    return conn;
  }

  private async get(database: string | null): Promise<Connection> {
    if (this.connection && this.database !== database && database !== null) {
      await runSimple(this.connection, `USE \`${database.replace(/`/g, '``')}\``);
      this.database = database;
    }
    if (this.connection) return this.connection;
    if (!this.opening) {
      this.opening = this.connect(database).finally(() => {
        this.opening = null;
      });
    }
    this.connection = await this.opening;
    return this.connection;
  }

  /** Runs `sql` on the primary and streams the answer into `sink`. Rejects with SqlError/MysqlServerError. */
  async execute(sql: string, database: string | null, sink: PassthroughSink): Promise<void> {
    const conn = await this.get(database);
    await new Promise<void>((resolve, reject) => {
      let columnsSent = false;
      let settled = false;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      const q = conn.query({ sql, rowsAsArray: true, typeCast: false });
      q.on('fields', (fields: FieldPacket[]) => {
        columnsSent = true;
        sink.columns(fields.map(toColumnDefinition));
      });
      q.on('result', (row: unknown) => {
        if (!columnsSent) {
          const h = row as ResultSetHeader;
          sink.ok({ affectedRows: h.affectedRows ?? 0, insertId: h.insertId ?? 0, warnings: h.warningStatus ?? 0, info: h.info ?? '' });
          return;
        }
        if (!sink.row(row as Array<Buffer | null>)) {
          conn.pause();
          sink.drained().then(
            () => conn.resume(),
            (err: unknown) => finish(err),
          );
        }
      });
      q.on('error', (err: QueryError) => finish(toSqlError(err)));
      q.on('end', () => {
        if (columnsSent) sink.end(0);
        finish();
      });
    });
  }

  close(): void {
    const c = this.connection;
    this.connection = null;
    if (c) c.destroy();
  }
}

function runSimple(conn: Connection, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.query(sql, (err) => (err ? reject(toSqlError(err)) : resolve()));
  });
}

function toSqlError(err: unknown): SqlError | MysqlServerError {
  const e = err as QueryError & { sqlMessage?: string };
  if (typeof e?.errno === 'number' && typeof e.sqlState === 'string' && e.sqlState.length === 5 && e.errno < 2000) {
    return new MysqlServerError(e.errno, e.sqlState, e.sqlMessage ?? e.message);
  }
  return unavailable(e instanceof Error ? e.message : String(err), err);
}

function toColumnDefinition(f: FieldPacket): ColumnDefinition {
  const raw = f as FieldPacket & { columnType?: number; characterSet?: number; columnLength?: number; flags?: number; decimals?: number };
  return {
    catalog: f.catalog ?? 'def',
    schema: f.schema ?? f.db ?? '',
    table: f.table ?? '',
    orgTable: f.orgTable ?? '',
    name: f.name,
    orgName: f.orgName ?? '',
    characterSet: (raw.characterSet ?? 63) & 0xffff,
    columnLength: (raw.columnLength ?? 0) >>> 0,
    type: (raw.columnType ?? raw.type ?? 0xfd) & 0xff,
    flags: (typeof raw.flags === 'number' ? raw.flags : 0) & 0xffff,
    decimals: (raw.decimals ?? 0) & 0xff,
  };
}
