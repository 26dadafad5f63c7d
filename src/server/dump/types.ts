/**
 * The contract between the replica session (handshake, SQL, registration) and the binlog sender.
 * The session collects what the replica said before the dump; the sender streams from storage.
 */
import type { MysqlGtidSet } from '../../../protocol/gtid/mysql.js';
import type { Logger } from '../../logger.js';

export type Flavor = 'mysql' | 'mariadb';

/** What the replica set on its session before dumping (§2, §7.2 of the protocol brief). */
export interface DumpSessionVars {
  flavor: Flavor;
  /** The value of @source_binlog_checksum / @master_binlog_checksum: 'CRC32', 'NONE', or null when never set. */
  clientChecksum: 'CRC32' | 'NONE' | null;
  /** @source_heartbeat_period / @master_heartbeat_period in nanoseconds; 0n = no heartbeats. */
  heartbeatPeriodNs: bigint;
  /** @mariadb_slave_capability (0 when unset). */
  mariadbSlaveCapability: number;
  /** @slave_connect_state, when set: MariaDB GTID connect (file/pos in the dump packet are then ignored). */
  slaveConnectState: string | null;
  slaveGtidStrictMode: boolean;
  slaveGtidIgnoreDuplicates: boolean;
  slaveUntilGtid: string | null;
  /** The replica asked for semi-sync (@rpl_semi_sync_replica / _slave = 1) after we offered it. */
  semiSync: boolean;
  /** @replica_uuid / @slave_uuid. */
  replicaUuid: string | null;
  /** SET skip_replication=1: omit events flagged LOG_EVENT_SKIP_REPLICATION_F. */
  skipReplication: boolean;
}

export type DumpRequest =
  | { command: 'COM_BINLOG_DUMP'; position: number; flags: number; serverId: number; fileName: string }
  | {
      command: 'COM_BINLOG_DUMP_GTID';
      flags: number;
      serverId: number;
      fileName: string;
      position: bigint;
      gtidSet: MysqlGtidSet;
    };

/** The socket side, owned by the session. Sequence ids and framing are handled here. */
export interface DumpOutput {
  /**
   * Sends one event as a dump packet ([0x00] event, or [0x00][0xEF][flag] event with semi-sync).
   * Returns false when the socket buffer is over its high-water mark: await `drain()` before sending more.
   */
  sendEvent(event: Buffer, opts?: { needAck?: boolean }): boolean;
  /**
   * Optional batch form, used by the sender when present (added by the dump helper for throughput): sends each
   * of the whole binlog events stored back to back in `data[start, end)` as its own dump packet, in order, none
   * asking for an ACK: the same bytes on the wire as calling `sendEvent` for each (`event_size` at offset 9 of
   * each event header gives its length), but one write for the lot. Returns false like `sendEvent`.
   */
  sendEvents?(data: Buffer, start: number, end: number): boolean;
  /**
   * Optional: `sendEvents` for several runs of whole events of `data`, the run k being
   * data[ranges[2k], ranges[2k+1]) for k < count, in order. The caller walked the events already (each
   * event_size checked to stay within its run): `events` of them, the largest `maxEvent` bytes, `bytes` in all.
   * Returns false like `sendEvent`.
   */
  sendEventRanges?(data: Buffer, ranges: readonly number[], count: number, events: number, maxEvent: number, bytes: number): boolean;
  /**
   * Optional: `packets` dump packets framed already (by framePackets, without semi-sync, sequence ids from 0),
   * holding `eventBytes` bytes of events: copied out with this connection's sequence ids. Never called when the
   * replica asked for semi-sync. Returns false like `sendEvent`.
   */
  sendFramed?(framed: Buffer, packets: number, eventBytes: number): boolean;
  drain(): Promise<void>;
  /** ERR packet (e.g. 1236 with the primary's wording); the dump is over afterwards. */
  sendError(errno: number, sqlState: string, message: string): void;
  /** Classic 5-byte EOF (end of a non-blocking dump), even with CLIENT_DEPRECATE_EOF. */
  sendEof(): void;
  /** Fires when the connection closes, the replica is KILLed, or a newer dump with the same identity replaces it. */
  readonly signal: AbortSignal;
  /** Semi-sync ACKs from the replica: (file, position). */
  onAck(listener: (file: string, position: bigint) => void): void;
}

/** Our identity as a source: artificial events carry our server_id. */
export interface SourceIdentity {
  serverId: number;
  serverUuid: string;
}

/** Progress the sender reports for SHOW SLAVE HOSTS / server status / metrics. */
export interface DumpProgress {
  file: string | null;
  position: number | null;
  gtid: string | null;
  eventsSent: number;
  bytesSent: number;
  /** Header timestamp (s) of the last event sent. */
  lastEventTimestamp: number | null;
  /** Semi-sync: the last position the replica acknowledged (set by the sender; added by the dump helper). */
  ackFile?: string | null;
  ackPosition?: number | null;
  /** Semi-sync: ACK packets received. */
  acks?: number;
}

export interface DumpContext {
  identity: SourceIdentity;
  vars: DumpSessionVars;
  request: DumpRequest;
  output: DumpOutput;
  log: Logger;
  /** Updated in place by the sender. */
  progress: DumpProgress;
  /**
   * false: every unit goes through the sender's per-unit path, never the packed runs (tests compare the two;
   * the server leaves it unset).
   */
  packed?: boolean;
}
