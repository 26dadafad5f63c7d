/**
 * PREVIOUS_GTIDS_LOG_EVENT (35), MySQL: the GTID set executed before this binlog file. Body layout (no
 * post-header):
 *
 *   offset  size  field
 *   0       n     binary GTID set (untagged, or tagged on 8.3+ when the set has tags; see protocol/gtid/mysql.ts)
 *
 * Header flags carry LOG_EVENT_IGNORABLE_F (0x80). Example (8.0.45, empty set): body 00×8, event 31 bytes.
 */
import { ProtocolError } from '../errors.js';
import { MysqlGtidSet, type MysqlGtidEncodeOptions } from '../gtid/mysql.js';
import { LOG_EVENT_IGNORABLE_F, PREVIOUS_GTIDS_LOG_EVENT } from './constants.js';
import { viewOf, type EventContext } from './context.js';
import { buildEvent, type EventHeaderInit } from './event_writer.js';
import type { BinlogEvent } from './header.js';

export interface PreviousGtids {
  gtidSet: MysqlGtidSet;
  /** The encoded set as stored in the event. */
  encoded: Buffer;
}

export function decodePreviousGtids(event: BinlogEvent | Buffer, ctx: EventContext): PreviousGtids {
  const { body, postHeaderLength } = viewOf(event, ctx, [PREVIOUS_GTIDS_LOG_EVENT], 'a PREVIOUS_GTIDS_LOG_EVENT');
  if (body.length < postHeaderLength) {
    throw new ProtocolError('ERR_TRUNCATED', 'PREVIOUS_GTIDS_LOG_EVENT is shorter than its post-header');
  }
  const encoded = body.subarray(postHeaderLength);
  return { gtidSet: MysqlGtidSet.decode(encoded), encoded };
}

/** Encodes a PREVIOUS_GTIDS event; header flags default to LOG_EVENT_IGNORABLE_F as servers write it. */
export function encodePreviousGtids(
  gtidSet: MysqlGtidSet,
  header: Omit<EventHeaderInit, 'typeCode'>,
  checksum: boolean,
  opts?: MysqlGtidEncodeOptions,
): Buffer {
  return buildEvent(
    { flags: LOG_EVENT_IGNORABLE_F, ...header, typeCode: PREVIOUS_GTIDS_LOG_EVENT },
    gtidSet.encode(opts),
    checksum,
  );
}
