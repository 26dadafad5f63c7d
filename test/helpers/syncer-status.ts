// A SyncerStatus for the recording stand-ins of the cluster tests (what the admin API and etcd carry).
import type { SyncerArgs } from '../../src/config/config.js';
import type { SyncerStatus } from '../../src/syncer/types.js';

export function syncerStatusOf(opts: { running: boolean; args?: SyncerArgs | null; transactionsStored?: number }): SyncerStatus {
  const args = opts.args ?? null;
  return {
    status: opts.running ? 'running' : 'stopped',
    mysql_addr: args?.mysql_addr ?? null,
    mysql_user: args?.mysql_user ?? null,
    syncer_id: args?.syncer_id ?? null,
    syncer_uuid: null,
    semi_sync: false,
    flavor: null,
    master_server_id: null,
    master_server_uuid: null,
    master_version: null,
    executed_gtid_set: '',
    purged_gtid_set: '',
    current_gtid: null,
    last_binlog_file: null,
    last_file_position: null,
    seconds_behind_master: null,
    last_error: null,
    counters: { events_received: 0, bytes_received: 0, transactions_stored: opts.transactionsStored ?? 0, heartbeats_received: 0, reconnects: 0, checksum_errors: 0 },
  };
}
