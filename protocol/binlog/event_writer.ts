/**
 * Assembles one event from header fields and a body (encoders of control events and the artificial events a
 * server sends use it; relayed events are never rebuilt).
 *
 *   [ timestamp 4 | type 1 | server_id 4 | event_size 4 | log_pos 4 | flags 2 ] [ body ] [ CRC32 4, if checksum ]
 */
import { ByteWriter } from '../bytes.js';
import { BINLOG_CHECKSUM_LEN, LOG_EVENT_HEADER_LEN } from './constants.js';
import { computeEventChecksum } from './checksum.js';

export interface EventHeaderInit {
  /** Seconds; 0 for artificial events. Default 0. */
  timestamp?: number;
  typeCode: number;
  serverId: number;
  /** End position in the source's file, or 0. Default 0. */
  logPos?: number;
  /** Default 0. */
  flags?: number;
}

/** Builds `header ‖ body ‖ CRC32?`; the CRC (when asked for) covers header and body, with the FDE quirk. */
export function buildEvent(header: EventHeaderInit, body: Uint8Array, checksum: boolean): Buffer {
  const size = LOG_EVENT_HEADER_LEN + body.length + (checksum ? BINLOG_CHECKSUM_LEN : 0);
  const w = new ByteWriter(size)
    .u32(header.timestamp ?? 0)
    .u8(header.typeCode)
    .u32(header.serverId)
    .u32(size)
    .u32(header.logPos ?? 0)
    .u16(header.flags ?? 0)
    .bytes(body);
  if (checksum) w.zeros(BINLOG_CHECKSUM_LEN);
  const out = w.finish();
  if (checksum) out.writeUInt32LE(computeEventChecksum(out), size - BINLOG_CHECKSUM_LEN);
  return out;
}
