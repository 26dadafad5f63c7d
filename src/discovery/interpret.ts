/**
 * Pure interpretation of what the probe read: rows in, a ProbedInstance out. No I/O, so every server dialect
 * (MariaDB, MySQL before and after the 8.0.22 renames, a binlog-proxy) is unit-tested with canned rows.
 * Columns are always read by name, case-insensitively, trying the new name and then the old one.
 */
import { MysqlGtidSet, formatMariadbGtid, parseMariadbGtid, type MariadbGtid } from '../../protocol/gtid/index.js';
import { BinlogProxyError } from '../../protocol/errors.js';
import { DiscoveryError } from './errors.js';
import { formatKey } from './key.js';
import type {
  BinlogCoordinates,
  Flavor,
  GtidInfo,
  InstanceKey,
  Problem,
  ProbedInstance,
  ReplicaRef,
  ReplicationStatus,
  Role,
  SemiSyncInfo,
} from './types.js';
import type { Row } from './sql.js';

// ---------------------------------------------------------------------------------------------------------
// Scalars

/** Reads a column by any of its names (case-insensitive); undefined when none is present. */
export function column(row: Row, ...names: string[]): unknown {
  for (const name of names) {
    if (Object.hasOwn(row, name)) return row[name];
  }
  const lower = new Map(Object.keys(row).map((k) => [k.toLowerCase(), k]));
  for (const name of names) {
    const k = lower.get(name.toLowerCase());
    if (k !== undefined) return row[k];
  }
  return undefined;
}

export function asString(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return null;
}

/** A non-negative integer that fits a JS number, from a number or decimal text; else null. */
export function asInt(v: unknown): number | null {
  const s = asString(v);
  if (s === null || !/^\s*-?[0-9]+\s*$/.test(s)) return null;
  const n = Number(s.trim());
  return Number.isSafeInteger(n) ? n : null;
}

/** ON/OFF, 1/0, YES/NO, TRUE/FALSE (any case); null for anything else. */
export function asBool(v: unknown): boolean | null {
  const s = asString(v)?.trim().toUpperCase();
  if (s === 'ON' || s === '1' || s === 'YES' || s === 'TRUE') return true;
  if (s === 'OFF' || s === '0' || s === 'NO' || s === 'FALSE') return false;
  return null;
}

function nonEmpty(v: unknown): string | null {
  const s = asString(v);
  return s === null || s.trim() === '' ? null : s.trim();
}

// ---------------------------------------------------------------------------------------------------------
// Versions and the statements each server understands

export interface ServerVersion {
  major: number;
  minor: number;
  patch: number;
}

/** '8.0.36', '10.11.19-MariaDB-0+deb12u1-log', '5.5.5-10.6.4-MariaDB' (the replication-compat prefix is dropped). */
export function parseVersion(version: string): ServerVersion | null {
  const m = /^(?:5\.5\.5-)?([0-9]+)\.([0-9]+)\.([0-9]+)/.exec(version.trim());
  if (m === null) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

export function versionAtLeast(v: ServerVersion | null, major: number, minor: number, patch: number): boolean {
  if (v === null) return false;
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.patch >= patch;
}

export function detectFlavor(version: string, versionComment: string | null): Flavor {
  return /mariadb/i.test(version) || /mariadb/i.test(versionComment ?? '') ? 'mariadb' : 'mysql';
}

/** For each optional read, the statements to try in order (the first that the server accepts wins). */
export interface StatementPlan {
  replicaStatus: string[];
  binlogStatus: string[];
  replicaHosts: string[];
  dumpThreads: string[];
}

export const DUMP_THREADS_SQL =
  "SELECT ID, USER, HOST, COMMAND, TIME, STATE FROM information_schema.PROCESSLIST WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID')";

export function statementPlan(flavor: Flavor, version: string): StatementPlan {
  const v = parseVersion(version);
  if (flavor === 'mariadb') {
    return {
      replicaStatus: ['SHOW ALL SLAVES STATUS', 'SHOW SLAVE STATUS'],
      binlogStatus: versionAtLeast(v, 10, 5, 2) ? ['SHOW BINLOG STATUS', 'SHOW MASTER STATUS'] : ['SHOW MASTER STATUS'],
      replicaHosts: ['SHOW SLAVE HOSTS'],
      dumpThreads: [DUMP_THREADS_SQL, 'SHOW PROCESSLIST'],
    };
  }
  const renamed = versionAtLeast(v, 8, 0, 22);
  return {
    replicaStatus: renamed ? ['SHOW REPLICA STATUS', 'SHOW SLAVE STATUS'] : ['SHOW SLAVE STATUS'],
    binlogStatus: versionAtLeast(v, 8, 2, 0) ? ['SHOW BINARY LOG STATUS', 'SHOW MASTER STATUS'] : ['SHOW MASTER STATUS'],
    replicaHosts: renamed ? ['SHOW REPLICAS', 'SHOW SLAVE HOSTS'] : ['SHOW SLAVE HOSTS'],
    dumpThreads: [DUMP_THREADS_SQL, 'SHOW PROCESSLIST'],
  };
}

/** The global variables the probe reads (one SHOW GLOBAL VARIABLES ... WHERE Variable_name IN (...)). */
export const PROBE_VARIABLES = [
  'hostname',
  'report_host',
  'report_port',
  'port',
  'server_id',
  'server_uuid',
  'version',
  'version_comment',
  'read_only',
  'super_read_only',
  'binlog_format',
  'log_bin',
  'log_slave_updates',
  'log_replica_updates',
  'gtid_mode',
  'gtid_executed',
  'gtid_purged',
  'gtid_binlog_pos',
  'gtid_binlog_state',
  'gtid_current_pos',
  'gtid_slave_pos',
  'gtid_domain_id',
  'gtid_strict_mode',
  'rpl_semi_sync_master_enabled',
  'rpl_semi_sync_source_enabled',
  'rpl_semi_sync_slave_enabled',
  'rpl_semi_sync_replica_enabled',
  'rpl_semi_sync_master_timeout',
  'rpl_semi_sync_source_timeout',
  'rpl_semi_sync_master_wait_point',
  'rpl_semi_sync_source_wait_point',
] as const;

/** The global status counters the probe reads. */
export const PROBE_STATUS = [
  'Uptime',
  'Rpl_semi_sync_master_status',
  'Rpl_semi_sync_source_status',
  'Rpl_semi_sync_master_clients',
  'Rpl_semi_sync_source_clients',
  'Rpl_semi_sync_slave_status',
  'Rpl_semi_sync_replica_status',
] as const;

function inList(names: readonly string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

export const VARIABLES_SQL = `SHOW GLOBAL VARIABLES WHERE Variable_name IN (${inList(PROBE_VARIABLES)})`;
/** For servers that do not take the WHERE form: the two values the probe cannot do without. */
export const VARIABLES_FALLBACK_SQL = 'SELECT @@GLOBAL.server_id AS server_id, VERSION() AS version';
export const STATUS_SQL = `SHOW GLOBAL STATUS WHERE Variable_name IN (${inList(PROBE_STATUS)})`;

/** Variable_name/Value rows as a map with lower-cased names. */
export function nameValueRows(rows: readonly Row[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const row of rows) {
    const name = asString(column(row, 'Variable_name'));
    const value = asString(column(row, 'Value'));
    if (name !== null) out.set(name.toLowerCase(), value ?? '');
  }
  return out;
}

/** A single row of `SELECT ... AS name` as a map with lower-cased names. */
export function selectRowAsVariables(rows: readonly Row[]): Map<string, string> {
  const out = new Map<string, string>();
  const row = rows[0];
  if (row === undefined) return out;
  for (const [k, v] of Object.entries(row)) {
    const s = asString(v);
    if (s !== null) out.set(k.toLowerCase(), s);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Replication status rows (SHOW ALL SLAVES STATUS / SHOW REPLICA STATUS / SHOW SLAVE STATUS)

function coordinates(file: unknown, pos: unknown): BinlogCoordinates | null {
  const f = nonEmpty(file);
  const p = asInt(pos);
  return f === null || p === null ? null : { file: f, position: p };
}

/** One replication connection; null for a row without a configured source (Master_Host empty). */
export function parseReplicationRow(row: Row): ReplicationStatus | null {
  const host = nonEmpty(column(row, 'Source_Host', 'Master_Host'));
  const port = asInt(column(row, 'Source_Port', 'Master_Port'));
  if (host === null || port === null) return null;
  const ioState = asString(column(row, 'Replica_IO_Running', 'Slave_IO_Running')) ?? 'No';
  const sqlState = asString(column(row, 'Replica_SQL_Running', 'Slave_SQL_Running')) ?? 'No';
  const mariaUsingGtid = asString(column(row, 'Using_Gtid'))?.trim().toLowerCase() ?? null;
  const autoPosition = asBool(column(row, 'Auto_Position'));
  let gtidMode: ReplicationStatus['gtid_mode'] = null;
  if (mariaUsingGtid === 'slave_pos' || mariaUsingGtid === 'current_pos') gtidMode = mariaUsingGtid;
  else if (autoPosition === true) gtidMode = 'auto_position';
  const channel = asString(column(row, 'Connection_name', 'Channel_Name')) ?? '';
  return {
    channel,
    master_key: { host, port },
    master_server_id: asInt(column(row, 'Source_Server_Id', 'Master_Server_Id')),
    master_uuid: nonEmpty(column(row, 'Source_UUID', 'Master_UUID')),
    io_running: ioState.trim().toLowerCase() === 'yes',
    io_state: ioState.trim(),
    sql_running: sqlState.trim().toLowerCase() === 'yes',
    seconds_behind_master: asInt(column(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master')),
    read_position: coordinates(column(row, 'Source_Log_File', 'Master_Log_File'), column(row, 'Read_Source_Log_Pos', 'Read_Master_Log_Pos')),
    exec_position: coordinates(
      column(row, 'Relay_Source_Log_File', 'Relay_Master_Log_File'),
      column(row, 'Exec_Source_Log_Pos', 'Exec_Master_Log_Pos'),
    ),
    using_gtid: gtidMode !== null,
    gtid_mode: gtidMode,
    gtid_io_pos: nonEmpty(column(row, 'Gtid_IO_Pos', 'Retrieved_Gtid_Set')),
    last_io_errno: asInt(column(row, 'Last_IO_Errno')) ?? 0,
    last_io_error: asString(column(row, 'Last_IO_Error')) ?? '',
    last_sql_errno: asInt(column(row, 'Last_SQL_Errno')) ?? 0,
    last_sql_error: asString(column(row, 'Last_SQL_Error')) ?? '',
    sql_delay: asInt(column(row, 'SQL_Delay')),
  };
}

/** The connection that names the instance's source: the default one ('') if present, else the first. */
export function primaryChannel(channels: readonly ReplicationStatus[]): ReplicationStatus | null {
  return channels.find((c) => c.channel === '') ?? channels[0] ?? null;
}

// ---------------------------------------------------------------------------------------------------------
// Replicas (SHOW SLAVE HOSTS / SHOW REPLICAS, processlist)

export interface DumpThread {
  /** The client address without its port ('127.0.0.1' from '127.0.0.1:53874', '::1' from '[::1]:5'). */
  host: string;
  user: string | null;
}

/** Binlog dump threads among processlist rows (information_schema or SHOW PROCESSLIST). */
export function parseDumpThreads(rows: readonly Row[]): DumpThread[] {
  const out: DumpThread[] = [];
  for (const row of rows) {
    const command = asString(column(row, 'COMMAND', 'Command'))?.trim().toLowerCase();
    if (command !== 'binlog dump' && command !== 'binlog dump gtid') continue;
    const raw = nonEmpty(column(row, 'HOST', 'Host'));
    if (raw === null) continue;
    out.push({ host: stripClientPort(raw), user: nonEmpty(column(row, 'USER', 'User')) });
  }
  return out;
}

function stripClientPort(host: string): string {
  const v6 = /^\[([^\]]+)\](?::[0-9]+)?$/.exec(host);
  if (v6 !== null) return v6[1]!;
  const colons = host.split(':').length - 1;
  if (colons === 1) return host.slice(0, host.indexOf(':'));
  return host;
}

/**
 * Replicas from the registration table, completed from the processlist: a replica registered without
 * report_host gets the one client address of the dump threads when that is unambiguous. When the table is
 * unreadable, orchestrator's fallback: each dump-thread client address at the instance's own port.
 */
export function resolveReplicas(
  self: InstanceKey,
  hostRows: readonly Row[] | null,
  dumpThreads: readonly DumpThread[] | null,
  notes: string[],
): ReplicaRef[] {
  const out = new Map<string, ReplicaRef>();
  const add = (ref: ReplicaRef): void => {
    if (ref.host === self.host && ref.port === self.port) return;
    const k = formatKey(ref);
    if (!out.has(k)) out.set(k, ref);
  };
  const clientHosts = [...new Set((dumpThreads ?? []).map((t) => t.host))];
  if (hostRows !== null) {
    for (const row of hostRows) {
      const serverId = asInt(column(row, 'Server_Id', 'Server_id'));
      let host = nonEmpty(column(row, 'Host'));
      const port = asInt(column(row, 'Port'));
      if (host === null) {
        if (clientHosts.length === 1) host = clientHosts[0]!;
        else {
          notes.push(`replica server_id ${serverId ?? '?'} registered without report_host and its address is ambiguous`);
          continue;
        }
      }
      if (port === null || port === 0) {
        notes.push(`replica server_id ${serverId ?? '?'} at ${host} registered without a port`);
        continue;
      }
      add({ host, port, server_id: serverId });
    }
  } else if (dumpThreads !== null && dumpThreads.length > 0) {
    notes.push(`replicas taken from the processlist, assumed to listen on port ${self.port} like this instance`);
    for (const h of clientHosts) add({ host: h, port: self.port, server_id: null });
  }
  return [...out.values()];
}

// ---------------------------------------------------------------------------------------------------------
// The whole instance

export interface RawProbe {
  key: InstanceKey;
  variables: ReadonlyMap<string, string>;
  status: ReadonlyMap<string, string>;
  /** null when unreadable (all statements failed). */
  replicaStatusRows: readonly Row[] | null;
  binlogStatusRows: readonly Row[] | null;
  replicaHostRows: readonly Row[] | null;
  processlistRows: readonly Row[] | null;
  notes: readonly string[];
}

export interface InterpretOptions {
  /** Lag above this many seconds is the 'replication_lag' problem (orchestrator's ReasonableReplicationLagSeconds). */
  lagThresholdSeconds: number;
}

export const DEFAULT_LAG_THRESHOLD_SECONDS = 10;

function semiSync(vars: ReadonlyMap<string, string>, status: ReadonlyMap<string, string>): SemiSyncInfo {
  const v = (a: string, b: string): string | undefined => vars.get(a) ?? vars.get(b);
  const s = (a: string, b: string): string | undefined => status.get(a) ?? status.get(b);
  return {
    source_enabled: asBool(v('rpl_semi_sync_source_enabled', 'rpl_semi_sync_master_enabled')),
    source_active: asBool(s('rpl_semi_sync_source_status', 'rpl_semi_sync_master_status')),
    source_clients: asInt(s('rpl_semi_sync_source_clients', 'rpl_semi_sync_master_clients')),
    source_timeout_ms: asInt(v('rpl_semi_sync_source_timeout', 'rpl_semi_sync_master_timeout')),
    source_wait_point: nonEmpty(v('rpl_semi_sync_source_wait_point', 'rpl_semi_sync_master_wait_point')),
    replica_enabled: asBool(v('rpl_semi_sync_replica_enabled', 'rpl_semi_sync_slave_enabled')),
    replica_active: asBool(s('rpl_semi_sync_replica_status', 'rpl_semi_sync_slave_status')),
  };
}

function gtidInfo(flavor: Flavor, vars: ReadonlyMap<string, string>): GtidInfo {
  if (flavor === 'mariadb') {
    return {
      flavor,
      binlog_pos: vars.get('gtid_binlog_pos') ?? null,
      current_pos: vars.get('gtid_current_pos') ?? null,
      slave_pos: vars.get('gtid_slave_pos') ?? null,
      binlog_state: vars.get('gtid_binlog_state') ?? null,
      domain_id: asInt(vars.get('gtid_domain_id')),
      strict_mode: asBool(vars.get('gtid_strict_mode')),
    };
  }
  return {
    flavor,
    mode: nonEmpty(vars.get('gtid_mode')),
    executed: vars.get('gtid_executed')?.replace(/\s+/g, '') ?? null,
    purged: vars.get('gtid_purged')?.replace(/\s+/g, '') ?? null,
  };
}

export function computeRole(masterKey: InstanceKey | null, replicas: readonly ReplicaRef[]): Role {
  if (masterKey !== null) return replicas.length > 0 ? 'intermediate' : 'replica';
  return replicas.length > 0 ? 'primary' : 'standalone';
}

/** Replication problems (errant GTIDs are added by `withErrantGtid`, which needs the source's state). */
export function replicationProblems(channels: readonly ReplicationStatus[], opts: InterpretOptions): Problem[] {
  const problems = new Set<Problem>();
  for (const c of channels) {
    if (!c.io_running || !c.sql_running) problems.add('not_replicating');
    if (!c.io_running) problems.add('io_thread_stopped');
    if (!c.sql_running) problems.add('sql_thread_stopped');
    if (c.last_io_errno !== 0) problems.add('io_error');
    if (c.last_sql_errno !== 0) problems.add('sql_error');
    if (c.seconds_behind_master !== null && c.seconds_behind_master > opts.lagThresholdSeconds) problems.add('replication_lag');
  }
  return [...problems];
}

export function buildInstance(raw: RawProbe, opts: InterpretOptions): ProbedInstance {
  const vars = raw.variables;
  const notes = [...raw.notes];
  const serverId = asInt(vars.get('server_id'));
  const version = nonEmpty(vars.get('version'));
  if (serverId === null || version === null) {
    throw new DiscoveryError(
      'ERR_DISCOVERY_IO',
      `${formatKey(raw.key)} did not report ${serverId === null ? 'server_id' : 'version'}: not a MySQL/MariaDB server?`,
    );
  }
  const versionComment = nonEmpty(vars.get('version_comment'));
  const flavor = detectFlavor(version, versionComment);

  const channels = (raw.replicaStatusRows ?? []).map(parseReplicationRow).filter((c): c is ReplicationStatus => c !== null);
  const replication = primaryChannel(channels);
  if (channels.length > 1) {
    notes.push(`${channels.length} replication connections; master_key is connection '${replication?.channel ?? ''}'`);
  }

  const dumpThreads = raw.processlistRows === null ? null : parseDumpThreads(raw.processlistRows);
  const replicas = resolveReplicas(raw.key, raw.replicaHostRows, dumpThreads, notes);

  const binlogRow = raw.binlogStatusRows?.[0];
  const binlog = binlogRow === undefined ? null : coordinates(column(binlogRow, 'File'), column(binlogRow, 'Position'));
  const logBin = asBool(vars.get('log_bin')) ?? binlog !== null;
  const gtid = gtidInfo(flavor, vars);
  if (gtid.flavor === 'mysql' && gtid.executed === null && binlogRow !== undefined) {
    gtid.executed = nonEmpty(column(binlogRow, 'Executed_Gtid_Set'))?.replace(/\s+/g, '') ?? null;
  }

  const masterKey = replication?.master_key ?? null;
  return {
    key: raw.key,
    flavor,
    version,
    version_comment: versionComment,
    hostname: nonEmpty(vars.get('hostname')),
    report_host: nonEmpty(vars.get('report_host')),
    report_port: asInt(vars.get('report_port')),
    server_id: serverId,
    server_uuid: nonEmpty(vars.get('server_uuid')),
    read_only: asBool(vars.get('read_only')) ?? false,
    super_read_only: asBool(vars.get('super_read_only')),
    log_bin: logBin,
    binlog_format: nonEmpty(vars.get('binlog_format')),
    log_replica_updates: asBool(vars.get('log_replica_updates') ?? vars.get('log_slave_updates')),
    binlog,
    gtid,
    semi_sync: semiSync(vars, raw.status),
    master_key: masterKey,
    replication,
    replication_channels: channels,
    replicas,
    binlog_dump_threads: dumpThreads === null ? null : dumpThreads.length,
    role: computeRole(masterKey, replicas),
    problems: replicationProblems(channels, opts),
    uptime_seconds: asInt(raw.status.get('uptime')),
    gtid_errant: null,
    notes,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Errant GTIDs

function mariadbStateEntries(text: string | null): MariadbGtid[] {
  if (text === null || text.trim() === '') return [];
  return text.split(',').filter((p) => p.trim() !== '').map((p) => parseMariadbGtid(p));
}

/**
 * Transactions written on a replica itself that its source does not have (orchestrator's GtidErrant).
 * Local writes carry the replica's own identity: MariaDB's server_id in gtid_binlog_state, MySQL's
 * server_uuid in gtid_executed. Without the source's state (`source` null) every such transaction
 * counts; with it, those the source also has (e.g. from before a failover) do not.
 * Returns the errant GTIDs as text, or null when there are none or the sets are unreadable.
 */
export function errantGtid(replica: ProbedInstance, source: ProbedInstance | null): string | null {
  if (replica.master_key === null) return null;
  try {
    if (replica.gtid.flavor === 'mariadb') {
      const own = mariadbStateEntries(replica.gtid.binlog_state).filter((g) => g.serverId === replica.server_id);
      if (own.length === 0) return null;
      const sourceState = source !== null && source.gtid.flavor === 'mariadb' ? mariadbStateEntries(source.gtid.binlog_state) : [];
      const errant = own.filter(
        (g) => !sourceState.some((s) => s.domainId === g.domainId && s.serverId === g.serverId && s.seqNo >= g.seqNo),
      );
      return errant.length === 0 ? null : errant.map(formatMariadbGtid).join(',');
    }
    if (replica.server_uuid === null || replica.gtid.executed === null) return null;
    const executed = MysqlGtidSet.parse(replica.gtid.executed);
    const uuid = replica.server_uuid.toLowerCase();
    let own = MysqlGtidSet.empty();
    for (const sid of executed.sids()) {
      if (sid.uuid !== uuid) continue;
      for (const [start, end] of executed.intervals(sid.uuid, sid.tag)) own.addInterval(sid.uuid, sid.tag, start, end);
    }
    if (source !== null && source.gtid.flavor === 'mysql' && source.gtid.executed !== null) {
      own = own.subtract(MysqlGtidSet.parse(source.gtid.executed));
    }
    return own.isEmpty() ? null : own.toString();
  } catch (err) {
    if (err instanceof BinlogProxyError) return null;
    throw err;
  }
}

/** The instance with `gtid_errant` and the 'errant_gtid' problem set from `errantGtid`. */
export function withErrantGtid<T extends ProbedInstance>(replica: T, source: ProbedInstance | null): T {
  const errant = errantGtid(replica, source);
  const problems: Problem[] = replica.problems.filter((p) => p !== 'errant_gtid');
  if (errant !== null) problems.push('errant_gtid');
  return { ...replica, gtid_errant: errant, problems };
}
