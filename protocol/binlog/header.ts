/**
 * The 19-byte v4 common header and `BinlogEvent`, a view over one event's raw bytes.
 *
 * Common header (§4.1), all little-endian:
 *
 *   offset  size  field
 *   0       4     timestamp      seconds since the epoch (0 in artificial events)
 *   4       1     type_code      event type (constants.ts)
 *   5       4     server_id      originating server
 *   9       4     event_size     header + body + CRC trailer (if any)
 *   13      4     log_pos        end offset of this event in the source's file; 0 in artificial events
 *   17      2     flags          LOG_EVENT_*_F
 *   19      ...   body           post-header (length from the FDE) + payload
 *   size-4  4     CRC32          only when the FDE's checksum alg is CRC32
 *
 * A `BinlogEvent` never copies or re-encodes: accessors read the header fields from the raw buffer when asked,
 * and relayed events keep their exact bytes (`raw`).
 */
import { ProtocolError } from '../errors.js';
import { BINLOG_CHECKSUM_ALG_CRC32, BINLOG_CHECKSUM_LEN, LOG_EVENT_HEADER_LEN } from './constants.js';

export const TIMESTAMP_OFFSET = 0;
export const EVENT_TYPE_OFFSET = 4;
export const SERVER_ID_OFFSET = 5;
export const EVENT_LEN_OFFSET = 9;
export const LOG_POS_OFFSET = 13;
export const FLAGS_OFFSET = 17;

export interface EventHeader {
  timestamp: number;
  typeCode: number;
  serverId: number;
  eventSize: number;
  logPos: number;
  flags: number;
}

/** Decodes the common header at `offset`. Throws ERR_TRUNCATED if fewer than 19 bytes are there. */
export function readEventHeader(buf: Buffer, offset = 0): EventHeader {
  if (offset < 0 || offset + LOG_EVENT_HEADER_LEN > buf.length) {
    throw new ProtocolError(
      'ERR_TRUNCATED',
      `truncated event header at offset ${offset}: need ${LOG_EVENT_HEADER_LEN} bytes, ${Math.max(0, buf.length - offset)} left`,
    );
  }
  return {
    timestamp: buf.readUInt32LE(offset + TIMESTAMP_OFFSET),
    typeCode: buf[offset + EVENT_TYPE_OFFSET]!,
    serverId: buf.readUInt32LE(offset + SERVER_ID_OFFSET),
    eventSize: buf.readUInt32LE(offset + EVENT_LEN_OFFSET),
    logPos: buf.readUInt32LE(offset + LOG_POS_OFFSET),
    flags: buf.readUInt16LE(offset + FLAGS_OFFSET),
  };
}

/** One binlog event as a view over its raw bytes (header + body + optional CRC). */
export class BinlogEvent {
  readonly raw: Buffer;

  /** Throws ProtocolError unless `raw` holds at least a header and exactly `event_size` bytes. */
  constructor(raw: Buffer) {
    if (raw.length < LOG_EVENT_HEADER_LEN) {
      throw new ProtocolError(
        'ERR_TRUNCATED',
        `binlog event of ${raw.length} bytes is shorter than the ${LOG_EVENT_HEADER_LEN}-byte header`,
      );
    }
    const size = raw.readUInt32LE(EVENT_LEN_OFFSET);
    if (size !== raw.length) {
      throw new ProtocolError(
        size > raw.length ? 'ERR_TRUNCATED' : 'ERR_MALFORMED',
        `binlog event header says event_size ${size} but ${raw.length} bytes were given`,
      );
    }
    this.raw = raw;
  }

  get timestamp(): number {
    return this.raw.readUInt32LE(TIMESTAMP_OFFSET);
  }

  get typeCode(): number {
    return this.raw[EVENT_TYPE_OFFSET]!;
  }

  get serverId(): number {
    return this.raw.readUInt32LE(SERVER_ID_OFFSET);
  }

  get eventSize(): number {
    return this.raw.length;
  }

  get logPos(): number {
    return this.raw.readUInt32LE(LOG_POS_OFFSET);
  }

  get flags(): number {
    return this.raw.readUInt16LE(FLAGS_OFFSET);
  }

  header(): EventHeader {
    return readEventHeader(this.raw, 0);
  }

  /** Offset in `raw` where the body ends: before the CRC trailer when `checksumAlg` is CRC32. */
  bodyEnd(checksumAlg: number): number {
    if (checksumAlg !== BINLOG_CHECKSUM_ALG_CRC32) return this.raw.length;
    const end = this.raw.length - BINLOG_CHECKSUM_LEN;
    if (end < LOG_EVENT_HEADER_LEN) {
      throw new ProtocolError(
        'ERR_TRUNCATED',
        `binlog event of ${this.raw.length} bytes (type ${this.typeCode}) has no room for its CRC32 trailer`,
      );
    }
    return end;
  }

  /** The bytes between the common header and the CRC trailer (a view, not a copy). */
  body(checksumAlg: number): Buffer {
    return this.raw.subarray(LOG_EVENT_HEADER_LEN, this.bodyEnd(checksumAlg));
  }
}

/** Accepts either a `BinlogEvent` or raw event bytes (validated the same way). */
export function asEvent(event: BinlogEvent | Buffer): BinlogEvent {
  return event instanceof BinlogEvent ? event : new BinlogEvent(event);
}
