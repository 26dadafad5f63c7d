/**
 * The server variables the proxy reports, per flavour: what replicas, binlog clients, CDC libraries,
 * JDBC/mysql2 drivers and the discovery probe read with `SELECT @@…` and `SHOW VARIABLES`. Values come from
 * our identity, the stored binlog (SourceView) and the listener. Variables marked `session` may be changed
 * per connection with SET (the session keeps its own value); all others are read-only here.
 */
import type { Flavor, SourceIdentity } from './dump/types.js';
import type { SourceView } from './source.js';
import { int, str, type SqlValue, type TypedValue } from './sql/values.js';

/** Facts about this server that variable values are computed from. */
export interface ServerFacts {
  flavor: Flavor;
  /** The @@version text (the greeting without MariaDB's '5.5.5-' prefix). */
  version: string;
  identity: SourceIdentity;
  source: SourceView;
  hostname: string;
  port: number;
  /** Offer semi-sync to replicas (rpl_semi_sync_*_enabled = ON). */
  semiSync: boolean;
  tls: boolean;
  maxAllowedPacket: number;
  /** Default wait_timeout / interactive_timeout (s). */
  waitTimeout: number;
  systemTimeZone: string;
  compileOs: string;
  compileMachine: string;
}

export type VariableKind = 'int' | 'uint' | 'bool' | 'string';

export interface VariableDef {
  /** Lower-case name. */
  name: string;
  kind: VariableKind;
  /** Settable per session with SET [SESSION]. */
  session?: boolean;
  /** Only these flavours have the variable (absent: both). */
  flavors?: readonly Flavor[];
  value(f: ServerFacts): SqlValue;
}

function collationName(f: ServerFacts): string {
  return f.flavor === 'mariadb' ? 'utf8mb4_general_ci' : 'utf8mb4_0900_ai_ci';
}

const B = (v: boolean): bigint => (v ? 1n : 0n);

const DEFS: VariableDef[] = [
  // identity and version
  { name: 'server_id', kind: 'uint', value: (f) => BigInt(f.identity.serverId) },
  { name: 'server_uuid', kind: 'string', flavors: ['mysql'], value: (f) => f.identity.serverUuid },
  { name: 'version', kind: 'string', value: (f) => f.version },
  { name: 'version_comment', kind: 'string', value: () => 'binlog-proxy' },
  { name: 'version_compile_os', kind: 'string', value: (f) => f.compileOs },
  { name: 'version_compile_machine', kind: 'string', value: (f) => f.compileMachine },
  { name: 'protocol_version', kind: 'uint', value: () => 10n },
  { name: 'hostname', kind: 'string', value: (f) => f.hostname },
  { name: 'port', kind: 'uint', value: (f) => BigInt(f.port) },
  { name: 'report_host', kind: 'string', value: () => '' },
  { name: 'report_port', kind: 'uint', value: (f) => BigInt(f.port) },
  { name: 'license', kind: 'string', value: () => 'Apache-2.0' },
  { name: 'have_ssl', kind: 'string', value: (f) => (f.tls ? 'YES' : 'DISABLED') },
  { name: 'have_openssl', kind: 'string', value: (f) => (f.tls ? 'YES' : 'DISABLED') },
  { name: 'require_secure_transport', kind: 'bool', value: () => 0n },
  { name: 'default_authentication_plugin', kind: 'string', flavors: ['mysql'], value: () => 'caching_sha2_password' },

  // binary log
  { name: 'log_bin', kind: 'bool', value: () => 1n },
  { name: 'sql_log_bin', kind: 'bool', session: true, value: () => 1n },
  { name: 'binlog_format', kind: 'string', value: () => 'ROW' },
  { name: 'binlog_row_image', kind: 'string', value: () => 'FULL' },
  { name: 'binlog_row_metadata', kind: 'string', value: (f) => (f.flavor === 'mariadb' ? 'NO_LOG' : 'MINIMAL') },
  { name: 'binlog_checksum', kind: 'string', value: (f) => f.source.binlogChecksum() ?? 'CRC32' },
  { name: 'binlog_annotate_row_events', kind: 'bool', flavors: ['mariadb'], value: () => 1n },
  { name: 'binlog_transaction_compression', kind: 'bool', flavors: ['mysql'], value: () => 0n },
  { name: 'log_slave_updates', kind: 'bool', value: () => 1n },
  { name: 'log_replica_updates', kind: 'bool', flavors: ['mysql'], value: () => 1n },
  { name: 'read_only', kind: 'bool', value: () => 1n },
  { name: 'super_read_only', kind: 'bool', flavors: ['mysql'], value: () => 1n },
  { name: 'server_id_bits', kind: 'uint', flavors: ['mysql'], value: () => 32n },
  { name: 'skip_replication', kind: 'bool', session: true, flavors: ['mariadb'], value: () => 0n },
  { name: 'wsrep_on', kind: 'bool', flavors: ['mariadb'], value: () => 0n },

  // GTIDs
  { name: 'gtid_mode', kind: 'string', flavors: ['mysql'], value: (f) => (f.source.hasGtids() ? 'ON' : 'OFF') },
  { name: 'enforce_gtid_consistency', kind: 'string', flavors: ['mysql'], value: (f) => (f.source.hasGtids() ? 'ON' : 'OFF') },
  { name: 'gtid_executed', kind: 'string', flavors: ['mysql'], value: (f) => f.source.gtidExecuted() },
  { name: 'gtid_purged', kind: 'string', flavors: ['mysql'], value: (f) => f.source.gtidPurged() },
  { name: 'gtid_binlog_pos', kind: 'string', flavors: ['mariadb'], value: (f) => f.source.mariadbGtidBinlogPos() },
  { name: 'gtid_binlog_state', kind: 'string', flavors: ['mariadb'], value: (f) => f.source.mariadbGtidBinlogPos() },
  { name: 'gtid_current_pos', kind: 'string', flavors: ['mariadb'], value: (f) => f.source.mariadbGtidBinlogPos() },
  { name: 'gtid_slave_pos', kind: 'string', flavors: ['mariadb'], value: (f) => f.source.mariadbGtidBinlogPos() },
  { name: 'gtid_domain_id', kind: 'uint', flavors: ['mariadb'], value: () => 0n },
  { name: 'gtid_strict_mode', kind: 'bool', flavors: ['mariadb'], value: () => 0n },
  { name: 'gtid_ignore_duplicates', kind: 'bool', flavors: ['mariadb'], value: () => 0n },

  // semi-sync (the master names exist on MariaDB and on MySQL's older plugin; the source names on MySQL 8.0.26+)
  { name: 'rpl_semi_sync_master_enabled', kind: 'bool', value: (f) => B(f.semiSync) },
  { name: 'rpl_semi_sync_master_timeout', kind: 'uint', value: () => 10000n },
  { name: 'rpl_semi_sync_master_wait_point', kind: 'string', value: () => 'AFTER_SYNC' },
  { name: 'rpl_semi_sync_source_enabled', kind: 'bool', flavors: ['mysql'], value: (f) => B(f.semiSync) },
  { name: 'rpl_semi_sync_source_timeout', kind: 'uint', flavors: ['mysql'], value: () => 10000n },
  { name: 'rpl_semi_sync_source_wait_point', kind: 'string', flavors: ['mysql'], value: () => 'AFTER_SYNC' },

  // connection and session settings drivers read or set
  { name: 'max_allowed_packet', kind: 'uint', value: (f) => BigInt(f.maxAllowedPacket) },
  { name: 'net_buffer_length', kind: 'uint', value: () => 16384n },
  { name: 'wait_timeout', kind: 'uint', session: true, value: (f) => BigInt(f.waitTimeout) },
  { name: 'interactive_timeout', kind: 'uint', session: true, value: (f) => BigInt(f.waitTimeout) },
  { name: 'net_read_timeout', kind: 'uint', session: true, value: () => 30n },
  { name: 'net_write_timeout', kind: 'uint', session: true, value: () => 60n },
  { name: 'autocommit', kind: 'bool', session: true, value: () => 1n },
  { name: 'sql_mode', kind: 'string', session: true, value: () => '' },
  { name: 'time_zone', kind: 'string', session: true, value: () => 'SYSTEM' },
  { name: 'system_time_zone', kind: 'string', value: (f) => f.systemTimeZone },
  { name: 'character_set_client', kind: 'string', session: true, value: () => 'utf8mb4' },
  { name: 'character_set_connection', kind: 'string', session: true, value: () => 'utf8mb4' },
  { name: 'character_set_results', kind: 'string', session: true, value: () => 'utf8mb4' },
  { name: 'character_set_server', kind: 'string', value: () => 'utf8mb4' },
  { name: 'character_set_database', kind: 'string', value: () => 'utf8mb4' },
  { name: 'character_set_system', kind: 'string', value: () => 'utf8mb3' },
  { name: 'character_set_filesystem', kind: 'string', value: () => 'binary' },
  { name: 'collation_connection', kind: 'string', session: true, value: collationName },
  { name: 'collation_server', kind: 'string', value: collationName },
  { name: 'collation_database', kind: 'string', value: collationName },
  { name: 'init_connect', kind: 'string', value: () => '' },
  { name: 'lower_case_table_names', kind: 'uint', value: () => 0n },
  { name: 'transaction_isolation', kind: 'string', session: true, value: () => 'REPEATABLE-READ' },
  { name: 'tx_isolation', kind: 'string', session: true, value: () => 'REPEATABLE-READ' },
  { name: 'transaction_read_only', kind: 'bool', session: true, value: () => 0n },
  { name: 'tx_read_only', kind: 'bool', session: true, value: () => 0n },
  { name: 'sql_select_limit', kind: 'uint', session: true, value: () => 18446744073709551615n },
  { name: 'auto_increment_increment', kind: 'uint', session: true, value: () => 1n },
  { name: 'auto_increment_offset', kind: 'uint', session: true, value: () => 1n },
  { name: 'foreign_key_checks', kind: 'bool', session: true, value: () => 1n },
  { name: 'unique_checks', kind: 'bool', session: true, value: () => 1n },
  { name: 'sql_auto_is_null', kind: 'bool', session: true, value: () => 0n },
  { name: 'sql_safe_updates', kind: 'bool', session: true, value: () => 0n },
  { name: 'sql_notes', kind: 'bool', session: true, value: () => 1n },
  { name: 'group_concat_max_len', kind: 'uint', session: true, value: () => 1048576n },
  { name: 'max_execution_time', kind: 'uint', session: true, flavors: ['mysql'], value: () => 0n },
  { name: 'max_statement_time', kind: 'uint', session: true, flavors: ['mariadb'], value: () => 0n },
  { name: 'query_cache_size', kind: 'uint', value: () => 0n },
  { name: 'query_cache_type', kind: 'string', value: () => 'OFF' },
  { name: 'performance_schema', kind: 'bool', value: () => 0n },
  { name: 'default_storage_engine', kind: 'string', value: () => 'InnoDB' },
  { name: 'session_track_schema', kind: 'bool', session: true, value: () => 0n },
  { name: 'session_track_state_change', kind: 'bool', session: true, value: () => 0n },
  { name: 'session_track_system_variables', kind: 'string', session: true, value: () => '' },
  { name: 'session_track_transaction_info', kind: 'string', session: true, value: () => 'OFF' },
];

/** The catalogue of one flavour: lookups by lower-case name, listing sorted by name. */
export class VariableCatalogue {
  private readonly byName = new Map<string, VariableDef>();
  readonly sorted: readonly VariableDef[];

  constructor(readonly flavor: Flavor) {
    for (const d of DEFS) if (!d.flavors || d.flavors.includes(flavor)) this.byName.set(d.name, d);
    this.sorted = [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): VariableDef | undefined {
    return this.byName.get(name.toLowerCase());
  }
}

const CATALOGUES: Record<Flavor, VariableCatalogue> = {
  mysql: new VariableCatalogue('mysql'),
  mariadb: new VariableCatalogue('mariadb'),
};

export function catalogueFor(flavor: Flavor): VariableCatalogue {
  return CATALOGUES[flavor];
}

/** A variable's global value, typed for a result column. */
export function globalValue(def: VariableDef, facts: ServerFacts): TypedValue {
  const v = def.value(facts);
  if (v === null) return str(null);
  return def.kind === 'string' ? str(typeof v === 'string' ? v : v.toString()) : int(typeof v === 'bigint' ? v : BigInt(v), def.kind);
}

/**
 * Checks and normalises a value assigned with SET to a session variable: booleans accept 0/1/ON/OFF/
 * TRUE/FALSE, integers need an integer. Returns undefined when the value is not acceptable.
 */
export function normaliseSessionValue(def: VariableDef, v: SqlValue): SqlValue | undefined {
  if (v === null) return def.kind === 'string' ? '' : undefined;
  switch (def.kind) {
    case 'bool': {
      const t = (typeof v === 'bigint' ? v.toString() : v).trim().toUpperCase();
      if (t === '1' || t === 'ON' || t === 'TRUE') return 1n;
      if (t === '0' || t === 'OFF' || t === 'FALSE') return 0n;
      return undefined;
    }
    case 'int':
    case 'uint': {
      if (typeof v === 'bigint') return def.kind === 'uint' && v < 0n ? 0n : v;
      const t = v.trim();
      if (!/^[+-]?[0-9]+$/.test(t)) return undefined;
      const n = BigInt(t);
      return def.kind === 'uint' && n < 0n ? 0n : n;
    }
    case 'string':
      return typeof v === 'bigint' ? v.toString() : v;
  }
}

/** Status variables (SHOW STATUS) the proxy reports. */
export interface StatusFacts {
  flavor: Flavor;
  uptimeSeconds: number;
  threadsConnected: number;
  dumpingReplicas: number;
  semiSyncClients: number;
  semiSync: boolean;
}

export function statusVariables(s: StatusFacts): Array<[string, TypedValue]> {
  const rows: Array<[string, TypedValue]> = [
    ['Uptime', int(s.uptimeSeconds, 'uint')],
    ['Threads_connected', int(s.threadsConnected, 'uint')],
    ['Threads_running', int(1, 'uint')],
  ];
  if (s.flavor === 'mariadb') rows.push(['Slaves_connected', int(s.dumpingReplicas, 'uint')]);
  rows.push(['Rpl_semi_sync_master_clients', int(s.semiSyncClients, 'uint')]);
  rows.push(['Rpl_semi_sync_master_status', int(s.semiSync ? 1 : 0, 'bool')]);
  if (s.flavor === 'mysql') {
    rows.push(['Rpl_semi_sync_source_clients', int(s.semiSyncClients, 'uint')]);
    rows.push(['Rpl_semi_sync_source_status', int(s.semiSync ? 1 : 0, 'bool')]);
  }
  return rows.sort((a, b) => (a[0].toLowerCase() < b[0].toLowerCase() ? -1 : 1));
}
