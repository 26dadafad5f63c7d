import type { SyncerArgs } from '../config/config.js';

export type SyncerState = 'running' | 'connecting' | 'stopped' | 'error';

export interface SyncerCounters {
  events_received: number;
  bytes_received: number;
  transactions_stored: number;
  heartbeats_received: number;
  reconnects: number;
  checksum_errors: number;
}

/** GET /binlog/syncer/status `data` (interface.md). Never contains the password. */
export interface SyncerStatus {
  status: SyncerState;
  mysql_addr: string | null;
  mysql_user: string | null;
  syncer_id: number | null;
  syncer_uuid: string | null;
  semi_sync: boolean;
  flavor: 'mysql' | 'mariadb' | null;
  master_server_id: number | null;
  master_server_uuid: string | null;
  master_version: string | null;
  executed_gtid_set: string;
  purged_gtid_set: string;
  current_gtid: string | null;
  last_binlog_file: string | null;
  last_file_position: number | null;
  seconds_behind_master: number | null;
  last_error: { code: string; message: string; at: string; fatal: boolean } | null;
  counters: SyncerCounters;
}

/** What the admin API drives. */
export interface SyncerControl {
  /** Starts syncing; rejects with a ConflictError (code ERR_ALREADY_RUNNING) when already started. */
  start(args: SyncerArgs): Promise<SyncerStatus>;
  /** Stops; idempotent. */
  stop(): Promise<SyncerStatus>;
  status(): SyncerStatus;
}
