/**
 * Heartbeats a source sends when the dump has been idle for the heartbeat period (§3.6). Never in a file.
 *
 * HEARTBEAT_LOG_EVENT (27), MySQL v1 and MariaDB:
 *   header   timestamp 0, server_id = the source's, log_pos = current position (low 32 bits), flags 0
 *   body     current file name, no NUL
 *   CRC      per the current FDE's alg
 *
 * HEARTBEAT_LOG_EVENT_V2 (41), MySQL 8.0.26+ (dump flag 0x0002): header as above; the body is fields
 * `type (lenenc) ‖ length (lenenc) ‖ value`, ended by a type-0 mark:
 *   type 1   log file name     raw bytes
 *   type 2   log position      the 64-bit position as a lenenc int; length = its lenenc size
 *   type 0   end mark          no length or value
 * Unknown field types are skipped by their length.
 */
import { ByteReader, ByteWriter, lenencSize } from '../bytes.js';
import { ProtocolError } from '../errors.js';
import { HEARTBEAT_LOG_EVENT, HEARTBEAT_LOG_EVENT_V2 } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import { buildEvent } from './event_writer.js';
import type { BinlogEvent } from './header.js';

export const OTW_HB_HEADER_END_MARK = 0;
export const OTW_HB_LOG_FILENAME_FIELD = 1;
export const OTW_HB_LOG_POSITION_FIELD = 2;

export interface Heartbeat {
  version: 1 | 2;
  fileName: string;
  /** v1: the header's log_pos; v2: the position field (the header's log_pos if the field is absent). */
  position: bigint;
}

export interface HeartbeatInit {
  serverId: number;
  fileName: string;
  position: bigint;
  checksum: boolean;
}

export function decodeHeartbeat(event: BinlogEvent | Buffer, ctx: EventContext): Heartbeat {
  const { event: ev, body } = viewOf(event, ctx, [HEARTBEAT_LOG_EVENT, HEARTBEAT_LOG_EVENT_V2], 'a heartbeat');
  if (ev.typeCode === HEARTBEAT_LOG_EVENT) {
    return { version: 1, fileName: body.toString('utf8'), position: BigInt(ev.logPos) };
  }
  const r = new ByteReader(body);
  let fileName = '';
  let position = BigInt(ev.logPos);
  for (;;) {
    const type = r.lenenc('heartbeat v2 field type');
    if (type === BigInt(OTW_HB_HEADER_END_MARK)) break;
    const length = r.lenenc('heartbeat v2 field length');
    if (length > BigInt(r.remaining)) {
      throw new ProtocolError('ERR_TRUNCATED', `heartbeat v2 field ${type} of ${length} bytes overruns the event`);
    }
    const value = r.bytes(Number(length), 'heartbeat v2 field');
    if (type === BigInt(OTW_HB_LOG_FILENAME_FIELD)) {
      fileName = value.toString('utf8');
    } else if (type === BigInt(OTW_HB_LOG_POSITION_FIELD)) {
      const vr = new ByteReader(value);
      position = vr.lenenc('heartbeat v2 log position');
      if (vr.remaining !== 0) {
        throw new ProtocolError('ERR_MALFORMED', `heartbeat v2 position field of ${length} bytes holds a shorter int`);
      }
    }
  }
  return { version: 2, fileName, position };
}

function lowLogPos(position: bigint): number {
  if (position < 0n) throw new RangeError(`negative heartbeat position ${position}`);
  return Number(position & 0xffffffffn);
}

/** HEARTBEAT_LOG_EVENT (v1); log_pos holds the position's low 32 bits. */
export function buildHeartbeat(init: HeartbeatInit): Buffer {
  return buildEvent(
    { timestamp: 0, typeCode: HEARTBEAT_LOG_EVENT, serverId: init.serverId, logPos: lowLogPos(init.position), flags: 0 },
    Buffer.from(init.fileName, 'utf8'),
    init.checksum,
  );
}

/** HEARTBEAT_LOG_EVENT_V2: file name field, position field, end mark; log_pos holds the low 32 bits. */
export function buildHeartbeatV2(init: HeartbeatInit): Buffer {
  const name = Buffer.from(init.fileName, 'utf8');
  const posSize = lenencSize(init.position);
  const w = new ByteWriter(
    lenencSize(OTW_HB_LOG_FILENAME_FIELD) +
      lenencSize(name.length) +
      name.length +
      lenencSize(OTW_HB_LOG_POSITION_FIELD) +
      lenencSize(posSize) +
      posSize +
      lenencSize(OTW_HB_HEADER_END_MARK),
  );
  w.lenenc(OTW_HB_LOG_FILENAME_FIELD).lenenc(name.length).bytes(name);
  w.lenenc(OTW_HB_LOG_POSITION_FIELD).lenenc(posSize).lenenc(init.position);
  w.lenenc(OTW_HB_HEADER_END_MARK);
  return buildEvent(
    { timestamp: 0, typeCode: HEARTBEAT_LOG_EVENT_V2, serverId: init.serverId, logPos: lowLogPos(init.position), flags: 0 },
    w.finish(),
    init.checksum,
  );
}
