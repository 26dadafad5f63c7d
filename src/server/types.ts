import type { ServerArgs } from '../config/config.js';

export interface ReplicaInfo {
  connection_id: number;
  server_id: number | null;
  server_uuid: string | null;
  host_name: string;
  port: number;
  user: string;
  remote_address: string;
  connect_time: string;
  kind: 'replica' | 'binlog_client';
  mode: 'file' | 'gtid' | null;
  /** Current position in the primary's coordinates. */
  file: string | null;
  position: number | null;
  gtid: string | null;
  bytes_sent: number;
  events_sent: number;
  /** Seconds between the newest stored event and the last one sent (0 when caught up). */
  lag_seconds: number | null;
  semi_sync: boolean;
}

/** GET /binlog/server/status `data`. Never contains passwords. */
export interface ServerStatus {
  status: 'running' | 'stopped' | 'error';
  addr: string | null;
  user: string | null;
  users: string[];
  flavor: 'mysql' | 'mariadb' | null;
  server_id: number;
  server_uuid: string;
  slaves: ReplicaInfo[];
  /** Client connections open now (replicas, binlog clients, SQL clients, unauthenticated ones). */
  connections?: number;
  last_error: { code: string; message: string; at: string } | null;
}

export interface ServerControl {
  start(args: ServerArgs): Promise<ServerStatus>;
  stop(): Promise<ServerStatus>;
  status(): ServerStatus;
}
