/**
 * The discovered-instance model (what `GET /api/discover/:host/:port` returns as Details, what the store keeps).
 * Field names are snake_case because they are the external contract (interface.md, "Discovery API").
 */

/** One MySQL/MariaDB instance (or anything that speaks the protocol, e.g. a binlog-proxy), by address. */
export interface InstanceKey {
  host: string;
  port: number;
}

export type Flavor = 'mysql' | 'mariadb';

export type Role = 'primary' | 'replica' | 'intermediate' | 'standalone';

/** Orchestrator-style problem names (plus a few finer-grained ones). */
export type Problem =
  | 'not_replicating'
  | 'io_thread_stopped'
  | 'sql_thread_stopped'
  | 'io_error'
  | 'sql_error'
  | 'replication_lag'
  | 'errant_gtid'
  | 'last_check_invalid';

export interface BinlogCoordinates {
  file: string;
  position: number;
}

/** MySQL: gtid_mode, gtid_executed, gtid_purged, server_uuid. */
export interface MysqlGtidInfo {
  flavor: 'mysql';
  mode: string | null;
  executed: string | null;
  purged: string | null;
}

/** MariaDB: gtid_binlog_pos, gtid_current_pos, gtid_slave_pos (+ the per-server binlog state and domain). */
export interface MariadbGtidInfo {
  flavor: 'mariadb';
  binlog_pos: string | null;
  current_pos: string | null;
  slave_pos: string | null;
  binlog_state: string | null;
  domain_id: number | null;
  strict_mode: boolean | null;
}

export type GtidInfo = MysqlGtidInfo | MariadbGtidInfo;

/** Semi-synchronous replication: the configured switches (variables) and what is active now (status). */
export interface SemiSyncInfo {
  /** rpl_semi_sync_source_enabled / rpl_semi_sync_master_enabled; null when the plugin is absent. */
  source_enabled: boolean | null;
  /** Rpl_semi_sync_source_status / Rpl_semi_sync_master_status: ON while commits wait for an ACK. */
  source_active: boolean | null;
  /** Rpl_semi_sync_source_clients / Rpl_semi_sync_master_clients. */
  source_clients: number | null;
  source_timeout_ms: number | null;
  source_wait_point: string | null;
  /** rpl_semi_sync_replica_enabled / rpl_semi_sync_slave_enabled. */
  replica_enabled: boolean | null;
  /** Rpl_semi_sync_replica_status / Rpl_semi_sync_slave_status. */
  replica_active: boolean | null;
}

/** One replication connection (MariaDB multi-source connection or MySQL channel) read by column name. */
export interface ReplicationStatus {
  /** MariaDB Connection_name / MySQL Channel_Name; '' for the default one. */
  channel: string;
  /** Where this connection replicates from, as configured (canonicalised by the discovery service). */
  master_key: InstanceKey;
  master_server_id: number | null;
  master_uuid: string | null;
  io_running: boolean;
  /** Slave_IO_Running as the server says it: 'Yes', 'No', 'Connecting', 'Preparing'. */
  io_state: string;
  sql_running: boolean;
  seconds_behind_master: number | null;
  /** Master_Log_File / Read_Master_Log_Pos: how far the IO thread has read. */
  read_position: BinlogCoordinates | null;
  /** Relay_Master_Log_File / Exec_Master_Log_Pos: how far the SQL thread has applied. */
  exec_position: BinlogCoordinates | null;
  using_gtid: boolean;
  /** MariaDB Using_Gtid ('slave_pos' / 'current_pos'), MySQL 'auto_position'; null when not using GTID. */
  gtid_mode: 'slave_pos' | 'current_pos' | 'auto_position' | null;
  /** MariaDB Gtid_IO_Pos / MySQL Retrieved_Gtid_Set. */
  gtid_io_pos: string | null;
  last_io_errno: number;
  last_io_error: string;
  last_sql_errno: number;
  last_sql_error: string;
  sql_delay: number | null;
}

/** A replica the instance knows about (SHOW SLAVE HOSTS / SHOW REPLICAS, or its processlist). */
export interface ReplicaRef {
  host: string;
  port: number;
  /** null when the replica was seen only in the processlist (no registration). */
  server_id: number | null;
}

/** What one probe reads from an instance (no timestamps; keys as the server reports them). */
export interface ProbedInstance {
  key: InstanceKey;
  flavor: Flavor;
  version: string;
  version_comment: string | null;
  hostname: string | null;
  report_host: string | null;
  report_port: number | null;
  server_id: number;
  server_uuid: string | null;
  read_only: boolean;
  super_read_only: boolean | null;
  log_bin: boolean;
  binlog_format: string | null;
  log_replica_updates: boolean | null;
  binlog: BinlogCoordinates | null;
  gtid: GtidInfo;
  semi_sync: SemiSyncInfo;
  /** The default connection's (or the only connection's) source; null when not a replica. */
  master_key: InstanceKey | null;
  /** The replication connection `master_key` comes from; null when not a replica. */
  replication: ReplicationStatus | null;
  /** Every replication connection (multi-source / multi-channel), `replication` included. */
  replication_channels: ReplicationStatus[];
  replicas: ReplicaRef[];
  /** Binlog dump threads in the processlist (connected replicas and binlog clients); null when unreadable. */
  binlog_dump_threads: number | null;
  role: Role;
  problems: Problem[];
  uptime_seconds: number | null;
  /**
   * Transactions written on this replica itself that its source lacks (orchestrator's GtidErrant), as GTID
   * text; null when there are none (or the instance is not a replica).
   */
  gtid_errant: string | null;
  /** Optional statements that failed, and other caveats ("SHOW SLAVE HOSTS: ... (1227)"). */
  notes: string[];
}

/** A stored instance: the last successful probe plus orchestrator's bookkeeping. */
export interface Instance extends ProbedInstance {
  /** When discovery first saw the instance answer. */
  first_seen_at: string;
  /** When discovery last tried to read the instance (success or failure). */
  last_checked_at: string;
  /** When the instance last answered a probe. */
  last_seen_at: string;
  /** False when the last attempt failed (the other fields are from the last good probe). */
  last_check_valid: boolean;
  /** The last attempt's error when it failed, else null. */
  last_error: string | null;
}

/** `GET /api/cluster/:hint`. */
export interface ClusterNode {
  key: InstanceKey;
  /** False for an address known only from a neighbour (listed as a replica or a source, never read). */
  discovered: boolean;
  instance: Instance | null;
}

export interface ClusterEdge {
  /** The source (primary) side. */
  source: InstanceKey;
  replica: InstanceKey;
}

export interface ClusterGraph {
  /** Orchestrator's cluster name: the topmost source's `host:port`. */
  cluster_name: string;
  /** Sources that replicate from nobody in the graph (usually one). */
  roots: InstanceKey[];
  nodes: ClusterNode[];
  edges: ClusterEdge[];
}
