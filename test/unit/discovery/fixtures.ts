// Canned servers for discovery unit tests: SQL in, rows out, shaped like MariaDB 10.11 / MySQL 8.x answers
// (column names and value types as mysql2 returns them with supportBigNumbers + bigNumberStrings).
import { DiscoveryError } from '../../../src/discovery/errors.js';
import { formatKey } from '../../../src/discovery/key.js';
import type { Row, SqlConnector, SqlSession } from '../../../src/discovery/sql.js';
import type { Instance, InstanceKey } from '../../../src/discovery/types.js';

export type Answer = (sql: string) => Row[];

export interface FakeMariaDB {
  serverId: number;
  host?: string;
  port: number;
  version?: string;
  readOnly?: boolean;
  logBin?: boolean;
  source?: { host: string; port: number; serverId: number } | null;
  ioRunning?: 'Yes' | 'No' | 'Connecting';
  sqlRunning?: 'Yes' | 'No';
  lag?: number | null;
  lastSqlErrno?: number;
  lastSqlError?: string;
  lastIoErrno?: number;
  lastIoError?: string;
  replicas?: Array<{ host: string; port: number; serverId: number }>;
  binlogState?: string;
  binlogPos?: string;
  uptime?: number;
  semiSyncMaster?: boolean;
  /** Statements that answer with an ERR packet (1064 unless given). */
  reject?: Record<string, number>;
}

export function serverError(sql: string, errno: number, text = 'You have an error in your SQL syntax'): DiscoveryError {
  return new DiscoveryError('ERR_DISCOVERY_SERVER_ERROR', `fake ${sql}: ${text} (${errno})`, {
    details: { errno, sql_state: '42000', server_message: text },
  });
}

/** An answer function with MariaDB 10.11's statement set and column names. */
export function mariadbAnswer(f: FakeMariaDB): (sql: string) => Row[] {
  const host = f.host ?? '127.0.0.1';
  const binlogPos = f.binlogPos ?? `0-${f.source?.serverId ?? f.serverId}-5`;
  const vars: Record<string, string> = {
    hostname: 'db-host',
    report_host: host,
    report_port: String(f.port),
    port: String(f.port),
    server_id: String(f.serverId),
    version: f.version ?? '10.11.19-MariaDB-0+deb12u1-log',
    version_comment: 'Debian 12',
    read_only: f.readOnly ? 'ON' : 'OFF',
    binlog_format: 'ROW',
    log_bin: f.logBin === false ? 'OFF' : 'ON',
    log_slave_updates: 'ON',
    gtid_binlog_pos: binlogPos,
    gtid_binlog_state: f.binlogState ?? binlogPos,
    gtid_current_pos: binlogPos,
    gtid_slave_pos: f.source ? binlogPos : '',
    gtid_domain_id: '0',
    gtid_strict_mode: 'OFF',
    rpl_semi_sync_master_enabled: f.semiSyncMaster ? 'ON' : 'OFF',
    rpl_semi_sync_slave_enabled: 'OFF',
    rpl_semi_sync_master_timeout: '10000',
    rpl_semi_sync_master_wait_point: 'AFTER_SYNC',
  };
  const status: Record<string, string> = {
    Uptime: String(f.uptime ?? 120),
    Rpl_semi_sync_master_status: f.semiSyncMaster ? 'ON' : 'OFF',
    Rpl_semi_sync_master_clients: '0',
    Rpl_semi_sync_slave_status: 'OFF',
  };
  const slaveRow = (): Row[] =>
    f.source
      ? [
          {
            Connection_name: '',
            Slave_IO_State: 'Waiting for master to send event',
            Master_Host: f.source.host,
            Master_User: 'repl',
            Master_Port: f.source.port,
            Master_Log_File: 'bin.000001',
            Read_Master_Log_Pos: 729,
            Relay_Master_Log_File: 'bin.000001',
            Slave_IO_Running: f.ioRunning ?? 'Yes',
            Slave_SQL_Running: f.sqlRunning ?? 'Yes',
            Exec_Master_Log_Pos: 729,
            Seconds_Behind_Master: f.lag === undefined ? 0 : f.lag,
            Last_IO_Errno: f.lastIoErrno ?? 0,
            Last_IO_Error: f.lastIoError ?? '',
            Last_SQL_Errno: f.lastSqlErrno ?? 0,
            Last_SQL_Error: f.lastSqlError ?? '',
            Master_Server_Id: f.source.serverId,
            Using_Gtid: 'Slave_Pos',
            Gtid_IO_Pos: binlogPos,
            SQL_Delay: 0,
          },
        ]
      : [];
  return (sql: string): Row[] => {
    const rejected = f.reject?.[sql];
    if (rejected !== undefined) throw serverError(sql, rejected);
    if (sql.startsWith('SHOW GLOBAL VARIABLES WHERE')) {
      return Object.entries(vars)
        .filter(([k]) => sql.includes(`'${k}'`))
        .map(([Variable_name, Value]) => ({ Variable_name, Value }));
    }
    if (sql.startsWith('SELECT @@GLOBAL.server_id')) return [{ server_id: f.serverId, version: vars['version'] }];
    if (sql.startsWith('SHOW GLOBAL STATUS WHERE')) {
      return Object.entries(status)
        .filter(([k]) => sql.includes(`'${k}'`))
        .map(([Variable_name, Value]) => ({ Variable_name, Value }));
    }
    if (sql === 'SHOW ALL SLAVES STATUS' || sql === 'SHOW SLAVE STATUS') {
      return sql === 'SHOW SLAVE STATUS' ? slaveRow().map(({ Connection_name: _c, ...rest }) => rest) : slaveRow();
    }
    if (sql === 'SHOW BINLOG STATUS' || sql === 'SHOW MASTER STATUS') {
      return f.logBin === false ? [] : [{ File: 'bin.000001', Position: 729, Binlog_Do_DB: '', Binlog_Ignore_DB: '' }];
    }
    if (sql === 'SHOW SLAVE HOSTS') {
      return (f.replicas ?? []).map((r) => ({ Server_id: r.serverId, Host: r.host, Port: r.port, Master_id: f.serverId }));
    }
    if (sql.startsWith('SELECT ID, USER, HOST, COMMAND')) {
      return (f.replicas ?? []).map((r, i) => ({
        ID: i + 10,
        USER: 'repl',
        HOST: `${r.host}:${40000 + i}`,
        COMMAND: 'Binlog Dump',
        TIME: 5,
        STATE: 'Master has sent all binlog to slave; waiting for more updates',
      }));
    }
    throw serverError(sql, 1064);
  };
}

export interface FakeNetwork {
  connector: SqlConnector;
  /** Every statement each instance received, in order. */
  log: Map<string, string[]>;
  /** Connections opened and not closed. */
  open(): number;
  /** Probes started per instance. */
  connects: Map<string, number>;
}

/**
 * A connector over canned answers: instances by `host:port`; an address without an answer refuses the
 * connection, like a closed port. `fail` makes connecting to an address throw the given error.
 */
export function fakeNetwork(
  answers: Map<string, Answer>,
  opts: { fail?: Map<string, DiscoveryError>; delayMs?: number } = {},
): FakeNetwork {
  const log = new Map<string, string[]>();
  const connects = new Map<string, number>();
  let openCount = 0;
  const connector: SqlConnector = async (key: InstanceKey) => {
    const k = formatKey(key);
    connects.set(k, (connects.get(k) ?? 0) + 1);
    if (opts.delayMs !== undefined) await new Promise((r) => setTimeout(r, opts.delayMs));
    const failure = opts.fail?.get(k);
    if (failure !== undefined) throw failure;
    const answer = answers.get(k);
    if (answer === undefined) throw new DiscoveryError('ERR_DISCOVERY_REFUSED', `${k} connect: connection refused`);
    openCount++;
    let closed = false;
    const session: SqlSession = {
      query: async (sql: string) => {
        if (!log.has(k)) log.set(k, []);
        log.get(k)!.push(sql);
        return answer(sql);
      },
      close: async () => {
        if (!closed) openCount--;
        closed = true;
      },
    };
    return session;
  };
  return { connector, log, open: () => openCount, connects };
}

/** A complete stored instance with neutral values, for store and graph tests. */
export function sampleInstance(host: string, port: number, serverId = port): Instance {
  return {
    key: { host, port },
    flavor: 'mariadb',
    version: '10.11.19-MariaDB',
    version_comment: null,
    hostname: 'h',
    report_host: null,
    report_port: null,
    server_id: serverId,
    server_uuid: null,
    read_only: false,
    super_read_only: null,
    log_bin: true,
    binlog_format: 'ROW',
    log_replica_updates: true,
    binlog: { file: 'bin.000001', position: 4 },
    gtid: { flavor: 'mariadb', binlog_pos: '', current_pos: '', slave_pos: '', binlog_state: '', domain_id: 0, strict_mode: false },
    semi_sync: {
      source_enabled: null,
      source_active: null,
      source_clients: null,
      source_timeout_ms: null,
      source_wait_point: null,
      replica_enabled: null,
      replica_active: null,
    },
    master_key: null,
    replication: null,
    replication_channels: [],
    replicas: [],
    binlog_dump_threads: 0,
    role: 'standalone',
    problems: [],
    uptime_seconds: 1,
    gtid_errant: null,
    notes: [],
    first_seen_at: '2024-01-01T00:00:00.000Z',
    last_checked_at: '2024-01-01T00:00:00.000Z',
    last_seen_at: '2024-01-01T00:00:00.000Z',
    last_check_valid: true,
    last_error: null,
  };
}
