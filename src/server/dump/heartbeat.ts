/**
 * Heartbeats of a dump (§3.6): which event a replica gets, and when.
 *
 * - MySQL, dump flag USE_HEARTBEAT_EVENT_V2 (0x02): HEARTBEAT_LOG_EVENT_V2 (41), whose position field holds
 *   all 64 bits.
 * - MySQL otherwise: HEARTBEAT_LOG_EVENT (27), log_pos = the position's low 32 bits.
 * - MariaDB: HEARTBEAT_LOG_EVENT (27); when the position does not fit in 32 bits MariaDB writes log_pos 0 and
 *   puts the 8-byte position before the file name (its `send_heartbeat_event`):
 *
 *     offset  size  field
 *     0       19    header: timestamp 0, type 27, our server_id, log_pos (0 when > 4 GiB), flags 0
 *     19      8     position int<8>, only when it exceeds 0xffffffff
 *     ..      n     current file name, no NUL
 *     ..      4     CRC32 when the current checksum alg says so
 */
import { ByteWriter } from '../../../protocol/bytes.js';
import { HEARTBEAT_LOG_EVENT } from '../../../protocol/binlog/constants.js';
import { buildEvent } from '../../../protocol/binlog/event_writer.js';
import { buildHeartbeat, buildHeartbeatV2 } from '../../../protocol/binlog/heartbeat.js';
import type { Flavor } from './types.js';

const U32_MAX = 0xffffffffn;

export interface DumpHeartbeatInit {
  flavor: Flavor;
  /** MySQL only: the replica set USE_HEARTBEAT_EVENT_V2. */
  v2: boolean;
  serverId: number;
  fileName: string;
  position: bigint;
  checksum: boolean;
}

export function buildDumpHeartbeat(init: DumpHeartbeatInit): Buffer {
  const { serverId, fileName, position, checksum } = init;
  if (init.flavor === 'mysql') {
    return init.v2 ? buildHeartbeatV2({ serverId, fileName, position, checksum }) : buildHeartbeat({ serverId, fileName, position, checksum });
  }
  if (position <= U32_MAX) return buildHeartbeat({ serverId, fileName, position, checksum });
  const name = Buffer.from(fileName, 'utf8');
  const body = new ByteWriter(8 + name.length).u64(position).bytes(name).finish();
  return buildEvent({ timestamp: 0, typeCode: HEARTBEAT_LOG_EVENT, serverId, logPos: 0, flags: 0 }, body, checksum);
}

/** Heartbeat period in milliseconds from the session variable (ns); 0 = no heartbeats. */
export function heartbeatPeriodMs(periodNs: bigint): number {
  if (periodNs <= 0n) return 0;
  // Sub-millisecond periods are rounded up: timers have millisecond resolution.
  const ms = Number((periodNs + 999_999n) / 1_000_000n);
  // A period longer than setTimeout's range (~24.8 days) can only mean "rarely"; clamp it.
  return Math.min(ms, 0x7fffffff);
}
